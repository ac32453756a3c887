"""What the store relies on of the eventsourcing library, checked against the installed one.

``ledger.store_sqlite`` and ``ledger.store_postgres`` use eventsourcing's recorders for
their tables and reads, and write a batch in a transaction of the recorder's datastore
themselves (the library's ``insert_events`` has no place for our rows). These tests fail
loudly if a new version of the library changes what that depends on: the members we
call, one transaction for a batch, and on PostgreSQL the table lock and notification
every writer of the events table must take so that the library's readers (and
``projections.follower``) see events in commit order and are woken.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteDatastore,
)

from cadreledger.service import Ledger
from ledger.envelope import TOPIC
from ledger.store import BatchRows, LeafRow, NonceRow, open_store
from ledger.store_postgres import PostgresLogStore, lock_and_notify_statements
from ledger.store_sqlite import SQLiteLogStore


def _parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_members_the_store_uses_are_there() -> None:
    assert _parameters(SQLiteApplicationRecorder.__init__)[:3] == [
        "self",
        "datastore",
        "events_table_name",
    ]
    assert _parameters(SQLiteApplicationRecorder.construct_create_table_statements) == ["self"]
    assert _parameters(PostgresApplicationRecorder.__init__) == [
        "self",
        "datastore",
        "events_table_name",
    ]
    for recorder in (SQLiteApplicationRecorder, PostgresApplicationRecorder):
        assert _parameters(recorder.select_notifications)[:3] == ["self", "start", "limit"]
    for datastore in (SQLiteDatastore, PostgresDatastore):
        assert "commit" in _parameters(datastore.transaction)
        assert callable(datastore.get_connection)


def test_what_the_sqlite_store_keeps_its_own_connection_by(tmp_path: Path) -> None:
    """``SQLiteLogStore`` opens its batches' connection as the pool opens its own and
    runs eventsourcing's transaction on it: these members must stay."""
    assert _parameters(SQLiteConnection.__init__) == ["self", "sqlite_conn", "max_age"]
    assert "commit" in _parameters(SQLiteConnection.transaction)
    assert isinstance(SQLITE3_DEFAULT_LOCK_TIMEOUT, int)
    datastore = SQLiteDatastore(str(tmp_path / "p.db"), lock_timeout=7)
    pool = datastore.pool
    assert (pool.db_name, pool.lock_timeout) == (str(tmp_path / "p.db"), 7)
    assert pool.is_sqlite_memory_mode is False
    assert pool.is_journal_mode_wal is False
    with datastore.get_connection(commit=False):  # the pool's first sets WAL
        pass
    assert pool.is_journal_mode_wal is True
    datastore.close()


def test_a_plain_recorder_gets_no_store(tmp_path: Path) -> None:
    """Without the log's tables there is no log to store: refused at construction."""
    datastore = SQLiteDatastore(str(tmp_path / "plain.db"), originator_id_type="text")
    with pytest.raises(TypeError, match="not a ledger recorder"):
        open_store(SQLiteApplicationRecorder(datastore))


def _event(stream: str, version: int) -> StoredEvent:
    # By keyword: eventsourcing 9.6 takes no positional arguments here.
    return StoredEvent(originator_id=stream, originator_version=version, topic=TOPIC, state=b"{}")


def _batch(stream: str, index: int) -> tuple[list[StoredEvent], BatchRows]:
    events = [_event(stream, 1), _event(stream, 2)]
    rows = BatchRows(
        leaves=[LeafRow(index, stream, 1), LeafRow(index + 1, stream, 2)],
        nonces=[NonceRow("someone", f"n-{stream}", b"d" * 32, index)],
        checkpoint=(index + 2, f"checkpoint {stream}"),
    )
    return events, rows


def test_a_batch_is_one_transaction(db_url: str, open_ledger: Callable[..., Ledger]) -> None:
    """Events and rows commit together, readable by the library; a conflict in the last
    rows leaves none of the batch, not even its events."""
    store = open_ledger(db_url).store
    expected = PostgresLogStore if db_url.startswith("postgres") else SQLiteLogStore
    assert type(store) is expected
    store.commit(*_batch("a", 0))
    stored = store.recorder.select_notifications(1, 10)
    assert [(n.originator_id, n.originator_version) for n in stored] == [("a", 1), ("a", 2)]
    assert [n.id for n in stored] == sorted(n.id for n in stored)
    assert list(store.iter_leaves()) == [(0, "a", 1), (1, "a", 2)]

    events, rows = _batch("b", 2)
    rows.checkpoint = (2, "a checkpoint at a size already stored")  # the primary key refuses
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.commit(events, rows)
    assert store.count_events() == 2
    assert list(store.iter_leaves()) == [(0, "a", 1), (1, "a", 2)]
    assert store.count_nonces() == 1


@pytest.mark.postgres
def test_the_lock_and_notification_are_the_librarys(
    pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """The statements our commit runs before its events are those eventsourcing's own
    writer runs (its ``lock_table_statements`` and NOTIFY on ``channel_name``)."""
    store = open_ledger(pg_url).store
    assert isinstance(store, PostgresLogStore)
    recorder = store.recorder
    ours = [s.as_string() for s in lock_and_notify_statements(recorder)]
    theirs = [s.as_string() for s in recorder.lock_table_statements]
    assert ours[:-1] == theirs
    assert ours[-1] == f'NOTIFY "{recorder.channel_name}"'
    assert recorder.channel_name == recorder.events_table_name.replace(".", "_")


@pytest.mark.postgres
def test_a_commit_waits_for_other_writers_and_wakes_listeners(
    pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """Behaviour, not text: while another transaction writes to the events table, our
    commit waits (so notification ids follow commit order), and once done it notifies
    the channel the library's subscriptions and our follower listen on."""
    store = open_ledger(pg_url).store
    assert isinstance(store, PostgresLogStore)
    table, channel = store.events_table, store.recorder.channel_name
    with psycopg.connect(pg_url, autocommit=True) as listener, psycopg.connect(pg_url) as other:
        listener.execute(f'LISTEN "{channel}"')
        other.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")  # what an INSERT holds
        done = threading.Event()
        writer = threading.Thread(target=lambda: (store.commit(*_batch("a", 0)), done.set()))
        writer.start()
        assert not done.wait(0.7), "the commit did not wait for the other writer"
        other.rollback()
        writer.join(10)
        assert done.is_set()
        notified = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in notified] == [channel]
        # The library's own writer notifies that channel too: one listener hears both.
        plain = PostgresApplicationRecorder(store.recorder.datastore, events_table_name=table)
        plain.insert_events([_event("b", 1)])
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [channel]


def test_the_store_wakes_a_waiter_on_each_commit(
    db_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """What the follower waits on: on PostgreSQL the store's LISTEN hears our commit
    (and not silence); SQLite sends nothing, and the follower polls."""
    store = open_ledger(db_url).store
    notifications = store.commit_notifications()
    if not db_url.startswith("postgres"):
        assert notifications is None
        return
    assert notifications is not None
    with notifications as notified:
        assert not notified(0.3), "woken with nothing committed"
        store.commit(*_batch("a", 0))
        assert notified(5)
        assert not notified(0.3), "one commit woke it twice"
