"""The rules enforced by a real ledger, and the read model that follows it.

On SQLite always and on PostgreSQL when it is there (with ``CI=true``, always).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from cadreledger.service import Ledger
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import SignedStatement
from projections.follower import Projector
from projections.history import replay_cycle
from projections.views import digest, documents
from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    PANEL,
    UNIT,
    World,
    WorldClock,
)
from tests.paths import ROOT


def evaluation_ledger(
    url: str, tmp_path: Path, open_ledger: Callable[..., Ledger], **options: object
) -> tuple[Ledger, World]:
    root = SignerKey.generate("root")
    key_file = tmp_path / "root.key"
    if not key_file.exists():
        key_file.write_text(str(root) + "\n")
    else:
        root = SignerKey.parse(key_file.read_text())
    clock = WorldClock()
    ledger = open_ledger(url, rules=True, clock=clock, **options)

    def submit(signed: SignedStatement) -> str:
        return ledger.append(signed).event_hash.hex()

    return ledger, World(submit=submit, root=root, clock=clock)


def keyed_cli(tmp_path: Path) -> CliRunner:
    """The command line of an operator holding the log and root keys that
    ``evaluation_ledger`` keeps in ``tmp_path``."""
    return CliRunner(
        env={
            "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
            "CADRELEDGER_ROOT_KEY_FILE": str(tmp_path / "root.key"),
        }
    )


@pytest.fixture
def evaluation(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> tuple[Ledger, World]:
    return evaluation_ledger(db_url, tmp_path, open_ledger)


def run_cycle(w: World) -> None:
    w.open()
    w.roster()
    w.review()
    w.score_all({CADRES[0]: 92, CADRES[1]: 80, CADRES[2]: 75, CADRES[3]: 60, CADRES[4]: 40})
    w.score_all({UNIT: 85, CHAIR: 88})
    w.propose_and_decide(UNIT, "HTT")
    w.propose_and_decide(CHAIR, "HTT")


def test_a_refused_statement_is_not_stored_and_names_its_rule(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    run_cycle(w)
    size = ledger.size()
    w.refused_on("already-exists", AUTHORITY, "decision.issued", cadre=UNIT, level="HTT")
    w.refused_on("wrong-phase", PANEL[0], "score.submitted", cadre=CADRES[0], general=1, tasks=1)
    w.refused("unknown-key", "stranger", "unit.registered", unit="x", name="X")
    assert ledger.size() == size
    assert ledger.verify().ok


def test_a_batch_keeps_what_it_admits_and_refuses_the_rest(
    evaluation: tuple[Ledger, World],
) -> None:
    """Concurrent submissions land in shared batches; each is judged after those before it."""
    ledger, w = evaluation
    run_cycle(w)
    attempts = [(CADRES[i % 5], "HTT" if i % 2 else "HTXS") for i in range(20)]
    w.step = timedelta(seconds=1)  # signed together: all within the log's clock skew

    def propose(args: tuple[str, str]) -> str:
        cadre, level = args
        try:
            w.on(ADVISORY, "appraisal.proposed", cadre=cadre, level=level, reason="Theo thẩm định.")
            return "ok"
        except Rejected as e:
            return e.problem.slug

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(propose, attempts))
    # 92 points allow HTXS, and HTT only on a typed ground (none is cited); 80 and 75
    # allow HTT only; 60 and 40 allow neither.
    assert outcomes.count("ok") == 2 + 2 + 2
    assert outcomes.count("ungrounded-level") == 2
    assert outcomes.count("level-not-allowed") == 2 + 2 + 4 + 4
    assert ledger.verify().ok


def test_the_rules_survive_a_restart(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    first, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    first.close()
    again, w2 = evaluation_ledger(db_url, tmp_path, open_ledger)
    w2.keys, w2.clock = w.keys, w.clock
    w2.refused_on("already-exists", AUTHORITY, "decision.issued", cadre=UNIT, level="HTT")
    w2.propose_and_decide(CADRES[1], "HTT")
    assert again.verify().ok


@pytest.mark.postgres
def test_two_writers_judge_by_each_others_acts(
    pg_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    a, w = evaluation_ledger(pg_url, tmp_path, open_ledger)
    b, w_b = evaluation_ledger(pg_url, tmp_path, open_ledger)
    w.open()
    w.roster()
    # b learns of the roster only by reloading when its optimistic write fails.
    w_b.keys, w_b.clock = w.keys, w.clock
    w_b.on(CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…")
    w.clock = w_b.clock
    w.refused_on("already-exists", AUTHORITY, "cycle.roster", subjects=[{"id": "x", "name": "X"}])
    assert open_ledger(pg_url, writer=False).verify().ok
    assert a.size() == b.size()


# -- the read model ----------------------------------------------------------------------


def test_rebuilt_and_followed_read_models_agree(
    evaluation: tuple[Ledger, World],
) -> None:
    ledger, w = evaluation
    projector = ledger.projector
    w.open()
    w.roster()
    projector.step()  # follow part of the way, then the rest in small steps
    w.review()
    w.score_all({CADRES[0]: 92, CADRES[1]: 80})
    while projector.step(limit=7):
        pass
    followed = projector.stored_digest()
    rebuilt = projector.rebuild()
    assert followed == rebuilt == projector.stored_digest()
    doc = projector.read_model.doc(f"cycle/{CYCLE}")
    assert doc["subjects"][CADRES[0]]["score"]["total"] == "92.00"
    assert doc["subjects"][CADRES[0]]["rules_allow"]["highest"] == "HTXS"


def test_the_same_events_give_the_same_digest(
    evaluation: tuple[Ledger, World], tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation
    run_cycle(w)
    first = ledger.projector.rebuild()
    fresh = Projector(ledger.store, ledger.root_keys)
    assert fresh.rebuild() == first
    model, _ = replay_cycle(ledger.store, ledger.projector.model.registry, CYCLE, roster(ledger))
    assert model.cycles[CYCLE].evaluations[UNIT].decision is not None
    assert digest(documents(ledger.projector.model)) == first


def test_state_as_of_any_position_or_time(evaluation: tuple[Ledger, World]) -> None:
    ledger, w = evaluation
    run_cycle(w)
    ledger.projector.catch_up()
    cycle = ledger.projector.model.cycles[CYCLE]
    decision = cycle.evaluations[UNIT].decision
    assert decision is not None
    _, steps = replay_cycle(ledger.store, ledger.projector.model.registry, CYCLE, roster(ledger))
    position = next(s.position for s in steps if s.event == decision.event)
    before, _ = replay_cycle(
        ledger.store, ledger.projector.model.registry, CYCLE, roster(ledger), through=position - 1
    )
    after, _ = replay_cycle(
        ledger.store, ledger.projector.model.registry, CYCLE, roster(ledger), through=position
    )
    assert before.cycles[CYCLE].evaluations[UNIT].decision is None
    assert after.cycles[CYCLE].evaluations[UNIT].decision is not None
    signed_at = next(s.act.issued_at for s in steps if s.event == decision.event)
    at_time, _ = replay_cycle(
        ledger.store, ledger.projector.model.registry, CYCLE, roster(ledger), at=signed_at
    )
    assert at_time.cycles[CYCLE].evaluations[UNIT].decision is not None


PROJECT = [sys.executable, "-m", "cadreledger.cli"]


def test_a_killed_projector_takes_up_where_it_committed(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """SIGKILL ``cadreledger project`` while the log grows; restarted, it ends with
    exactly the state a rebuild gives: no batch skipped, none applied twice."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CADRELEDGER_DB": db_url}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([*PROJECT, "project", "--poll", "0.05"], env=env, cwd=ROOT)

    proc = start()
    w.open()
    w.roster()
    w.review()
    for round_ in range(3):
        w.score_all({CADRES[round_]: 70 + round_})
        time.sleep(0.2)
        if round_ == 1:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = start()
    deadline = time.monotonic() + 30
    projector = Projector(ledger.store, ledger.root_keys)
    while projector.read_model.position() < ledger.size() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    followed = projector.stored_digest()
    assert projector.read_model.position() == ledger.size()
    assert followed == Projector(ledger.store, ledger.root_keys).rebuild()


@pytest.mark.postgres
def test_on_postgres_the_projector_wakes_on_notify(
    pg_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """With a 30 s poll, only LISTEN/NOTIFY can bring each commit over within seconds."""
    import threading

    ledger, w = evaluation_ledger(pg_url, tmp_path, open_ledger)
    projector = Projector(ledger.store, ledger.root_keys)
    stop = threading.Event()
    follower = threading.Thread(target=projector.follow, args=(stop, 30.0))
    follower.start()
    try:
        time.sleep(0.5)  # let it LISTEN and go idle
        for _ in range(3):
            w.enrol(f"nguoi.{w.clock.minute}")
            deadline = time.monotonic() + 5
            while projector.read_model.position() < ledger.size():
                assert time.monotonic() < deadline, "the projector slept through a commit"
                time.sleep(0.05)
    finally:
        stop.set()
        follower.join(40)
    assert projector.stored_digest() == Projector(ledger.store, ledger.root_keys).rebuild()


def test_as_of_any_position_equals_replaying_that_prefix(
    evaluation: tuple[Ledger, World],
) -> None:
    """For every position p, the cycle "as of p" (its own streams, judged against the
    registry as it stood then) equals replaying the first p + 1 events of the log."""
    from domain.model import Model
    from projections.source import stored_acts
    from projections.views import cycle_view

    ledger, w = evaluation
    run_cycle(w)
    ledger.projector.catch_up()
    registry, size, subjects = ledger.projector.model.registry, ledger.size(), roster(ledger)
    prefix = Model(ledger.root_keys)
    for act in stored_acts(ledger.store, 0, size):
        prefix.replay(act)
        as_of, _ = replay_cycle(ledger.store, registry, CYCLE, subjects, through=act.position)
        expected = prefix.cycles.get(CYCLE)
        got = as_of.cycles.get(CYCLE)
        assert (got and cycle_view(got)) == (expected and cycle_view(expected)), act.position
    assert not prefix.refused


@pytest.mark.postgres
def test_replay_is_the_same_on_sqlite_and_postgres(
    tmp_path: Path, pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """The same signed statements, stored by both databases, rebuild to one digest."""
    root = SignerKey.generate("root")
    signed: list[SignedStatement] = []
    digests = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", pg_url):
        (tmp_path / "root.key").write_text(str(root) + "\n")
        clock = WorldClock()
        ledger = open_ledger(url, rules=True, clock=clock)
        if not signed:  # the first database: play the cycle, keep what was signed
            run_cycle(World(submit=partial(_append, ledger), root=root, clock=clock))
            signed = _stored_statements(ledger)
        else:  # the second: the very same statements, in the same order, on time
            for statement in signed:
                clock.at = datetime.fromisoformat(statement.statement["issued_at"])
                ledger.append(statement)
        digests.append(ledger.projector.rebuild())
        ledger.close()
        (tmp_path / "log.key").unlink()
    assert digests[0] == digests[1]


def roster(ledger: Ledger) -> list[str]:
    return list(ledger.projector.model.cycles[CYCLE].evaluations)


def _append(ledger: Ledger, signed: SignedStatement) -> str:
    return ledger.append(signed).event_hash.hex()


def _stored_statements(ledger: Ledger) -> list[SignedStatement]:
    from ledger.envelope import Event

    out = []
    for _index, _stream, _version, raw in ledger.store.entries(0, ledger.size()):
        event = Event.parse(raw)
        out.append(
            SignedStatement(event.statement, event.statement_bytes, event.signer, event.signature)
        )
    return out


def test_a_relation_on_the_registry_is_verified_and_read_by_the_fairness_findings(
    evaluation: tuple[Ledger, World],
) -> None:
    """``relation.recorded`` goes through the rules and V8 like any registry act; the
    authority deciding on the chair, their relative by the registry, and on the unit the
    chair heads, without declaring a conflict, is a sign to examine."""
    ledger, w = evaluation
    run_cycle(w)
    w.act("root", "relation.recorded", person=CHAIR, related=AUTHORITY, kind="relative")
    report = ledger.verify().to_json()
    assert report["ok"], report
    found = [
        (f["cadre"], f["scorer"], f["detail"].get("relation"))
        for f in report["fairness"]["findings"]
        if f["kind"] == "undeclared-conflict"
    ]
    assert sorted(found) == [(UNIT, AUTHORITY, "relative"), (CHAIR, AUTHORITY, "relative")]
