"""What ``cadreledger serve`` runs beside the HTTP service: the NATS publisher and the
webhook dispatcher, each in a thread with its own event loop, so that neither slows
request handling nor stops with a failing request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from streams.feed import EventHub, FeedEvent
from streams.nats import NatsSettings, Publisher
from streams.webhooks import Dispatcher, RetryPolicy, WebhookKeys, key_path

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = ["Integrations", "LoopThread"]

log = logging.getLogger(__name__)


class LoopThread:
    """Runs ``main(stop)`` in a new event loop in a daemon thread until ``stop()``."""

    def __init__(self, name: str, main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
        self.main = main
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> LoopThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def _run(self) -> None:
        async def body() -> None:
            self.loop = asyncio.get_running_loop()
            self.event = asyncio.Event()
            self.ready.set()
            try:
                await self.main(self.event)
            except Exception:
                log.exception("%s stopped", self.thread.name)

        asyncio.run(body())

    def stop(self, timeout: float = 10) -> None:
        if self.loop is not None and self.event is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # its loop has already finished
                self.loop.call_soon_threadsafe(self.event.set)
        self.thread.join(timeout)


class Integrations:
    def __init__(
        self,
        ledger: StreamedLog,
        hub: EventHub,
        *,
        nats: NatsSettings | None = None,
        webhooks: bool = False,
        allow_private: bool = False,
        policy: RetryPolicy | None = None,
        entitled: Callable[[str, FeedEvent], bool] | None = None,
    ) -> None:
        self.ledger, self.hub = ledger, hub
        self.nats, self.webhooks = nats, webhooks
        self.allow_private = allow_private
        self.policy = policy or RetryPolicy()
        self.entitled = entitled
        path = key_path(ledger.settings)
        writer = ledger.sequencer is not None
        self.webhook_keys = WebhookKeys.load_or_create(path) if writer or path.exists() else None
        self.threads: list[LoopThread] = []
        self.dispatcher: Dispatcher | None = None
        self.publisher: Publisher | None = None

    def __enter__(self) -> Integrations:
        if self.nats:
            self.publisher = Publisher(self.ledger, self.hub.feed, self.nats)
            publisher = self.publisher
            self.threads.append(LoopThread("nats-publisher", lambda stop: publisher.run(stop)))
        if self.webhooks:
            if self.webhook_keys is None:
                raise RuntimeError("no webhook key: start a writer once to create it")
            self.dispatcher = Dispatcher(
                self.ledger,
                self.hub.feed,
                self.webhook_keys,
                self.policy,
                allow_private=self.allow_private,
                entitled=self.entitled,
            )
            dispatcher = self.dispatcher
            self.threads.append(LoopThread("webhooks", dispatcher.run))
        if self.threads:
            self.hub.start()  # one read of each commit, shared by all of them
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self.threads:
            t.stop()
