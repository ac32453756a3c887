"""uvicorn as the service runs it: every write of a turn of the event loop in one send."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from cadreledger import http_server
from cadreledger.http_server import HELD_BYTES, _Joined


class _Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


def test_a_turns_writes_leave_in_one_send_and_nothing_is_lost() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        under = _Transport()
        joined = _Joined(under, loop)  # type: ignore[arg-type]
        joined.write(b"HTTP/1.1 201 Created\r\n\r\n")
        joined.write(b'{"index":1}')
        assert under.sent == [] and joined.get_write_buffer_size() == 35
        await asyncio.sleep(0)  # the end of the turn
        assert under.sent == [b'HTTP/1.1 201 Created\r\n\r\n{"index":1}']
        joined.write(b"x" * (HELD_BYTES + 1))  # too much to hold: at once
        assert len(under.sent) == 2
        joined.write(b"last")
        joined.close()  # what was written goes before the close
        assert under.sent[-1] == b"last" and under.closed
        await asyncio.sleep(0)
        assert len(under.sent) == 3  # the turn's call found nothing more to send
        assert joined.get_extra_info("peername") == ("127.0.0.1", 1)

        dropped = _Transport()
        aborted = _Joined(dropped, loop)  # type: ignore[arg-type]
        aborted.write(b"never")
        aborted.abort()
        await asyncio.sleep(0)
        assert dropped.sent == [] and dropped.aborted

    asyncio.run(run())


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":  # chunks with pauses: each must arrive on its own
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"%d\n" % i, "more_body": True})
            await asyncio.sleep(0.2)
        await send({"type": "http.response.body", "body": b""})
        return
    body = scope["path"].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(_app, host="127.0.0.1", port=number, **http_server.SETTINGS)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield number
    server.should_exit = True
    thread.join(10)


def _read_until(conn: socket.socket, end: bytes) -> bytes:
    got = b""
    while not got.endswith(end):
        chunk = conn.recv(65536)
        assert chunk, got
        got += chunk
    return got


def test_answers_and_streams_through_uvicorn(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for path in (b"/first", b"/second"):  # keep-alive: one answer after another
            conn.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _read_until(conn, path)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert answer.endswith(b"content-length: %d\r\n\r\n%s" % (len(path), path))
        conn.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        head = _read_until(conn, b"0\n\r\n")  # the first chunk, before the others are made
        assert b"transfer-encoding: chunked" in head and b"1\n" not in head
        rest = _read_until(conn, b"0\r\n\r\n")
        assert b"1\n" in rest and b"2\n" in rest
