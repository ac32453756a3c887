"""The log on SQLite: eventsourcing's SQLite recorder for its tables, and the store's own
SQL and transactions (``ledger.store.LogStore`` is the interface).

Writers in other processes take turns on a file lock beside the database; a batch's
events and rows are inserted as multi-row INSERTs in one eventsourcing transaction, on
a connection the store keeps for its batches (and for the writer's reads while it holds
the lock), its statements prepared once; reads accept whatever SQLite let into a column
(any value in any column), so that the verifier reports it at its position rather than
stopping at a traceback.
"""

from __future__ import annotations

import fcntl
import operator
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from functools import lru_cache
from itertools import chain
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteDatastore,
)

from ledger.store import (
    BatchRows,
    Entry,
    LogStore,
    NonceRow,
    Table,
    as_bytes,
    as_int,
    as_text,
    chunks,
    ddl,
    event_rows,
    events_table_spec,
    write_rows,
)

# ``lenient_text`` as SQLite's text factory, without a Python call per value read.
_LENIENT_TEXT = operator.methodcaller("decode", "utf-8", "surrogateescape")
# The types of an event row's stream, version, topic and state as the log writes them.
_AS_WRITTEN = (str, int, str, bytes)
# The writer's statement cache (sqlite3 keys it by SQL text): a batch's INSERTs, one
# text per table and number of rows, stay prepared from one batch to the next.
# (eventsourcing's connections are made with ``cached_statements=True``: one.)
_CACHED_STATEMENTS = 512


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, creating the log's tables beside its events'.

    Only its public extension points: the constructor and the table statements."""

    def __init__(self, datastore: SQLiteDatastore, *args: Any, **kwargs: Any) -> None:
        _create_private(str(datastore.pool.db_name))
        super().__init__(datastore, *args, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *ddl("BLOB")]


def _create_private(db_name: str) -> None:
    """Make a new database file 0600 before SQLite does (it would follow the umask,
    0644: unpublished scores readable by every local user). SQLite gives its ``-wal``
    and ``-shm`` files the database file's own mode."""
    if not db_name or ":memory:" in db_name or "mode=memory" in db_name:
        return
    path = db_name.removeprefix("file:").split("?", 1)[0]
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _insert_values(cursor: Any, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs, one statement per 500 rows rather than one per row, because
    each statement gives up and retakes the GIL, and the writer thread must not queue
    for the GIL behind every request thread once per row. The statement's text is the
    same for the same table and number of rows (``_insert_sql``), so that the writer's
    connection finds it prepared in its statement cache."""
    for chunk in chunks(list(rows), 500):
        sql = _insert_sql(table, len(chunk), len(chunk[0]))
        cursor.execute(sql, list(chain.from_iterable(chunk)))


@lru_cache(maxsize=1024)
def _insert_sql(table: Table, rows: int, columns: int) -> str:
    """``INSERT INTO table VALUES (?, …), …`` for ``rows`` rows of ``columns`` values."""
    values = ", ".join(["(" + ", ".join(["?"] * columns) + ")"] * rows)
    return f"INSERT INTO {table.into} VALUES {values}{table.suffix}"


class SQLiteLogStore(LogStore):
    """The log in an SQLite database."""

    mark = "?"

    def __init__(self, recorder: SQLiteLedgerRecorder) -> None:
        super().__init__(recorder)
        self.recorder: SQLiteLedgerRecorder = recorder
        self._events = events_table_spec(self.events_table)
        self._lock_file: Any = None
        # flock excludes other open files, not other threads sharing this one (an
        # erasure beside the sequencer): they take turns here first.
        self._thread_lock = threading.Lock()
        # The connection batches are written on (``_connection``), one batch at a time.
        self._writer: SQLiteConnection | None = None
        self._plain: sqlite3.Connection | None = None  # the same, as sqlite3's own
        self._writing = threading.Lock()
        self._holder: int | None = None  # the thread holding ``writer_lock``
        self._in_memory = recorder.datastore.pool.is_sqlite_memory_mode

    def _lenient(self, cursor: Any) -> None:
        """Read TEXT that is not UTF-8 as ``lenient_text`` does, never raise on it."""
        cursor.sqlite_cursor.connection.text_factory = _LENIENT_TEXT

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.transaction() as cursor:
            self._lenient(cursor)
            plain = cursor.sqlite_cursor
            plain.row_factory = None
            plain.execute(sql, self._params(params))
            return list(plain.fetchall())

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """A file lock beside the database."""
        with self._thread_lock:
            if self._lock_file is None:
                db_name = self.recorder.datastore.pool.db_name
                self._lock_file = open(db_name + ".lock", "a")  # noqa: SIM115 - kept for life
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def transaction(self, commit: bool = False) -> AbstractContextManager[Any]:
        """The writer's reads and writes while it holds the writer lock (the heads and
        nonces of a batch, the latest checkpoint) go to the batches' connection, whose
        statements and pages are cached; everyone else's to the datastore's pool."""
        if self._holder == threading.get_ident() and not self._in_memory:
            return self._on_writer(commit)
        return super().transaction(commit)

    @contextmanager
    def _on_writer(self, commit: bool) -> Iterator[Any]:
        with self._writing, self._connection().transaction(commit=commit) as cursor:
            yield cursor

    @contextmanager
    def try_lock(self, name: str, key: int) -> Iterator[bool]:
        """A file lock ``<database>.<name>.lock`` beside the database."""
        with open(f"{self.recorder.datastore.pool.db_name}.{name}.lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def commit(self, events: Sequence[StoredEvent], rows: BatchRows) -> None:
        # The rows eventsourcing's recorder would write for the events (it inserts them
        # one statement per event), in a transaction as its ``insert_events`` opens one
        # (eventsourcing's own, on the store's connection: same BEGIN, COMMIT, errors).
        with self._writing:
            if self._in_memory:
                transaction = self.transaction(commit=True)  # one database per connection
            else:
                transaction = self._connection().transaction(commit=True)
            try:
                with transaction as cursor:
                    _insert_values(cursor, self._events, event_rows(events))
                    write_rows(cursor, rows, _insert_values)
            except BaseException:
                self._abandon()
                raise

    def _abandon(self) -> None:
        """After a failed batch: whatever it left open is rolled back (a COMMIT that
        failed can leave its transaction open, and the next batch's BEGIN would fail),
        or else the connection is closed, for the next batch to open a new one."""
        writer, plain = self._writer, self._plain
        if writer is None or plain is None or not plain.in_transaction:
            return
        try:
            writer.rollback()
        except Exception:
            self._writer = self._plain = None
            with suppress(Exception):
                writer.close()

    def _connection(self) -> SQLiteConnection:
        """The connection batches are written on, opened at the first and kept until
        ``close``, rather than one of the datastore's pool per batch: the pool hands
        out its connections in turn, each with a statement cache of one, so every
        statement of every batch was parsed and planned again, and every batch began
        with a page cache emptied by the previous batch's connection.

        Opened as the pool opens its own, with no pragma of ours: the same
        ``synchronous`` (SQLite's default, FULL: a batch is fsynced before its
        statements are answered), the same lock timeout, the journal mode the pool set
        (WAL, kept in the file). A database in memory has no second connection to it:
        there the batches go through the pool as before."""
        if self._writer is None:
            datastore = self.recorder.datastore
            pool = datastore.pool
            if not pool.is_journal_mode_wal:  # the pool sets WAL on its first connection
                with datastore.get_connection(commit=False):
                    pass
            self._plain = sqlite3.connect(
                pool.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # BEGIN and COMMIT are eventsourcing's, explicit
                cached_statements=_CACHED_STATEMENTS,
                timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
            self._plain.row_factory = sqlite3.Row  # as the pool's: ``query`` reads by name
            self._writer = SQLiteConnection(self._plain, max_age=None)
        return self._writer

    def close(self) -> None:
        """Close the batches' connection (the recorder's pool is the application's)."""
        with self._writing:
            if self._writer is not None:
                self._writer.close()
                self._writer = self._plain = None

    @contextmanager
    def forgetting(self) -> Iterator[Any]:
        """SQLite overwrites deleted content (``secure_delete``) and folds its write-ahead
        log back afterwards."""
        with self.recorder.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA secure_delete = ON")
            try:
                with conn.transaction(commit=True) as cursor:
                    yield cursor
            finally:
                conn.cursor().execute("PRAGMA secure_delete = OFF")
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading ----------------------------------------------------------------------

    def entries(self, start: int, limit: int) -> list[Entry]:
        rows = self._tuples(self._entries_sql(), (start, limit))
        return [
            Entry(idx, stream, version, as_bytes(state)) for idx, stream, version, state in rows
        ]

    def iter_stored(self, page: int = 2000) -> Iterator[tuple[int, str, int, str, bytes]]:
        # eventsourcing's own query (its notification id is SQLite's rowid), read
        # leniently (``_tuples``): a stream or topic that is not UTF-8 is V1's finding.
        sql = (
            "SELECT rowid, originator_id, originator_version, topic, state"
            f" FROM {self.events_table} WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )
        first = 1
        while rows := self._tuples(sql, (first, page)):
            for row in rows:
                nid, stream, version, topic, state = row
                if (type(stream), type(version), type(topic), type(state)) == _AS_WRITTEN:
                    yield row
                else:  # SQLite keeps any value in any column: each read as its column's type
                    yield nid, as_text(stream), as_int(version), as_text(topic), as_bytes(state)
            first = rows[-1][0] + 1

    def nonce_rows(self, nonces: Sequence[str]) -> list[NonceRow]:
        rows: list[NonceRow] = []
        for chunk in chunks(list(nonces), 500):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce IN ({marks})"
            rows += [
                NonceRow(as_text(actor), as_text(nonce), as_bytes(digest), as_int(idx))
                for actor, nonce, digest, idx in self._tuples(sql, chunk)
            ]
        return rows

    def nonce_rows_in_order(self, page: int = 5000) -> Iterator[NonceRow]:
        """In rowid order: the batches write their rows in position order, so a log's
        rows come in the order its events do, read along the table rather than found
        one by one in its index of nonces."""
        sql = (
            "SELECT rowid, actor, nonce, digest, idx FROM ledger_nonces"
            " WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        after = -(2**63)
        while rows := self._tuples(sql, (after, page)):
            for _, actor, nonce, digest, idx in rows:
                yield NonceRow(as_text(actor), as_text(nonce), as_bytes(digest), as_int(idx))
            after = rows[-1][0]

    def iter_leaves(self, page: int = 5000) -> Iterator[tuple[int, str, int]]:
        after, query = -(2**63), self._FIRST_LEAVES
        while rows := self.query(query, (after, page)):
            for r in rows:
                yield as_int(r["idx"]), as_text(r["stream"]), as_int(r["version"])
            after, query = rows[-1]["idx"], self._NEXT_LEAVES
