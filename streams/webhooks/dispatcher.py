"""The dispatcher: events → pending deliveries → HTTP POSTs, retried until delivered
or dead.

One dispatcher per database (``DeliveryStore.dispatcher_lock``). Its scanner reads the
feed and records, with its cursor and in one transaction, registrations, removals and
the deliveries owed; its delivery loop posts fresh deliveries from memory and retries,
and whatever a restart finds pending, from the database, at most ``concurrency`` at a
time. At least once: a crash between a receiver's 2xx and the state update means one
more delivery of the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import TCPConnector

from streams.feed import Feed, FeedEvent, FeedFilter, wait_beyond
from streams.webhooks.keys import WebhookKeys
from streams.webhooks.registration import REGISTERED, REMOVED, Endpoint, parse_registration
from streams.webhooks.repository import Delivery, DeliveryStore
from streams.webhooks.retry import RetryPolicy
from streams.webhooks.standing import registrant_check
from streams.webhooks.targets import PublicResolver, check_literal

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

QUERY_EVERY = 0.1  # seconds between looks for due retries while fresh work flows
DUE_PAGE = 200


@dataclass
class _Outcome:
    webhook: str
    idx: int
    attempts: int  # before this one
    ok: bool
    status: int | None
    error: str | None
    gone: bool = False
    retry_after: float | None = None
    cancelled: bool = False  # the registrant may no longer receive it: never retried


@dataclass
class Dispatcher:
    ledger: StreamedLog
    feed: Feed
    keys: WebhookKeys
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    allow_private: bool = False
    say: Callable[[str], None] = lambda _: None
    on_delivered: Callable[[str, int], None] | None = None  # benchmarks and tests
    # With authentication on: whether a registrant may receive an event at all (an
    # integrator only its granted cycles), whatever its filter asks for.
    entitled: Callable[[str, FeedEvent], bool] | None = None
    # Checked again at each delivery: why the registrant may not receive this event now
    # (its key or role revoked, its grant withdrawn), or None. ``registrant_check``.
    standing: Callable[[Endpoint, FeedEvent], str | None] | None = None

    def __post_init__(self) -> None:
        self.db = DeliveryStore(self.ledger)
        if self.standing is None:
            self.standing = registrant_check(self.ledger, self.entitled)
        self.endpoints: dict[str, Endpoint] = {}
        self._flight: set[tuple[str, int]] = set()
        self._outcomes: list[_Outcome] = []
        self._events: dict[int, FeedEvent] = {}
        self._wake = asyncio.Event()
        self._ready: deque[Delivery] = deque()
        # Keys settled (delivered or dead) lately, so that a fresh delivery the database
        # query already launched is not launched again from ``_ready``.
        self._settled: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._start_cursor = -1
        self._cursor_saved = 0.0
        self._scanned: int | None = None
        self.attempts = 0

    async def run(self, stop: asyncio.Event) -> None:
        with self.db.dispatcher_lock() as held:
            if not held:
                self.say("webhooks: một bộ gửi khác đang chạy / another dispatcher runs; chờ")
                while not stop.is_set():
                    await _sleep_or(stop, 5.0)
                return
            self.endpoints = await asyncio.to_thread(self.db.endpoints)
            # aiohttp rather than httpx: ~0.2 ms of CPU per request here against httpx's
            # ~2 ms, and at a thousand deliveries a second that difference is the service.
            connector = None if self.allow_private else TCPConnector(resolver=PublicResolver())
            async with aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
                headers={"user-agent": "cadreledger-webhooks/1"},
            ) as client:
                scanner = asyncio.create_task(self._scan(stop))
                try:
                    await self._deliver_loop(client, stop)
                finally:
                    scanner.cancel()
                    await asyncio.gather(scanner, return_exceptions=True)
                    await asyncio.to_thread(self._flush)
                    await asyncio.to_thread(self._save_cursor)

    # scanning: events → pending deliveries

    async def _scan(self, stop: asyncio.Event) -> None:
        cursor = self._start_cursor = await asyncio.to_thread(self.db.cursor)
        while not stop.is_set():
            try:
                page = await asyncio.to_thread(self.feed.read, cursor, 1000, FeedFilter(), None)
                if not page.events:
                    await asyncio.to_thread(wait_beyond, self.ledger, page.tree_size, 0.5)
                    continue
                if any(ep.filter.unit for ep in self.endpoints.values()):
                    await asyncio.to_thread(self.feed.ensure_units, page.events[-1].index)
                fresh = await asyncio.to_thread(self._ingest, page.events)
                self._ready.extend(fresh)
                cursor = self._scanned = page.events[-1].index
                self._wake.set()
            except Exception:
                log.exception("webhooks: scanning failed; retrying")
                await _sleep_or(stop, 1.0)

    def _ingest(self, events: list[FeedEvent]) -> list[Delivery]:
        """Record registrations, removals and the deliveries owed for ``events``, with
        the cursor, in one transaction; the deliveries that are new to the database."""
        now = time.time()
        new: list[Endpoint] = []
        removed: list[tuple[str, int]] = []
        rows: list[Delivery] = []
        endpoints = dict(self.endpoints)
        for e in events:
            if e.type == REGISTERED:
                ep = parse_registration(e, allow_private=self.allow_private)
                endpoints[ep.id] = ep
                new.append(ep)
            elif e.type == REMOVED:
                target = endpoints.get(str(e.statement.get("webhook")))
                if target and target.actor == e.statement.get("actor") and target.state == "active":
                    target.state = "removed"
                    removed.append((target.id, e.index))
            for ep in endpoints.values():
                if (
                    ep.state == "active"
                    and ep.idx < e.index
                    and ep.filter.matches(e, self.feed.units)
                    and (self.entitled is None or self.entitled(ep.actor, e))
                ):
                    rows.append(Delivery(ep.id, e.index, e.hash.hex(), 0))
                    self._events[e.index] = e
        if not (new or removed or rows) and time.monotonic() - self._cursor_saved < 1.0:
            # Nothing owed: the cursor may lag (a rescan after a crash is idempotent:
            # every insert above is ON CONFLICT DO NOTHING), so save it once a second.
            self.endpoints = endpoints
            return []
        self._cursor_saved = time.monotonic()
        with self.db.transaction() as writes:
            for ep in new:
                writes.add_endpoint(ep)
            for webhook, idx in removed:
                writes.remove_endpoint(webhook, idx)
            writes.owe(rows, now)
            writes.save_cursor(events[-1].index)
        self.endpoints = endpoints
        if len(self._events) > 20_000:  # a cache of payloads, not a store
            for idx in sorted(self._events)[:10_000]:
                del self._events[idx]
        # Rows a scan before a restart may have written are owed through the database
        # query; every row past the cursor this process started from is new.
        return [row for row in rows if row.idx > self._start_cursor]

    def _save_cursor(self) -> None:
        if self._scanned is not None:
            with self.db.transaction() as writes:
                writes.save_cursor(self._scanned)

    # delivering: pending → delivered | pending later | dead

    async def _deliver_loop(self, client: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Fresh deliveries come from the scanner in memory (already committed as
        pending); retries, and whatever a restart finds pending, from the database."""
        slots = asyncio.Semaphore(self.policy.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        next_query = 0.0

        async def launch(
            webhook: str, idx: int, event_hash: str, attempts: int, fresh: bool = False
        ) -> None:
            key = (webhook, idx)
            if key in self._flight or (fresh and key in self._settled):
                return
            self._flight.add(key)
            await slots.acquire()
            task = asyncio.create_task(
                self._attempt(client, slots, webhook, idx, event_hash, attempts)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        while not stop.is_set():
            self._wake.clear()
            while self._ready:
                await launch(*self._ready.popleft(), fresh=True)
            if time.monotonic() >= next_query:
                due, soonest = await asyncio.to_thread(self._due)
                for row in due:
                    await launch(*row)
                next_query = time.monotonic() + (0.0 if len(due) == DUE_PAGE else QUERY_EVERY)
                if soonest is not None:
                    next_query = min(next_query, time.monotonic() + soonest - time.time())
            if self._ready:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), max(0.0, min(1.0, next_query - time.monotonic()))
                )
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _due(self) -> tuple[list[Delivery], float | None]:
        self._flush()
        due = [
            row
            for row in self.db.due(time.time(), DUE_PAGE)
            if (row.webhook, row.idx) not in self._flight
        ]
        return due, None if due else self.db.soonest()

    async def _attempt(
        self,
        client: aiohttp.ClientSession,
        slots: asyncio.Semaphore,
        webhook: str,
        idx: int,
        event_hash: str,
        attempts: int,
    ) -> None:
        try:
            outcome = await self._post(client, webhook, idx, event_hash, attempts)
        except Exception as e:  # never let one delivery stop the loop
            outcome = _Outcome(webhook, idx, attempts, False, None, repr(e))
        finally:
            slots.release()
        self.attempts += 1
        self._outcomes.append(outcome)
        if outcome.ok and self.on_delivered:
            self.on_delivered(webhook, idx)
        self._wake.set()

    async def _post(
        self, client: aiohttp.ClientSession, webhook: str, idx: int, event_hash: str, attempts: int
    ) -> _Outcome:
        endpoint = self.endpoints.get(webhook)
        if endpoint is None or endpoint.state != "active":
            return _Outcome(webhook, idx, attempts, False, None, "endpoint not active", gone=True)
        event = self._events.get(idx)
        if event is None:
            rows = await asyncio.to_thread(self.feed.rows, idx - 1, idx + 1, 1)
            event = rows[0]
        if event.hash.hex() != event_hash:
            raise RuntimeError(f"event {idx} is not {event_hash}")
        if self.standing is not None:
            refused = await asyncio.to_thread(self.standing, endpoint, event)
            if refused is not None:
                return _Outcome(webhook, idx, attempts, False, None, refused, cancelled=True)
        if not self.allow_private:
            check_literal(endpoint.url)
        body = event.cloud_event_bytes(self.feed.origin)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": event_hash,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.keys.signature_header(webhook, event_hash, timestamp, body),
        }
        try:
            async with client.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
                retry_after = response.headers.get("retry-after", "")
        except (aiohttp.ClientError, TimeoutError, PermissionError) as e:
            return _Outcome(webhook, idx, attempts, False, None, f"{type(e).__name__}: {e}")
        ok = 200 <= status < 300
        seconds = retry_after.isascii() and retry_after.isdigit()  # not an HTTP-date
        return _Outcome(
            webhook,
            idx,
            attempts,
            ok,
            status,
            None if ok else f"HTTP {status}",
            gone=status == 410,
            retry_after=float(retry_after) if seconds else None,
        )

    def _flush(self) -> None:
        """Write finished attempts in one transaction; only then may they be retried."""
        outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return
        now = time.time()
        with self.db.transaction() as writes:
            for o in outcomes:
                if o.ok:
                    writes.delivered(o.webhook, o.idx, o.status, now)
                    continue
                if o.cancelled:
                    writes.cancelled(o.webhook, o.idx, o.error)
                    continue
                if o.gone and o.status == 410:
                    # Standard Webhooks: 410 Gone means "stop sending": disable the endpoint.
                    writes.endpoint_gone(o.webhook, "HTTP 410 Gone")
                    if o.webhook in self.endpoints:
                        self.endpoints[o.webhook].state = "gone"
                attempts = o.attempts + 1
                writes.failed(
                    o.webhook,
                    o.idx,
                    dead=o.gone or attempts >= self.policy.max_attempts,
                    attempts=attempts,
                    next_at=now + self.policy.delay(attempts, o.retry_after),
                    status=o.status,
                    error=o.error,
                )
        for o in outcomes:
            key = (o.webhook, o.idx)
            self._flight.discard(key)
            if o.ok or o.gone or o.cancelled or o.attempts + 1 >= self.policy.max_attempts:
                self._settled[key] = None
        while len(self._settled) > 100_000:
            self._settled.popitem(last=False)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
