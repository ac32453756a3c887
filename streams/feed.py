"""The log as integrators read it: CloudEvents in commit order, filters, a cursor.

The cursor is the global position, i.e. the event's Merkle leaf index (0-based); a
consumer asks for the events *after* the last position it has. Every event carries
its stored envelope verbatim and its leaf index, so that a consumer can check the
signature and the inclusion proof without trusting this service.

``EventHub`` reads each commit once (woken by ``Ledger.wait_beyond``), keeps the
recent events in memory and pushes them to subscribers (SSE clients, the webhook
dispatcher, the NATS publisher), each with a bounded buffer of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ledger.envelope import event_hash
from ledger.errors import INVALID_REQUEST, Rejected

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = [
    "CODE",
    "CYCLE_OPENED",
    "MAX_PAGE",
    "POLL",
    "SCAN_BUDGET",
    "SEQUENCE_DIGITS",
    "SPECVERSION",
    "TYPE",
    "CycleUnits",
    "EventHub",
    "Feed",
    "FeedEvent",
    "FeedFilter",
    "Page",
    "Subscription",
    "cycle_of",
    "sequence",
    "source_uri",
    "wait_beyond",
]

log = logging.getLogger(__name__)

SPECVERSION = "1.0"
SEQUENCE_DIGITS = 20  # zero-padded: the CloudEvents sequence must order as a string
MAX_PAGE = 1000
SCAN_BUDGET = 20_000  # rows one filtered read looks at before it answers with a cursor
CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # domain.streams.IDENTIFIER
TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")  # ledger.statement._TYPE
CYCLE_OPENED = "cycle.opened"


@dataclass(frozen=True)
class FeedEvent:
    """One stored event at its position, with the parts filters and consumers read."""

    index: int
    stream: str
    version: int
    raw: bytes

    @cached_property
    def envelope(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.raw)
        return value

    @property
    def statement(self) -> dict[str, Any]:
        statement: dict[str, Any] = self.envelope["statement"]
        return statement

    @property
    def type(self) -> str:
        return str(self.statement.get("type", ""))

    @cached_property
    def hash(self) -> bytes:
        return event_hash(self.raw)

    @property
    def cycle(self) -> str | None:
        return cycle_of(self.stream)

    def cloud_event(self, origin: str) -> dict[str, Any]:
        """CloudEvents 1.0 (JSON format) with the sequence extension; ``origin``: the
        log's (its ``source`` is ``source_uri(origin)``)."""
        return {
            "specversion": SPECVERSION,
            "id": self.hash.hex(),
            "source": source_uri(origin),
            "type": self.type,
            "subject": self.stream,
            # The log's time (version 2 envelopes); the signer's only where there is none.
            "time": self.envelope.get("logged_at") or self.statement.get("issued_at"),
            "sequence": sequence(self.index),
            "datacontenttype": "application/json",
            "data": {
                "index": self.index,
                "stream": self.stream,
                "version": self.version,
                "event_hash": self.hash.hex(),
                "envelope": self.raw.decode(),
                "statement": self.statement,
            },
        }

    def cloud_event_bytes(self, origin: str) -> bytes:
        return json.dumps(
            self.cloud_event(origin), ensure_ascii=False, separators=(",", ":")
        ).encode()


POLL = 0.02  # seconds between looks at the database when another process writes


def wait_beyond(ledger: StreamedLog, size: int, timeout: float) -> int:
    """The log's size once it exceeds ``size`` (or after ``timeout``).

    A writer wakes on its own commits. A reader in another process polls the latest
    checkpoint's size, every 20 ms rather than ``Ledger.wait_beyond``'s 200 ms: one
    indexed row, and followers' latency is what this is for. The size is only a hint
    to read on; what is read is bounded by the signed checkpoint (``Ledger.size``)."""
    if ledger.sequencer is not None:
        return ledger.wait_beyond(size, timeout)
    deadline = time.monotonic() + timeout
    while True:
        latest = ledger.store.latest_checkpoint()
        now = latest[0] if latest else 0
        if now > size or time.monotonic() >= deadline:
            return now
        time.sleep(POLL)


# "host:port/path" looks like a scheme too: only "scheme://" or a URN counts as one.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|urn:", re.IGNORECASE)


def source_uri(origin: str) -> str:
    """The CloudEvents ``source`` for a log: an absolute URI (RFC 3986), as the spec
    recommends and SDKs expect. A C2SP origin is a schema-less URL
    (``cadreledger.local/log``), so it becomes ``https://cadreledger.local/log``; an
    origin that already has a scheme is kept; characters a URI cannot hold are
    percent-encoded."""
    if _SCHEME.match(origin):
        return origin
    return "https://" + quote(origin, safe="/:@!$&'()*+,;=-._~%")


def sequence(index: int) -> str:
    return str(index).zfill(SEQUENCE_DIGITS)


def cycle_of(stream: str) -> str | None:
    """``cycle/<c>`` and ``cycle/<c>/cadre/<x>`` belong to cycle ``c`` (domain/streams.py)."""
    parts = stream.split("/")
    if parts[0] == "cycle" and len(parts) in (2, 4):
        return parts[1]
    return None


class CycleUnits:
    """Which unit each cycle belongs to, from the cycles' own ``cycle.opened`` events.

    Built incrementally as positions are read; the first opening of a cycle wins."""

    def __init__(self) -> None:
        self.by_cycle: dict[str, str] = {}
        self.through = -1  # every opening at a position ≤ this has been seen
        self.lock = threading.Lock()

    def observe(self, events: Sequence[FeedEvent]) -> None:
        """Note the openings among ``events``, if they follow on from what was seen
        (otherwise ``Feed.ensure_units`` must read the gap first)."""
        with self.lock:
            if not events or self.through < events[0].index - 1:
                return
            for e in events:
                self._note(e)

    def _note(self, e: FeedEvent) -> None:
        if e.index <= self.through:
            return
        if e.type == CYCLE_OPENED and e.cycle and e.stream == f"cycle/{e.cycle}":
            unit = e.statement.get("unit")
            if isinstance(unit, str):
                self.by_cycle.setdefault(e.cycle, unit)
        self.through = e.index

    def unit_of(self, cycle: str | None) -> str | None:
        return self.by_cycle.get(cycle) if cycle else None


@dataclass(frozen=True)
class FeedFilter:
    """Which events a consumer wants; empty means all."""

    types: frozenset[str] = frozenset()
    cycle: str | None = None
    unit: str | None = None

    @classmethod
    def parse(
        cls, types: Sequence[str] = (), cycle: str | None = None, unit: str | None = None
    ) -> FeedFilter:
        """From query parameters (``type`` may repeat or be a comma list); ``Rejected``
        on a malformed value."""
        wanted = frozenset(t.strip() for item in types for t in item.split(",") if t.strip())
        for t in wanted:
            if not TYPE.fullmatch(t):
                raise _bad("type", t)
        if cycle is not None and not CODE.fullmatch(cycle):
            raise _bad("cycle", cycle)
        if unit is not None and not unit:
            raise _bad("unit", unit)
        return cls(wanted, cycle, unit)

    @property
    def is_all(self) -> bool:
        return not self.types and self.cycle is None and self.unit is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.types:
            out["types"] = sorted(self.types)
        if self.cycle is not None:
            out["cycle"] = self.cycle
        if self.unit is not None:
            out["unit"] = self.unit
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedFilter:
        return cls.parse(data.get("types") or (), data.get("cycle"), data.get("unit"))

    def matches(self, e: FeedEvent, units: CycleUnits) -> bool:
        if self.types and e.type not in self.types:
            return False
        if self.cycle is not None and e.cycle != self.cycle:
            return False
        if self.unit is not None:
            return e.statement.get("unit") == self.unit or units.unit_of(e.cycle) == self.unit
        return True


def _bad(name: str, value: str) -> Rejected:
    return Rejected(
        INVALID_REQUEST,
        f"Bộ lọc {name}={value!r} không hợp lệ.",
        f"The filter {name}={value!r} is not valid.",
        field=name,
    )


@dataclass
class Page:
    events: list[FeedEvent]
    next: int  # the cursor: pass it as ``after`` to read on
    tree_size: int  # the log's size the page was read against

    @property
    def caught_up(self) -> bool:
        return self.next >= self.tree_size - 1


class Feed:
    """Reads events by position from the database (or the hub's memory when it has them)."""

    def __init__(self, ledger: StreamedLog) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.origin = ledger.log_key.name
        self.units = CycleUnits()
        self.hub: EventHub | None = None

    def read(self, after: int, limit: int, flt: FeedFilter, upto: int | None = None) -> Page:
        """Events at positions > ``after`` (and < ``upto``, default: the log's size) that
        match ``flt``, at most ``limit``; the cursor moves past the rows looked at even
        when none matched, so a sparse filter never rescans."""
        size = self.ledger.size() if upto is None else upto
        limit = max(1, min(limit, MAX_PAGE))
        cursor = after
        found: list[FeedEvent] = []
        scanned = 0
        while cursor < size - 1 and len(found) < limit and scanned < SCAN_BUDGET:
            want = limit - len(found) if flt.is_all else min(MAX_PAGE, SCAN_BUDGET - scanned)
            rows = self._rows(cursor, size, want, flt)
            if not rows:
                cursor = size - 1
                break
            if flt.unit is not None:
                self.ensure_units(rows[-1].index)
            for e in rows:
                if flt.matches(e, self.units):
                    found.append(e)
                    if len(found) == limit:
                        break
            cursor = found[-1].index if len(found) == limit else rows[-1].index
            scanned += len(rows)
        return Page(found, max(cursor, after), size)

    def _rows(self, after: int, upto: int, limit: int, flt: FeedFilter) -> list[FeedEvent]:
        hub = self.hub
        if hub is not None and flt.cycle is None:
            recent = hub.recent(after, upto, limit)
            if recent is not None:
                return recent
        return self.rows(after, upto, limit, flt.cycle)

    def rows(self, after: int, upto: int, limit: int, cycle: str | None = None) -> list[FeedEvent]:
        """Stored events at positions in (after, upto), by position, from the database;
        with ``cycle``, only that cycle's streams (the one selective filter SQL can do)."""
        within = None if cycle is None else (f"cycle/{cycle}", f"cycle/{cycle}/cadre/")
        return [FeedEvent(*e) for e in self.store.entries_between(after, upto, limit, within)]

    def ensure_units(self, through: int) -> None:
        """Read every cycle opening up to ``through`` (cycle streams only) into ``units``."""
        if self.units.through >= through:
            return
        with self.units.lock:
            after = self.units.through
            while after < through:
                rows = self.store.entries_of_kind("cycle", after, through, 1000)
                for entry in rows:
                    self.units._note(FeedEvent(*entry))
                if len(rows) < 1000:
                    break
                after = rows[-1].idx
            self.units.through = max(self.units.through, through)


# -- live: one reader, many subscribers --------------------------------------------------


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded buffer on its own event loop.

    The hub pushes matching events; when they would exceed ``maxsize`` the
    subscription is marked overflowed and gets nothing more: its consumer must
    resume from the last position it handled."""

    loop: asyncio.AbstractEventLoop
    flt: FeedFilter
    maxsize: int
    units: CycleUnits
    queue: deque[FeedEvent] = field(default_factory=deque)
    scanned: int = -1  # every position ≤ this has been offered to the filter
    overflowed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def _offer(self, events: list[FeedEvent], through: int) -> None:
        """In the subscriber's loop (``call_soon_threadsafe``)."""
        if self.overflowed:
            return
        wanted = [e for e in events if e.index > self.scanned and self.flt.matches(e, self.units)]
        if len(self.queue) + len(wanted) > self.maxsize:
            self.overflowed = True
            self.queue.clear()
        else:
            self.queue.extend(wanted)
            self.scanned = max(self.scanned, through)
        self.wake.set()

    async def next(self, timeout: float) -> list[FeedEvent] | None:
        """The buffered events (possibly none if only the scan moved on), or ``None``
        when ``timeout`` passed with nothing new."""
        if not self.queue and not self.overflowed:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                return None
        batch = list(self.queue)
        self.queue.clear()
        return batch


class EventHub:
    """Reads each commit once and hands the new events to every subscriber.

    Started lazily by the first subscriber; one thread, woken by the ledger. It keeps
    the latest ``keep`` events for followers who resume; each, with its parsed envelope,
    holds ~3–4 KB, and a follower further behind is served from the database."""

    def __init__(self, ledger: StreamedLog, feed: Feed, *, keep: int = 512) -> None:
        self.ledger = ledger
        self.feed = feed
        feed.hub = self
        self.keep = keep
        self.size = -1
        self._ring: deque[FeedEvent] = deque(maxlen=keep)
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.size = self.ledger.size()
            self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def subscribe(self, flt: FeedFilter, maxsize: int) -> tuple[Subscription, int]:
        """Register; returns the subscription and the log size from which on it is fed.

        Events below that size the caller reads itself (``Feed.read`` with ``upto``)."""
        self.start()
        sub = Subscription(asyncio.get_running_loop(), flt, maxsize, self.feed.units)
        with self._lock:
            self._subs.add(sub)
            sub.scanned = self.size - 1
            return sub, self.size

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _wants_units(self) -> bool:
        with self._lock:
            return any(s.flt.unit is not None for s in self._subs)

    def recent(self, after: int, upto: int, limit: int) -> list[FeedEvent] | None:
        """Events in (after, upto) from memory, or ``None`` if memory does not reach back."""
        with self._lock:
            ring = self._ring
            if not ring or ring[0].index > after + 1 or ring[-1].index < min(upto - 1, after + 1):
                return None
            start = after + 1 - ring[0].index
            out: list[FeedEvent] = []
            for e in itertools.islice(ring, start, None):
                if e.index >= upto or len(out) >= limit:
                    break
                out.append(e)
            return out

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                grown = wait_beyond(self.ledger, self.size, 0.25)
                if grown > self.size:
                    self._advance(grown)
            except Exception:  # a database hiccup: log it, wait, try again
                log.exception("event hub: reading new events failed")
                self._stop.wait(1.0)

    def _advance(self, size: int) -> None:
        after = self.size - 1
        while after < size - 1:
            events = self.feed.rows(after, size, MAX_PAGE)
            if not events:
                raise RuntimeError(f"log size {size} but no leaf after {after}")
            for e in events:
                e.envelope  # noqa: B018 - parse once here, not in every subscriber
            if self.feed.units.through < after and self._wants_units():
                self.feed.ensure_units(after)
            self.feed.units.observe(events)
            through = events[-1].index
            with self._lock:
                self._ring.extend(events)
                self.size = through + 1
                subs = list(self._subs)
            for sub in subs:
                try:
                    sub.loop.call_soon_threadsafe(sub._offer, events, through)
                except RuntimeError:  # its loop is closed: it is gone
                    self.unsubscribe(sub)
            after = through
