"""A retried statement gets its stored receipt back on an evaluation ledger too.

The rules would refuse the retry as a repeat ("already exists": the ballot, the
person); the sequencer must look the statement up first, so that a client whose
answer was lost in a crash is told where its statement is (HTTP 200), not refused.
Found by the crash drill (docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cadreledger.service import Ledger
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.statement import sign_statement
from tests.evaluation import CADRES, CYCLE, PANEL
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
