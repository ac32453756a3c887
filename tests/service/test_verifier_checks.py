"""The verifier's checks one at a time (``ledger.verifier.LogVerifier``).

``test_tamper.py`` rewrites a real log and runs the whole verifier; here each check is
called alone on a real log's view, with the one fact it judges put wrong, so that a
check can be read, and broken, by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cadreledger.service import Ledger
from ledger.verifier import LogVerifier, check_events
from tests.conftest import People


@pytest.fixture
def small(tmp_path: Path, open_ledger: Callable[..., Ledger], people: People) -> Ledger:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    for i in range(3):
        ledger.append(people.statement(cadre=f"cadre-{i % 2}"))
    return ledger


def verifier(ledger: Ledger) -> LogVerifier:
    return LogVerifier(ledger.store, ledger.log_key)


def test_the_checks_together_pass_an_untouched_log(small: Ledger) -> None:
    report = verifier(small).run(workers=1)
    assert report.ok and report.events == 3


def test_records_count_what_they_read_and_stop_at_an_unreadable_event(small: Ledger) -> None:
    v = verifier(small)
    where = (0, "s", 1, b"\0" * 32)
    assert v.records(where, None)
    assert not v.records(where, ("V1", "broken", "hỏng"))  # V2 cannot judge it
    assert v.records(where, ("V2", "bad signature", "chữ ký sai"))
    c = v.checks
    assert (c["V1"].checked, c["V1"].failures) == (2, 1)
    assert (c["V2"].checked, c["V2"].unchecked, c["V2"].failures) == (2, 1, 1)


def test_chain_wants_each_stream_to_count_one_by_one(small: Ledger) -> None:
    v = verifier(small)
    first, second = b"\1" * 32, b"\2" * 32
    v.chain((0, "s", 1, first), True, None)
    v.chain((1, "s", 3, second), True, first)  # version 2 is missing
    assert v.checks["V3"].failures == 1
    assert v.checks["V3"].first is not None and v.checks["V3"].first.position == 1


def test_chain_wants_each_event_to_commit_to_the_one_before(small: Ledger) -> None:
    v = verifier(small)
    v.chain((0, "s", 1, b"\1" * 32), True, None)
    v.chain((1, "s", 2, b"\2" * 32), True, b"\7" * 32)  # prev names another event
    v.chain((2, "s", 3, b"\3" * 32), False, b"\2" * 32)  # unreadable: not judged
    c = v.checks["V3"]
    assert (c.checked, c.unchecked, c.failures) == (1, 1, 1)


def test_index_entry_compares_the_index_row_with_the_event(small: Ledger) -> None:
    v = verifier(small)
    page = [(p, s, ver, t, raw) for p, (_n, s, ver, t, raw) in enumerate(small.store.iter_stored())]
    checked = check_events(page)
    index = v.page_index(page, checked)
    assert index.index_ok and index.tiles_ok
    index.index_ok, index.indexed[1] = False, (1, "another", 9)
    for j, (position, stream, version, *_) in enumerate(page):
        v.index_entry(index, j, (position, stream, version, checked[j][0]))
    c = v.checks["V4"]
    assert (c.checked, c.failures) == (2, 1) and c.first is not None and c.first.position == 1


def test_latest_checkpoint_is_required(small: Ledger) -> None:
    v = verifier(small)
    v.latest = None  # as if no checkpoint were stored
    v.latest_checkpoint()
    assert v.checks["V5"].failures == 1


def test_settle_checks_each_checkpoint_the_tree_reaches(small: Ledger) -> None:
    """Every stored checkpoint (genesis's, and one per batch) is checked at its size."""
    v = verifier(small)
    v.settle()  # the tree is empty: only size 0 is reached
    assert v.checks["V6"].checked == 1 and v.latest is not None and v.latest[0] == 0
    v.run(workers=1)
    assert v.checks["V6"].checked == len(list(small.store.iter_checkpoints()))
    assert v.checks["V6"].failures == 0
