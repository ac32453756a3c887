"""The log on PostgreSQL: eventsourcing's PostgreSQL recorder for its tables, and the
store's own SQL and transactions (``ledger.store.LogStore`` is the interface).

Writers in other processes take turns on an advisory lock; a batch's events and rows
are inserted by one statement (``batch_insert_sql``) after the events table's lock and a
notification of its channel, as eventsourcing's own writers do (``_lock_and_notify``), all
in one call of a function the writer creates (``batch_function``); page-after-page reads
are prepared statements in binary.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.store import (
    BATCH_TABLES,
    WRITER_LOCK_KEY,
    BatchRows,
    Entry,
    LogStore,
    NonceRow,
    Table,
    batch_tables,
    ddl,
    event_rows,
    events_table_spec,
)

log = logging.getLogger(__name__)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, creating the log's tables beside its events'.

    Only its public extension points: the constructor and the table statements."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.extend(SQL(s).format() for s in ddl("BYTEA"))


def lock_and_notify_statements(recorder: PostgresApplicationRecorder) -> list[Composed]:
    """What eventsourcing's writers run in an insert's transaction before its events,
    which its readers rely on, and so must ours (``tests/service/test_eventsourcing_contract.py``
    compares them with the library's own):

    - an EXCLUSIVE lock on the events table (bounded by the datastore's lock timeout),
      so that transactions take notification ids in commit order and a reader tailing
      the notification log never passes a gap that a slower transaction fills later;
    - a NOTIFY on the table's channel, which wakes the listeners
      (``projections.follower``, eventsourcing's subscriptions)."""
    datastore = recorder.datastore
    table = Identifier(datastore.schema), Identifier(recorder.events_table_name)
    return [
        SQL("SET LOCAL lock_timeout = '{0}s'").format(datastore.lock_timeout),
        SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(*table),
        SQL("NOTIFY {0}").format(Identifier(recorder.channel_name)),
    ]


def is_hot_standby(env: Mapping[str, str]) -> bool:
    """Whether the PostgreSQL database eventsourcing's ``env`` names is a hot standby
    (``pg_is_in_recovery()``); False if the server cannot be asked (opening it says why)."""
    import psycopg

    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        ) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def _unnest(table: Table, marks: Iterator[str]) -> str:
    """``INSERT … SELECT * FROM unnest(…)`` of one array parameter per column."""
    arrays = ", ".join(f"{next(marks)}::{t}[]" for t in table.pg_types)
    return f"INSERT INTO {table.into} SELECT * FROM unnest({arrays}){table.suffix}"


def batch_insert_sql(events: Table, marks: Iterator[str] | None = None) -> str:
    """One INSERT for a whole batch, whatever it holds: its rows of each of
    ``BATCH_TABLES`` in data-modifying CTEs, and its events last; one array parameter
    per column (empty for a kind the batch has none of). Its text never changes, so
    psycopg converts it once and the server prepares it once; a statement per table
    cost the writer psycopg's Python work per statement, most of a batch's CPU (a
    multi-row VALUES would be new text for every batch size, parsed and planned each
    time; eventsourcing sends an array of its composite type, dumped row by row in
    Python). The CTEs' inserts see one snapshot: none reads another's table.
    ``marks``: the parameters' placeholders in order (psycopg's binary ``%b`` if none)."""
    marks = marks or itertools.repeat("%b")
    ctes = ", ".join(f"t{n} AS ({_unnest(table, marks)})" for n, table in enumerate(BATCH_TABLES))
    return f"WITH {ctes} {_unnest(events, marks)}"


@dataclass(frozen=True)
class BatchFunction:
    """A PL/pgSQL function that writes a batch: the events table's lock, its channel's
    notification, then ``batch_insert_sql``; ``call`` (with ``batch_params``) runs it.

    Called on an autocommit connection, that one statement is the batch's transaction,
    sent and answered in one round trip: about one poll of the socket a batch. The same
    statements in a pipelined transaction cost psycopg 23 polls and 13 sends a batch
    (strace), and each poll gives up the GIL: with 128 submitting threads, a commit
    whose server work was 2 ms took the writer 5–8 ms (docs/benchmarks.md). Its name is
    a digest of its body: a body that changes (another lock timeout, another table) is
    another function, and writers configured differently never replace each other's."""

    signature: str  # schema.name(types), as ``to_regprocedure`` reads it
    create: str
    call: str


def batch_function(schema: str, events: Table, before: Sequence[str]) -> BatchFunction:
    """The batch function for ``events`` (in ``schema``, an SQL identifier), running the
    statements ``before`` first."""
    types = [f"{t}[]" for table in (*BATCH_TABLES, events) for t in table.pg_types]
    insert = batch_insert_sql(events, (f"${n}" for n in itertools.count(1)))
    body = "".join(f"  {statement};\n" for statement in (*before, insert))
    name = f"{schema}.ledger_batch_{hashlib.sha256(body.encode()).hexdigest()[:16]}"
    signature = f"{name}({', '.join(types)})"
    create = (
        f"CREATE FUNCTION {signature} RETURNS void LANGUAGE plpgsql AS $batch$\n"
        f"BEGIN\n{body}END\n$batch$"
    )
    call = f"SELECT {name}({', '.join(f'%b::{t}' for t in types)})"
    return BatchFunction(signature, create, call)


def _columns(table: Table, rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    if not rows:
        return [[] for _ in table.pg_types]
    return [list(column) for column in zip(*rows, strict=True)]


def batch_params(events: Sequence[StoredEvent], rows: BatchRows, spec: Table) -> list[Any]:
    """``batch_insert_sql``'s parameters: each table's columns, then the events'."""
    params: list[Any] = []
    for table, table_rows in batch_tables(rows):
        params += _columns(table, table_rows)
    params += _columns(spec, event_rows(events))
    return params


class PostgresLogStore(LogStore):
    """The log in a PostgreSQL database."""

    mark = "%s"

    def __init__(self, recorder: PostgresLedgerRecorder) -> None:
        super().__init__(recorder)
        self.recorder: PostgresLedgerRecorder = recorder
        schema = Identifier(recorder.datastore.schema)
        table = SQL("{}.{}").format(schema, Identifier(self.events_table)).as_string()
        self._events = events_table_spec(table)
        # Rendered once: a Composed is turned into text again at every execute.
        self._lock_and_notify = [
            statement.as_string() for statement in lock_and_notify_statements(recorder)
        ]
        self._batch_insert = batch_insert_sql(self._events)
        self._batch_function = batch_function(
            schema.as_string(), self._events, self._lock_and_notify
        )
        self._batch_call: str | None = None  # once the function is known to be there
        self._function_refused = False  # this role may not create it: as before

    def _pg_rows(self, sql: str, params: Sequence[Any], *, generic: bool = False) -> list[Any]:
        """Rows as plain tuples, sent in binary, by a prepared statement: for the
        verifier's page-after-page reads, where building a dict per row, hex-encoding
        bytea (server) and decoding it (here) cost more than the rows themselves.

        ``generic``: plan the statement once for any values. Planned for each page's
        values and without table statistics (autovacuum off, a log just restored), an
        array of 1,000 nonces looks like most of the table, and every page scans it all."""
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
        return self._pg_rows(self.sql(sql), params)

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """A PostgreSQL advisory lock, held on a connection of its own."""
        with self.recorder.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK_KEY,))

    @contextmanager
    def try_lock(self, name: str, key: int) -> Iterator[bool]:
        """The advisory lock ``key``, held on a connection of its own."""
        with self.recorder.datastore.get_connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,)).fetchone()
            held = row is not None and bool(row["got"])
            try:
                yield held
            finally:
                if held:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    # As eventsourcing retries its own ``insert_events``: a connection lost or refused
    # (the datastore turns psycopg's errors into these) is tried again, 10 times.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def commit(self, events: Sequence[StoredEvent], rows: BatchRows) -> None:
        params = batch_params(events, rows, self._events)
        with self.recorder.datastore.get_connection() as conn:
            assert conn.autocommit  # (as eventsourcing's pool opens them)
            if not (events and self._call_batch_function(conn, params)):
                self._commit_pipelined(conn, events, params)

    def _call_batch_function(self, conn: psycopg.Connection[Any], params: list[Any]) -> bool:
        """Write the batch in one call of ``batch_function``, its own transaction on this
        autocommit connection; False if this database role may not create the function."""
        for attempt in (1, 2):
            call = self._batch_call or self._create_batch_function(conn)
            if call is None:
                return False
            try:
                conn.execute(call, params, prepare=True)
                return True
            except psycopg.errors.UndefinedFunction:
                # Dropped behind the writer's back (a restore, an operator): nothing of the
                # batch is stored; made again, it is called once more.
                self._batch_call = None
                if attempt == 2:
                    raise
        return False

    def _create_batch_function(self, conn: psycopg.Connection[Any]) -> str | None:
        """``batch_function``'s call, once it is in the database (created if need be);
        None if this database role may not create functions in the schema."""
        if self._function_refused:
            return None
        function = self._batch_function
        try:
            row = conn.execute(
                "SELECT to_regprocedure(%s) IS NOT NULL AS found", (function.signature,)
            ).fetchone()
            if not (row and row["found"]):
                conn.execute(function.create)
        except psycopg.errors.DuplicateFunction:
            pass  # another writer created it meanwhile
        except psycopg.errors.InsufficientPrivilege:
            log.warning(
                "this database role may not create %s: each batch is written in a "
                "pipelined transaction instead (ask for CREATE on the schema)",
                function.signature,
            )
            self._function_refused = True
            return None
        self._batch_call = function.call
        return self._batch_call

    def _commit_pipelined(
        self, conn: psycopg.Connection[Any], events: Sequence[StoredEvent], params: list[Any]
    ) -> None:
        """The batch in a transaction of its own statements, where the role may not create
        the batch function. Pipelined, as eventsourcing's insert is: the statements go out
        together and the sync makes a conflict raise here, not later at the commit."""
        exc: Exception | None = None
        with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as cursor:
            try:
                if events:
                    for statement in self._lock_and_notify:
                        cursor.execute(statement, prepare=True)
                cursor.execute(self._batch_insert, params, prepare=True)
                pipeline.sync()
            except Exception as e:
                exc = e  # raised after the pipeline has closed (no warning)
        if exc:
            raise exc

    @contextmanager
    def forgetting(self) -> Iterator[Any]:
        """PostgreSQL rewrites ``ledger_data_keys`` (``VACUUM FULL``), dropping the dead
        row versions."""
        with self.transaction(commit=True) as cursor:
            yield cursor
        with self.recorder.datastore.get_connection() as pg:  # autocommit: VACUUM needs that
            pg.execute("VACUUM FULL ledger_data_keys")

    # -- reading ----------------------------------------------------------------------

    @contextmanager
    def _listening(self) -> Iterator[Callable[[float], bool]]:
        with self.recorder.datastore.get_connection() as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.recorder.channel_name)))
            conn.commit()

            def wait(timeout: float) -> bool:
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    return True
                return False

            yield wait

    def commit_notifications(self) -> AbstractContextManager[Callable[[float], bool]]:
        """A LISTEN on the events table's channel, which every commit notifies."""
        return self._listening()

    def entries(self, start: int, limit: int) -> list[Entry]:
        return list(map(Entry._make, self._tuples(self._entries_sql(), (start, limit))))

    def iter_stored(self, page: int = 2000) -> Iterator[tuple[int, str, int, str, bytes]]:
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

    def nonce_rows(self, nonces: Sequence[str]) -> list[NonceRow]:
        # One array parameter, one plan: a 500-term IN list was planned afresh for
        # every page and, without statistics, scanned the whole table each time.
        sql = "SELECT actor, nonce, digest, idx FROM ledger_nonces WHERE nonce = ANY(%b::text[])"
        if not nonces:
            return []
        return list(map(NonceRow._make, self._pg_rows(sql, (list(nonces),), generic=True)))

    def iter_leaves(self, page: int = 5000) -> Iterator[tuple[int, str, int]]:
        after, query = -(2**63), self._FIRST_LEAVES
        while leaves := self._pg_rows(self.sql(query), (after, page)):
            yield from leaves
            after, query = leaves[-1][0], self._NEXT_LEAVES
