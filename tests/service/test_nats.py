"""NATS JetStream: every event on the stream exactly once, in log order, across crashes.

Needs NATS at 127.0.0.1:4222 (``CADRELEDGER_TEST_NATS``); skipped with the reason when
it is not there, and a failure instead when ``CI=true``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import nats
import pytest

from cadreledger.service import Ledger
from streams.feed import Feed
from streams.nats import INDEX_HEADER, NatsSettings, Publisher
from tests.conftest import People
from tests.streaming import cli, need_nats


@pytest.fixture
def nats_settings() -> Iterator[NatsSettings]:
    url = need_nats()
    tag = secrets.token_hex(4)
    settings = NatsSettings(url, f"CLTEST_{tag}", f"cltest.{tag}")
    yield settings

    async def drop() -> None:
        nc = await nats.connect(url)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(settings.stream)
        await nc.close()

    asyncio.run(drop())


def stream_contents(settings: NatsSettings) -> list[tuple[int, str, dict[str, Any], str]]:
    """(index header, Nats-Msg-Id, CloudEvent, subject) of every message, by sequence."""

    async def read() -> list[tuple[int, str, dict[str, Any], str]]:
        nc = await nats.connect(settings.url)
        js = nc.jetstream()
        info = await js.stream_info(settings.stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(settings.stream, seq=seq)
            headers = msg.headers or {}
            out.append(
                (
                    int(headers[INDEX_HEADER]),
                    headers["Nats-Msg-Id"],
                    json.loads(msg.data or b""),
                    msg.subject,
                )
            )
        await nc.close()
        return out

    return asyncio.run(read())


def fill(ledger: Ledger, people: People, n: int) -> None:
    for i in range(n):
        ledger.append(people.statement(cadre=f"c{i % 5}", type=("a.b", "c.d")[i % 2]))


def test_every_event_once_in_order_and_a_rerun_adds_nothing(
    ledger: Ledger, people: People, nats_settings: NatsSettings
) -> None:
    fill(ledger, people, 40)
    publisher = Publisher(ledger, Feed(ledger), nats_settings)
    assert asyncio.run(publisher.run(until=40)) == 40
    again = Publisher(ledger, Feed(ledger), nats_settings)
    assert asyncio.run(again.run(until=40)) == 0 and again.position == 39

    contents = stream_contents(nats_settings)
    hashes = [e["event_hash"] for e in ledger.entries(0, 100)]
    assert [c[0] for c in contents] == list(range(40))
    assert [c[1] for c in contents] == hashes
    assert [c[2]["id"] for c in contents] == hashes
    assert contents[1][3] == f"{nats_settings.prefix}.c.d"
    assert contents[1][2]["data"]["index"] == 1


def test_two_publishers_racing_store_each_event_once(
    ledger: Ledger, people: People, nats_settings: NatsSettings
) -> None:
    """Nats-Expected-Last-Sequence makes the loser resynchronise, not duplicate."""
    fill(ledger, people, 300)

    async def both() -> None:
        await asyncio.gather(
            Publisher(ledger, Feed(ledger), nats_settings).run(until=300),
            Publisher(ledger, Feed(ledger), nats_settings).run(until=300),
        )

    asyncio.run(both())
    assert [c[0] for c in stream_contents(nats_settings)] == list(range(300))


def test_publisher_killed_at_random_under_load(
    db_url: str,
    open_ledger: Callable[..., Ledger],
    people: People,
    nats_settings: NatsSettings,
) -> None:
    """The publisher as its own process, SIGKILLed at random while statements commit at a
    steady rate; restarted each time, it leaves every event on the stream once, in order."""
    total = 600
    ledger = open_ledger(db_url)
    done = threading.Event()

    def load() -> None:
        for i in range(total):
            ledger.append(people.statement(cadre=f"c{i % 9}"))
            time.sleep(1 / 300)
        done.set()

    loader = threading.Thread(target=load)
    loader.start()
    args = [
        "--db",
        db_url,
        "publish",
        "--nats",
        nats_settings.url,
        "--stream",
        nats_settings.stream,
        "--subject-prefix",
        nats_settings.prefix,
    ]
    rng = random.Random(4222)
    kills = 0
    while not done.is_set() or kills < 2:
        publisher = cli(*args)
        time.sleep(rng.uniform(0.3, 1.5))
        publisher.send_signal(signal.SIGKILL)
        publisher.communicate()
        kills += 1
    loader.join()
    final = cli(*args, "--until", str(total))
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    contents = stream_contents(nats_settings)
    assert [c[0] for c in contents] == list(range(total))
    assert [c[1] for c in contents] == [e["event_hash"] for e in ledger.entries(0, total)]


def test_serve_publishes_from_inside_the_service(
    ledger: Ledger, people: People, nats_settings: NatsSettings
) -> None:
    """``serve --nats``: the publisher in a thread of the service, woken by its commits."""
    from streams.feed import EventHub
    from streams.integrations import Integrations

    hub = EventHub(ledger, Feed(ledger))
    with Integrations(ledger, hub, nats=nats_settings) as running:
        fill(ledger, people, 25)
        deadline = time.monotonic() + 20
        while running.publisher is None or running.publisher.position < 24:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    hub.stop()
    assert [c[0] for c in stream_contents(nats_settings)] == list(range(25))
