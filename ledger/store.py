"""Where the log lives: one storage interface, an SQLite and a PostgreSQL store behind it.

Events are eventsourcing's stored events (``stored_events`` on SQLite, ``<app>_events``
on PostgreSQL; originator = stream name, version = stream position, state = canonical
envelope bytes), in the tables eventsourcing's recorders create and read. Each batch
writes, in the *same* transaction as its events (``LogStore.commit``):

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

This module holds what both databases share: the tables, the rows a batch writes, the
reads whose SQL is the same, and ``LogStore``, the interface the rest of the code uses.
``ledger.store_sqlite`` and ``ledger.store_postgres`` hold each database's own SQL and
transactions; ``open_store`` picks one, once, from the recorder eventsourcing built.
The store writes the events itself, in an eventsourcing transaction (on PostgreSQL a
connection of the recorder's datastore; on SQLite one the store keeps), rather
than through the recorder's protected hooks: eventsourcing's public ``insert_events``
has no place for rows of our own in its transaction
(``tests/service/test_eventsourcing_contract.py`` checks what we still rely on of the
library).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

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


class Entry(NamedTuple):
    """An event at its place in the log: position, stream, version, envelope bytes."""

    idx: int
    stream: str
    version: int
    state: bytes


class Notified(NamedTuple):
    """A stored event in eventsourcing's commit order: its notification id (not its
    position in the log), stream, version, envelope bytes."""

    id: int
    stream: str
    version: int
    state: bytes


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


@dataclass(frozen=True)
class Table:
    """Where a batch's rows of one kind go, and the PostgreSQL types of its columns."""

    into: str  # "table (column, …)"
    pg_types: tuple[str, ...]
    suffix: str = ""


_LEAVES = Table("ledger_leaves (idx, stream, version)", ("bigint", "text", "bigint"))
_NONCES = Table("ledger_nonces (actor, nonce, digest, idx)", ("text", "text", "bytea", "bigint"))
_DATA_KEYS = Table(
    "ledger_data_keys (kid, subject, kek, wrapped, created_at)",
    ("text", "text", "text", "bytea", "text"),
)
_TEXTS = Table(
    "ledger_texts (commitment, event, subject, kid, box)",
    ("text", "bytea", "text", "text", "bytea"),
)
_TILES = Table(
    "ledger_tiles (level, idx, hashes)",
    ("integer", "bigint", "bytea"),
    " ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
)
_CHECKPOINTS = Table("ledger_checkpoints (size, note)", ("bigint", "text"))


def events_table_spec(table: str, suffix: str = "") -> Table:
    """eventsourcing's stored events: stream, version, topic, envelope."""
    columns = "(originator_id, originator_version, topic, state)"
    return Table(f"{table} {columns}", ("text", "bigint", "text", "bytea"), suffix)


def event_rows(stored_events: Sequence[StoredEvent]) -> list[tuple[Any, ...]]:
    """The rows eventsourcing's recorders write for these events."""
    return [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]


def batch_tables(rows: BatchRows) -> list[tuple[Table, Sequence[tuple[Any, ...]]]]:
    """A batch's rows, each kind with the table it goes to, always the same tables in the
    same order (``BATCH_TABLES``), a kind the batch has none of with no rows."""
    return [
        (_LEAVES, rows.leaves),
        (_NONCES, rows.nonces),
        (_DATA_KEYS, rows.data_keys),
        (_TEXTS, rows.texts),
        (_TILES, [(level, idx, data) for (level, idx), data in rows.tiles.items()]),
        (_CHECKPOINTS, [rows.checkpoint] if rows.checkpoint else []),
    ]


BATCH_TABLES = tuple(table for table, _ in batch_tables(BatchRows()))


def ddl(blob: str) -> list[str]:
    """The log's tables, with ``blob`` as this database's name for bytes."""
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


def as_int(value: Any) -> int:
    """An INTEGER column's value as read; −1 — a position, size, level or version no log
    has — for anything else SQLite let in (text, a fraction, bytes), so that the check
    reading it fails rather than the code comparing it."""
    return value if type(value) is int else -1


def as_bytes(value: Any) -> bytes:
    """A BLOB column's value as bytes, even stored as TEXT (its bytes, exactly)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def as_text(value: Any) -> str:
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


class LogStore(ABC):
    """Reads and writes of the log over one eventsourcing application recorder.

    The interface every caller uses; ``SQLiteLogStore`` and ``PostgresLogStore`` are
    its two implementations, one chosen by ``open_store``. The SQL here is the SQL both
    databases run alike (``?`` marks parameters; ``sql`` turns them into the driver's)."""

    mark = "?"  # the driver's parameter mark

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder: Any = recorder
        self.events_table: str = recorder.events_table_name  # type: ignore[attr-defined]
        # A hot standby's (cadreledger.replica): its tables are the primary's to make.
        self.read_only = False

    # -- plumbing ---------------------------------------------------------------------

    def sql(self, sql: str) -> str:
        """``sql`` with this driver's parameter marks."""
        return sql.replace("?", self.mark)

    def transaction(self, commit: bool = False) -> AbstractContextManager[Any]:
        """A transaction of the recorder's datastore (its cursor); rolled back unless
        ``commit``."""
        return self.recorder.datastore.transaction(commit=commit)  # type: ignore[no-any-return]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as cursor:
            self._lenient(cursor)
            cursor.execute(self.sql(sql), self._params(params))
            return list(cursor.fetchall())

    def _lenient(self, cursor: Any) -> None:  # noqa: B027 - a hook most databases need not fill
        """Prepare a read's cursor for stored values that are not what the log wrote
        (SQLite keeps any bytes as TEXT); nothing to do where the database refuses them."""

    def _params(self, params: Sequence[Any]) -> tuple[Any, ...]:
        """The parameters, with any text read by ``lenient_text`` turned back into its
        bytes: the driver cannot encode it as text, and as a blob it equals no stored
        text (a lookup by a name that is not UTF-8 finds nothing, as it should)."""
        return tuple(
            p.encode("utf-8", "surrogateescape") if isinstance(p, str) and not is_text(p) else p
            for p in params
        )

    @abstractmethod
    def _tuples(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows as plain tuples, for reads page after page (replays): a dict or
        ``sqlite3.Row`` per row, read back by name, costs as much as the read itself."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One write in its own transaction (genesis, and tests that play the attacker)."""
        if self.read_only and sql.lstrip().upper().startswith("CREATE "):
            return  # the primary made them; a replica cannot, and need not
        with self.transaction(commit=True) as cursor:
            cursor.execute(self.sql(sql), tuple(params))

    # -- writing ----------------------------------------------------------------------

    @abstractmethod
    def writer_lock(self) -> AbstractContextManager[None]:
        """Held while a batch is sequenced, so that writers in other processes take turns."""

    @abstractmethod
    def try_lock(self, name: str, key: int) -> AbstractContextManager[bool]:
        """A lock one process at a time holds (another room's, such as the one webhook
        dispatcher's), not waited for: yields whether it was got. ``key`` names it on a
        database that has advisory locks, ``name`` where a file beside the database is
        the lock."""

    @abstractmethod
    def commit(self, events: Sequence[StoredEvent], rows: BatchRows) -> None:
        """Insert a batch's events and rows in one transaction (raises on any conflict)."""

    def close(self) -> None:  # noqa: B027 - a hook most databases need not fill
        """Let go of what the store holds beside the recorder's own connections."""

    @abstractmethod
    def forgetting(self) -> AbstractContextManager[Any]:
        """A transaction (its cursor) whose deletions the database does not keep readable,
        for destroying keys; copies made before (backups, archived WAL) are not reached."""

    def init_meta(self, values: dict[str, str], checkpoint: tuple[int, str]) -> None:
        """Record the log's genesis (its key, origin, empty checkpoint) once; first writer wins."""
        with self.transaction(commit=True) as cursor:
            for key, value in values.items():
                cursor.execute(self.sql(_INSERT_META), (key, value))
            cursor.execute(self.sql(_INSERT_GENESIS), checkpoint)

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
        for chunk in chunks(keys, 200):
            where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
            params = [v for key in chunk for v in key]
            for r in self.query(
                f"SELECT level, idx, hashes FROM ledger_tiles WHERE {where}", params
            ):
                result[(r["level"], r["idx"])] = as_bytes(r["hashes"])
        return result

    def latest_checkpoint(self) -> tuple[int, str] | None:
        # Sizes a log can have only: SQLite would sort text stored as a size above them.
        rows = self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size >= 0 AND size <= ?"
            " ORDER BY size DESC LIMIT 1",
            (2**63 - 1,),
        )
        return (as_int(rows[0]["size"]), as_text(rows[0]["note"])) if rows else None

    def checkpoint_at(self, size: int) -> str | None:
        """The checkpoint the log signed at exactly ``size``, if a batch ended there."""
        rows = self.query("SELECT note FROM ledger_checkpoints WHERE size = ?", (size,))
        return as_text(rows[0]["note"]) if rows else None

    def checkpoint_covering(self, index: int) -> tuple[int, str] | None:
        """The first stored checkpoint whose tree holds position ``index``."""
        rows = self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT 1",
            (index,),
        )
        return (as_int(rows[0]["size"]), as_text(rows[0]["note"])) if rows else None

    def iter_checkpoints(self, page: int = 1000) -> Iterator[tuple[int, str]]:
        after = -1
        while rows := self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT ?",
            (after, page),
        ):
            for r in rows:
                yield as_int(r["size"]), as_text(r["note"])
            after = rows[-1]["size"]

    def provable_checkpoint(self) -> tuple[int, str] | None:
        """The latest stored checkpoint whose size is at most the leaves this database
        holds, in one statement (one snapshot): on a lagging replica, the checkpoint it
        can prove, never the primary's newer one."""
        rows = self.query(
            "SELECT size, note FROM ledger_checkpoints WHERE size >= 0 AND size <="
            " (SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_leaves)"
            " ORDER BY size DESC LIMIT 1"
        )
        return (int(rows[0]["size"]), str(rows[0]["note"])) if rows else None

    def add_log_key_rotation(self, size: int, note: str) -> None:
        """Record that checkpoints past ``size`` are signed by the key ``note`` rotates to."""
        self.execute("INSERT INTO ledger_log_keys (size, note) VALUES (?, ?)", (size, note))

    def stream_starts(self, size: int) -> dict[str, int]:
        """Each stream of a log of ``size`` and the first position it holds there, in the
        order the database lists them. Positions below 0 are no log's (V4 names such
        rows): never counted."""
        rows = self.query(
            "SELECT stream, MIN(idx) AS start FROM ledger_leaves WHERE idx >= 0 AND idx < ?"
            " GROUP BY stream",
            (size,),
        )
        return {str(r["stream"]): int(r["start"]) for r in rows}

    def entries_between(
        self, after: int, before: int, limit: int, within: tuple[str, str] | None = None
    ) -> list[Entry]:
        """Up to ``limit`` entries at positions in (after, before), by position; with
        ``within`` = (stream, prefix), only that stream's and those whose names start
        with ``prefix`` (taken literally)."""
        where = ""
        params: list[Any] = [after, before]
        if within is not None:
            where = " AND (l.stream = ? OR l.stream LIKE ? ESCAPE '!')"
            params += [within[0], _like_prefix(within[1])]
        rows = self.query(
            "SELECT l.idx, l.stream, l.version, e.state FROM ledger_leaves l"
            f" JOIN {self.events_table} e"
            " ON e.originator_id = l.stream AND e.originator_version = l.version"
            f" WHERE l.idx > ? AND l.idx < ?{where} ORDER BY l.idx LIMIT ?",
            [*params, limit],
        )
        return [Entry(r["idx"], r["stream"], r["version"], bytes(r["state"])) for r in rows]

    def entries_of_kind(self, kind: str, after: int, through: int, limit: int) -> list[Entry]:
        """Up to ``limit`` entries at positions in (after, through], by position, of the
        streams named ``<kind>/<name>`` (one level: none of their sub-streams)."""
        rows = self.query(
            "SELECT l.idx, l.stream, l.version, e.state FROM ledger_leaves l"
            f" JOIN {self.events_table} e"
            " ON e.originator_id = l.stream AND e.originator_version = l.version"
            " WHERE l.idx > ? AND l.idx <= ? AND l.stream LIKE ? AND l.stream NOT LIKE ?"
            " ORDER BY l.idx LIMIT ?",
            (after, through, f"{kind}/%", f"{kind}/%/%", limit),
        )
        return [Entry(r["idx"], r["stream"], r["version"], bytes(r["state"])) for r in rows]

    def commit_notifications(self) -> AbstractContextManager[Callable[[float], bool]] | None:
        """A wait for the next commit's notification (``wait(timeout)`` says whether one
        came), while the context lasts; None where the database sends none (SQLite)."""
        return None

    def _entries_sql(self) -> str:
        return (
            "SELECT l.idx, l.stream, l.version, e.state FROM ledger_leaves l"
            f" JOIN {self.events_table} e"
            " ON e.originator_id = l.stream AND e.originator_version = l.version"
            " WHERE l.idx >= ? ORDER BY l.idx LIMIT ?"
        )

    @abstractmethod
    def entries(self, start: int, limit: int) -> list[Entry]:
        """Log entries by position."""

    def entries_of(self, streams: Sequence[str], stop: int) -> list[Entry]:
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
        return sorted(
            Entry(r["idx"], r["stream"], r["version"], as_bytes(r["state"])) for r in rows
        )

    def stream_names(self, most: int) -> set[str] | None:
        """Every stream the log has, or None if it has more than ``most``."""
        rows = self.query(
            f"SELECT DISTINCT originator_id FROM {self.events_table} LIMIT ?", (most + 1,)
        )
        return {str(r["originator_id"]) for r in rows} if len(rows) <= most else None

    def stream_heads(self, streams: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """The last event of each stream: version and envelope bytes."""
        heads: dict[str, tuple[int, bytes]] = {}
        for chunk in chunks(list(streams), 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.query(
                f"SELECT originator_id, originator_version, state FROM {self.events_table} e"
                f" WHERE originator_id IN ({marks}) AND originator_version = ("
                f"  SELECT MAX(originator_version) FROM {self.events_table}"
                "   WHERE originator_id = e.originator_id)",
                chunk,
            )
            for r in rows:
                heads[str(r["originator_id"])] = (r["originator_version"], as_bytes(r["state"]))
        return heads

    def find_nonces(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[bytes, int]]:
        """Stored (actor, nonce) pairs among ``keys``: their statement digest and position."""
        wanted = set(keys)
        found: dict[tuple[str, str], tuple[bytes, int]] = {}
        for chunk in chunks(sorted({nonce for _, nonce in wanted}), 500):
            marks = ", ".join("?" * len(chunk))
            for r in self.query(
                f"SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce IN ({marks})",
                chunk,
            ):
                if (r["actor"], r["nonce"]) in wanted:
                    found[(r["actor"], r["nonce"])] = (bytes(r["digest"]), r["idx"])
        return found

    def iter_events(self, page: int = 2000) -> Iterator[Notified]:
        """Every stored event in commit order, as eventsourcing's notification log has it."""
        start = 1
        while notifications := self.recorder.select_notifications(start, page):
            for n in notifications:
                yield Notified(n.id, str(n.originator_id), n.originator_version, n.state)
            start = notifications[-1].id + 1

    @abstractmethod
    def iter_stored(self, page: int = 2000) -> Iterator[tuple[int, str, int, str, bytes]]:
        """``iter_events`` with each row's eventsourcing topic: what the verifier reads."""

    def log_key_rotations(self) -> list[str]:
        """The log key's rotation notes, in size order."""
        notes = self.query("SELECT note FROM ledger_log_keys ORDER BY size")
        return [as_text(r["note"]) for r in notes]

    def tile_keys(self) -> list[TileKey]:
        rows = self.query("SELECT level, idx FROM ledger_tiles")
        return [(as_int(r["level"]), as_int(r["idx"])) for r in rows]

    @abstractmethod
    def nonce_rows(self, nonces: Sequence[str]) -> list[NonceRow]:
        """Every nonce-index row for these nonces (any actor)."""

    def nonce_rows_in_order(self) -> Iterator[NonceRow] | None:
        """Every nonce-index row in the order it was written, where the database reads
        them so more cheaply than by nonce (None: it does not)."""
        return None

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
        claims = [as_int(r["idx"]) for r in rows if r["idx"] is not None]
        found = [claim if claim >= 0 else size for claim in claims]
        return min(found) if found else None

    # Every index row in position order, from the lowest stored (negative ones too).
    _FIRST_LEAVES = (
        "SELECT idx, stream, version FROM ledger_leaves WHERE idx >= ? ORDER BY idx LIMIT ?"
    )
    _NEXT_LEAVES = _FIRST_LEAVES.replace("idx >= ?", "idx > ?", 1)

    @abstractmethod
    def iter_leaves(self, page: int = 5000) -> Iterator[tuple[int, str, int]]:
        """Every index row in position order, from the lowest stored: rows at negative
        positions too, which no log has (the verifier reports them)."""

    def count_events(self) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM {self.events_table}")[0]["n"])


def open_store(recorder: ApplicationRecorder) -> LogStore:
    """The store for this recorder's database: chosen here, once."""
    # Deferred: the two stores import this module (and SQLite's users need no psycopg).
    from ledger.store_sqlite import SQLiteLedgerRecorder, SQLiteLogStore

    if isinstance(recorder, SQLiteLedgerRecorder):
        return SQLiteLogStore(recorder)
    from ledger.store_postgres import PostgresLedgerRecorder, PostgresLogStore

    if isinstance(recorder, PostgresLedgerRecorder):
        return PostgresLogStore(recorder)
    raise TypeError(f"not a ledger recorder: {type(recorder).__name__}")


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape ``!``) for the names that start with ``prefix``."""
    escaped = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return escaped + "%"


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
