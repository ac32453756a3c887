"""Evidence bundles: some streams of a log, with everything needed to check them offline.

A bundle is one JSON file::

    {"format": "cadreledger-bundle/1",
     "origin": …, "log_key": "name+keyid+base64",
     "checkpoint": "<the latest signed checkpoint at export>",
     "checkpoints": [{"size": n, "note": "<signed checkpoint>"}, …],   # earlier ones
     "consistency": [{"from": m, "to": n, "proof": [base64, …]}, …],   # each → latest
     "events": [{"index": i, "envelope": "<canonical envelope JSON>",
                 "proof": [base64, …]}, …],                             # inclusion → latest
     "streams": ["registry", "cycle/…", …],                             # complete streams
     …application sections (the domain adds its own)}

What it proves, without the database or the server (given the log's key):

    V1 records      every event is a canonical envelope
    V2 signatures   every statement's signature verifies, by a key named as its actor
    V3 chains       every listed stream is complete: versions 1…n, each linked to the last
    V4 inclusion    every event is in the latest checkpoint's tree at its index
    V5 latest       the latest checkpoint is signed by the log
    V6 history      every earlier checkpoint is signed by the log and consistent with it
    V7 witnesses    with a witness policy: the latest checkpoint carries its cosignatures

This module is pure: bytes in, findings out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.cosignature import WitnessPolicy
from ledger.envelope import EnvelopeError, Event
from ledger.errors import Rejected
from ledger.keys import KeyFormatError, VerifierKey
from ledger.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from ledger.verifier import CheckResult, Finding, Report, check_witnesses

FORMAT = "cadreledger-bundle/1"
CHECKS: dict[str, tuple[str, str, str]] = {
    "V1": (
        "records",
        "Mỗi sự kiện trong gói là phong bì chuẩn RFC 8785",
        "Every event in the bundle is a canonical envelope",
    ),
    "V2": (
        "signatures",
        "Chữ ký Ed25519 của mọi tuyên bố hợp lệ, bằng khóa mang tên người thực hiện",
        "Every statement's Ed25519 signature verifies, by a key named as its actor",
    ),
    "V3": (
        "chains",
        "Mỗi luồng trong gói đầy đủ 1…n và mỗi sự kiện cam kết băm của sự kiện trước",
        "Every stream in the bundle is complete, 1…n, each event committing to the one before",
    ),
    "V4": (
        "inclusion",
        "Mọi sự kiện nằm trong cây của điểm kiểm tra mới nhất, đúng vị trí",
        "Every event is in the latest checkpoint's tree, at its index",
    ),
    "V5": (
        "latest-checkpoint",
        "Điểm kiểm tra mới nhất của gói do sổ cái ký",
        "The bundle's latest checkpoint is signed by the log",
    ),
    "V6": (
        "checkpoint-history",
        "Mọi điểm kiểm tra trước đó do sổ cái ký và nhất quán với điểm mới nhất",
        "Every earlier checkpoint is signed by the log and consistent with the latest",
    ),
    "V7": (
        "witnesses",
        "Điểm kiểm tra mới nhất của gói có đủ chữ ký đồng ký của nhân chứng theo chính sách",
        "The bundle's latest checkpoint carries the cosignatures the witness policy asks for",
    ),
}


class BundleError(ValueError):
    """A file that is not a readable bundle (verify exits 2, not 1)."""


@dataclass(frozen=True)
class BundleEvent:
    index: int
    envelope: bytes
    proof: tuple[bytes, ...]


@dataclass
class Bundle:
    origin: str
    log_key: str
    checkpoint: str
    checkpoints: list[tuple[int, str]]
    consistency: list[tuple[int, int, list[bytes]]]
    events: list[BundleEvent]
    streams: list[str]
    sections: dict[str, Any] = field(default_factory=dict)
    # The same layout carries other formats (a cadre's personal bundle): their name.
    format: str = FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "origin": self.origin,
            "log_key": self.log_key,
            "checkpoint": self.checkpoint,
            "checkpoints": [{"size": s, "note": n} for s, n in self.checkpoints],
            "consistency": [{"from": a, "to": b, "proof": _b64(p)} for a, b, p in self.consistency],
            "events": [
                {"index": e.index, "envelope": e.envelope.decode(), "proof": _b64(e.proof)}
                for e in self.events
            ],
            "streams": self.streams,
            **self.sections,
        }


def parse_bundle(data: bytes, format: str = FORMAT) -> Bundle:
    """``data`` as a bundle of ``format`` (this layout; sections as the format's)."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != format:
            raise BundleError(f"not a {format} file")
        known = {"format", "origin", "log_key", "checkpoint", "checkpoints", "consistency"}
        known |= {"events", "streams"}
        return Bundle(
            origin=str(doc["origin"]),
            log_key=str(doc["log_key"]),
            checkpoint=str(doc["checkpoint"]),
            checkpoints=[(int(c["size"]), str(c["note"])) for c in doc["checkpoints"]],
            consistency=[
                (int(c["from"]), int(c["to"]), _unb64(c["proof"])) for c in doc["consistency"]
            ],
            events=[
                BundleEvent(int(e["index"]), str(e["envelope"]).encode(), tuple(_unb64(e["proof"])))
                for e in doc["events"]
            ],
            streams=[str(s) for s in doc["streams"]],
            sections={k: v for k, v in doc.items() if k not in known},
            format=format,
        )
    except BundleError:
        raise
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as e:
        raise BundleError(f"malformed bundle: {e}") from e


def verify_bundle(
    bundle: Bundle,
    log_key: VerifierKey,
    *,
    log_key_source: str = "pinned",
    witness_policy: WitnessPolicy | None = None,
) -> tuple[Report, list[Event]]:
    """V1–V7 over a bundle; the report and the events that parsed, in index order.
    V7 reads the cosignature lines the bundle's checkpoint carries."""
    report = Report(log_key.name, str(log_key), log_key_source)
    report.checks = {cid: CheckResult(cid, described=d) for cid, d in CHECKS.items()}
    c = report.checks
    report.events = len(bundle.events)
    latest = _latest(c["V5"], bundle, log_key)
    report.tree_size = latest.size if latest else None
    events: list[Event] = []
    for item in sorted(bundle.events, key=lambda e: e.index):
        event = _record(c["V1"], item)
        if event is None:
            continue
        events.append(event)
        _signature(c["V2"], item.index, event)
        _inclusion(c["V4"], item, event, latest)
    _chains(c["V3"], bundle.streams, events, {e.envelope: e.index for e in bundle.events})
    _history(c["V6"], bundle, log_key, latest)
    if witness_policy is not None and latest is not None:
        note = (latest.size, bundle.checkpoint)
        check_witnesses(c["V7"], witness_policy, note, [bundle.checkpoint], None)
    return report, events


def _latest(check: CheckResult, bundle: Bundle, key: VerifierKey) -> Checkpoint | None:
    check.checked += 1
    try:
        return open_checkpoint(bundle.checkpoint, key)
    except CheckpointError as e:
        check.fail(Finding(f"latest checkpoint: {e}", f"điểm kiểm tra mới nhất: {e}"))
        return None


def _record(check: CheckResult, item: BundleEvent) -> Event | None:
    check.checked += 1
    try:
        return Event.parse(item.envelope)
    except (EnvelopeError, Rejected) as e:
        check.fail(
            Finding(
                f"not a canonical envelope: {e}",
                f"không phải phong bì chuẩn: {e}",
                position=item.index,
            )
        )
        return None


def event_finding(position: int | None, event: Event, en: str, vi: str) -> Finding:
    """A finding about one event of a bundle: where it lies (``position`` in the log,
    if the bundle says), its stream and version, its hash."""
    return Finding(
        en,
        vi,
        position=position,
        stream=event.stream,
        version=event.version,
        event_hash=event.hash.hex(),
    )


def _signature(check: CheckResult, index: int, event: Event) -> None:
    check.checked += 1
    if event.signer.name != event.statement.get("actor") or not event.signer.verify(
        event.signature, event.statement_bytes
    ):
        check.fail(
            event_finding(
                index,
                event,
                "the statement's signature does not verify by its actor's key",
                "chữ ký của tuyên bố không hợp lệ với khóa của người thực hiện",
            )
        )


def _inclusion(
    check: CheckResult, item: BundleEvent, event: Event, latest: Checkpoint | None
) -> None:
    if latest is None:
        check.unchecked += 1
        return
    check.checked += 1
    try:
        verify_inclusion(item.index, latest.size, leaf_hash(event.hash), item.proof, latest.root)
    except ProofError as e:
        check.fail(
            event_finding(
                item.index,
                event,
                f"not in the checkpoint's tree at index {item.index}: {e}",
                f"không nằm trong cây của điểm kiểm tra tại vị trí {item.index}: {e}",
            )
        )


def _chains(
    check: CheckResult, streams: Iterable[str], events: list[Event], index: dict[bytes, int]
) -> None:
    by_stream: dict[str, list[Event]] = {}
    for event in events:
        by_stream.setdefault(event.stream, []).append(event)
    for stream in streams:
        prev: bytes | None = None
        for expected, event in enumerate(
            sorted(by_stream.get(stream, []), key=lambda e: e.version), start=1
        ):
            check.checked += 1
            if event.version != expected or event.prev != prev:
                missing = event.version != expected
                check.fail(
                    event_finding(
                        index.get(event.raw),
                        event,
                        f"stream {stream}: {'missing' if missing else 'broken link'} at "
                        f"version {expected}",
                        f"luồng {stream}: {'thiếu sự kiện' if missing else 'đứt liên kết'} "
                        f"tại phiên bản {expected}",
                    )
                )
                break
            prev = event.hash
    unlisted = sorted({e.stream for e in events} - set(streams))
    if unlisted:
        check.fail(
            Finding(
                f"events of streams the bundle does not list: {unlisted}",
                f"có sự kiện của luồng không được liệt kê: {unlisted}",
            )
        )


def _history(
    check: CheckResult, bundle: Bundle, key: VerifierKey, latest: Checkpoint | None
) -> None:
    proofs = {(a, b): p for a, b, p in bundle.consistency}
    for size, note in bundle.checkpoints:
        check.checked += 1
        try:
            earlier = open_checkpoint(note, key)
            if earlier.size != size:
                raise CheckpointError(f"says size {earlier.size}, listed as {size}")
            if latest is None:
                raise CheckpointError("no latest checkpoint to compare with")
            if size == latest.size:
                if earlier.root != latest.root:
                    raise ProofError("same size, different root: a fork")
                continue
            proof = proofs.get((size, latest.size))
            if proof is None:
                raise ProofError(f"no consistency proof from {size} to {latest.size}")
            verify_consistency(size, latest.size, earlier.root, latest.root, proof)
        except (CheckpointError, ProofError, KeyFormatError) as e:
            check.fail(
                Finding(
                    f"checkpoint of size {size}: {e}",
                    f"điểm kiểm tra kích thước {size}: {e}",
                    checkpoint_size=size,
                )
            )


def _b64(hashes: Iterable[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _unb64(items: Any) -> list[bytes]:
    if not isinstance(items, list):
        raise BundleError("a proof must be a list of base64 hashes")
    return [base64.b64decode(str(h), validate=True) for h in items]
