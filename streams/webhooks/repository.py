"""The ``webhook_*`` tables, on the ledger's own database (SQLite or PostgreSQL): every
SQL statement of the webhooks, and the one-dispatcher-per-database lock.

A scanner turns events into pending deliveries and moves its cursor in the same
transaction (``DeliveryWrites``), so a restart neither skips nor repeats that step; the
dispatcher writes finished attempts in one transaction too. The two databases differ
only in the lock: a PostgreSQL advisory lock, a lock file beside the SQLite file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from streams.feed import FeedFilter
from streams.webhooks.registration import Endpoint

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = ["WEBHOOK_LOCK_KEY", "Delivery", "DeliveryStore", "DeliveryWrites"]

WEBHOOK_LOCK_KEY = 0x6361_6477  # "cadw": PostgreSQL advisory lock of the one dispatcher

_DDL = [
    "CREATE TABLE IF NOT EXISTS webhook_endpoints ("
    " id TEXT PRIMARY KEY, idx BIGINT NOT NULL, actor TEXT NOT NULL, signer TEXT NOT NULL,"
    " url TEXT NOT NULL, filter TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,"
    " removed_idx BIGINT)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " webhook TEXT NOT NULL, idx BIGINT NOT NULL, event_hash TEXT NOT NULL,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL, next_at DOUBLE PRECISION NOT NULL,"
    " last_status INTEGER, last_error TEXT, delivered_at DOUBLE PRECISION,"
    " PRIMARY KEY (webhook, idx))",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at)",
    "CREATE TABLE IF NOT EXISTS webhook_cursor (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
]

_SAVE_CURSOR = (
    "INSERT INTO webhook_cursor (name, position) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)


class Delivery(NamedTuple):
    """One event owed to one endpoint: a row of ``webhook_deliveries`` to attempt."""

    webhook: str
    idx: int
    event_hash: str
    attempts: int  # made so far


class DeliveryWrites:
    """The writes of one transaction on the ``webhook_*`` tables."""

    def __init__(self, cursor: Any, sql: Callable[[str], str]) -> None:
        self._cursor = cursor
        self._sql = sql  # the store's: ``?`` as the driver's parameter mark

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._sql(sql), tuple(params))

    def add_endpoint(self, ep: Endpoint) -> None:
        self._run(
            "INSERT INTO webhook_endpoints (id, idx, actor, signer, url, filter, state,"
            " reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                ep.id,
                ep.idx,
                ep.actor,
                ep.signer,
                ep.url,
                json.dumps(ep.filter.to_json()),
                ep.state,
                ep.reason,
            ),
        )

    def remove_endpoint(self, webhook: str, idx: int) -> None:
        """Removed by the event at ``idx``: what it still owed is cancelled."""
        self._run(
            "UPDATE webhook_endpoints SET state = 'removed', removed_idx = ? WHERE id = ?",
            (idx, webhook),
        )
        self._run(
            "UPDATE webhook_deliveries SET state = 'cancelled'"
            " WHERE webhook = ? AND state = 'pending'",
            (webhook,),
        )

    def owe(self, deliveries: Sequence[Delivery], now: float) -> None:
        """New pending deliveries, due at once; one already recorded stays as it is."""
        for chunk in range(0, len(deliveries), 400):
            part = deliveries[chunk : chunk + 400]
            values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part))
            self._run(
                "INSERT INTO webhook_deliveries (webhook, idx, event_hash, state, attempts,"
                f" next_at) VALUES {values} ON CONFLICT (webhook, idx) DO NOTHING",
                [v for d in part for v in (d.webhook, d.idx, d.event_hash, "pending", 0, now)],
            )

    def save_cursor(self, position: int) -> None:
        self._run(_SAVE_CURSOR, ("scanner", position))

    def delivered(self, webhook: str, idx: int, status: int | None, now: float) -> None:
        self._run(
            "UPDATE webhook_deliveries SET state = 'delivered',"
            " attempts = attempts + 1, last_status = ?, last_error = NULL,"
            " delivered_at = ?"
            " WHERE webhook = ? AND idx = ?",
            (status, now, webhook, idx),
        )

    def cancelled(self, webhook: str, idx: int, error: str | None) -> None:
        self._run(
            "UPDATE webhook_deliveries SET state = 'cancelled', last_error = ?"
            " WHERE webhook = ? AND idx = ?",
            (error, webhook, idx),
        )

    def endpoint_gone(self, webhook: str, reason: str) -> None:
        self._run(
            "UPDATE webhook_endpoints SET state = 'gone', reason = ? WHERE id = ?",
            (reason, webhook),
        )

    def failed(
        self,
        webhook: str,
        idx: int,
        *,
        dead: bool,
        attempts: int,
        next_at: float,
        status: int | None,
        error: str | None,
    ) -> None:
        self._run(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?,"
            " last_status = ?, last_error = ? WHERE webhook = ? AND idx = ?",
            ("dead" if dead else "pending", attempts, next_at, status, error, webhook, idx),
        )

    def redeliver(self, webhook: str, now: float) -> None:
        self._run(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ?"
            " WHERE webhook = ? AND state = 'dead'",
            (now, webhook),
        )


class DeliveryStore:
    """The ``webhook_*`` tables, on the ledger's own database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: StreamedLog) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.create_tables()

    @contextmanager
    def transaction(self) -> Iterator[DeliveryWrites]:
        with self.store.transaction(commit=True) as cursor:
            yield DeliveryWrites(cursor, self.store.sql)

    def create_tables(self) -> None:
        if self.store.read_only:
            return  # a replica's tables are the primary's (cadreledger.replica)
        for attempt in range(3):
            try:
                with self.store.transaction(commit=True) as c:
                    for ddl in _DDL:
                        c.execute(ddl)
                return
            except Exception:
                # HTTP workers starting together on PostgreSQL: all but one lose the race
                # on the catalogue once the winner commits; tried again, they find the
                # tables there.
                if attempt == 2:
                    raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.store.query(sql, params)

    def cursor(self) -> int:
        rows = self.query("SELECT position FROM webhook_cursor WHERE name = ?", ("scanner",))
        return int(rows[0]["position"]) if rows else -1

    def endpoints(self) -> dict[str, Endpoint]:
        return {r["id"]: _endpoint(r) for r in self.query("SELECT * FROM webhook_endpoints")}

    def endpoint(self, webhook: str) -> Endpoint | None:
        rows = self.query("SELECT * FROM webhook_endpoints WHERE id = ?", (webhook,))
        return _endpoint(rows[0]) if rows else None

    def due(self, now: float, limit: int) -> list[Delivery]:
        """Pending deliveries due by ``now``, the longest waiting first."""
        rows = self.query(
            "SELECT webhook, idx, event_hash, attempts FROM webhook_deliveries"
            " WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, idx LIMIT ?",
            (now, limit),
        )
        return [Delivery(r["webhook"], r["idx"], r["event_hash"], r["attempts"]) for r in rows]

    def soonest(self) -> float | None:
        """When the next pending delivery falls due (Unix time), if any is pending."""
        later = self.query(
            "SELECT MIN(next_at) AS t FROM webhook_deliveries WHERE state = 'pending'"
        )
        return later[0]["t"] if later and later[0]["t"] is not None else None

    def deliveries(
        self, webhook: str, state: str | None = None, after: int = -1, limit: int = 100
    ) -> list[dict[str, Any]]:
        where = "webhook = ? AND idx > ?"
        params: list[Any] = [webhook, after]
        if state:
            where += " AND state = ?"
            params.append(state)
        rows = self.query(
            "SELECT idx, event_hash, state, attempts, next_at, last_status, last_error,"
            f" delivered_at FROM webhook_deliveries WHERE {where} ORDER BY idx LIMIT ?",
            [*params, limit],
        )
        return [
            {
                "index": r["idx"],
                "event_hash": r["event_hash"],
                "state": r["state"],
                "attempts": r["attempts"],
                "next_attempt_at": r["next_at"] if r["state"] == "pending" else None,
                "last_status": r["last_status"],
                "last_error": r["last_error"],
                "delivered_at": r["delivered_at"],
            }
            for r in rows
        ]

    def counts(self, webhook: str) -> dict[str, int]:
        rows = self.query(
            "SELECT state, COUNT(*) AS n FROM webhook_deliveries WHERE webhook = ? GROUP BY state",
            (webhook,),
        )
        return {r["state"]: int(r["n"]) for r in rows}

    def redeliver(self, webhook: str) -> int:
        """Dead letters of ``webhook`` back to pending, attempts reset (an operator's act)."""
        dead = self.counts(webhook).get("dead", 0)
        with self.transaction() as writes:
            writes.redeliver(webhook, time.time())
        return dead

    def dispatcher_lock(self) -> AbstractContextManager[bool]:
        """One dispatcher per database: yields False if another one holds it (an
        advisory lock on PostgreSQL, a lock file beside an SQLite database)."""
        return self.store.try_lock("webhooks", WEBHOOK_LOCK_KEY)


def _endpoint(r: Any) -> Endpoint:
    flt = FeedFilter.from_json(json.loads(r["filter"]))
    return Endpoint(
        r["id"], r["idx"], r["actor"], r["signer"], r["url"], flt, r["state"], r["reason"]
    )
