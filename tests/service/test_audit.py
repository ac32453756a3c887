"""V8 (rules), V9 (recomputation) and the fairness evidence, against real databases.

The attacks here keep V1–V6 green — properly signed, chained and sealed events — so
only the domain's checks can catch them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cadreledger.service import Ledger
from ledger.keys import SignerKey
from ledger.sequencer import Sequencer
from ledger.statement import sign_statement
from tests.bypass import bypass
from tests.evaluation import ADVISORY, AUTHORITY, CADRES, CHAIR, PANEL, START, UNIT, World
from tests.service.test_domain_ledger import evaluation_ledger, keyed_cli, run_cycle


def checks(ledger: Ledger) -> dict[str, dict[str, object]]:
    report = ledger.verify().to_json()
    return {c["id"]: c for c in report["checks"]} | {"report": report}


def around_the_rules(ledger: Ledger, tmp_path: Path) -> Sequencer:
    """The operator's own writer, with the log's key (``tests/bypass.py``)."""
    return bypass(ledger, SignerKey.parse((tmp_path / "log.key").read_text()), ledger.clock)


def test_an_act_the_rules_refuse_is_named_even_when_sealed(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    rogue = around_the_rules(ledger, tmp_path)
    try:
        # The advisory body rates a 40-point cadre HTXS: refused by the rules, written anyway.
        statement = w.statement(
            ADVISORY,
            "appraisal.proposed",
            {"cycle": "2026-qd366-test", "cadre": CADRES[4], "level": "HTXS"},
        )
        receipt = rogue.append(sign_statement(statement, w.keys[ADVISORY]))
    finally:
        rogue.stop()
    found = checks(ledger)
    assert all(found[v]["status"] == "pass" for v in ("V1", "V2", "V3", "V4", "V5", "V6"))
    assert found["V8"]["status"] == "fail"
    first = found["V8"]["first_failure"]
    assert first["position"] == receipt.index
    assert first["event_hash"] == receipt.event_hash.hex()
    assert "level-not-allowed" in first["reason_en"]
    assert found["report"]["first_bad"]["check"] == "V8"


def test_a_key_compromise_reported_late_is_evidence_not_a_failure(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """The chair's key is stolen and used; the registrar revokes it back to the theft,
    disowning the thief's act. The act stays admitted (a revocation undoes nothing) and
    the report names it as evidence; V8 passes: the log is not failed for ever."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    lost_at = w.clock + timedelta(seconds=30)  # the chair's key is stolen now …
    suspicious = w.on(CHAIR, "confidence.tallied", cadre=CADRES[0], votes=10, low=1)  # … used
    position = ledger.size() - 1
    w.act(
        "root",
        "key.revoked",
        person=CHAIR,
        key=str(w.keys[CHAIR].verifier),
        reason="Máy tính bị đánh cắp.",
        effective=lost_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        disowns=[suspicious],
    )
    w.refused_on("key-revoked", CHAIR, "confidence.tallied", cadre=CADRES[1], votes=10, low=1)
    found = checks(ledger)
    assert found["V8"]["status"] == "pass"
    (compromise,) = found["report"]["key_compromises"]
    assert compromise["person"] == CHAIR and compromise["disowned_not_found"] == []
    assert compromise["acts"] == [
        {"position": position, "event_hash": suspicious, "disowned": True}
    ]
    assert ledger.verify().ok


def test_a_back_dated_revocation_must_name_what_it_disowns(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """The holder (or a registrar) back-dates a revocation past acts of the key without
    naming them — to make them look stolen, or to make ``verify`` fail for ever: refused.
    Later than its own log time: refused. Naming another key's act: admitted (it undoes
    nothing) but reported as no act of this key."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    key = str(w.keys[CHAIR].verifier)
    before = START.strftime("%Y-%m-%dT%H:%M:%SZ")  # before all the chair's acts
    for actor in (CHAIR, "root"):
        problem = w.refused(
            "revocation-backdated",
            actor,
            "key.revoked",
            person=CHAIR,
            key=key,
            reason="Tôi làm mất khóa từ trước.",
            effective=before,
        )
        assert problem.extensions["event"]  # names the act it would have disowned
    future = (w.clock + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    w.refused("invalid-field", CHAIR, "key.revoked", person=CHAIR, key=key, reason="Mất.",
              effective=future)  # fmt: skip
    w.refused("invalid-field", CHAIR, "key.revoked", person=CHAIR, key=key, reason="Mất.",
              effective=before, disowns=["not-a-hash"])  # fmt: skip
    size = ledger.size()
    # Disowning an act of another key (the advisory body's): admitted, and reported.
    other = w.on(
        ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTT", reason="Tốt.", quota=True
    )
    w.act("root", "key.revoked", person=CHAIR, key=key, reason="Mất khóa.",
          effective=before, disowns=[other])  # fmt: skip
    assert ledger.size() == size + 2
    report = ledger.verify().to_json()
    assert all(c["status"] in ("pass", "not_applicable") for c in report["checks"]), report
    (compromise,) = report["key_compromises"]
    assert compromise["disowned_not_found"] == [other]
    assert compromise["acts"] and not any(a["disowned"] for a in compromise["acts"])


def test_a_revocation_effective_from_now_needs_no_list(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    w.act("root", "key.revoked", person=CHAIR, key=str(w.keys[CHAIR].verifier), reason="Mất.")
    report = checks(ledger)["report"]
    assert report["ok"] and report["key_compromises"] == []


def test_a_tampered_read_model_fails_recomputation(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    ledger.projector.catch_up()
    assert checks(ledger)["V9"]["status"] == "pass"
    name = "cycle/2026-qd366-test"
    doc = ledger.projector.read_model.doc(name)
    doc["subjects"][CADRES[3]]["score"]["total"] = "90.00"  # favour a cadre
    ledger.store.execute(
        "UPDATE projection_docs SET doc = ? WHERE name = ?", (json.dumps(doc), name)
    )
    found = checks(ledger)
    assert found["V9"]["status"] == "fail"
    assert name in found["V9"]["first_failure"]["reason_en"]
    assert found["V8"]["status"] == "pass"  # the events themselves are fine


def test_a_bare_log_reports_no_domain_checks(ledger: Ledger, people: object) -> None:
    report = ledger.verify().to_json()
    log = {"V1", "V2", "V3", "V4", "V5", "V6", "V10"}  # V10: the log's time, any log
    assert {c["id"] for c in report["checks"]} == log | (
        {"V7"} if any(c["id"] == "V7" for c in report["checks"]) else set()
    )
    assert "fairness" not in report


def test_fairness_evidence_names_the_events() -> None:
    """A ballot far below the rest, a thin amendment reason and a level lowered below
    the score: each reported with its events (hash and position), severity, statistic."""
    from domain.model import Model
    from projections.fairness import Fairness

    w = World()
    w.open()
    w.roster(collective=False)
    w.review()
    watcher = Fairness()
    model: Model = w.model
    original = model.handle

    def observed(act: object) -> None:
        original(act)  # type: ignore[arg-type]
        watcher.observe(act, model)  # type: ignore[arg-type]

    model.handle = observed  # type: ignore[method-assign]
    for sid in CADRES[:3]:
        for scorer, total in zip(PANEL, (80, 81, 79), strict=True):
            w.on(scorer, "score.submitted", cadre=sid, general=24, tasks=total - 24)
    extra_panel = ["cham.4", "cham.5"]
    w.enrol(*extra_panel)
    w.model.cycles["2026-qd366-test"].roles["panel"].update(extra_panel)
    w.on("cham.4", "score.submitted", cadre=CADRES[0], general=10, tasks=40)  # far below
    w.on("cham.5", "score.submitted", cadre=CADRES[0], general=24, tasks=56)
    ballot = w.on("cham.5", "score.submitted", cadre=CADRES[1], general=24, tasks=56)
    w.on(
        "cham.5",
        "score.amended",
        cadre=CADRES[1],
        amends=ballot,
        general=20,
        tasks=50,
        reason="nhầm",
    )
    w.on(CHAIR, "tally.recorded", cadre=CADRES[2], ballots=3, total="80")
    # CADRES[2] scores HTT and is rated HT on a typed ground that forces nothing: 5 % of
    # tasks failed (KHT takes over 50 %). The rules admit it; the finding reports it.
    record = w.ground(CADRES[2], percent=5)
    w.on(
        ADVISORY,
        "appraisal.proposed",
        cadre=CADRES[2],
        level="HT",
        reason="Theo chỉ đạo.",
        evidence=[record],
    )
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[2], level="HT")
    found = watcher.report(model)["findings"]
    kinds = {(f["kind"], f["cadre"], f["scorer"]) for f in found}
    assert ("ballot-deviation", CADRES[0], "cham.4") in kinds
    assert ("decision-departure", CADRES[2], AUTHORITY) in kinds
    amendments = next(f for f in found if f["kind"] == "amendments")
    assert amendments["cadre"] == CADRES[1] and amendments["detail"]["direction"] == "down"
    assert amendments["detail"]["amendments"][0]["thin_reason"] is True
    assert amendments["scorer"] == "cham.5"
    assert all(f["events"] and f["summary_vi"] and f["summary_en"] for f in found)
    assert all(len(f["events"]) == len(f["positions"]) for f in found)
    assert all(f["severity"] in ("low", "medium", "high") for f in found)
    assert UNIT not in {f["cadre"] for f in found}


def test_a_signed_audit_is_appended_to_the_ledger(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:

    from cadreledger.cli import main

    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    w.enrol("kiem-toan")
    key_file = tmp_path / "auditor.key"
    key_file.write_text(str(w.key("kiem-toan")) + "\n")
    ledger.close()
    runner = keyed_cli(tmp_path)
    args = ["--db", db_url, "audit", "--key", str(key_file), "-o", str(tmp_path / "r.json")]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2
    assert "auditor" in refused.output  # the role it lacks, named
    again, w2 = evaluation_ledger(db_url, tmp_path, open_ledger)
    w2.keys, w2.clock = w.keys, w.clock
    w2.act("root", "role.granted", person="kiem-toan", role="auditor")
    size = again.size()
    again.close()
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    reader = open_ledger(db_url, writer=False)
    ((_, _, _, raw),) = reader.store.entries(size, 1)
    statement = json.loads(raw)["statement"]
    assert statement["type"] == "audit.reported" and statement["actor"] == "kiem-toan"
    summary = statement["audit"]
    assert summary["ok"] and summary["tree_size"] == size  # what was verified: all before it
    assert summary["checks"]["V8"] == "pass" and summary["checks"]["V9"] == "pass"
    import hashlib

    full = (tmp_path / "r.json").read_bytes()
    assert summary["report_sha256"] == hashlib.sha256(full).hexdigest()


def test_planted_favouritism_and_suppression_are_found_and_explained(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """A late amendment lifts one cadre over the HTXS line after the tally; another
    evaluator marks one cadre down on every criterion. `verify` reports both, with the
    events and the level the amendment moved."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    w.roster(collective=False)
    w.review()
    ballots = {}
    for sid, totals in ((CADRES[0], (89, 89, 88)), (CADRES[1], (80, 81, 80))):
        for scorer, total in zip(PANEL, totals, strict=True):
            general = 27
            ballots[(scorer, sid)] = w.on(
                scorer, "score.submitted", cadre=sid, general=general, tasks=total - general
            )
    # Suppression: the third scorer marks cadre 2 down on both criteria.
    w.on(PANEL[2], "score.submitted", cadre=CADRES[2], general=18, tasks=45)
    for scorer in PANEL[:2]:
        w.on(scorer, "score.submitted", cadre=CADRES[2], general=26, tasks=56)
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="88.67")
    # Favour: scoring reopened and one ballot lifted; 88.67 becomes 90.00 — HTXS.
    w.on(CHAIR, "scoring.reopened", cadre=CADRES[0], reason="Theo đề nghị của đồng chí Bí thư.")
    w.on(
        PANEL[2], "score.amended", cadre=CADRES[0], amends=ballots[(PANEL[2], CADRES[0])],
        general=30, tasks=62, reason="Bổ sung thành tích.",
    )  # fmt: skip
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="90.00")
    report = ledger.verify().to_json()
    assert report["ok"], report["first_bad"]  # nothing here breaks a rule …
    found = report["fairness"]["findings"]
    lifted = next(f for f in found if f["kind"] == "amendments" and f["cadre"] == CADRES[0])
    assert lifted["detail"]["level_without_amendments"] == "HTT"
    assert lifted["detail"]["level_with_amendments"] == "HTXS"
    assert "changed the level" in lifted["summary_en"]
    late = next(f for f in found if f["kind"] == "late-change" and f["cadre"] == CADRES[0])
    assert late["detail"]["type"] == "score.amended" and late["detail"]["after"] == ["tally"]
    assert late["severity"] == "medium" and late["scorer"] == PANEL[2]
    marked = next(f for f in found if f["kind"] == "ballot-deviation" and f["cadre"] == CADRES[2])
    assert marked["scorer"] == PANEL[2] and marked["detail"]["direction"] == "down"
    assert marked["detail"]["general_vs_rest"] == "-8.00"
    assert marked["detail"]["every_criterion"] is True
    # Only the one who deviates is named: the two honest scorers are not.
    assert {f["scorer"] for f in found if f["kind"] == "ballot-deviation"} == {PANEL[2]}


def test_the_service_audits_on_a_schedule(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    import time

    from evidence.auditor import Schedule

    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    w.enrol("kiem-toan")
    w.act("root", "role.granted", person="kiem-toan", role="auditor")
    size = ledger.size()
    with Schedule(ledger, w.key("kiem-toan"), every=0.2):
        deadline = time.monotonic() + 20
        while ledger.size() < size + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    audits = [json.loads(raw)["statement"] for *_, raw in ledger.store.entries(size, 10)]
    assert len(audits) >= 2 and {a["type"] for a in audits} == {"audit.reported"}
    assert all(a["audit"]["ok"] for a in audits)
    # Each audit covers the log as it was, its predecessor audits included.
    assert audits[1]["audit"]["tree_size"] > audits[0]["audit"]["tree_size"]
