"""HTTP worker processes (tiến trình phục vụ HTTP): ``cadreledger serve --workers N``.

One process writes: the sequencer, with the integrations, the witnesses and the
scheduled audit. ``N`` worker processes accept on the public port (one listening
socket, handed to each) and serve every request: reads from the database, as a second
``serve`` on the same database would, and submissions parsed and signature-checked in
the worker, then handed to the sequencer process in batches
(``cadreledger.handover``), which answers each with its receipt or refusal. So the
HTTP work and the checks run on every core, and one interpreter writes.

What does not change: receipts (the sequencer makes them), exactly-once (the
sequencer's nonces), the refusals (the same code raises them), the rate limits (the
buckets live in the sequencer process). A killed worker loses only requests nobody
was answered; the supervisor starts another on the same socket. If the sequencer
process dies, the workers answer "unavailable" and stop.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from cadreledger.config import Settings
from cadreledger.handover import HandoverClient, HandoverServer
from cadreledger.service import Ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker's app needs that ``Settings`` does not say (``serve``'s options)."""

    heartbeat: float
    sse_buffer: int
    open_access: bool
    primary: str | None = None


# How long an orphaned worker may take to stop serving before it is made to.
GIVE_UP_SECONDS = 3.0


def listen(host: str, port: int, wait: float = 30.0) -> socket.socket:
    """The public socket, bound here once and shared by every worker. A predecessor's
    workers (its writer killed outright) may hold the port a moment longer: wait."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        sock.set_inheritable(True)
        return sock


def serve_with_workers(
    ledger: Ledger, host: str, port: int, workers: int, options: WorkerOptions
) -> None:
    """Run ``workers`` HTTP workers for this writer until SIGINT or SIGTERM."""
    from api.rate_limit import RatePolicy

    settings = ledger.settings
    rate = RatePolicy(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    private = tempfile.mkdtemp(prefix="cadreledger-handover-")  # 0700: this user only
    path = os.path.join(private, "sequencer.sock")
    secret = secrets.token_bytes(32)
    handover = HandoverServer(path, secret, ledger.submit_checked, rate)
    sock = listen(host, port)
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    stop = threading.Event()

    def start() -> Any:
        child = context.Process(
            target=run_worker,
            args=(settings, sock, path, secret, options, os.getpid()),
            name="cadreledger-http",
        )
        child.start()
        return child

    def stopping(signum: int, _: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    children = [start() for _ in range(workers)]
    log.info("serving on %s:%d with %d HTTP workers", host, port, workers)
    try:
        while not stop.wait(0.5):
            for i, child in enumerate(children):
                if not child.is_alive():
                    log.warning(
                        "HTTP worker %s ended (%s); starting another", child.pid, child.exitcode
                    )
                    children[i] = start()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
        handover.close()  # after the workers: their last statements were answered
        sock.close()
        shutil.rmtree(private, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_worker(
    settings: Settings,
    sock: socket.socket,
    path: str,
    secret: bytes,
    options: WorkerOptions,
    writer: int,
) -> None:
    """A worker's life: the app over a reading ``Ledger`` whose submissions go over.
    ``writer``: the writer's process id, as it started this worker."""
    import uvicorn

    from access.tokens import AccessStore
    from api.app import create_app
    from api.feed import StreamSettings
    from api.observability import json_logging
    from api.rate_limit import RatePolicy
    from cadreledger import http_server
    from streams.feed import EventHub, Feed
    from streams.webhooks import WebhookKeys, key_path

    logs = json_logging()
    ledger = Ledger(settings, writer=False)
    ledger.primary = options.primary
    server: uvicorn.Server | None = None

    def lost() -> None:  # the sequencer process is gone: nothing more can be written
        if server is not None:
            server.should_exit = server.force_exit = True
        # Leave the port to the writer's successor even if the server is slow to stop
        # (a busy machine, clients that keep their connections): nothing here is owed to
        # anyone once the writer is gone, as nothing more can be acknowledged.
        threading.Timer(GIVE_UP_SECONDS, os._exit, (1,)).start()

    def orphaned() -> None:
        # A sequencer killed outright never says so: leave the port to its successor.
        # Its id as it gave it, not as this process finds its parent now: a writer
        # killed while this worker was starting (a respawn) would otherwise never be
        # missed, and the worker would hold the port, answering 503, for good.
        while os.getppid() == writer:
            time.sleep(0.5)
        lost()

    threading.Thread(target=orphaned, name="parent", daemon=True).start()

    ledger.forward = handover = HandoverClient(path, secret, on_lost=lost)
    hub = EventHub(ledger, Feed(ledger))
    keys = key_path(settings)
    rate = RatePolicy(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    app = create_app(
        ledger,
        hub=hub,
        streams=StreamSettings(heartbeat=options.heartbeat, buffer=options.sse_buffer),
        webhook_keys=WebhookKeys.load_or_create(keys) if keys.exists() else None,
        access=None if options.open_access else AccessStore(ledger.store),
        max_body=settings.max_body_bytes,
        rate=rate,
        rate_decisions=handover.take if rate is not None else None,
    )
    server = uvicorn.Server(uvicorn.Config(app, **http_server.SETTINGS))
    try:
        server.run(sockets=[sock])
    finally:
        hub.stop()
        ledger.close()
        logs.stop()
