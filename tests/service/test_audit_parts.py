"""The audit of a ledger in parts — the acts outside cycles, then each cycle alone, here
or in worker processes — reports exactly what one replay of the whole log in one model
reports: the same V8 and V9 results and the same fairness evidence, in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cadreledger.service import Ledger
from domain.streams import stream_for
from ledger.keys import SignerKey
from ledger.sequencer import Sequencer
from ledger.statement import SignedStatement, sign_statement
from ledger.tiles import TileHashReader
from ledger.verifier import Report, verify_log
from projections.audit import audit, audit_acts
from projections.audit_part import vouched_below
from projections.readmodel import ReadModel
from projections.source import stored_acts
from tests.evaluation import ADVISORY, AUTHORITY, CADRES, CHAIR, CYCLE, PANEL, World, pin
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle

EARLIER = "2025-qd366-test"


def domain_report(
    ledger: Ledger, *, whole: bool, processes: bool = False, verified: bool = False
) -> dict[str, Any]:
    """V8, V9 and the fairness evidence: by ``audit`` in parts, or in one model.
    ``verified``: after V1–V7 (``verify_log``), as ``Ledger.verify`` runs the audit — the
    events V1 vouched for are then read without the strict parse (``parsed``)."""
    report = Report("origin", "key", "pinned")
    if verified:
        report = verify_log(ledger.store, ledger.log_key, processes=processes, workers=2)
        report.checks.pop("V8", None)
    if whole:
        read_model = ReadModel(ledger.store)
        served = (*read_model.state(), read_model.docs())
        acts = stored_acts(ledger.store, 0, stored_size(ledger))
        audit_acts(acts, ledger.root_keys, report, served=served)
    else:
        audit(ledger.store, ledger.root_keys, report, processes=processes, workers=2)
    found = report.to_json()
    checks = {c["id"]: c for c in found["checks"] if c["id"] in ("V8", "V9")}
    return {"checks": checks, "fairness": found["fairness"]}


def stored_size(ledger: Ledger) -> int:
    """The log's size as stored (acts filed around the rules are beyond what the
    sequencer counted)."""
    latest = ledger.store.latest_checkpoint()
    return latest[0] if latest else 0


def file_around_the_rules(
    ledger: Ledger,
    tmp_path: Path,
    stream: Callable[[SignedStatement], str],
    w: World,
    actor: str,
    kind: str,
    body: dict[str, Any],
) -> None:
    """Store one act with the log's key but without the rules, filed where ``stream``
    says: an operator going around them."""
    signer = SignerKey.parse((tmp_path / "log.key").read_text())
    assert ledger.sequencer is not None
    ledger.sequencer.stop()
    writer = Sequencer(ledger.store, signer, TileHashReader(ledger.store), stream, clock=w.time)
    writer.start()
    try:
        writer.append(sign_statement(w.statement(actor, kind, body), w.keys[actor]))
    finally:
        writer.stop()


def discipline(w: World, cycle: str, year: int, cadre: str, violation: str = "vp-2025-01") -> None:
    w.act(
        AUTHORITY,
        "evidence.recorded",
        cycle=cycle,
        cadre=cadre,
        kind="discipline",
        form="khien_trach",
        duty_related=True,
        decided=f"{year}-09-15",
        violation=violation,
        text="Quyết định kỷ luật khiển trách.",
    )


def two_cycles(ledger: Ledger, w: World) -> None:
    """Last year's cycle counts a violation against a cadre; this year's cites the same
    one, which (ND 48/2023) forces no KHT again: the cadre is decided HTT, which only a
    replay that knows last year's record admits."""
    run_cycle(w)
    w.act(
        AUTHORITY,
        "cycle.opened",
        cycle=EARLIER,
        regime=pin(),
        year=2025,
        unit="ban-to-chuc",
        deadline="2026-12-31",
        roles={
            "authority": [AUTHORITY],
            "advisory": [ADVISORY],
            "chair": [CHAIR],
            "panel": PANEL,
            "inspection": [AUTHORITY],
        },
    )
    subjects = [{"id": c, "name": f"Cán bộ {c}", "group": "staff"} for c in CADRES]
    w.act(AUTHORITY, "cycle.roster", cycle=EARLIER, subjects=subjects)
    discipline(w, EARLIER, 2025, CADRES[2])
    discipline(w, CYCLE, 2026, CADRES[2])
    w.propose_and_decide(CADRES[2], "HTT")
    ledger.projector.catch_up()


@pytest.mark.parametrize("processes", [False, True], ids=["here", "workers"])
def test_parts_report_what_one_replay_reports(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger], processes: bool
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    a_log_with_everything(ledger, w, tmp_path)
    ledger.projector.catch_up()
    whole = domain_report(ledger, whole=True)
    assert whole["checks"]["V8"]["failures"] == 1
    assert "wrong-phase" in whole["checks"]["V8"]["first_failure"]["reason_en"]
    assert whole["checks"]["V9"]["status"] == "pass"
    assert whole["checks"]["V9"]["checked"] == 4  # registry, two cycles, refused
    assert whole["fairness"]["findings"]
    assert domain_report(ledger, whole=False, processes=processes) == whole
    assert domain_report(ledger, whole=False, processes=processes, verified=True) == whole


def _upper_key_id(raw: bytes) -> bytes:
    """The envelope with its signer's key ID spelt in capitals (still canonical JSON,
    still a key ``VerifierKey.parse`` takes — as the signer it names)."""
    name, key_id, _ = json.loads(raw)["signer"].split("+", 2)
    return raw.replace(f'"{name}+{key_id}+'.encode(), f'"{name}+{key_id.upper()}+'.encode())


def _spaced(raw: bytes) -> bytes:
    """The same JSON, not canonical: V1 refuses it, and vouches for nothing."""
    return raw.replace(b'{"logged_at":', b'{ "logged_at":', 1)


@pytest.mark.parametrize("change", [_upper_key_id, _spaced], ids=["key-id-capitals", "spaced"])
def test_after_v1_an_altered_envelope_is_read_as_the_strict_parse_reads_it(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger], change: Any
) -> None:
    """An insider rewrites stored envelopes of a cycle: V1–V7 name it, and the audit's
    reading of the events V1 vouched for (orjson, not the strict parse again) must still
    give the acts the strict parse gives — the signer as its parsed key spells it — and
    a V1 failure must send every event back to the strict parse."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    two_cycles(ledger, w)
    size = ledger.size()
    changed = 0
    for position in range(size - 16, size - 2, 2):  # acts of this year's cycle
        [(_, stream, version, raw)] = ledger.store.entries(position, 1)
        if not stream.startswith("cycle/") or change(raw) == raw:  # (a key ID of digits)
            continue
        changed += 1
        ledger.store.execute(
            f"UPDATE {ledger.store.events_table} SET state = ?"
            " WHERE originator_id = ? AND originator_version = ?",
            (change(raw), stream, version),
        )
    assert changed
    report = verify_log(ledger.store, ledger.log_key)
    assert not report.ok
    assert vouched_below(report) == (size if change is _upper_key_id else 0)
    strict = domain_report(ledger, whole=False)
    assert strict["checks"]["V8"]["checked"] + strict["checks"]["V8"]["unchecked"] == size
    assert domain_report(ledger, whole=False, verified=True) == strict
    assert domain_report(ledger, whole=False, processes=True, verified=True) == strict


def test_an_act_filed_in_another_stream_is_judged_in_its_cycle(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """A decision stored in its actor's stream rather than its cycle's: the audit cannot
    take that log apart by streams, and replays it whole instead."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    a_decision_filed_in_its_actors_stream(ledger, w, tmp_path)
    ledger.projector.catch_up()
    whole = domain_report(ledger, whole=True)
    assert whole["checks"]["V8"]["status"] == "pass"  # admitted, in its cycle
    assert domain_report(ledger, whole=False) == whole
    assert ledger.verify().ok


def a_log_with_everything(ledger: Ledger, w: World, tmp_path: Path) -> None:
    """``two_cycles``, and an act the rules refuse in the earlier cycle, stored around
    them (V8 names it, V9 its document)."""
    two_cycles(ledger, w)
    file_around_the_rules(
        ledger,
        tmp_path,
        lambda s: stream_for(s.statement),
        w,
        ADVISORY,
        "appraisal.proposed",
        {"cycle": EARLIER, "cadre": CADRES[0], "level": "HT"},
    )


def a_decision_filed_in_its_actors_stream(ledger: Ledger, w: World, tmp_path: Path) -> None:
    """A cycle played through, then a decision stored in its actor's stream, not its
    cycle's (admitted, in its cycle, by a replay of the whole log)."""
    run_cycle(w)
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT")
    file_around_the_rules(
        ledger,
        tmp_path,
        lambda s: f"actor/{s.statement['actor']}",
        w,
        AUTHORITY,
        "decision.issued",
        {"cycle": CYCLE, "cadre": CADRES[1], "level": "HTT"},
    )


@pytest.mark.parametrize("processes", [False, True], ids=["here", "processes"])
def test_an_event_changed_after_the_checks_read_it_is_named_not_judged(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    processes: bool,
) -> None:
    """An insider with the database rewrites an event of a cycle while ``verify`` runs,
    after V1–V7 have read it and before the audit reads the cycle again: the report
    fails V1 at that position (the audit judges only the bytes the checks read), where
    it used to pass every check over bytes nobody had checked."""
    import cadreledger.service as service

    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    two_cycles(ledger, w)
    ledger.projector.catch_up()
    size = ledger.size()
    position, stream, version, raw = next(
        row
        for p in range(size - 16, size)
        for row in ledger.store.entries(p, 1)
        if row[1].startswith("cycle/")
    )
    real_audit = service.audit

    def tampered_meanwhile(*args: Any, **kwargs: Any) -> None:
        ledger.store.execute(
            f"UPDATE {ledger.store.events_table} SET state = ?"
            " WHERE originator_id = ? AND originator_version = ?",
            (_spaced(raw), stream, version),
        )
        real_audit(*args, **kwargs)

    monkeypatch.setattr(service, "audit", tampered_meanwhile)
    found = ledger.verify(processes=processes).to_json()
    assert not found["ok"]
    assert found["first_bad"]["check"] == "V1"
    assert found["first_bad"]["position"] == position
    v1 = next(c for c in found["checks"] if c["id"] == "V1")
    assert v1["failures"] == 1 and v1["first_failure"]["position"] == position  # once
    monkeypatch.setattr(service, "audit", real_audit)
    again = ledger.verify().to_json()  # read afresh: the change is what V1 now sees
    assert not again["ok"] and again["first_bad"]["position"] == position
