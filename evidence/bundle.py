"""Evidence bundles for a cycle: ``cadreledger export`` writes one, ``verify FILE`` checks it.

A cycle's bundle holds the registry's stream (every key its acts depend on), the
cycle's stream and every subject's stream, complete; the signed checkpoint they were
exported at with an inclusion proof per event; for each batch the events were first
sealed in, that checkpoint and a consistency proof to the latest; the pinned regime
profile; and what the read model served at that checkpoint. Offline, the verifier runs
the log checks of ``ledger.bundle`` and then the domain's: V8 (every act replayed
through the rules) and V9 (the served documents equal the recomputation).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from domain.acts import Act
from domain.model import Model
from domain.regimes import PROFILES, profile_hash
from domain.streams import REGISTRY_STREAM
from ledger.bundle import (
    FORMAT,
    Bundle,
    BundleError,
    BundleEvent,
    parse_bundle,
    verify_bundle,
)
from ledger.cosignature import WitnessPolicy, parse_lines, with_signatures
from ledger.envelope import Event
from ledger.errors import NOT_FOUND, Rejected
from ledger.keys import KeyFormatError, VerifierKey
from ledger.logtime import check_log_time
from ledger.merkle import consistency_proof, inclusion_proof
from ledger.verifier import Finding, Report
from projections.audit import audit_acts
from projections.history import cycle_streams
from projections.views import VIEWS_VERSION
from witness.cosignatures import CosignatureStore

if TYPE_CHECKING:
    from evidence.log import EvidencedLog


__all__ = [
    "Proved",
    "carried_skew",
    "export",
    "proved",
    "trusted_roots",
    "verify_file",
    "verify_records",
    "write",
]


def export(ledger: EvidencedLog, cycle: str, cadre: str | None = None) -> Bundle:
    """The bundle of ``cycle`` as the log holds it now (``cadre`` is the focus)."""
    size, served = ledger.projector.snapshot(["registry", f"cycle/{cycle}"])
    if f"cycle/{cycle}" not in served:
        raise Rejected(NOT_FOUND, f"Không có kỳ đánh giá {cycle!r}.", f"No cycle {cycle!r}.")
    roster = list(ledger.projector.model.cycles[cycle].evaluations)
    proof = proved(ledger, [REGISTRY_STREAM, *cycle_streams(cycle, roster)], size)
    model = ledger.projector.model
    pinned = model.cycles[cycle].profile
    return proof.bundle(
        ledger,
        proof.present,
        {
            "evaluation": {
                "cycle": cycle,
                "cadre": cadre,
                "root_keys": ledger.root_keys,
                "profile": dict(pinned.data),
                "served": {"position": size, "version": VIEWS_VERSION, "documents": served},
            },
        },
    )


class Proved(NamedTuple):
    """What a bundle carries to be checked against one checkpoint of the log."""

    checkpoint: str  # the signed checkpoint at ``size``, with its witnesses' cosignatures
    checkpoints: list[tuple[int, str]]  # those the events' receipts carried, earlier
    consistency: list[tuple[int, int, list[bytes]]]  # from each of them to ``size``
    events: list[BundleEvent]  # each with its inclusion proof in the tree of ``size``
    present: list[str]  # which of the streams asked for hold any event

    def bundle(
        self,
        ledger: EvidencedLog,
        streams: list[str],
        section: dict[str, Any],
        format: str = FORMAT,
    ) -> Bundle:
        """A bundle of ``format`` carrying what was proved, listing ``streams``, with
        the log's key and clock skew and its own ``section``."""
        return Bundle(
            origin=ledger.log_key.name,
            log_key=str(ledger.log_key),
            checkpoint=self.checkpoint,
            checkpoints=self.checkpoints,
            consistency=self.consistency,
            events=self.events,
            streams=streams,
            sections={
                # The clock skew the ledger recorded: V10 judges the bundle's events by it.
                "log_time": {"max_clock_skew": int(ledger.max_clock_skew.total_seconds())},
                **section,
            },
            format=format,
        )


def proved(ledger: EvidencedLog, streams: list[str], size: int) -> Proved:
    """The events of ``streams`` below ``size`` and what proves them: the checkpoint at
    ``size`` (a bundle is checked against it), and for each batch the events were first
    written in, the checkpoint its receipts carried with a consistency proof to ``size``
    (so that a bundle's reader sees the log grew consistently)."""
    store = ledger.store
    note = store.checkpoint_at(size)
    if note is None:
        raise RuntimeError(f"no stored checkpoint at the read model's position {size}")
    cosignatures = CosignatureStore(store).lines(size)
    if cosignatures:  # what witnesses have cosigned of it travels with it
        note = with_signatures(note, parse_lines("".join(cosignatures)))
    rows = store.entries_of(streams, size)
    events = [
        BundleEvent(index, raw, tuple(inclusion_proof(index, size, ledger.reader)))
        for index, _stream, _version, raw in rows
    ]
    earlier: dict[int, str] = {}
    for index, *_ in rows:
        if not any(s > index for s in earlier):
            covering = store.checkpoint_covering(index)
            if covering is not None and covering[0] < size:
                earlier[covering[0]] = covering[1]
    return Proved(
        note,
        sorted(earlier.items()),
        [(s, size, consistency_proof(s, size, ledger.reader)) for s in sorted(earlier)],
        events,
        sorted({stream for _, stream, _, _ in rows}),
    )


def verify_file(
    data: bytes,
    pinned: VerifierKey | None = None,
    root_keys: list[str] | None = None,
    witness_policy: WitnessPolicy | None = None,
) -> Report:
    """Check a bundle offline. Without ``pinned`` the log key the bundle names is used
    (and the report says so); likewise the root of trust."""
    bundle = parse_bundle(data)
    report, placed = verify_records(bundle, pinned, witness_policy)
    section = bundle.sections.get("evaluation")
    if not isinstance(section, dict):
        raise BundleError("the bundle has no evaluation section")
    carried = section.get("root_keys", [])
    if not isinstance(carried, list):
        raise BundleError("the evaluation section's 'root_keys' is not a list")
    roots = trusted_roots(report, root_keys, carried)
    acts = [Act(e.statement, str(e.signer), e.hash.hex(), i, e.logged_at) for i, e in placed]
    model = audit_acts(acts, roots, report, served=_served(section), only_served=True)
    check_log_time(
        sorted((i, e.stream, e.version, e.raw) for i, e in placed),
        report,
        carried_skew(bundle),
        source="bundle",
    )
    _profile(report, section, model)
    report.annexes["evaluation"] = {"cycle": section.get("cycle"), "cadre": section.get("cadre")}
    return report


def carried_skew(bundle: Bundle) -> timedelta | None:
    """The clock skew the exporting ledger recorded, as the bundle carries it."""
    section = bundle.sections.get("log_time")
    value = section.get("max_clock_skew") if isinstance(section, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    return None


def _served(section: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """What the read model served at export: (position, views version, documents)."""
    served = section.get("served") or {}
    position = served.get("position", 0) if isinstance(served, dict) else None
    documents = served.get("documents", {}) if isinstance(served, dict) else None
    if not isinstance(position, int) or not isinstance(documents, dict):
        raise BundleError("the evaluation section's 'served' is malformed")
    return position, str(served.get("version")), documents


def verify_records(
    bundle: Bundle, pinned: VerifierKey | None, witness_policy: WitnessPolicy | None
) -> tuple[Report, list[tuple[int, Event]]]:
    """V1–V7 of a bundle's records under ``pinned``, else under the log key the bundle
    names (the report says which); and its events at their indexes, in log order."""
    try:
        key = pinned or VerifierKey.parse(bundle.log_key)
    except KeyFormatError as e:
        raise BundleError(f"the bundle's log key is malformed: {e}") from e
    report, events = verify_bundle(
        bundle,
        key,
        log_key_source="pinned" if pinned else "bundle",
        witness_policy=witness_policy,
    )
    by_raw = {e.envelope: e.index for e in bundle.events}
    # By index alone: two events listed at one index must not compare the events.
    return report, sorted(((by_raw[e.raw], e) for e in events), key=lambda pair: pair[0])


def trusted_roots(report: Report, pinned: list[str] | None, carried: list[Any]) -> list[str]:
    """The root keys to replay the registry from: the pinned ones, else those the bundle
    carries (the report says which)."""
    report.annexes["root_keys_source"] = "pinned" if pinned else "bundle"
    return pinned or [str(k) for k in carried]


def _profile(report: Report, section: dict[str, Any], model: Model) -> None:
    """The profile carried is the one the cycle pinned, and the one this verifier knows."""
    v8 = report.checks["V8"]
    cycle = model.cycles.get(str(section.get("cycle")))
    carried = section.get("profile")
    v8.checked += 1
    if cycle is None or not isinstance(carried, dict):
        v8.fail(Finding("the bundle does not hold its cycle's opening", "gói thiếu sự kiện mở kỳ"))
        return
    if (
        profile_hash(carried) != cycle.profile.hash
        or PROFILES.get((cycle.profile.id, cycle.profile.version)) != carried
    ):
        v8.fail(
            Finding(
                f"the profile carried is not {cycle.profile.id} v{cycle.profile.version} "
                f"as pinned ({cycle.profile.hash})",
                f"hồ sơ chế độ kèm theo không phải {cycle.profile.id} v{cycle.profile.version}",
            )
        )


def write(bundle: Bundle) -> bytes:
    return json.dumps(bundle.to_json(), ensure_ascii=False, indent=1).encode() + b"\n"
