"""Submissions checked in worker processes (``Settings.check_processes``) get exactly
what the writer's own threads would give them: the same receipts, the same refusals,
exactly once, and a killed checker loses nothing anybody was told was accepted."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from cadreledger.service import Ledger
from ledger.answers import Answer
from ledger.errors import BAD_SIGNATURE, NONCE_REUSED, SIGNER_MISMATCH, UNAVAILABLE, Rejected
from ledger.receipt import Receipt
from ledger.statement import SignedStatement, parse_submission, sign_statement
from tests.conftest import People


def body(signed: SignedStatement) -> bytes:
    return json.dumps(signed.submission(), ensure_ascii=False).encode()


def refusal(ledger: Ledger, data: bytes) -> tuple[str, str, str, dict[str, Any]]:
    with pytest.raises(Rejected) as caught:
        ledger.submit(data)
    e = caught.value
    return e.problem.slug, e.detail_vi, e.detail_en, e.extensions


def in_thread(data: bytes) -> tuple[str, str, str, dict[str, Any]]:
    """What the writer's own threads refuse ``data`` with (they call this function)."""
    with pytest.raises(Rejected) as caught:
        parse_submission(data)
    e = caught.value
    return e.problem.slug, e.detail_vi, e.detail_en, e.extensions


@pytest.fixture
def checked(db_url: str, open_ledger: Callable[..., Ledger]) -> Ledger:
    ledger = open_ledger(db_url, check_processes=2)
    assert ledger.checkers is not None and all(ledger.checkers.children)
    return ledger


def test_receipts_verify_with_the_log_key_alone(checked: Ledger, people: People) -> None:
    signed = [people.statement(cadre=f"c{i}") for i in range(20)]
    receipts = [checked.submit(body(s)) for s in signed]
    assert [r.index for r in receipts] == list(range(20))
    for r in receipts:
        # What a person keeps, checked with nothing but the log's public key, as
        # tests/unit/test_receipt.py checks any receipt.
        r.verify(checked.log_key)
    stored = checked.entries(0, 20)
    assert [e["event_hash"] for e in stored] == [r.event_hash.hex() for r in receipts]
    assert checked.verify().ok


def test_a_checked_statement_is_answered_through_an_answer(
    checked: Ledger, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked in a child, a statement's submitter still waits on an ``Answer``, as in
    the threads' path: a small batch of them the writer answers itself, with no pool
    thread's turn between the commit and the receipts (tests/service/test_store.py)."""
    answered = 0
    answer = Answer._answer

    def counted(self: Answer[Any], result: Any, error: BaseException | None) -> None:
        nonlocal answered
        answered += 1
        answer(self, result, error)

    monkeypatch.setattr(Answer, "_answer", counted)
    receipts = [checked.submit(body(people.statement(cadre=f"c{i}"))) for i in range(5)]
    assert [r.index for r in receipts] == list(range(5))
    assert answered == 5
    with pytest.raises(Rejected):  # a refusal comes the same way
        checked.submit(b"{")
    assert answered == 6


def test_an_insiders_forgeries_are_refused_as_by_the_threads(
    checked: Ledger, people: People
) -> None:
    """Whatever a checker refuses, it refuses with the threads' very problem and words."""
    good = people.statement()
    statement = dict(good.statement, general=30)  # a score changed after signing
    tampered = json.dumps(
        {
            "statement": statement,
            "signer": str(good.signer),
            "signature": good.submission()["signature"],
        }
    ).encode()
    other = people.statement(actor="le.van.cuong")  # signed by someone else's key
    borrowed = json.dumps(
        {
            "statement": good.statement,
            "signer": str(other.signer),
            "signature": other.submission()["signature"],
        }
    ).encode()
    unsigned = json.dumps(
        {
            "statement": good.statement,
            "signer": str(good.signer),
            "signature": base64.b64encode(b"\0" * 64).decode(),
        }
    ).encode()
    cases = {tampered: BAD_SIGNATURE, borrowed: SIGNER_MISMATCH, unsigned: BAD_SIGNATURE}
    for data, problem in cases.items():
        assert refusal(checked, data)[0] == problem.slug
    malformed = [b"{", b'{"statement": 1.5}', b'{"a": "\xed\xa0\x80"}', b"[]" * 10]
    for data in [*cases, *malformed]:
        assert refusal(checked, data) == in_thread(data)
    assert checked.size() == 0  # nothing refused was stored


def test_a_retry_gets_the_same_receipt_once(checked: Ledger, people: People) -> None:
    signed = people.statement()
    first = checked.submit(body(signed))
    again = checked.submit(body(signed))
    assert again.duplicate and not first.duplicate
    assert (again.index, again.event_hash) == (first.index, first.event_hash)
    assert checked.size() == 1
    reused = dict(signed.statement, general=21)  # the same nonce for another statement
    other = sign_statement(reused, people.key(signed.actor))
    assert refusal(checked, body(other))[0] == NONCE_REUSED.slug


def test_a_killed_checker_loses_no_acknowledged_statement(checked: Ledger, people: People) -> None:
    """kill -9 of a checker under load: what it held is answered "retry" (never
    stored half-way), everything acknowledged is in the log, and the retries land once."""
    assert checked.checkers is not None
    signed = [people.statement(cadre=f"c{i % 50}") for i in range(600)]
    receipts: dict[int, Receipt] = {}
    refused: dict[int, Rejected] = {}
    started = threading.Event()

    def submit(i: int) -> None:
        started.set()
        try:
            receipts[i] = checked.submit(body(signed[i]))
        except Rejected as e:
            refused[i] = e

    def load(share: range) -> None:
        for i in share:
            submit(i)

    threads = [threading.Thread(target=load, args=(range(t, 600, 16),)) for t in range(16)]
    for t in threads:
        t.start()
    started.wait()
    for _ in range(2000):  # some acknowledged first, so the kill lands mid-load
        if len(receipts) >= 50:
            break
        threading.Event().wait(0.005)
    victim = checked.checkers.children[0]
    assert victim is not None and victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    for t in threads:
        t.join()
    assert {e.problem.slug for e in refused.values()} <= {UNAVAILABLE.slug}
    assert len(receipts) + len(refused) == 600
    stored = {e["event_hash"] for e in checked.entries(0, checked.size())}
    assert {r.event_hash.hex() for r in receipts.values()} <= stored
    for i in refused:  # the clients retry: each lands, once
        receipts[i] = checked.submit(body(signed[i]))
    assert checked.size() == 600 == len({r.index for r in receipts.values()})
    assert checked.checkers.restarts == 1  # the dead child was found and replaced
    assert checked.verify().ok
