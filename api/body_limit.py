"""Request bodies have a ceiling (giới hạn kích thước yêu cầu), checked before they are read.

A declared ``Content-Length`` over the limit is refused at once, before any endpoint
runs; a body sent without one (chunked) is counted as it arrives and refused at the
first byte over. Either way the answer is a 413 problem and the rest is never read
into memory. Endpoints may hold tighter limits of their own (a statement: 65 KiB).

Not FastAPI's ``max_body_size``: Starlette's limiter answers a declared over-limit
body in plain text, replacing whatever response the app starts, and every refusal
here is an RFC 9457 problem.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response, too_large
from ledger.errors import Rejected

MAX_BODY_BYTES = 256 * 1024


class TooLarge(Rejected):
    """Raised from ``receive`` inside the app, whose handler renders the problem."""


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem_response(Request(scope), too_large(limit))(scope, receive, send)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = too_large(limit)
                    raise TooLarge(
                        refused.problem, refused.detail_vi, refused.detail_en, limit=limit
                    )
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge as e:
            if started:  # too late to answer: the response is on its way
                raise
            # The body was read outside the app's handlers (by a middleware).
            await problem_response(Request(scope), e)(scope, receive, send)
