"""``Answer``: a statement's answer for the one thread that waits for it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import InvalidStateError

import pytest

from ledger.answers import Answer
from ledger.errors import BAD_SIGNATURE, Rejected


def test_the_waiting_thread_gets_the_answer_set_from_another() -> None:
    answer: Answer[str] = Answer()
    setter = threading.Timer(0.05, answer.set_result, ("receipt",))
    setter.start()
    started = time.perf_counter()
    assert answer.result(timeout=5) == "receipt"
    assert time.perf_counter() - started >= 0.04  # it waited for it
    assert answer.result() == "receipt"  # and asking again gives it again
    setter.join()


def test_a_refusal_is_raised_to_the_waiting_thread() -> None:
    answer: Answer[str] = Answer()
    answer.set_exception(Rejected(BAD_SIGNATURE, "sai", "wrong"))
    with pytest.raises(Rejected) as refused:
        answer.result(timeout=1)
    assert refused.value.problem == BAD_SIGNATURE


def test_no_answer_is_a_timeout_not_a_none() -> None:
    answer: Answer[str] = Answer()
    with pytest.raises(TimeoutError):
        answer.result(timeout=0.01)


def test_a_second_answer_is_refused_and_the_first_kept() -> None:
    answer: Answer[str] = Answer()
    answer.set_result("first")
    for second in (lambda: answer.set_result("second"), lambda: answer.set_exception(None)):
        with pytest.raises(InvalidStateError):
            second()
    assert answer.result(timeout=1) == "first"
