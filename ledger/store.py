"""Where the log lives: eventsourcing's recorders, plus the log's own tables.

Events go through the eventsourcing library (``stored_events`` on SQLite,
``<app>_events`` on PostgreSQL; originator = stream name, version = stream
position, state = canonical envelope bytes). Each batch writes, in the *same*
transaction as its events, through the recorder's ``_insert_events`` hook (the one
eventsourcing's own process recorders use for tracking):

- ``ledger_leaves``: global position → (stream, version). Primary key on position,
  so two writers can never both claim one position;
- ``ledger_tiles``: the Merkle tree in C2SP tiles;
- ``ledger_checkpoints``: one signed checkpoint per batch;
- ``ledger_nonces``: (actor, nonce) → statement digest, position. Primary key on
  (actor, nonce), so a retried statement is never stored twice;
- ``ledger_texts`` and ``ledger_data_keys``: the sealed texts the batch's statements
  disclosed, encrypted, and any data subject's key made for them (``ledger.vault``).

Either all of it commits or none of it does. ``ledger_erasures`` records each
crypto-shredding (a subject's data keys destroyed); it is written outside batches.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.tiles import TileKey

WRITER_LOCK_KEY = 0x6361_6472  # "cadr": the PostgreSQL advisory lock writers take turns on

_DDL = [
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_leaves ("
    " idx BIGINT PRIMARY KEY, stream TEXT NOT NULL, version BIGINT NOT NULL)",
    # One cycle's record is read by its streams, wherever in the log they lie.
    "CREATE INDEX IF NOT EXISTS ledger_leaves_stream ON ledger_leaves (stream, idx)",
    "CREATE TABLE IF NOT EXISTS ledger_tiles ("
    " level INTEGER NOT NULL, idx BIGINT NOT NULL, hashes {blob} NOT NULL,"
    " PRIMARY KEY (level, idx))",
    "CREATE TABLE IF NOT EXISTS ledger_checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL)",
    # Log key rotations (ledger.logkeys): checkpoints past ``size`` are signed by the new key.
    "CREATE TABLE IF NOT EXISTS ledger_log_keys (size BIGINT PRIMARY KEY, note TEXT NOT NULL)",
    # Nonce first in the key: lookups go by nonce (random, so selective), actor checked after.
    "CREATE TABLE IF NOT EXISTS ledger_nonces ("
    " nonce TEXT NOT NULL, actor TEXT NOT NULL, digest {blob} NOT NULL, idx BIGINT NOT NULL,"
    " PRIMARY KEY (nonce, actor))",
    # Sealed texts (ledger.vault): one data key per subject, wrapped by the key-encryption
    # key kept in a file; each text encrypted under its subject's key, bound to its event.
    "CREATE TABLE IF NOT EXISTS ledger_data_keys ("
    " kid TEXT PRIMARY KEY, subject TEXT NOT NULL, kek TEXT NOT NULL, wrapped {blob} NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_data_keys_subject ON ledger_data_keys (subject)",
    "CREATE TABLE IF NOT EXISTS ledger_texts ("
    " commitment TEXT NOT NULL, event {blob} NOT NULL, subject TEXT NOT NULL,"
    " kid TEXT NOT NULL, box {blob} NOT NULL, PRIMARY KEY (commitment, event))",
    "CREATE INDEX IF NOT EXISTS ledger_texts_subject ON ledger_texts (subject)",
    "CREATE TABLE IF NOT EXISTS ledger_erasures ("
    " subject TEXT NOT NULL, erased_at TEXT NOT NULL, reason TEXT NOT NULL,"
    " keys INTEGER NOT NULL, texts INTEGER NOT NULL, PRIMARY KEY (subject, erased_at))",
]


class LeafRow(NamedTuple):
    """A row of ``ledger_leaves``: where an event stands in the log."""

    idx: int
    stream: str
    version: int


class NonceRow(NamedTuple):
    """A row of ``ledger_nonces``: the statement an actor's nonce was used for."""

    actor: str
    nonce: str
    digest: bytes
    idx: int


class DataKeyRow(NamedTuple):
    """A row of ``ledger_data_keys``: one subject's data key, wrapped by the KEK."""

    kid: str
    subject: str
    kek: str  # the KEK's id
    wrapped: bytes
    created_at: str


class TextRow(NamedTuple):
    """A row of ``ledger_texts``: a sealed text, encrypted under its subject's data key."""

    commitment: str
    event: bytes  # the event hash of the statement that seals it
    subject: str
    kid: str
    box: bytes  # nonce ‖ ciphertext


@dataclass
class BatchRows:
    """What a batch adds to the log besides its events: its rows in the log's tables."""

    leaves: list[LeafRow] = field(default_factory=list)
    tiles: dict[TileKey, bytes] = field(default_factory=dict)
    checkpoint: tuple[int, str] | None = None  # size, signed note
    nonces: list[NonceRow] = field(default_factory=list)
    data_keys: list[DataKeyRow] = field(default_factory=list)
    texts: list[TextRow] = field(default_factory=list)


Seal = BatchRows  # the name before issue 20 (kept until that wave's branches are merged)


@dataclass(frozen=True)
class _Table:
    """Where a batch's rows of one kind go, and the PostgreSQL types of its columns."""

    into: str  # "table (column, …)"
    pg_types: tuple[str, ...]
    suffix: str = ""


_LEAVES = _Table("ledger_leaves (idx, stream, version)", ("bigint", "text", "bigint"))
_NONCES = _Table("ledger_nonces (actor, nonce, digest, idx)", ("text", "text", "bytea", "bigint"))
_DATA_KEYS = _Table(
    "ledger_data_keys (kid, subject, kek, wrapped, created_at)",
    ("text", "text", "text", "bytea", "text"),
)
_TEXTS = _Table(
    "ledger_texts (commitment, event, subject, kid, box)",
    ("text", "bytea", "text", "text", "bytea"),
)
_TILES = _Table(
    "ledger_tiles (level, idx, hashes)",
    ("integer", "bigint", "bytea"),
    " ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
)
_CHECKPOINTS = _Table("ledger_checkpoints (size, note)", ("bigint", "text"))


def _events(table: str, suffix: str = "") -> _Table:
    """eventsourcing's stored events: stream, version, topic, envelope."""
    columns = "(originator_id, originator_version, topic, state)"
    return _Table(f"{table} {columns}", ("text", "bigint", "text", "bytea"), suffix)


def _event_rows(stored_events: Sequence[StoredEvent]) -> list[tuple[Any, ...]]:
    return [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]


Insert = Callable[[Any, _Table, Sequence[tuple[Any, ...]]], None]


def _write_rows(cursor: Any, rows: BatchRows, insert: Insert) -> None:
    insert(cursor, _LEAVES, rows.leaves)
    insert(cursor, _NONCES, rows.nonces)
    insert(cursor, _DATA_KEYS, rows.data_keys)
    insert(cursor, _TEXTS, rows.texts)
    insert(cursor, _TILES, [(level, idx, data) for (level, idx), data in rows.tiles.items()])
    if rows.checkpoint:
        insert(cursor, _CHECKPOINTS, [rows.checkpoint])


def _insert_values(cursor: Any, table: _Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """SQLite: multi-row INSERTs, one statement per 500 rows rather than one per row,
    because each statement gives up and retakes the GIL, and the writer thread must
    not queue for the GIL behind every request thread once per row."""
    for chunk in _chunks(list(rows), 500):
        values = ", ".join(["(" + ", ".join(["?"] * len(chunk[0])) + ")"] * len(chunk))
        params = [v for row in chunk for v in row]
        cursor.execute(f"INSERT INTO {table.into} VALUES {values}{table.suffix}", params)


def _insert_arrays(cursor: Any, table: _Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: one INSERT of ``unnest``ed column arrays, whatever the number of rows.
    Its text never changes, so psycopg converts it once and the server prepares it once;
    a multi-row VALUES is new text for every batch size, which psycopg re-parses in
    Python (with the GIL) each time and the server plans each time."""
    if rows:
        arrays = ", ".join(f"%s::{t}[]" for t in table.pg_types)
        columns = [list(column) for column in zip(*rows, strict=True)]
        sql = f"INSERT INTO {table.into} SELECT * FROM unnest({arrays}){table.suffix}"
        cursor.execute(sql, columns, prepare=True)


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, writing the log's tables in the events' transaction."""

    def __init__(self, datastore: Any, *args: Any, **kwargs: Any) -> None:
        _create_private(str(datastore.pool.db_name))
        super().__init__(datastore, *args, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_ddl("BLOB")]

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The same rows eventsourcing's recorder writes, in one statement (see _insert_values).
        _insert_values(c, _events(self.events_table_name), _event_rows(stored_events))
        rows: BatchRows | None = kwargs.get("rows")
        if rows is not None:
            _write_rows(c, rows, _insert_values)
        return None


def _create_private(db_name: str) -> None:
    """Make a new database file 0600 before SQLite does (it would follow the umask,
    0644: unpublished scores readable by every local user). SQLite gives its ``-wal``
    and ``-shm`` files the database file's own mode."""
    if not db_name or ":memory:" in db_name or "mode=memory" in db_name:
        return
    path = db_name.removeprefix("file:").split("?", 1)[0]
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, writing the log's tables in the events' transaction."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        from psycopg.sql import SQL, Identifier

        self.sql_create_statements.extend(SQL(s).format() for s in _ddl("BYTEA"))
        schema = Identifier(self.datastore.schema)
        table = SQL("{}.{}").format(schema, Identifier(events_table_name)).as_string()
        self._events = _events(table, " RETURNING notification_id")

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        rows: BatchRows | None = kwargs.get("rows")
        if rows is not None:
            _write_rows(curs, rows, _insert_arrays)

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # eventsourcing's own, but with column arrays instead of an array of its composite
        # type, which psycopg dumps row by row in Python: the table lock and the
        # notification first, as it does, and notification ids returned in row order.
        self._lock_table(curs)
        self._notify_channel(curs)
        _insert_arrays(curs, self._events, _event_rows(stored_events))


def _ddl(blob: str) -> list[str]:
    return [s.format(blob=blob) for s in _DDL]


_INSERT_META = "INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING"
_INSERT_GENESIS = "INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?) ON CONFLICT DO NOTHING"


def lenient_text(raw: bytes) -> str:
    """An SQLite TEXT value as Python text, even when its bytes are not UTF-8.

    SQLite stores whatever bytes it is given as TEXT, and the driver's own decoding
    raises on the first row that is not UTF-8, which would stop a verification at a
    traceback. Decoded with ``surrogateescape``, each such byte becomes a lone surrogate:
    the value is kept exactly, differs from any text the log ever wrote (so the check
    that reads it fails, at its position), and ``ledger.verifier.printable`` shows it."""
    return raw.decode("utf-8", "surrogateescape")


def is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode text (no byte kept by ``lenient_text``)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _int(value: Any) -> int:
    """An INTEGER column's value as read; −1 — a position, size, level or version no log
    has — for anything else SQLite let in (text, a fraction, bytes), so that the check
    reading it fails rather than the code comparing it."""
    return value if type(value) is int else -1


def _bytes(value: Any) -> bytes:
    """A BLOB column's value as bytes, even stored as TEXT (its bytes, exactly)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _text(value: Any) -> str:
    """A TEXT column's value as text, even stored as a BLOB or a number."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return lenient_text(bytes(value))
    return str(value)


class StoredTextError(ValueError):
    """A stored value that must be text the ledger wrote is not (not UTF-8)."""


class Row(Protocol):
    def __getitem__(self, key: str) -> Any: ...


class LogStore:
    """Reads and writes of the log over one eventsourcing application recorder."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        if not isinstance(recorder, SQLiteLedgerRecorder | PostgresLedgerRecorder):
            raise TypeError(f"not a ledger recorder: {type(recorder).__name__}")
        self.recorder = recorder
        self.mark = "%s" if isinstance(recorder, PostgresLedgerRecorder) else "?"
        self.events_table = recorder.events_table_name
        # A hot standby's (cadreledger.replica): its tables are the primary's to make.
        self.read_only = False
        self._lock_file: Any = None
        # flock excludes other open files, not other threads sharing this one (an
        # erasure beside the sequencer): they take turns here first.
        self._thread_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    def _transaction(self, commit: bool = False) -> AbstractContextManager[Any]:
        return self.recorder.datastore.transaction(commit=commit)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._transaction() as cursor:
            self._lenient(cursor)
            cursor.execute(self._sql(sql), self._params(params))
            return list(cursor.fetchall())

    def _lenient(self, cursor: Any) -> None:
        """SQLite: read TEXT that is not UTF-8 as ``lenient_text`` does, never raise on
        it (PostgreSQL refuses to store such text in the first place)."""
        if isinstance(self.recorder, SQLiteLedgerRecorder):
            cursor.sqlite_cursor.connection.text_factory = lenient_text

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        """The parameters, with any text read by ``lenient_text`` turned back into its
        bytes: the driver cannot encode it as text, and as a blob it equals no stored
        text (a lookup by a name that is not UTF-8 finds nothing, as it should)."""
        return tuple(
            p.encode("utf-8", "surrogateescape") if isinstance(p, str) and not is_text(p) else p
            for p in params
        )

    def _pg_rows(self, sql: str, params: Sequence[Any], *, generic: bool = False) -> list[Any]:
        """PostgreSQL rows as plain tuples, sent in binary, by a prepared statement: for the
        verifier's page-after-page reads, where building a dict per row, hex-encoding
        bytea (server) and decoding it (here) cost more than the rows themselves.

        ``generic``: plan the statement once for any values. Planned for each page's
        values and without table statistics (autovacuum off, a log just restored), an
        array of 1,000 nonces looks like most of the table, and every page scans it all."""
        from psycopg.rows import tuple_row

        assert isinstance(self.recorder, PostgresLedgerRecorder)
        with (
            self.recorder.datastore.get_connection() as conn,
            conn.transaction() if generic else nullcontext(),
            conn.cursor(row_factory=tuple_row) as cursor,
        ):
            if generic:
                cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(sql, params, prepare=True, binary=True)
            return cursor.fetchall()

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows as plain tuples, for reads page after page (replays): a dict or
        ``sqlite3.Row`` per row, read back by name, costs as much as the read itself."""
        if isinstance(self.recorder, PostgresLedgerRecorder):
            return self._pg_rows(self._sql(sql), params)
        with self._transaction() as cursor:
            self._lenient(cursor)
            plain = cursor.sqlite_cursor
            plain.row_factory = None
            plain.execute(sql, self._params(params))
            return list(plain.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One write in its own transaction (genesis, and tests that play the attacker)."""
        if self.read_only and sql.lstrip().upper().startswith("CREATE "):
            return  # the primary made them; a replica cannot, and need not
        with self._transaction(commit=True) as cursor:
            cursor.execute(self._sql(sql), tuple(params))

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Held while a batch is sequenced, so that writers in other processes take turns
        (a PostgreSQL advisory lock; a file lock beside an SQLite database)."""
        if isinstance(self.recorder, PostgresLedgerRecorder):
            with self.recorder.datastore.get_connection() as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK_KEY,))
                try:
                    yield
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK_KEY,))
            return
        with self._thread_lock:
            if self._lock_file is None:
                db_name = self.recorder.datastore.pool.db_name
                self._lock_file = open(db_name + ".lock", "a")  # noqa: SIM115 - kept for life
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def commit(self, events: Sequence[StoredEvent], rows: BatchRows) -> None:
        """Insert a batch's events and rows in one transaction (raises on any conflict)."""
        self.recorder.insert_events(events, rows=rows)

    @contextmanager
    def forgetting(self) -> Iterator[Any]:
        """A transaction (its cursor) whose deletions the database does not keep readable:
        SQLite overwrites deleted content (``secure_delete``) and folds its write-ahead
        log back afterwards; PostgreSQL rewrites ``ledger_data_keys`` (``VACUUM FULL``),
        dropping the dead row versions. For destroying keys; copies made before (backups,
        archived WAL) are not reached."""
        recorder = self.recorder
        if isinstance(recorder, PostgresLedgerRecorder):
            with self._transaction(commit=True) as cursor:
                yield cursor
            with recorder.datastore.get_connection() as pg:  # autocommit: VACUUM needs that
                pg.execute("VACUUM FULL ledger_data_keys")
            return
        assert isinstance(recorder, SQLiteLedgerRecorder)
        with recorder.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA secure_delete = ON")
            try:
                with conn.transaction(commit=True) as cursor:
                    yield cursor
            finally:
                conn.cursor().execute("PRAGMA secure_delete = OFF")
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def init_meta(self, values: dict[str, str], checkpoint: tuple[int, str]) -> None:
        """Record the log's genesis (its key, origin, empty checkpoint) once; first writer wins."""
        with self._transaction(commit=True) as cursor:
            for key, value in values.items():
                cursor.execute(self._sql(_INSERT_META), (key, value))
            cursor.execute(self._sql(_INSERT_GENESIS), checkpoint)

    # -- reading ----------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        meta = {r["key"]: r["value"] for r in self.query("SELECT key, value FROM ledger_meta")}
        for key, value in meta.items():
            if not (is_text(key) and is_text(value)):
                raise StoredTextError(f"ledger_meta.{key!r} holds bytes that are not UTF-8 text")
        return meta

    def meta_once(self, key: str, value: str) -> str:
        """Record ``key`` in the log's metadata unless it is there; the value it holds."""
        self.execute(_INSERT_META, (key, value))
        return str(self.query("SELECT value FROM ledger_meta WHERE key = ?", (key,))[0]["value"])

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        keys = list(keys)
        result: dict[TileKey, bytes] = {}
        for chunk in _chunks(keys, 200):
            where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
            params = [v for key in chunk for v in key]
            for r in self.query(
                f"SELECT level, idx, hashes FROM ledger_tiles WHERE {where}", params
            ):
                result[(r["level"], r["idx"])] = _bytes(r["hashes"])
        return result

    def latest_checkpoint(self) -> tuple[int, str] | None:
        # Sizes a log can have only: SQLite would sort text stored as a size above them.
        rows = self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size >= 0 AND size <= ?"
            " ORDER BY size DESC LIMIT 1",
            (2**63 - 1,),
        )
        return (_int(rows[0]["size"]), _text(rows[0]["note"])) if rows else None

    def checkpoint_covering(self, index: int) -> tuple[int, str] | None:
        """The first stored checkpoint whose tree holds position ``index``."""
        rows = self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT 1",
            (index,),
        )
        return (_int(rows[0]["size"]), _text(rows[0]["note"])) if rows else None

    def iter_checkpoints(self, page: int = 1000) -> Iterator[tuple[int, str]]:
        after = -1
        while rows := self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT ?",
            (after, page),
        ):
            for r in rows:
                yield _int(r["size"]), _text(r["note"])
            after = rows[-1]["size"]

    def entries(self, start: int, limit: int) -> list[tuple[int, str, int, bytes]]:
        """Log entries by position: (index, stream, version, envelope bytes)."""
        sql = (
            "SELECT l.idx, l.stream, l.version, e.state FROM ledger_leaves l"
            f" JOIN {self.events_table} e"
            " ON e.originator_id = l.stream AND e.originator_version = l.version"
            " WHERE l.idx >= ? ORDER BY l.idx LIMIT ?"
        )
        rows = self._tuples(sql, (start, limit))
        if isinstance(self.recorder, SQLiteLedgerRecorder):
            return [(idx, stream, version, _bytes(state)) for idx, stream, version, state in rows]
        return rows

    def entries_of(self, streams: Sequence[str], stop: int) -> list[tuple[int, str, int, bytes]]:
        """Every entry of ``streams`` below position ``stop`` (one cycle's record, say),
        in log order: an index range per stream, however long the log around them.
        (No LIMIT: with one, PostgreSQL walks the position index from 0 instead.)"""
        marks = ", ".join("?" * len(streams))
        rows = self.query(
            "SELECT l.idx, l.stream, l.version, e.state FROM ledger_leaves l"
            f" JOIN {self.events_table} e"
            " ON e.originator_id = l.stream AND e.originator_version = l.version"
            f" WHERE l.stream IN ({marks}) AND l.idx >= 0 AND l.idx < ?",
            (*streams, stop),
        )
        return sorted((r["idx"], r["stream"], r["version"], _bytes(r["state"])) for r in rows)

    def stream_heads(self, streams: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """The last event of each stream: version and envelope bytes."""
        heads: dict[str, tuple[int, bytes]] = {}
        for chunk in _chunks(list(streams), 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.query(
                f"SELECT originator_id, originator_version, state FROM {self.events_table} e"
                f" WHERE originator_id IN ({marks}) AND originator_version = ("
                f"  SELECT MAX(originator_version) FROM {self.events_table}"
                "   WHERE originator_id = e.originator_id)",
                chunk,
            )
            for r in rows:
                heads[str(r["originator_id"])] = (r["originator_version"], _bytes(r["state"]))
        return heads

    def find_nonces(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bytes, int]]:
        """Stored (actor, nonce) pairs among ``keys``: their statement digest and position."""
        wanted = set(keys)
        found: dict[tuple[str, str], tuple[bytes, int]] = {}
        for chunk in _chunks(sorted({nonce for _, nonce in wanted}), 500):
            marks = ", ".join("?" * len(chunk))
            for r in self.query(
                f"SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce IN ({marks})",
                chunk,
            ):
                if (r["actor"], r["nonce"]) in wanted:
                    found[(r["actor"], r["nonce"])] = (bytes(r["digest"]), r["idx"])
        return found

    def iter_events(self, page: int = 2000) -> Iterator[tuple[int, str, int, bytes]]:
        """Every stored event in commit order, as eventsourcing's notification log has it:
        (notification id, stream, version, envelope bytes)."""
        start = 1
        while notifications := self.recorder.select_notifications(start, page):
            for n in notifications:
                yield n.id, str(n.originator_id), n.originator_version, n.state
            start = notifications[-1].id + 1

    def iter_stored(self, page: int = 2000) -> Iterator[tuple[int, str, int, str, bytes]]:
        """``iter_events`` with each row's eventsourcing topic: what the verifier reads."""
        if isinstance(self.recorder, PostgresLedgerRecorder):
            # eventsourcing's own query, minus its per-row dicts and notification objects
            sql = (
                "SELECT notification_id, originator_id, originator_version, topic, state"
                f" FROM {self.events_table} WHERE notification_id >= %s"
                " ORDER BY notification_id LIMIT %s"
            )
            first = 1
            while rows := self._pg_rows(sql, (first, page)):
                yield from rows
                first = rows[-1][0] + 1
            return
        # eventsourcing's own query too (its notification id is SQLite's rowid), read
        # leniently (``_tuples``): a stream or topic that is not UTF-8 is V1's finding.
        sql = (
            "SELECT rowid, originator_id, originator_version, topic, state"
            f" FROM {self.events_table} WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )
        first = 1
        while rows := self._tuples(sql, (first, page)):
            # SQLite keeps any value in any column: each read as its column's type.
            for nid, stream, version, topic, state in rows:
                yield nid, _text(stream), _int(version), _text(topic), _bytes(state)
            first = rows[-1][0] + 1

    def log_key_rotations(self) -> list[str]:
        """The log key's rotation notes, in size order."""
        notes = self.query("SELECT note FROM ledger_log_keys ORDER BY size")
        return [_text(r["note"]) for r in notes]

    def tile_keys(self) -> list[TileKey]:
        rows = self.query("SELECT level, idx FROM ledger_tiles")
        return [(_int(r["level"]), _int(r["idx"])) for r in rows]

    def nonce_rows(self, nonces: Sequence[str]) -> list[tuple[str, str, bytes, int]]:
        """Every nonce-index row for these nonces (any actor): (actor, nonce, digest, idx)."""
        if isinstance(self.recorder, PostgresLedgerRecorder):
            # One array parameter, one plan: a 500-term IN list was planned afresh for
            # every page and, without statistics, scanned the whole table each time.
            sql = (
                "SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce = ANY(%b::text[])"
            )
            return self._pg_rows(sql, (list(nonces),), generic=True) if nonces else []
        rows: list[tuple[str, str, bytes, int]] = []
        for chunk in _chunks(list(nonces), 500):
            marks = ", ".join("?" * len(chunk))
            rows += [
                (_text(r["actor"]), _text(r["nonce"]), _bytes(r["digest"]), _int(r["idx"]))
                for r in self.query(
                    f"SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce IN ({marks})",
                    chunk,
                )
            ]
        return rows

    def count_nonces(self) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM ledger_nonces")[0]["n"])

    def nonce_anomaly(self, size: int) -> int | None:
        """The least position a nonce row claims that no event of a log of ``size`` can
        own alone: outside the log, or claimed by another row too."""
        rows = self.query(
            "SELECT MIN(idx) AS idx FROM ledger_nonces WHERE idx < 0 OR idx >= ? UNION ALL"
            " SELECT MIN(idx) AS idx FROM (SELECT idx FROM ledger_nonces GROUP BY idx"
            " HAVING COUNT(*) > 1) AS shared",
            (size,),
        )
        # (text in ``idx`` sorts above every number in SQLite: a claim outside the log)
        claims = [_int(r["idx"]) for r in rows if r["idx"] is not None]
        found = [claim if claim >= 0 else size for claim in claims]
        return min(found) if found else None

    def iter_leaves(self, page: int = 5000) -> Iterator[tuple[int, str, int]]:
        """Every index row in position order, from the lowest stored: rows at negative
        positions too, which no log has (the verifier reports them)."""
        first = "SELECT idx, stream, version FROM ledger_leaves WHERE idx >= ? ORDER BY idx LIMIT ?"
        sql = first.replace("idx >= ?", "idx > ?", 1)
        after, query = -(2**63), first
        if isinstance(self.recorder, PostgresLedgerRecorder):
            while leaves := self._pg_rows(self._sql(query), (after, page)):
                yield from leaves
                after, query = leaves[-1][0], sql
            return
        while rows := self.query(query, (after, page)):
            for r in rows:
                yield _int(r["idx"]), _text(r["stream"]), _int(r["version"])
            after, query = rows[-1]["idx"], sql

    def count_events(self) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM {self.events_table}")[0]["n"])


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
