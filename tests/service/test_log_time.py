"""Time comes from the log, not from the signer (thời điểm ghi sổ).

Each test is what an insider would try: sign with a time of their choosing — back
before a deadline, a complaint window, the cycle's opening — or forge the log's own
time in the database. The ledger refuses a statement whose ``issued_at`` is further
than its clock skew from the log's time; every time rule reads the log's time; and
the verifier re-checks the stored times (V10) and their place under the event hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cadreledger.config import ConfigError, Settings
from cadreledger.service import Ledger
from domain.acts import VIETNAM
from ledger.envelope import Event
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import sign_statement
from tests.bypass import bypass
from tests.evaluation import (
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    INSPECTION,
    World,
    WorldClock,
)
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


@pytest.fixture
def evaluation(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> tuple[Ledger, World]:
    return evaluation_ledger(db_url, tmp_path, open_ledger)


@contextmanager
def signer_clock(w: World, at: datetime) -> Iterator[None]:
    """The signer's clock says ``at`` for the next statement; the log's stays put."""
    log_clock = w.time
    w.time = WorldClock(at - w.step)
    try:
        yield
    finally:
        w.time = log_clock


def stored_times(ledger: Ledger) -> list[datetime]:
    times = [Event.parse(raw).logged_at for _, _, _, raw in ledger.store.entries(0, 10_000)]
    assert all(t is not None for t in times)
    return [t for t in times if t is not None]


def v10(ledger: Ledger) -> dict[str, object]:
    report = ledger.verify().to_json()
    (check,) = [c for c in report["checks"] if c["id"] == "V10"]
    return check


# -- the skew, both ways ---------------------------------------------------------------


@pytest.mark.parametrize("off", [timedelta(minutes=6), -timedelta(minutes=6), timedelta(days=61)])
def test_issued_at_beyond_the_skew_is_refused(
    evaluation: tuple[Ledger, World], off: timedelta
) -> None:
    ledger, w = evaluation
    w.open()
    size = ledger.size()
    with signer_clock(w, w.clock + off):
        problem = w.refused("clock-skew", "root", "unit.registered", unit="x", name="X")
    assert problem.extensions["field"] == "issued_at"
    assert problem.extensions["max_skew_seconds"] == 300
    assert "issued_at" in problem.detail_vi and "log's time" in problem.detail_en
    assert ledger.size() == size  # nothing stored


@pytest.mark.parametrize("off", [timedelta(minutes=4), -timedelta(minutes=4)])
def test_issued_at_within_the_skew_is_admitted_at_the_log_time(
    evaluation: tuple[Ledger, World], off: timedelta
) -> None:
    ledger, w = evaluation
    w.open()
    # The world's clock moves to the log's "now"; the signer's reads ``off`` from it.
    statement = w.statement("root", "unit.registered", {"unit": "x", "name": "X"})
    log_now = w.clock
    statement["issued_at"] = (log_now + off).strftime("%Y-%m-%dT%H:%M:%SZ")
    receipt = ledger.append(sign_statement(statement, w.keys["root"]))
    assert stored_times(ledger)[receipt.index] == log_now  # the log's time, not the signer's
    assert v10(ledger)["status"] == "pass"


def test_the_skew_is_a_setting_fixed_for_the_ledger(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    clock = WorldClock()
    ledger = open_ledger(db_url, rules=True, clock=clock, max_clock_skew=60)
    w = World(submit=lambda s: ledger.append(s).event_hash.hex(), root=_root(tmp_path), clock=clock)
    with signer_clock(w, w.clock - timedelta(minutes=2)):
        w.refused("clock-skew", "root", "unit.registered", unit="x", name="X")
    assert ledger.store.meta()["max_clock_skew"] == "60"
    ledger.close()
    with pytest.raises(ConfigError, match="max_clock_skew"):
        Ledger(
            Settings(
                db=db_url,
                log_key_file=str(tmp_path / "log.key"),
                root_key_file=str(tmp_path / "root.key"),
            )
        )


def _root(tmp_path: Path) -> SignerKey:
    return SignerKey.parse((tmp_path / "root.key").read_text())


# -- every time rule reads the log's time ----------------------------------------------


def test_a_self_assessment_back_dated_before_the_deadline_is_refused(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    w.open()
    w.roster()
    w.clock = datetime(2027, 1, 3, 1, 0, tzinfo=UTC)  # the log's clock: past 31/12
    size = ledger.size()
    with signer_clock(w, datetime(2026, 12, 30, 1, 0, tzinfo=UTC)):
        w.refused_on(
            "clock-skew", CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…"
        )
    problem = w.refused_on(
        "deadline-passed", CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…"
    )
    assert problem.extensions["deadline"] == "2026-12-31"
    assert ledger.size() == size


def test_the_deadline_is_judged_by_the_log_day_not_the_signed_one(
    evaluation: tuple[Ledger, World],
) -> None:
    """Signed at 23:58 on the last day (Vietnam), logged at 00:02 the next: within the
    clock skew, but late — the log's day counts."""
    ledger, w = evaluation
    w.open()
    w.roster()
    midnight = datetime(2027, 1, 1, tzinfo=VIETNAM)
    w.clock = midnight + timedelta(minutes=2) - w.step  # the log admits it at 00:02
    statement = w.statement(CADRES[0], "self_assessment.submitted", {
        "cycle": CYCLE, "cadre": CADRES[0], "report": "Nộp đúng hạn (theo đồng hồ của tôi)."
    })  # fmt: skip
    statement["issued_at"] = (
        (midnight - timedelta(minutes=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    with pytest.raises(Rejected) as caught:
        ledger.append(sign_statement(statement, w.keys[CADRES[0]]))
    assert caught.value.problem.slug == "deadline-passed"


def test_a_complaint_acceptance_back_dated_61_days_is_refused(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    run_cycle(w)
    w.propose_and_decide(CADRES[0], "HTT", reason="Vượt tỷ lệ.", quota=True)
    for cadre, level in ((CADRES[1], "HTT"), (CADRES[2], "HTT"), (CADRES[3], "HT")):
        w.propose_and_decide(cadre, level)
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")
    ledger.projector.catch_up()
    decided = ledger.projector.model.cycles[CYCLE].evaluations[CADRES[4]].decision
    assert decided is not None
    filed_at = w.clock
    complaint = w.on(
        CADRES[4], "complaint.filed", cadre=CADRES[4], against=decided.event, grounds="Chưa đúng."
    )
    w.clock = filed_at + timedelta(days=61)  # the inspection acts two months later …
    with signer_clock(w, filed_at + timedelta(days=1)):  # … and dates it the next day
        w.refused_on(
            "clock-skew", INSPECTION, "complaint.accepted", cadre=CADRES[4], complaint=complaint
        )
    w.refused_on(
        "deadline-passed", INSPECTION, "complaint.accepted", cadre=CADRES[4], complaint=complaint
    )


def test_a_meeting_back_dated_before_the_cycle_opened_is_refused(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    before = w.clock
    w.open()
    w.roster()
    w.clock += timedelta(days=3)
    with signer_clock(w, before):
        w.refused_on("clock-skew", CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR])
    assert all(t > before for t in stored_times(ledger))


# -- the stored time: monotonic, under the hash, re-checked -----------------------------


def test_log_times_never_go_back_even_when_the_clock_does(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    w.open()
    latest = stored_times(ledger)[-1]
    # The server's clock is set back two minutes; a signer following it is within skew.
    w.clock = latest - timedelta(minutes=2)
    w.act("root", "unit.registered", unit="x", name="X")
    times = stored_times(ledger)
    assert times == sorted(times) and times[-1] == latest
    assert v10(ledger)["status"] == "pass"


def test_a_changed_log_time_is_named(evaluation: tuple[Ledger, World]) -> None:
    """The operator moves an act's log time in the database (to put it before a
    deadline): the event hash covers it, so the verifier names that event."""
    ledger, w = evaluation
    w.open()
    index = 5
    ((_, stream, version, raw),) = ledger.store.entries(index, 1)
    envelope = json.loads(raw)
    assert envelope["v"] == 2
    earlier = Event.parse(raw).logged_at
    assert earlier is not None
    forged = raw.replace(
        envelope["logged_at"].encode(),
        (earlier - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode(),
    )
    ledger.store.execute(
        f"UPDATE {ledger.store.events_table} SET state = ? WHERE originator_id = ? AND "
        "originator_version = ?",
        (forged, stream, version),
    )
    report = ledger.verify().to_json()
    assert not report["ok"]
    assert report["first_bad"]["position"] == index


def test_an_insider_writing_around_the_skew_is_named_by_v10(
    evaluation: tuple[Ledger, World], tmp_path: Path
) -> None:
    """The operator runs a writer with the log's key that ignores the skew, to store a
    back-dated act: V10 names it."""
    ledger, w = evaluation
    w.open()
    signer = SignerKey.parse((tmp_path / "log.key").read_text())
    rogue = bypass(ledger, signer, w.time, lambda s: "registry", max_skew=timedelta(days=999))
    try:
        statement = w.statement("root", "unit.registered", {"unit": "y", "name": "Y"})
        statement["issued_at"] = "2026-01-01T00:00:00Z"
        receipt = rogue.append(sign_statement(statement, w.keys["root"]))
    finally:
        rogue.stop()
    check = v10(ledger)
    assert check["status"] == "fail"
    first = check["first_failure"]
    assert isinstance(first, dict) and first["position"] == receipt.index
    assert "issued_at" in first["reason_en"]


# -- V10 on its own: old envelopes, order, skew -----------------------------------------


def _rows(*times: datetime | None) -> list[tuple[int, str, int, bytes]]:
    """Envelopes of one stream signed at START + i minutes, logged at ``times`` (None:
    a version 1 envelope)."""
    from ledger.envelope import event_hash, wrap
    from tests.conftest import People

    people, rows, prev = People(), [], None
    for i, logged in enumerate(times):
        signed = people.statement(issued_at=f"2026-11-02T01:{i:02d}:00Z")
        raw = wrap("actor/nguyen.van.an", i + 1, prev, signed, logged)
        rows.append((i, "actor/nguyen.van.an", i + 1, raw))
        prev = event_hash(raw)
    return rows


def _v10(rows: list[tuple[int, str, int, bytes]]) -> tuple[str, dict[str, object]]:
    from ledger.logtime import check_log_time
    from ledger.verifier import Report

    report = Report("o", "k", "pinned")
    check = check_log_time(rows, report, timedelta(minutes=5))
    return check.status, report.to_json()


def test_v10_says_old_envelopes_went_unchecked_and_refuses_a_return_to_them() -> None:
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    status, report = _v10(_rows(None, None, at + timedelta(minutes=2)))
    assert status == "incomplete"  # two events carry no log time: not a ✓
    assert report["log_time"]["v1_events"] == 2 and "issued_at" in report["log_time"]["note"]
    status, report = _v10(_rows(at, None))
    assert status == "fail" and report["first_bad"]["position"] == 1


def test_v10_names_a_log_time_that_goes_back() -> None:
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    status, report = _v10(_rows(at, at + timedelta(minutes=2), at + timedelta(minutes=1)))
    assert status == "fail" and report["first_bad"]["position"] == 2
    assert "before the log time of an earlier event" in report["first_bad"]["reason_en"]


def test_an_event_logged_after_a_witness_cosigned_it_is_named(
    evaluation: tuple[Ledger, World],
) -> None:
    """The operator's clock dates events later than the witness saw them (to move an
    act past, say, a complaint's filing): the witness's cosignature time bounds it."""
    from ledger.checkpoint import open_checkpoint
    from ledger.cosignature import WitnessPolicy, cosign, cosigner_key
    from witness.cosignatures import CosignatureStore

    ledger, w = evaluation
    w.open()
    witness = SignerKey.generate("w1.example")
    text = open_checkpoint(ledger.checkpoint(), ledger.log_key).text()
    store = CosignatureStore(ledger.store)
    store.ensure()
    last = stored_times(ledger)[-1]
    options = {
        "witness_policy": WitnessPolicy((cosigner_key(witness),), 1),
        "cosignatures": store.lines,
    }
    honest = int((last + timedelta(seconds=10)).timestamp())
    store.add(ledger.size(), cosigner_key(witness), cosign(witness, text, honest))
    assert ledger.verify(**options).ok
    w.act("root", "unit.registered", unit="x", name="X")  # a later checkpoint
    text = open_checkpoint(ledger.checkpoint(), ledger.log_key).text()
    seen_before = int((stored_times(ledger)[-1] - timedelta(hours=1)).timestamp())
    store.add(ledger.size(), cosigner_key(witness), cosign(witness, text, seen_before))
    report = ledger.verify(**options).to_json()
    (check,) = [c for c in report["checks"] if c["id"] == "V10"]
    assert check["status"] == "fail"
    assert check["first_failure"]["position"] == ledger.size() - 1
    assert "w1.example" in check["first_failure"]["reason_en"]


def test_a_retry_of_a_stored_statement_gets_its_receipt_however_late(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    w.open()
    signed = sign_statement(
        w.statement("root", "unit.registered", {"unit": "x", "name": "X"}), w.keys["root"]
    )
    first = ledger.append(signed)
    w.clock += timedelta(hours=2)  # the answer was lost; the client retries much later
    again = ledger.append(signed)
    assert again.duplicate and again.index == first.index and again.event_hash == first.event_hash
