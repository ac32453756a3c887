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
    # Deferred: SQLite's users need no psycopg.
    from ledger.store_postgres import is_hot_standby

    return is_hot_standby(settings.eventsourcing_env())


def consistent_checkpoint(store: LogStore) -> tuple[int, str] | None:
    """The latest stored checkpoint whose size is at most the leaves this database
    holds (``LogStore.provable_checkpoint``): on a lagging replica, the checkpoint it
    can prove, never the primary's newer one."""
    return store.provable_checkpoint()
