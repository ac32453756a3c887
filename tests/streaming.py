"""Helpers for the streaming tests: a real HTTP server in a thread, an SSE reader,
a NATS availability check that fails under CI instead of skipping."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import IN_CI

NATS_URL = os.environ.get("CADRELEDGER_TEST_NATS", "nats://127.0.0.1:4222")


def _nats_reason() -> str | None:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=3) as s:
            if not s.recv(4096).startswith(b"INFO"):
                return f"{NATS_URL} does not speak NATS"
        return None
    except OSError as e:
        return f"NATS not reachable at {NATS_URL}: {e}"


NATS_UNAVAILABLE = _nats_reason()


def need_nats() -> str:
    """The NATS URL, or skip (fail with CI=true) when there is no server."""
    if NATS_UNAVAILABLE:
        if IN_CI:
            pytest.fail(f"CI=true but {NATS_UNAVAILABLE}")
        pytest.skip(NATS_UNAVAILABLE)
    return NATS_URL


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def sse_messages(response: httpx.Response) -> Iterator[Message]:
    """Parse an SSE body line by line (HTML Living Standard §9.2.6, enough for tests)."""
    current = Message()
    for line in response.iter_lines():
        if line == "":
            yield current
            current = Message()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            current.comments.append(value)
        elif name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            current.data.append(value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``cadreledger ARGS`` in a child process (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cadreledger.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parent.parent,
        **kwargs,
    )


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
