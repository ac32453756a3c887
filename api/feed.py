"""The event feed over HTTP: pages of CloudEvents, and the same as Server-Sent Events.

``GET /v1/events`` answers a page and a cursor; ``GET /v1/events/stream`` catches a
client up from its cursor, then pushes each commit as it happens. An SSE event's
``id`` is its global position, so a reconnecting ``EventSource`` resumes with
``Last-Event-ID``; heartbeats are comment lines that also carry the position scanned
so far (an ``id:`` without data), so that a filtered stream resumes past events it
skipped. A client that falls more than its buffer behind gets ``event: overflow``
with the position to resume from, and the stream ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import StringConstraints
from sse_starlette import EventSourceResponse, ServerSentEvent

from api import schemas
from api.depends import on_state
from api.paging import DEFAULT_LIMIT, LINK_HEADER, MAX_POSITION, Limit, PositionAfter, link_next
from ledger.errors import INVALID_REQUEST, Rejected
from streams.feed import EventHub, Feed, FeedEvent, FeedFilter

CATCH_UP_PAGE = 500


@dataclass(frozen=True)
class StreamSettings:
    heartbeat: float = 15.0  # seconds between comment lines on an idle stream
    buffer: int = 1000  # events a live SSE client may fall behind before it overflows


# The filters, named and checked the same on every endpoint that takes them.
CODE = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # streams.feed.CODE, domain.streams.IDENTIFIER
_TYPE = r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*"
TYPES = rf"^{_TYPE}(,{_TYPE})*$"
TypeQuery = Annotated[
    list[Annotated[str, StringConstraints(pattern=TYPES, max_length=1024)]] | None,
    Query(
        alias="type",
        description="statement type; repeat it or give a comma list (any of them matches)",
    ),
]
CycleQuery = Annotated[
    str | None,
    Query(pattern=CODE, description="a cycle code: its own stream and its cadres' streams"),
]
UnitQuery = Annotated[
    str | None,
    Query(pattern=CODE, description="statements naming this unit, and every event of its cycles"),
]


# One Server-Sent Event (OpenAPI 3.1: ``schema`` describes each event of the stream).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the global position"},
        "event": {"type": "string", "enum": ["message", "overflow"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "required": ["resume_after"],
                        "properties": {"resume_after": {"type": "integer"}},
                    },
                ]
            },
        },
    },
}


HubDep = Annotated[EventHub, on_state("hub")]
StreamsDep = Annotated[StreamSettings, on_state("streams")]

router = APIRouter(tags=["events"])


@router.get("/v1/events", responses=schemas.ok(schemas.EventPage, headers=LINK_HEADER))
def events(
    hub: HubDep,
    request: Request,
    response: Response,
    after: PositionAfter = -1,
    limit: Limit = DEFAULT_LIMIT,
    types: TypeQuery = None,
    cycle: CycleQuery = None,
    unit: UnitQuery = None,
) -> dict[str, Any]:
    """CloudEvents 1.0 after position ``after``, in commit order; ``next`` is the
    cursor to pass as ``after`` (it moves past events the filters skipped). A feed
    never ends: ``next`` is always there, and ``caught_up`` says whether the log
    had more when this page was read (the ``Link`` header only then)."""
    feed = hub.feed
    page = feed.read(after, limit, FeedFilter.parse(types or (), cycle, unit))
    link_next(request, response, None if page.caught_up else page.next)
    return {
        "events": [e.cloud_event(feed.origin) for e in page.events],
        "next": page.next,
        "caught_up": page.caught_up,
        "tree_size": page.tree_size,
    }


@router.get(
    "/v1/events/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}}},
)
async def stream(
    hub: HubDep,
    settings: StreamsDep,
    after: Annotated[int | None, Query(ge=-1, le=MAX_POSITION)] = None,
    last_event_id: Annotated[
        str | None,
        Header(pattern=r"^(-1|0|[1-9][0-9]{0,14})?$", description="the last position you have"),
    ] = None,
    types: TypeQuery = None,
    cycle: CycleQuery = None,
    unit: UnitQuery = None,
) -> EventSourceResponse:
    """Server-Sent Events: ``id`` = global position, ``data`` = the CloudEvent.
    Resumes after ``Last-Event-ID`` (or ``after``); default: from the start."""
    flt = FeedFilter.parse(types or (), cycle, unit)
    start = _resume_point(last_event_id, after)
    return EventSourceResponse(
        sse(hub.feed, hub, start, flt, settings),
        ping=0,  # our own heartbeats carry the scanned position
        headers={"Cache-Control": "no-cache"},
    )


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not (text == "-1" or (text.isascii() and text.isdigit() and int(text) <= MAX_POSITION)):
            raise Rejected(
                INVALID_REQUEST,
                f"Last-Event-ID {text!r} không phải là một vị trí trong sổ cái.",
                f"Last-Event-ID {text!r} is not a log position.",
                field="Last-Event-ID",
            )
        return int(text)
    return -1 if after is None else after


def _event(e: FeedEvent, origin: str) -> ServerSentEvent:
    data = json.dumps(e.cloud_event(origin), ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(data, id=str(e.index))


async def sse(
    feed: Feed, hub: EventHub, after: int, flt: FeedFilter, settings: StreamSettings
) -> AsyncIterator[ServerSentEvent]:
    """Catch up from the database, then follow the hub; positions strictly increase."""
    cursor = after  # every position ≤ cursor was offered to the filter (and sent if it matched)
    sent = after  # the client's Last-Event-ID
    while True:
        page = await anyio.to_thread.run_sync(feed.read, cursor, CATCH_UP_PAGE, flt, None)
        for e in page.events:
            yield _event(e, feed.origin)
            sent = e.index
        cursor = page.next
        if page.caught_up:
            break
    sub, fed_from = hub.subscribe(flt, settings.buffer)
    try:
        # Commits between the last page and the subscription: read them, then go live.
        while cursor < fed_from - 1:
            page = await anyio.to_thread.run_sync(feed.read, cursor, CATCH_UP_PAGE, flt, fed_from)
            for e in page.events:
                yield _event(e, feed.origin)
                sent = e.index
            cursor = page.next
        quiet_since = time.monotonic()
        while True:
            wait = max(0.0, quiet_since + settings.heartbeat - time.monotonic())
            batch = await sub.next(wait)
            if sub.overflowed:
                yield _overflow(cursor)
                return
            for e in batch or ():
                if e.index > cursor:
                    yield _event(e, feed.origin)
                    cursor = sent = e.index
                    quiet_since = time.monotonic()
            if time.monotonic() - quiet_since >= settings.heartbeat:
                # A comment keeps proxies from closing an idle stream; an id-only
                # message moves the client's Last-Event-ID past what the filter skipped.
                if not sub.queue:
                    cursor = max(cursor, sub.scanned)
                yield ServerSentEvent(
                    comment="heartbeat", id=str(cursor) if cursor > sent else None
                )
                sent = cursor
                quiet_since = time.monotonic()
    finally:
        hub.unsubscribe(sub)


def _overflow(cursor: int) -> ServerSentEvent:
    body = {
        "resume_after": cursor,
        "detail_vi": "Máy khách nhận chậm hơn tốc độ ghi sổ; hãy kết nối lại từ vị trí "
        f"{cursor} (Last-Event-ID).",
        "detail_en": "The client fell behind the log; reconnect and resume after position "
        f"{cursor} (Last-Event-ID).",
    }
    return ServerSentEvent(json.dumps(body, ensure_ascii=False), event="overflow", id=str(cursor))
