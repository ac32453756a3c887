"""Serving reads from a PostgreSQL streaming replica (a hot standby).

The primary writes: events, the log's tables and its checkpoints in one transaction,
and the read model in another. A standby replays the primary's write-ahead log one
whole transaction at a time, so what it shows is always some past state of the
primary: the question a replica must answer honestly is only *which*. It answers with
the latest signed checkpoint whose tree its own events fill (never one beyond them),
and its read model follows its own log in memory (``projections.readmodel.
MemoryReadModel``), so every page, proof and feed entry it serves is as of one
position of the log it holds. It cannot write — tables, tokens, NOTIFY — and says so.
"""

from __future__ import annotations

from cadreledger.config import Settings
from ledger.store import LogStore


def in_recovery(settings: Settings) -> bool:
    """Whether ``settings.db`` is a PostgreSQL hot standby (``pg_is_in_recovery()``);
    False for SQLite, or if the server cannot be asked (opening it says why)."""
    if not settings.is_postgres:
        return False
    import psycopg

    env = settings.eventsourcing_env()
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


def consistent_checkpoint(store: LogStore) -> tuple[int, str] | None:
    """The latest stored checkpoint whose size is at most the leaves this database
    holds, in one statement (one snapshot): on a lagging replica, the checkpoint it can
    prove, never the primary's newer one."""
    rows = store.query(
        "SELECT size, note FROM ledger_checkpoints WHERE size >= 0 AND size <="
        " (SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_leaves)"
        " ORDER BY size DESC LIMIT 1"
    )
    return (int(rows[0]["size"]), str(rows[0]["note"])) if rows else None
