"""Every event onto a NATS JetStream stream, exactly once and in log order.

Each event is one message: subject ``<prefix>.<statement type>``, the CloudEvent as
payload (structured mode, ``application/cloudevents+json``), ``Nats-Msg-Id`` = event
hash (JetStream drops a repeat within its duplicate window) and ``Cadreledger-Index``
= the global position. Each publish also carries ``Nats-Expected-Last-Sequence``:
JetStream refuses a message unless the stream ends exactly where this publisher
thinks it does, so that neither a restart after the duplicate window nor a second
publisher racing this one can store an event twice or out of order.

The position is the stream's own: on start (and after any refusal or error) the
publisher reads the ``Cadreledger-Index`` of the stream's last message and goes on
from the next position. Nothing else needs to be kept, and a crash at any point
loses nothing: what the stream does not hold is published again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nats
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from streams.feed import Feed, FeedFilter, wait_beyond

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = ["ACK_TIMEOUT", "INDEX_HEADER", "PAGE", "NatsSettings", "Publisher"]

log = logging.getLogger(__name__)

INDEX_HEADER = "Cadreledger-Index"
PAGE = 500
ACK_TIMEOUT = 10.0  # seconds for a page's acknowledgements (publish_async has none)


@dataclass(frozen=True)
class NatsSettings:
    url: str = "nats://127.0.0.1:4222"
    stream: str = "CADRELEDGER"
    prefix: str = "cadreledger.events"


class Publisher:
    """Publishes the ledger's events to JetStream until ``stop`` is set."""

    def __init__(
        self,
        ledger: StreamedLog,
        feed: Feed,
        settings: NatsSettings,
        *,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.ledger = ledger
        self.feed = feed
        self.settings = settings
        self.say = say
        self.position = -1  # the last position the stream is known to hold
        self.last_seq = 0  # the stream's last sequence, as this publisher last saw it
        self.published = 0

    async def run(self, stop: asyncio.Event | None = None, until: int | None = None) -> int:
        """Publish until ``stop`` is set (or position ``until - 1`` is on the stream)."""
        stop = stop or asyncio.Event()
        nc = await nats.connect(
            self.settings.url, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        try:
            js = nc.jetstream()
            await self._ensure_stream(js)
            await self._resync(js)
            self.say(
                f"NATS {self.settings.url} stream {self.settings.stream}: tiếp tục sau vị trí / "
                f"resuming after position {self.position}"
            )
            while not stop.is_set():
                if until is not None and self.position >= until - 1:
                    break
                try:
                    page = await asyncio.to_thread(
                        self.feed.read, self.position, PAGE, FeedFilter(), None
                    )
                    if page.events:
                        await self._publish(js, page.events)
                    else:
                        await asyncio.to_thread(wait_beyond, self.ledger, page.tree_size, 0.5)
                except (nats.errors.Error, TimeoutError, OSError) as e:
                    log.warning("NATS publish failed (%s); resynchronising", e)
                    self.say(f"NATS lỗi / error ({e!r}); đồng bộ lại / resynchronising")
                    await asyncio.sleep(0.5)
                    await self._resync(js)
        finally:
            await nc.close()
        return self.published

    async def _ensure_stream(self, js: Any) -> None:
        config = StreamConfig(
            name=self.settings.stream,
            subjects=[f"{self.settings.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=120.0,
        )
        try:
            await js.stream_info(self.settings.stream)
        except NotFoundError:
            await js.add_stream(config)

    async def _resync(self, js: Any) -> None:
        """Take the position from the stream's last message."""
        while True:
            try:
                info = await js.stream_info(self.settings.stream)
                self.last_seq = info.state.last_seq
                if self.last_seq == 0 or info.state.messages == 0:
                    self.position = -1
                    return
                msg = await js.get_msg(self.settings.stream, seq=self.last_seq)
                self.position = int((msg.headers or {})[INDEX_HEADER])
                return
            except (nats.errors.Error, TimeoutError, OSError) as e:
                self.say(f"NATS chưa sẵn sàng / not ready ({e!r})")
                await asyncio.sleep(0.5)

    async def _publish(self, js: Any, events: list[Any]) -> None:
        """One page, pipelined: all sent in order, then every acknowledgement awaited."""
        source = self.feed.origin
        acks = []
        for i, e in enumerate(events):
            if e.index != self.position + 1 + i:
                raise RuntimeError(f"feed gap: expected {self.position + 1 + i}, got {e.index}")
            headers = {
                "Nats-Msg-Id": e.hash.hex(),
                "Nats-Expected-Last-Sequence": str(self.last_seq + i),
                INDEX_HEADER: str(e.index),
                "Content-Type": "application/cloudevents+json",
            }
            acks.append(
                await js.publish_async(
                    f"{self.settings.prefix}.{e.type}",
                    e.cloud_event_bytes(source),
                    headers=headers,
                    stream=self.settings.stream,
                )
            )
        results = await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), ACK_TIMEOUT)
        for e, ack in zip(events, results, strict=True):
            if isinstance(ack, BaseException):
                # Refused (someone else appended, or the stream moved): start again
                # from what the stream holds.
                raise nats.errors.Error(f"event {e.index} refused: {ack!r}")
            self.position = e.index
            self.last_seq = ack.seq
            if not ack.duplicate:
                self.published += 1
