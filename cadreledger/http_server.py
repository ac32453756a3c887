"""uvicorn as the service runs it (``serve``, and each HTTP worker of ``serve --workers``).

uvicorn writes an answer's status line and headers, then its body, as two writes to
the socket: two system calls, two TCP segments, and a client woken twice. For a
receipt that was about a fifth of what HTTP costs the service per statement, and a
third of the client's cost. ``HttpProtocol`` is uvicorn's own (httptools) protocol over
a transport that holds what is written until the end of the event loop's turn, then
sends it at once: head and body leave in one send, and the answers of every connection
served in that turn leave together (the clients are woken once for all of them). A
streamed answer (SSE) waits at most for the end of that turn, and no more than
``HELD_BYTES`` wait in memory per connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HELD_BYTES = 64 * 1024  # beyond this a write goes out at once


class _Joined:
    """A transport that joins what is written in one turn of the event loop (see the
    module's text). Everything that is not writing goes to the transport underneath."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size > HELD_BYTES:
            self._flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if not self._held:
            return  # already sent (a large write, a close): the turn's call finds nothing
        held, self._held, self._size = self._held, [], 0
        if not self._transport.is_closing():
            self._transport.write(b"".join(held))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()  # what was written goes out before the connection closes
        self._transport.close()

    def abort(self) -> None:
        self._held, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, each answer's head and body in one send."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joined: Any = _Joined(transport, self.loop)  # a transport in all but name
        super().connection_made(joined)


# uvicorn's settings for the service (``uvicorn.run``, ``uvicorn.Config``): this protocol
# (on uvloop when installed), and no access log of uvicorn's own: it would print raw
# paths, people's ids; the service logs route templates (api/observability.py).
SETTINGS: dict[str, Any] = {"http": HttpProtocol, "log_config": None, "access_log": False}
