"""A retried statement gets its stored receipt back on an evaluation ledger too.

The rules would refuse the retry as a repeat ("already exists": the ballot, the
person); the sequencer must look the statement up first, so that a client whose
answer was lost in a crash is told where its statement is (HTTP 200), not refused.
Found by the crash drill (docs/reliability.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cadreledger.service import Ledger
from ledger.envelope import Event, event_hash
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import SignedStatement, sign_statement
from tests.evaluation import CADRES, CYCLE, PANEL, World
from tests.service.test_domain_ledger import evaluation_ledger


def test_a_retry_is_answered_with_the_stored_receipt(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    w.roster()
    w.review()
    ballot = sign_statement(
        w.statement(
            PANEL[0],
            "score.submitted",
            {"cycle": CYCLE, "cadre": CADRES[0], "general": 25, "tasks": 60},
        ),
        w.keys[PANEL[0]],
    )
    person = SignerKey.generate("nguoi.moi")
    registration = sign_statement(
        w.statement(
            "root",
            "person.registered",
            {"person": "nguoi.moi", "name": "Người mới", "key": str(person.verifier)},
        ),
        w.keys["root"],
    )
    for signed in (ballot, registration):
        first = ledger.append(signed)
        again = ledger.append(signed)
        assert not first.duplicate and again.duplicate
        assert (again.index, again.event_hash) == (first.index, first.event_hash)
    size = ledger.size()
    # A different statement under a used nonce is still refused, and nothing is stored.
    reused = dict(ballot.statement, general=26)
    try:
        ledger.append(sign_statement(reused, w.keys[PANEL[0]]))
    except Rejected as e:
        assert e.problem.slug == "nonce-reused"
    else:
        raise AssertionError("a reused nonce was accepted")
    assert ledger.size() == size


def test_a_new_statement_repeating_an_act_is_still_refused(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """A new statement repeating a stored act (a second ballot) is refused as before."""
    _, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    w.roster()
    w.review()
    w.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=25, tasks=60)
    w.refused_on(
        "already-exists", PANEL[0], "score.submitted", cadre=CADRES[0], general=25, tasks=60
    )


def _slow_first_commit(monkeypatch: pytest.MonkeyPatch, ledger: Ledger, fail: bool) -> None:
    """Hold the next batch's commit for a moment (the writer lays out the batch behind it
    meanwhile), then let it through, or let it fail once as a lost connection would."""
    commit = ledger.store.commit
    first = [True]

    def held(*args: Any) -> None:
        if first[0]:
            first[0] = False
            time.sleep(0.4)
            if fail:
                raise ConnectionError("database unreachable")
        commit(*args)

    monkeypatch.setattr(ledger.store, "commit", held)


def _registration(w: World, person: str) -> SignedStatement:
    key = SignerKey.generate(person)
    body = {"person": person, "name": "Người mới", "key": str(key.verifier)}
    return sign_statement(w.statement("root", "person.registered", body), w.keys["root"])


def _while_a_batch_commits(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    people: int,
) -> tuple[Ledger, World, Future[Any], list[SignedStatement]]:
    """An evaluation ledger whose writer is committing (held a moment) a batch of the
    first of ``people`` new registrations: that one's future, and the others, unsent."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    assert ledger.sequencer is not None
    signed = [_registration(w, f"nguoi.{i}") for i in range(people)]
    _slow_first_commit(monkeypatch, ledger, fail=False)
    first = ledger.sequencer.submit(signed[0])
    time.sleep(0.05)  # its batch is committing now
    return ledger, w, first, signed[1:]


@pytest.mark.parametrize("fail", [False, True], ids=["stored", "failed"])
def test_a_batch_laid_out_while_the_one_before_commits(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    fail: bool,
) -> None:
    """Behind a batch still committing: a retry of its statement gets that statement's
    receipt, a new statement repeating its act is refused by rules that already count it,
    and a statement on its stream chains onto it. If that commit fails, all of it is
    written again as if it came one after the other: nothing lost, stored twice, forked."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    assert ledger.sequencer is not None
    registration = _registration(w, "nguoi.moi")
    repeat = _registration(w, "nguoi.moi")
    _slow_first_commit(monkeypatch, ledger, fail)
    first = ledger.sequencer.submit(registration)
    time.sleep(0.2)  # its batch is committing now
    behind = [ledger.sequencer.submit(s) for s in (registration, repeat)]
    landed = first.result(10)
    again = behind[0].result(10)
    assert not landed.duplicate and again.duplicate
    assert (again.index, again.event_hash) == (landed.index, landed.event_hash)
    with pytest.raises(Rejected) as refused:
        behind[1].result(10)
    assert refused.value.problem.slug == "already-exists"
    assert ledger.size() == landed.index + 1
    assert ledger.verify().ok


def test_statements_coming_while_a_batch_commits_join_the_next_at_their_own_time(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Statements that come one by one while a batch commits all join the batch behind
    it (they used to wait for a commit more, once it had been laid out), and none is
    back-dated to the time that batch began: each has the log time at which it came."""
    ledger, w, first, rest = _while_a_batch_commits(db_url, tmp_path, open_ledger, monkeypatch, 4)
    sequencer = ledger.sequencer
    assert sequencer is not None
    came = []
    behind = []
    for signed in rest:
        w.time.at += timedelta(seconds=1)  # (the skew allows it: signed a minute apart)
        came.append(w.time.at)
        behind.append(sequencer.submit(signed))
        time.sleep(0.05)
    landed = [future.result(10) for future in behind]
    assert first.result(10).tree_size < landed[0].tree_size
    assert {where.tree_size for where in landed} == {landed[-1].tree_size}, "one batch"
    for where, at in zip(landed, came, strict=True):
        [(_, _, _, raw)] = ledger.store.entries(where.index, 1)
        assert Event.parse(raw).logged_at == at
    assert ledger.verify().ok


def test_statements_that_could_not_join_a_batch_are_written_with_it_carefully(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Laying out statements that join a batch fails midway (the database lost while
    the writer reads a stream's head): the whole batch, those laid out before them
    included, is written again carefully, never half of it."""
    ledger, _, first, rest = _while_a_batch_commits(db_url, tmp_path, open_ledger, monkeypatch, 3)
    sequencer = ledger.sequencer
    assert sequencer is not None
    second = sequencer.submit(rest[0])  # lays out the next batch
    time.sleep(0.05)
    cache_heads = sequencer._cache_heads
    failing = [True]

    def lost(streams: set[str]) -> None:
        if failing.pop() if failing else False:
            raise ConnectionError("database unreachable")
        cache_heads(streams)

    monkeypatch.setattr(sequencer, "_cache_heads", lost)
    third = sequencer.submit(rest[1])  # joins it, and fails
    landed = [future.result(10) for future in (first, second, third)]
    assert [where.index for where in landed] == [landed[0].index + i for i in range(3)]
    assert not failing, "the join was not tried"
    assert ledger.size() == landed[0].index + 3
    assert ledger.verify().ok


def test_a_stop_right_behind_a_commits_wake(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """A commit's wake and then a stop, queued together: the writer stops (it once took
    both, saw no statement, and waited for ever; a ledger's close then hung)."""
    from ledger.sequencer import _WAKE

    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    sequencer = ledger.sequencer
    assert sequencer is not None
    sequencer.stop()
    sequencer._queue.put(_WAKE)
    sequencer._queue.put(None)
    sequencer.start()
    thread = sequencer._thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive(), "the writer did not stop"
    sequencer._thread = None
    sequencer.start()  # and it starts again, as a ledger's close expects to stop it


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("how", ["stopped", "failed"])
def test_a_writer_that_has_stopped_refuses_at_once(
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """A statement offered to a writer that was stopped, or whose thread ended on an
    error nobody foresaw, is refused at once as "unavailable" (send it again), never
    left in a queue that nobody reads any more."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    sequencer = ledger.sequencer
    assert sequencer is not None
    sequencer.stop()
    if how == "failed":

        def broken(*_: Any) -> None:
            raise RuntimeError("a bug in the writer")

        monkeypatch.setattr(sequencer, "_next_batch", broken)
        sequencer.start()
        assert sequencer._thread is not None
        sequencer._thread.join(5)
        assert not sequencer.running
    with pytest.raises(Rejected) as refused:
        sequencer.submit(_registration(w, "nguoi.moi")).result(1)
    assert refused.value.problem.slug == "unavailable"
    size = ledger.size()
    assert ledger.verify().ok and ledger.size() == size


def test_stopping_under_load_answers_everyone_and_loses_nothing(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """The writer stopped and started again, three times, while eight threads keep
    submitting: every statement is answered (stored, or refused as "unavailable"), the
    stop returns, every stored one is where its answer says, and the refused ones land
    when sent again."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.open()
    sequencer = ledger.sequencer
    assert sequencer is not None
    start = ledger.size()
    w.step = timedelta(0)  # all signed now, within the clock skew of the log's time
    statements = [_registration(w, f"nguoi.{i}") for i in range(240)]
    landed: dict[int, Any] = {}
    for cycle in range(3):
        chunk = statements[cycle * 80 : (cycle + 1) * 80]
        futures: list[Any] = [None] * len(chunk)

        def submit(
            lane: int, chunk: list[SignedStatement] = chunk, futures: list[Any] = futures
        ) -> None:
            for i in range(lane, len(chunk), 8):
                futures[i] = sequencer.submit(chunk[i])
                time.sleep(0.003)

        lanes = [threading.Thread(target=submit, args=(lane,)) for lane in range(8)]
        for lane in lanes:
            lane.start()
        time.sleep(0.01)  # some submitted, most still to come
        stopping = threading.Thread(target=sequencer.stop)
        stopping.start()
        stopping.join(10)
        assert not stopping.is_alive(), "the stop did not return"
        for lane in lanes:
            lane.join()
        refused = []
        for i, future in enumerate(futures):
            try:
                landed[cycle * 80 + i] = future.result(5)
            except Rejected as e:
                assert e.problem.slug == "unavailable"
                refused.append(chunk[i])
        sequencer.start()
        for signed in refused:  # sent again: they land
            landed[statements.index(signed)] = sequencer.submit(signed).result(10)
    assert len(landed) == len(statements)
    for i, where in landed.items():
        [(_, _, _, raw)] = ledger.store.entries(where.index, 1)
        assert event_hash(raw) == where.event_hash, i
    assert ledger.size() == start + len(statements)
    assert ledger.verify().ok
