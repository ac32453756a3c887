"""The log on SQLite: eventsourcing's SQLite recorder for its tables, and the store's own
SQL and transactions (``ledger.store.LogStore`` is the interface).

Writers in other processes take turns on a file lock beside the database; a batch's
events and rows are inserted in one statement (``batch_view``), on a connection the
store keeps for its batches (and for the writer's reads while it holds the lock), its
statements prepared once; reads accept whatever SQLite let into a column
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
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteDatastore,
)

from ledger.store import (
    BATCH_TABLES,
    BatchRows,
    Entry,
    LogStore,
    NonceRow,
    Table,
    as_bytes,
    as_int,
    as_text,
    batch_tables,
    chunks,
    ddl,
    event_rows,
    events_table_spec,
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


# A batch as rows of one shape (``batch_view``): which table the row goes to, then that
# table's columns, padded with NULLs to the widest table's five.
_BATCH_COLUMNS = 6
# Rows per INSERT: SQLite takes at most 32,766 parameters in a statement.
_BATCH_ROWS = 5000


def batch_view(events: Table) -> list[str]:
    """A view in this connection's TEMP schema that a batch is inserted into as one
    statement, each row sent by its trigger to its own table, instead of one INSERT per
    table in a transaction: every statement gives up the GIL and must take it back, and
    the commit's thread waited behind every submitting thread for each of them, eight
    times a batch (BEGIN, an INSERT per table, COMMIT). One statement is a transaction
    of its own (``commit``), as atomic and durable as BEGIN … COMMIT.

    In TEMP, the file and other connections never see it; a TEMP trigger may write to
    the main database's tables. The rows' values reach the tables as they would by a
    direct INSERT (a view's columns have no type of their own), in the same order, each
    table's constraints and conflict clauses (the tiles' upsert) as before."""
    view = (
        "CREATE TEMP VIEW IF NOT EXISTS ledger_batch (kind, a, b, c, d, e) "
        "AS SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0"
    )
    # A trigger per table, each for its kind of row (WHEN), rather than one that runs
    # every table's INSERT for every row: SQLite then does a third less work a batch.
    triggers = [
        f"CREATE TEMP TRIGGER IF NOT EXISTS ledger_batch_{kind} INSTEAD OF INSERT ON "
        f"ledger_batch WHEN NEW.kind = {kind} BEGIN INSERT INTO {table.into} VALUES "
        f"({', '.join('NEW.' + c for c in 'abcde'[: len(table.pg_types)])}){table.suffix}; END"
        for kind, table in enumerate((events, *BATCH_TABLES))
    ]
    return [view, *triggers]


def batch_values(events: Sequence[StoredEvent], rows: BatchRows) -> list[Any]:
    """The parameters of the batch's rows, in ``ledger_batch``'s shape, flat: the kinds
    in ``batch_view``'s order (the events', then ``BATCH_TABLES``)."""
    values: list[Any] = []
    padding = [(None,) * n for n in range(_BATCH_COLUMNS)]
    kinds = [event_rows(events), *(table_rows for _, table_rows in batch_tables(rows))]
    for kind, table_rows in enumerate(kinds):
        for row in table_rows:
            values.append(kind)
            values += row
            values += padding[_BATCH_COLUMNS - 1 - len(row)]
    return values


def insert_batch(cursor: Any, values: list[Any]) -> None:
    """``batch_values`` into ``ledger_batch``, ``_BATCH_ROWS`` rows per statement."""
    step = _BATCH_ROWS * _BATCH_COLUMNS
    for start in range(0, len(values), step):
        chunk = values[start : start + step]
        cursor.execute(_batch_sql(len(chunk) // _BATCH_COLUMNS), chunk)


@lru_cache(maxsize=1024)
def _batch_sql(rows: int) -> str:
    """``INSERT INTO ledger_batch VALUES (?, …), …`` for ``rows`` rows: the same text for
    the same number of rows, so that the writer's connection finds it prepared."""
    one = "(" + ", ".join(["?"] * _BATCH_COLUMNS) + ")"
    return "INSERT INTO ledger_batch VALUES " + ", ".join([one] * rows)


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
        # one statement per event), with the log's, through ``batch_view``.
        values = batch_values(events, rows)
        with self._writing:
            try:
                if self._in_memory:  # one database per connection: the pool's
                    with self.transaction(commit=True) as cursor:
                        for sql in batch_view(self._events):
                            cursor.execute(sql)
                        insert_batch(cursor, values)
                elif 0 < len(values) <= _BATCH_ROWS * _BATCH_COLUMNS:
                    # One statement, atomic and durable as a transaction of its own:
                    # no BEGIN, no COMMIT (each a statement more, the GIL given up again).
                    self._connection()
                    assert self._plain is not None
                    self._plain.execute(_batch_sql(len(values) // _BATCH_COLUMNS), values)
                else:
                    with self._connection().transaction(commit=True) as cursor:
                        insert_batch(cursor, values)
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
            for sql in batch_view(self._events):
                self._plain.execute(sql)
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
