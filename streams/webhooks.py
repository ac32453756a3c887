"""Webhooks registered on the ledger, delivered per the Standard Webhooks spec.

An integrator registers an endpoint with a signed statement, submitted like any
other (so the registration is itself on the ledger)::

    {"type": "webhook.registered", "url": "https://…/hook",
     "filter": {"types": ["decision.issued"], "cycle": "…", "unit": "…"}}   # filter optional
    {"type": "webhook.removed", "webhook": "<event hash of the registration>"}

The filter is nested so that a ``cycle`` in it does not route the registration into
that cycle's stream. The webhook's id is its registration's event hash; only the
registrant's actor may remove it. An endpoint gets the events committed after its
registration that match its filter.

Each delivery is an HTTP POST of the event's CloudEvent (structured JSON) with
``webhook-id`` = event hash (the consumer's idempotency key), ``webhook-timestamp``
and ``webhook-signature`` holding two signatures over ``id.timestamp.body``:

- ``v1a,`` Ed25519 by the endpoint's own key, derived from the service's webhook key
  and the webhook id, published at ``/v1/webhooks/{id}/key`` as ``whpk_…`` (a key per
  endpoint, so that a delivery replayed to another endpoint does not verify there);
- ``v1,`` HMAC-SHA256 with the endpoint's own secret ``whsec_…``, derived from the
  service's key and the webhook id (so nothing secret is stored per endpoint). The
  registrant fetches it from ``POST /v1/webhooks/{id}/secret`` by signing a fresh
  ``webhook.secret_requested`` statement with the key that signed the registration.

Delivery state lives in the database (``webhook_*`` tables): a scanner turns events
into pending deliveries and moves its cursor in the same transaction, so a restart
neither skips nor repeats that step; deliveries are retried with exponential backoff
and jitter, and after ``max_attempts`` failures they are dead letters that an
operator can redeliver. At least once: a crash between a receiver's 2xx and the
state update means one more delivery of the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import fcntl
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import TCPConnector, ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from access.tokens import FORBIDDEN, OVERSIGHT, AccessStore, current_model
from domain.fields import Body
from domain.webhooks import webhook_host
from ledger.errors import INVALID_REQUEST, NOT_FOUND, PROBLEMS, SIGNER_MISMATCH, Rejected
from ledger.statement import parse_submission
from ledger.store import PostgresLedgerRecorder
from streams.feed import Feed, FeedEvent, FeedFilter, wait_beyond

if TYPE_CHECKING:
    from cadreledger.config import Settings
    from cadreledger.service import Ledger

log = logging.getLogger(__name__)

REGISTERED = "webhook.registered"
REMOVED = "webhook.removed"
SECRET_REQUESTED = "webhook.secret_requested"
MAX_URL = 2048
FRESH = timedelta(minutes=5)  # how old a secret request may be
QUERY_EVERY = 0.1  # seconds between looks for due retries while fresh work flows
DUE_PAGE = 200
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


# -- keys and signatures -------------------------------------------------------------


def key_path(settings: Settings) -> Path:
    """``CADRELEDGER_WEBHOOK_KEY_FILE``, or beside the log key (``….webhookkey``)."""
    configured = os.environ.get("CADRELEDGER_WEBHOOK_KEY_FILE")
    if configured:
        return Path(configured)
    log_key = settings.key_path()
    return log_key.with_name(
        log_key.name.removesuffix(".logkey").removesuffix(".key") + ".webhookkey"
    )


class WebhookKeys:
    """The service's webhook key: the seed from which each endpoint's own ``v1a`` Ed25519
    key and its ``v1`` HMAC secret are derived.

    A key per endpoint (Standard Webhooks' advice for asymmetric signatures): the signed
    content, ``id.timestamp.body``, does not name the endpoint, so with one key for all a
    delivery captured by one registrant would verify at another's within the freshness
    window. Derived, not stored: nothing secret is kept per endpoint."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self._master = hmac.new(seed, b"cadreledger webhook v1 secrets", hashlib.sha256).digest()
        self._v1a = hmac.new(seed, b"cadreledger webhook v1a keys", hashlib.sha256).digest()
        self._signers: OrderedDict[str, Ed25519PrivateKey] = OrderedDict()

    @classmethod
    def load_or_create(cls, path: Path) -> WebhookKeys:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as f:
                    f.write("whsk_" + base64.b64encode(os.urandom(32)).decode() + "\n")
        text = path.read_text().strip()
        seed = base64.b64decode(text.removeprefix("whsk_"), validate=True)
        if len(seed) != 32:
            raise ValueError(f"{path} is not a whsk_ Ed25519 key")
        return cls(seed)

    def signer(self, webhook: str) -> Ed25519PrivateKey:
        """The endpoint's own ``v1a`` signing key."""
        found = self._signers.get(webhook)
        if found is None:
            seed = hmac.new(self._v1a, webhook.encode(), hashlib.sha256).digest()
            found = self._signers[webhook] = Ed25519PrivateKey.from_private_bytes(seed)
            while len(self._signers) > 10_000:
                self._signers.popitem(last=False)
        return found

    def public(self, webhook: str) -> bytes:
        return self.signer(webhook).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def public_text(self, webhook: str) -> str:
        """The endpoint's ``v1a`` verifying key, ``whpk_…``."""
        return "whpk_" + base64.b64encode(self.public(webhook)).decode()

    def secret(self, webhook: str) -> bytes:
        return hmac.new(self._master, webhook.encode(), hashlib.sha256).digest()

    def secret_text(self, webhook: str) -> str:
        return "whsec_" + base64.b64encode(self.secret(webhook)).decode()

    def signature_header(self, webhook: str, msg_id: str, timestamp: int, body: bytes) -> str:
        content = f"{msg_id}.{timestamp}.".encode() + body
        mac = hmac.new(self.secret(webhook), content, hashlib.sha256).digest()
        sig = self.signer(webhook).sign(content)
        return f"v1,{base64.b64encode(mac).decode()} v1a,{base64.b64encode(sig).decode()}"


# -- registrations -------------------------------------------------------------------


@dataclass
class Endpoint:
    id: str
    idx: int
    actor: str
    signer: str
    url: str
    filter: FeedFilter
    state: str = "active"
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "registered_at": self.idx,
            "actor": self.actor,
            "url": self.url,
            "filter": self.filter.to_json(),
            "state": self.state,
            "reason": self.reason,
        }


def parse_registration(e: FeedEvent, *, allow_private: bool = True) -> Endpoint:
    """The endpoint a ``webhook.registered`` event asks for (state ``invalid`` with a
    reason if the body is not a valid registration: the event is on the ledger anyway).
    Without ``allow_private``, a target that is or resolves to a loopback, private or
    otherwise internal address is invalid from the start (each delivery checks again)."""
    body = e.statement
    envelope = e.envelope
    endpoint = Endpoint(
        e.hash.hex(), e.index, str(body.get("actor")), str(envelope["signer"]), "", FeedFilter()
    )
    url = body.get("url")
    try:
        if not isinstance(url, str) or len(url) > MAX_URL:
            raise ValueError("url must be a string of at most 2048 characters")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http(s)://host/…")
        endpoint.url = url
        if not allow_private:
            refused = non_public(parts.hostname)
            if refused:
                raise ValueError(refused)
        flt = body.get("filter") or {}
        if not isinstance(flt, dict) or set(flt) - {"types", "cycle", "unit"}:
            raise ValueError("filter must be an object with types, cycle, unit")
        types = flt.get("types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ValueError("filter.types must be a list of statement types")
        # Checked here, not by FeedFilter.parse (which takes query strings): a non-string
        # cycle raised TypeError there and the scanner retried the same page forever.
        if not all(isinstance(flt.get(k), str | None) for k in ("cycle", "unit")):
            raise ValueError("filter.cycle and filter.unit must be strings")
        endpoint.filter = FeedFilter.parse(types, flt.get("cycle"), flt.get("unit"))
    except (ValueError, Rejected) as err:
        endpoint.state, endpoint.reason = "invalid", str(err)
    return endpoint


# -- storage -------------------------------------------------------------------------


class DeliveryStore:
    """The ``webhook_*`` tables, on the ledger's own database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.datastore = ledger.store.recorder.datastore
        self.mark = ledger.store.mark
        self.postgres = isinstance(ledger.store.recorder, PostgresLedgerRecorder)
        self.db = ledger.settings.db
        self.create_tables()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def run(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> None:
        cursor.execute(self._sql(sql), tuple(params))

    def create_tables(self) -> None:
        if self.store.read_only:
            return  # a replica's tables are the primary's (cadreledger.replica)
        with self.transaction() as c:
            for ddl in _DDL:
                c.execute(ddl)

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
        with self.transaction() as c:
            self.run(
                c,
                "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ?"
                " WHERE webhook = ? AND state = 'dead'",
                (time.time(), webhook),
            )
        return dead

    @contextmanager
    def dispatcher_lock(self) -> Iterator[bool]:
        """One dispatcher per database: yields False if another one holds it."""
        if self.postgres:
            recorder: Any = self.store.recorder
            with recorder.datastore.get_connection() as conn:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s) AS got", (WEBHOOK_LOCK_KEY,)
                ).fetchone()
                held = bool(row["got"])
                try:
                    yield held
                finally:
                    if held:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (WEBHOOK_LOCK_KEY,))
            return
        path = self.db.removeprefix("sqlite:///") + ".webhooks.lock"
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _endpoint(r: Any) -> Endpoint:
    flt = FeedFilter.from_json(json.loads(r["filter"]))
    return Endpoint(
        r["id"], r["idx"], r["actor"], r["signer"], r["url"], flt, r["state"], r["reason"]
    )


# -- the dispatcher ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 2.0  # seconds before the second attempt (then ×2 each time)
    cap: float = 3600.0
    timeout: float = 15.0  # per request; the spec suggests 15–30 s
    concurrency: int = 16

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        full = min(self.cap, self.base * 2 ** (attempts - 1))
        delay = full / 2 + random.uniform(0, full / 2)
        return float(max(delay, min(retry_after or 0.0, self.cap)))


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
    ledger: Ledger
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
        self._ready: deque[tuple[str, int, str, int]] = deque()
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

    def _ingest(self, events: list[FeedEvent]) -> list[tuple[str, int, str, int]]:
        """Record registrations, removals and the deliveries owed for ``events``, with
        the cursor, in one transaction; the deliveries that are new to the database."""
        now = time.time()
        new: list[Endpoint] = []
        removed: list[tuple[str, int]] = []
        rows: list[tuple[Any, ...]] = []
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
                    rows.append((ep.id, e.index, e.hash.hex(), "pending", 0, now))
                    self._events[e.index] = e
        if not (new or removed or rows) and time.monotonic() - self._cursor_saved < 1.0:
            # Nothing owed: the cursor may lag (a rescan after a crash is idempotent:
            # every insert above is ON CONFLICT DO NOTHING), so save it once a second.
            self.endpoints = endpoints
            return []
        self._cursor_saved = time.monotonic()
        with self.db.transaction() as c:
            for ep in new:
                self.db.run(
                    c,
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
            for webhook, idx in removed:
                self.db.run(
                    c,
                    "UPDATE webhook_endpoints SET state = 'removed', removed_idx = ? WHERE id = ?",
                    (idx, webhook),
                )
                self.db.run(
                    c,
                    "UPDATE webhook_deliveries SET state = 'cancelled'"
                    " WHERE webhook = ? AND state = 'pending'",
                    (webhook,),
                )
            for chunk in range(0, len(rows), 400):
                part = rows[chunk : chunk + 400]
                values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part))
                self.db.run(
                    c,
                    "INSERT INTO webhook_deliveries (webhook, idx, event_hash, state, attempts,"
                    f" next_at) VALUES {values} ON CONFLICT (webhook, idx) DO NOTHING",
                    [v for row in part for v in row],
                )
            self.db.run(c, _SAVE_CURSOR, ("scanner", events[-1].index))
        self.endpoints = endpoints
        if len(self._events) > 20_000:  # a cache of payloads, not a store
            for idx in sorted(self._events)[:10_000]:
                del self._events[idx]
        # Rows a scan before a restart may have written are owed through the database
        # query; every row past the cursor this process started from is new.
        return [(r[0], r[1], r[2], 0) for r in rows if r[1] > self._start_cursor]

    def _save_cursor(self) -> None:
        if self._scanned is not None:
            with self.db.transaction() as c:
                self.db.run(c, _SAVE_CURSOR, ("scanner", self._scanned))

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

    def _due(self) -> tuple[list[tuple[str, int, str, int]], float | None]:
        self._flush()
        now = time.time()
        rows = self.db.query(
            "SELECT webhook, idx, event_hash, attempts FROM webhook_deliveries"
            " WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, idx LIMIT ?",
            (now, DUE_PAGE),
        )
        due = [
            (r["webhook"], r["idx"], r["event_hash"], r["attempts"])
            for r in rows
            if (r["webhook"], r["idx"]) not in self._flight
        ]
        soonest = None
        if not due:
            later = self.db.query(
                "SELECT MIN(next_at) AS t FROM webhook_deliveries WHERE state = 'pending'"
            )
            soonest = later[0]["t"] if later and later[0]["t"] is not None else None
        return due, soonest

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
            _check_literal(endpoint.url)
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
        with self.db.transaction() as c:
            for o in outcomes:
                if o.ok:
                    self.db.run(
                        c,
                        "UPDATE webhook_deliveries SET state = 'delivered',"
                        " attempts = attempts + 1, last_status = ?, last_error = NULL,"
                        " delivered_at = ?"
                        " WHERE webhook = ? AND idx = ?",
                        (o.status, now, o.webhook, o.idx),
                    )
                    continue
                if o.cancelled:
                    self.db.run(
                        c,
                        "UPDATE webhook_deliveries SET state = 'cancelled', last_error = ?"
                        " WHERE webhook = ? AND idx = ?",
                        (o.error, o.webhook, o.idx),
                    )
                    continue
                if o.gone and o.status == 410:
                    # Standard Webhooks: 410 Gone means "stop sending": disable the endpoint.
                    self.db.run(
                        c,
                        "UPDATE webhook_endpoints SET state = 'gone', reason = ? WHERE id = ?",
                        ("HTTP 410 Gone", o.webhook),
                    )
                    if o.webhook in self.endpoints:
                        self.endpoints[o.webhook].state = "gone"
                attempts = o.attempts + 1
                dead = o.gone or attempts >= self.policy.max_attempts
                self.db.run(
                    c,
                    "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?,"
                    " last_status = ?, last_error = ? WHERE webhook = ? AND idx = ?",
                    (
                        "dead" if dead else "pending",
                        attempts,
                        now + self.policy.delay(attempts, o.retry_after),
                        o.status,
                        o.error,
                        o.webhook,
                        o.idx,
                    ),
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


def _internal(address: str) -> bool:
    """Whether an IP address is loopback, private, link-local or otherwise not public
    (an IPv4-mapped IPv6 address is judged by its IPv4 address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def non_public(host: str) -> str | None:
    """Why ``host`` may not be a webhook target (None: it may). Resolved here, at
    registration; a name that does not resolve now is left to each delivery."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        addresses = [str(info[4][0]) for info in infos]
    else:
        addresses = [host]
    for address in addresses:
        if _internal(address):
            return f"{host} is or resolves to a non-public address {address}"
    return None


TARGET_NOT_PUBLIC = PROBLEMS.add(
    "webhook-target-not-public",
    400,
    "Địa chỉ nhận webhook không phải địa chỉ công cộng",
    "The webhook target is not a public address",
)


def registration_refusal(statement: dict[str, Any], *, allow_private: bool) -> Rejected | None:
    """Why the service refuses a ``webhook.registered`` statement at submission (None: it
    admits it): a malformed target (``invalid-field``, the domain's own check), or one
    that is, or resolves now to, a loopback, private, link-local or otherwise non-public
    address — unless this ledger admits private targets (``webhooks_allow_private``, a
    setting recorded in the ledger). Each delivery checks the address it connects to
    again (``PublicResolver``): a name may resolve elsewhere later."""
    host = webhook_host(Body(statement))  # raises Rejected on a malformed target
    if allow_private:
        return None
    why = non_public(host)
    if why is None:
        return None
    return Rejected(
        TARGET_NOT_PUBLIC,
        f"Webhook chỉ được gửi tới địa chỉ công cộng: {host} là hoặc trỏ tới địa chỉ nội bộ "
        "(loopback, mạng riêng, link-local).",
        f"Webhooks are delivered to public addresses only: {why}.",
        field="url",
        host=host,
    )


class PublicResolver(AbstractResolver):
    """Resolves a webhook target's name once and hands aiohttp only public addresses:
    the connection goes to the very address that was checked, so a name that answers
    a public address to the check and a private one to the connection (DNS rebinding)
    gets nowhere."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            if _internal(result["host"]):
                # An OSError with its words as ``strerror``: aiohttp wraps it in its
                # ClientConnectorDNSError, and the delivery's last_error shows them.
                raise OSError(
                    errno.EACCES, f"{host} resolves to a non-public address {result['host']}"
                )
        return found

    async def close(self) -> None:
        await self._inner.close()


def _check_literal(url: str) -> None:
    """aiohttp connects to an IP literal without asking the resolver: check it here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: PublicResolver checks what it resolves to
    if _internal(host):
        raise PermissionError(f"{host} is a non-public address")


# -- who may still receive ----------------------------------------------------------

REGISTRANT_ROLE = "integrator"  # what registering took (domain/model.py STANDING_ACTS)


def registrant_refusal(ledger: Ledger, endpoint: Endpoint) -> str | None:
    """Why the registrant of ``endpoint`` may no longer receive deliveries or fetch its
    secret, from the registry as it stands now: the key that signed the registration
    revoked, or the integrator role gone. None when it still stands (or on a bare
    log, which has no registry)."""
    model = current_model(ledger)
    if model is None:
        return None
    person = model.registry.people.get(endpoint.actor)
    record = person.keys.get(endpoint.signer) if person else None
    if person is None or record is None or record.revoked_by is not None:
        return "the key that signed the registration is revoked"
    if REGISTRANT_ROLE not in person.roles:
        return f"the registrant no longer holds the {REGISTRANT_ROLE} role"
    return None


def registrant_check(
    ledger: Ledger, entitled: Callable[[str, FeedEvent], bool] | None = None
) -> Callable[[Endpoint, FeedEvent], str | None]:
    """The check a dispatcher makes before each delivery: the registrant's key and role
    (``registrant_refusal``), and with ``entitled`` (authentication on) its grant."""

    def standing(endpoint: Endpoint, event: FeedEvent) -> str | None:
        refused = registrant_refusal(ledger, endpoint)
        if refused is None and entitled is not None and not entitled(endpoint.actor, event):
            refused = "the registrant is no longer entitled to this event (grant withdrawn)"
        return refused

    return standing


# -- asking for an endpoint's secret -------------------------------------------------


def granted_check(
    access: AccessStore, roles_of: Callable[[str], frozenset[str]]
) -> Callable[[Endpoint], bool]:
    """With authentication on, whether a registrant may still have its endpoint's secret
    as far as grants go: oversight always; an integrator only while it holds the grant
    for the cycle its filter names, or, with no cycle in the filter, any grant at all."""

    def granted(endpoint: Endpoint) -> bool:
        if roles_of(endpoint.actor) & OVERSIGHT:
            return True
        grants = access.grants(endpoint.actor)
        return endpoint.filter.cycle in grants if endpoint.filter.cycle else bool(grants)

    return granted


def secret_for(
    db: DeliveryStore,
    keys: WebhookKeys,
    webhook: str,
    body: bytes,
    granted: Callable[[Endpoint], bool] | None = None,
) -> str:
    """The ``v1`` secret of ``webhook``, for a fresh ``webhook.secret_requested``
    statement signed with the key that signed the registration, while that key and the
    registrant's integrator role stand in the registry (and, with ``granted``, its
    grant); else ``Rejected``."""
    endpoint = db.endpoint(webhook)
    if endpoint is None:
        raise Rejected(
            NOT_FOUND,
            f"Chưa có webhook {webhook} (hoặc bộ gửi webhook chưa đọc tới đăng ký).",
            f"No webhook {webhook} (or the dispatcher has not yet read its registration).",
        )
    signed = parse_submission(body)
    statement = signed.statement
    if statement["type"] != SECRET_REQUESTED or statement.get("webhook") != webhook:
        raise Rejected(
            INVALID_REQUEST,
            f"Cần một tuyên bố {SECRET_REQUESTED} có webhook = {webhook}.",
            f"Expected a {SECRET_REQUESTED} statement with webhook = {webhook}.",
            field="statement",
        )
    issued = datetime.fromisoformat(statement["issued_at"])
    if abs(datetime.now(UTC) - issued) > FRESH:
        raise Rejected(
            INVALID_REQUEST,
            "Yêu cầu đã quá 5 phút (issued_at); hãy ký lại.",
            "The request is more than 5 minutes old (issued_at); sign a fresh one.",
            field="issued_at",
        )
    if str(signed.signer) != endpoint.signer:
        raise Rejected(
            SIGNER_MISMATCH,
            "Chỉ khóa đã ký đăng ký webhook mới được lấy bí mật của nó.",
            "Only the key that signed the registration may fetch its secret.",
        )
    refused = registrant_refusal(db.ledger, endpoint)
    if refused is None and granted is not None and not granted(endpoint):
        refused = "the registrant holds no grant for what this webhook asks"
    if refused is not None:
        raise Rejected(
            FORBIDDEN,
            "Khóa đã ký đăng ký webhook bị thu hồi, hoặc người đăng ký không còn vai trò"
            " tích hợp: không cấp bí mật.",
            f"No secret: {refused}.",
        )
    return keys.secret_text(webhook)
