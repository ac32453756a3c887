"""Server-Sent Events: id = global position, resume from Last-Event-ID, heartbeats, overflow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.feed import StreamSettings, sse
from cadreledger.service import Ledger
from streams.feed import EventHub, Feed, FeedFilter
from tests.conftest import People, examples
from tests.streaming import Message, serving, sse_messages

EVENTS = 30


@pytest.fixture
def base(ledger: Ledger) -> Iterator[str]:
    with serving(create_app(ledger, streams=StreamSettings(heartbeat=0.3, buffer=50))) as url:
        yield url


def read(
    base: str, until: int, headers: dict[str, str] | None = None, **params: Any
) -> list[Message]:
    """Data messages (and overflow notices) until one with id ``until``."""
    got: list[Message] = []
    with httpx.stream(
        "GET", base + "/v1/events/stream", params=params, headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for m in sse_messages(response):
            if m.data:
                got.append(m)
            if m.id is not None and int(m.id) >= until:
                break
    return got


def fill(ledger: Ledger, people: People, n: int = EVENTS) -> None:
    for i in range(n):
        ledger.append(people.statement(cadre=f"c{i % 4}", type=("a.b", "c.d")[i % 2]))


def fill_at_once(ledger: Ledger, people: People, n: int) -> None:
    """``n`` statements from 32 threads, so that the writer commits them in batches (one
    by one, 4,000 of them were 4,000 transactions: half a minute on PostgreSQL)."""
    statements = [people.statement(cadre=f"c{i % 4}") for i in range(n)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(ledger.append, statements))


def test_ids_are_positions_and_data_is_the_cloud_event(
    base: str, ledger: Ledger, people: People
) -> None:
    fill(ledger, people)
    got = read(base, EVENTS - 1)
    assert [int(m.id or -1) for m in got] == list(range(EVENTS))
    event = json.loads("\n".join(got[3].data))
    assert event["data"]["index"] == 3 and int(event["sequence"]) == 3
    assert got[3].event is None  # a plain "message": EventSource.onmessage sees it


def test_resume_from_last_event_id_and_after(base: str, ledger: Ledger, people: People) -> None:
    fill(ledger, people)

    @settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(min_value=-1, max_value=EVENTS - 2), st.booleans())
    def resumes(last: int, as_header: bool) -> None:
        if as_header:
            got = read(base, EVENTS - 1, headers={"Last-Event-ID": str(last)}, after=0)
        else:
            got = read(base, EVENTS - 1, after=last)
        assert [int(m.id or -1) for m in got] == list(range(last + 1, EVENTS))

    resumes()


def test_filtered_resume_and_live_events(base: str, ledger: Ledger, people: People) -> None:
    fill(ledger, people)
    got = read(base, EVENTS - 1, headers={"Last-Event-ID": "10"}, type="c.d")
    assert [int(m.id or -1) for m in got] == list(range(11, EVENTS, 2))

    def later() -> None:
        time.sleep(0.3)
        fill(ledger, people, 6)

    writer = threading.Thread(target=later)
    writer.start()
    got = read(base, EVENTS + 5, after=EVENTS - 3)
    writer.join()
    assert [int(m.id or -1) for m in got] == list(range(EVENTS - 2, EVENTS + 6))


def test_heartbeats_carry_the_scanned_position(base: str, ledger: Ledger, people: People) -> None:
    fill(ledger, people, 4)
    beats: list[Message] = []
    with httpx.stream(
        "GET", base + "/v1/events/stream", params={"type": "no.such"}, timeout=10
    ) as response:
        started = time.monotonic()
        for m in sse_messages(response):
            assert not m.data
            beats.append(m)
            if len(beats) == 3:
                break
        elapsed = time.monotonic() - started
    assert all(m.comments == ["heartbeat"] for m in beats)
    # the first tells the client it may resume after everything it skipped
    assert beats[0].id == "3" and beats[1].id is None
    assert 0.6 <= elapsed < 3


def test_bad_last_event_id_is_a_problem(base: str) -> None:
    response = httpx.get(base + "/v1/events/stream", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-request"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_client_that_falls_behind_is_told_where_to_resume(
    ledger: Ledger, people: People
) -> None:
    """The generator stands for a client stalled on a full socket: the hub's pushes
    exceed its buffer of 5, and the next thing it yields is the overflow notice."""
    fill(ledger, people, 3)
    hub = EventHub(ledger, Feed(ledger))
    try:
        stream: AsyncIterator[Any] = sse(
            hub.feed, hub, -1, FeedFilter(), StreamSettings(heartbeat=30, buffer=5)
        )
        first = [await anext(stream) for _ in range(3)]
        assert [m.id for m in first] == ["0", "1", "2"]
        waiter = _start(anext(stream))  # subscribes, then waits for commits
        await _until(lambda: bool(hub._subs))
        await _in_thread(lambda: fill(ledger, people, 1))
        assert (await waiter).id == "3"
        # Now the client stalls (nobody iterates) while 12 more commit.
        await _in_thread(lambda: fill(ledger, people, 12))
        await _until(lambda: any(s.overflowed for s in hub._subs))
        message = await anext(stream)
        assert message.event == "overflow"
        assert message.id == "3" and json.loads(message.data)["resume_after"] == 3
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        assert not hub._subs
    finally:
        hub.stop()


def _start(awaitable: Any) -> Any:
    import asyncio

    return asyncio.ensure_future(awaitable)


async def _until(condition: Any, timeout: float = 10) -> None:
    import anyio

    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


async def _in_thread(fn: Any) -> None:
    import anyio

    await anyio.to_thread.run_sync(fn)


def test_overflow_over_a_real_socket_then_resume_loses_nothing(
    ledger: Ledger, people: People
) -> None:
    """A client that stops reading: the service's writes back up, its buffer of 20
    overflows, it says where to resume and ends the stream; resuming from there (as an
    EventSource would, with Last-Event-ID) yields every later event once."""
    import socket

    total = 4000
    settings = StreamSettings(heartbeat=30, buffer=20)
    with serving(create_app(ledger, streams=settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /v1/events/stream HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(0.5)  # subscribed and caught up (nothing yet)
        fill_at_once(ledger, people, total)
        stalled.settimeout(30)
        received = b""
        while not received.endswith(b"0\r\n\r\n"):  # the chunked body's end
            part = stalled.recv(65536)
            if not part:
                break
            received += part
        stalled.close()
        text = received.decode()
        assert "event: overflow" in text
        ids = [int(line[4:]) for line in text.split("\r\n") if line.startswith("id: ")]
        resume = json.loads(text.split("event: overflow\r\ndata: ", 1)[1].split("\r\n")[0])
        assert ids[-1] == resume["resume_after"] < total - 1
        assert ids[:-1] == list(range(len(ids) - 1))  # in order, none skipped before it
        got = read(base, total - 1, headers={"Last-Event-ID": str(ids[-1])})
    assert [int(m.id or -1) for m in got] == list(range(ids[-1] + 1, total))
