"""V4's nonce index read along the table (``ledger.indexes.NonceIndex``).

Where the store reads its nonce rows in the order written (SQLite, by rowid), the
verifier takes each page's rows from that stream instead of looking every nonce up; the
first page whose rows differ, and every page after it, is looked up as before. These are
the attacker's cases for that shortcut: a row changed on a later page, rows rewritten
in another order, a row added that claims an event's nonce.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from cadreledger.service import Ledger
from ledger import verifier
from ledger.store import NonceRow
from ledger.verifier import LogVerifier, Report
from tests.conftest import People

EVENTS = 12


@pytest.fixture
def log(
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    people: People,
    monkeypatch: pytest.MonkeyPatch,
) -> Ledger:
    monkeypatch.setattr(verifier, "PAGE_SIZE", 4)  # three pages
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    for i in range(EVENTS):
        ledger.append(people.statement(cadre=f"cadre-{i % 3}"))
    return ledger


def verify(ledger: Ledger, looked_up: list[Sequence[str]]) -> Report:
    """Verify, noting each lookup of nonces the index check makes."""
    by_nonce = ledger.store.nonce_rows

    def nonce_rows(nonces: Sequence[str]) -> list[NonceRow]:
        looked_up.append(nonces)
        return by_nonce(nonces)

    ledger.store.nonce_rows = nonce_rows  # type: ignore[method-assign]
    return LogVerifier(ledger.store, ledger.log_key).run(workers=1)


def test_an_untouched_log_is_checked_along_the_table_without_a_lookup(log: Ledger) -> None:
    looked_up: list[Sequence[str]] = []
    report = verify(log, looked_up)
    assert report.ok, report.to_json()
    assert looked_up == []
    assert log.store.count_nonces() == EVENTS  # (every row was met, none skipped)


def test_a_row_changed_on_a_later_page_is_named(log: Ledger) -> None:
    log.store.execute("UPDATE ledger_nonces SET digest = ? WHERE idx = 9", (b"\0" * 32,))
    looked_up: list[Sequence[str]] = []
    report = verify(log, looked_up)
    first = report.first_bad_event()
    assert first is not None and (first[0], first[1].position) == ("V4", 9)
    assert len(looked_up) == 1  # the first two pages passed along the table


def test_rows_rewritten_in_another_order_are_looked_up_and_pass(log: Ledger) -> None:
    """The same rows in another order are still the index: out of step, the check looks
    them up, and finds nothing wrong."""
    store = log.store
    store.execute("CREATE TABLE shuffled AS SELECT * FROM ledger_nonces ORDER BY idx DESC")
    store.execute("DELETE FROM ledger_nonces")
    store.execute("INSERT INTO ledger_nonces SELECT * FROM shuffled")
    looked_up: list[Sequence[str]] = []
    report = verify(log, looked_up)
    assert report.ok, report.to_json()
    assert len(looked_up) == 3


@pytest.mark.parametrize("claims", [2, 7, EVENTS], ids=["its-own", "another", "outside"])
def test_a_row_added_for_an_events_nonce_is_named(log: Ledger, claims: int) -> None:
    """With the primary key dropped, a second row for event 2's (actor, nonce) is added
    behind all the others, claiming a position: the rows along the table still match
    every page, so the count at the end must find it, and say where."""
    store = log.store
    store.execute("ALTER TABLE ledger_nonces RENAME TO kept")
    store.execute("CREATE TABLE ledger_nonces (nonce TEXT, actor TEXT, digest BLOB, idx BIGINT)")
    store.execute("INSERT INTO ledger_nonces SELECT * FROM kept ORDER BY rowid")
    store.execute(
        "INSERT INTO ledger_nonces SELECT nonce, actor, digest, ? FROM kept WHERE idx = 2",
        (claims,),
    )
    report = verify(log, [])
    first = report.first_bad_event()
    assert first is not None and (first[0], first[1].position) == ("V4", claims)
