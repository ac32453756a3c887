"""The SQLite store's own connection for batches (``SQLiteLogStore.commit``): as durable as
eventsourcing's, its statements prepared once, left usable after a failed batch, closed
with the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteConnection, SQLiteDatastore

import ledger.store_sqlite
from cadreledger.service import Ledger
from ledger.envelope import TOPIC
from ledger.store import BatchRows, LeafRow, NonceRow
from ledger.store_sqlite import SQLiteLedgerRecorder, SQLiteLogStore, _batch_sql
from tests.conftest import People


def _batch(stream: str, index: int, size: int = 1) -> tuple[list[StoredEvent], BatchRows]:
    events = [
        StoredEvent(originator_id=stream, originator_version=v, topic=TOPIC, state=b"{}")
        for v in range(1, size + 1)
    ]
    rows = BatchRows(
        leaves=[LeafRow(index + i, stream, i + 1) for i in range(size)],
        nonces=[NonceRow("someone", f"n-{stream}-{i}", b"d" * 32, index + i) for i in range(size)],
        checkpoint=(index + size, f"checkpoint {stream}"),
    )
    return events, rows


def _sqlite_store(ledger: Ledger) -> SQLiteLogStore:
    assert isinstance(ledger.store, SQLiteLogStore)
    return ledger.store


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.fixture
def sqlite_ledger(tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Ledger:
    return open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_batches_are_written_as_durably_as_eventsourcing_writes(
    sqlite_ledger: Ledger, people: People
) -> None:
    """The batches' connection syncs as eventsourcing's pool connections (and the
    baseline's) do: no pragma of ours; FULL, the WAL fsynced at every COMMIT."""
    sqlite_ledger.append(people.statement())
    store = _sqlite_store(sqlite_ledger)
    assert store._plain is not None
    with store.recorder.datastore.get_connection(commit=False) as pooled:
        theirs = pooled.cursor().sqlite_cursor.connection
        for pragma in ("synchronous", "journal_mode", "wal_autocheckpoint", "busy_timeout"):
            assert _pragma(store._plain, pragma) == _pragma(theirs, pragma), pragma
    assert _pragma(store._plain, "synchronous") >= 2  # FULL (or EXTRA)
    assert _pragma(store._plain, "journal_mode") == "wal"


def test_a_batch_insert_has_one_text_per_size() -> None:
    """sqlite3 caches prepared statements by their text: a batch of the same shape must
    produce the same text, or every batch is parsed and planned again."""
    assert _batch_sql(3) is _batch_sql(3)
    assert _batch_sql(2) == "INSERT INTO ledger_batch VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)"


def test_a_batch_lands_in_each_table_as_a_direct_insert_would_put_it(
    sqlite_ledger: Ledger,
) -> None:
    """Through the view, every row reaches its own table with the type it was given, a
    tile written again is replaced (its upsert), and nothing of the view is in the file."""
    store = _sqlite_store(sqlite_ledger)
    events, rows = _batch("a", 0, size=2)
    rows.tiles = {(0, 0): b"\x01" * 64}
    store.commit(events, rows)
    events, rows = _batch("b", 2)
    rows.tiles = {(0, 0): b"\x02" * 96}
    store.commit(events, rows)
    with sqlite3.connect(store.recorder.datastore.pool.db_name) as other:
        assert other.execute(
            "SELECT originator_id, originator_version, typeof(originator_version), typeof(state)"
            f" FROM {store.events_table} ORDER BY rowid"
        ).fetchall() == [
            ("a", 1, "integer", "blob"),
            ("a", 2, "integer", "blob"),
            ("b", 1, "integer", "blob"),
        ]
        assert other.execute(
            "SELECT nonce, typeof(digest), idx FROM ledger_nonces ORDER BY idx"
        ).fetchall() == [("n-a-0", "blob", 0), ("n-a-1", "blob", 1), ("n-b-0", "blob", 2)]
        assert other.execute("SELECT level, idx, hashes FROM ledger_tiles").fetchall() == [
            (0, 0, b"\x02" * 96)
        ]
        assert other.execute(
            "SELECT size, note FROM ledger_checkpoints WHERE size > 0"
        ).fetchall() == [
            (2, "checkpoint a"),
            (3, "checkpoint b"),
        ]
        schema = other.execute("SELECT name FROM sqlite_master").fetchall()
    assert not [name for (name,) in schema if "batch" in name]


def test_a_batch_too_large_for_one_statement_is_written_whole_or_not_at_all(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SQLite's parameters per statement, a batch takes several INSERTs, in one
    transaction: all of them are stored, or, if one fails, none."""
    monkeypatch.setattr(ledger.store_sqlite, "_BATCH_ROWS", 2)
    store = _sqlite_store(sqlite_ledger)
    store.commit(*_batch("a", 0, size=3))  # 3 events, 3 leaves, 3 nonces, a checkpoint
    assert [leaf[0] for leaf in store.iter_leaves()] == [0, 1, 2]
    events, rows = _batch("b", 3, size=3)
    rows.checkpoint = (3, "a size already stored")  # the last row: the primary key refuses it
    with pytest.raises(Exception, match=r"(?i)unique"):
        store.commit(events, rows)
    assert store._plain is not None and not store._plain.in_transaction
    assert [leaf[0] for leaf in store.iter_leaves()] == [0, 1, 2]
    assert store.count_events() == 3


def test_a_failed_batch_leaves_the_connection_to_the_next(sqlite_ledger: Ledger) -> None:
    store = _sqlite_store(sqlite_ledger)
    store.commit(*_batch("a", 0))
    events, rows = _batch("b", 1)
    rows.checkpoint = (1, "a size already stored")  # the primary key refuses it
    with pytest.raises(Exception, match=r"(?i)unique"):
        store.commit(events, rows)
    assert store._plain is not None and not store._plain.in_transaction
    store.commit(*_batch("b", 1))
    assert list(store.iter_leaves()) == [(0, "a", 1), (1, "b", 1)]


def test_a_commit_that_fails_leaves_no_transaction_open(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite can fail a COMMIT and keep its transaction open (busy, say): the batch is
    rolled back, and the next one begins afresh on the same connection."""
    # (a batch of one statement has no COMMIT of its own: one of several statements)
    monkeypatch.setattr(ledger.store_sqlite, "_BATCH_ROWS", 2)
    store = _sqlite_store(sqlite_ledger)

    def busy(self: SQLiteConnection) -> None:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(SQLiteConnection, "commit", busy)
        with pytest.raises(Exception, match="locked"):
            store.commit(*_batch("a", 0))
    assert store._plain is not None and not store._plain.in_transaction
    assert store.count_events() == 0
    store.commit(*_batch("a", 0))
    assert list(store.iter_leaves()) == [(0, "a", 1)]


def test_closing_the_ledger_closes_the_batches_connection(
    tmp_path: Path, open_ledger: Callable[..., Ledger], people: People
) -> None:
    """Once the ledger is closed no connection is left: the last to close folds the
    write-ahead log into the database file, as before (a copy of the file is whole)."""
    path = tmp_path / "closed.db"
    ledger = open_ledger(f"sqlite:///{path}")
    receipt = ledger.append(people.statement())
    store = _sqlite_store(ledger)
    assert store._plain is not None
    ledger.close()
    assert store._plain is None
    assert not Path(f"{path}-wal").exists()
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ledger_leaves").fetchone()[0] == 1
    assert receipt.index == 0


def test_a_database_in_memory_is_written_through_the_pool() -> None:
    """A second connection to a database in memory would open another database."""
    datastore = SQLiteDatastore("file:batches?mode=memory&cache=shared", originator_id_type="text")
    recorder = SQLiteLedgerRecorder(datastore)
    recorder.create_table()
    store = SQLiteLogStore(recorder)
    store.commit(*_batch("a", 0, size=2))
    assert store._plain is None
    assert list(store.iter_leaves()) == [(0, "a", 1), (1, "a", 2)]
    datastore.close()


def test_the_writer_reads_on_its_connection_and_others_on_the_pool(
    sqlite_ledger: Ledger, people: People
) -> None:
    """Under the writer lock, the writer's reads and writes go to the batches'
    connection (rows read by name, as the pool's); another thread meanwhile reads on
    the pool, without waiting for the writer."""
    receipt = sqlite_ledger.append(people.statement())
    store = _sqlite_store(sqlite_ledger)
    assert sqlite_ledger.sequencer is not None
    sqlite_ledger.sequencer.stop()  # this thread is the writer now
    assert store._plain is not None
    written = store._plain.total_changes  # rows written on the batches' connection
    with store.writer_lock():
        heads = store.stream_heads([receipt.stream])
        assert heads[receipt.stream][0] == receipt.version
        assert store.latest_checkpoint() == (1, sqlite_ledger.checkpoint())
        store.execute("INSERT INTO ledger_meta (key, value) VALUES (?, ?)", ("note", "kept"))
        assert store._plain.total_changes == written + 1
        with ThreadPoolExecutor(1) as other:
            assert other.submit(store.meta).result(timeout=10)["note"] == "kept"
    assert store.meta()["note"] == "kept"
