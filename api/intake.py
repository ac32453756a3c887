"""``POST /v1/statements``, the service's hot path, answered before routing.

Every signed statement a person submits comes through here, and on two cores the HTTP
framework's own layers per request (exception middleware, exit stack, router,
request handler) cost as much as the ledger's work. This middleware answers the
submission directly, inside the service's own middleware — request id, log line and
latency metric, body limit, rate limit, authentication — so that only the framework's
layers are skipped. The route stays declared in the app for the OpenAPI document, and
answers the same way if it is ever reached.

In an HTTP worker (``cadreledger.workers``) the rate limiter leaves the submission's
decision to this endpoint (``api.rate_limit.Deferred``): the checked statement and the
key of the bucket it is counted against go to the writer together, one trip for both.
A submission refused here (too large, malformed, a bad signature) has its decision
taken first, so a caller over the limit gets the 429 as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem_response, too_large
from api.rate_limit import DEFERRED, Deferred, Limited
from cadreledger.service import Ledger
from ledger.errors import Rejected
from ledger.receipt import Receipt
from ledger.statement import MAX_SUBMISSION_BYTES

PATH = "/v1/statements"


class _Route:
    """What routing would have put in ``scope["route"]``: logs and metrics name it."""

    path = PATH


async def submit(
    ledger: Ledger, receive: Receive, headers: Any, rate: Deferred | None = None
) -> Response:
    """Read a submission (at most ``MAX_SUBMISSION_BYTES``) and answer with its receipt:
    201, or 200 for a retry of a statement already stored. ``Rejected`` propagates;
    with ``rate``, ``Limited`` too, before any other refusal."""
    try:
        receipt = await _submit(ledger, receive, headers, rate)
    except Rejected as refused:
        if rate is None or rate.decision is not None:
            raise
        try:
            await rate.take()  # Limited: over the limit, the 429 goes first
        except Rejected as unavailable:  # the writer does not answer
            raise unavailable from refused
        raise
    # The bytes JSONResponse would send (compact, UTF-8), at a fraction of json's cost.
    return Response(
        orjson.dumps(receipt.to_json()),
        status_code=200 if receipt.duplicate else 201,
        media_type="application/json",
    )


async def _submit(ledger: Ledger, receive: Receive, headers: Any, rate: Deferred | None) -> Receipt:
    for name, value in headers:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_SUBMISSION_BYTES:
            raise too_large(MAX_SUBMISSION_BYTES)
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_SUBMISSION_BYTES:
            raise too_large(MAX_SUBMISSION_BYTES)
        if not message.get("more_body", False):
            break
    if rate is None:
        return await ledger.submit_async(bytes(body))
    if ledger.forward is None:  # nobody to send the key along to: decide, then submit
        await rate.take()
        return await ledger.submit_async(bytes(body))
    rate.decision, outcome = await ledger.forward.submit_counted(bytes(body), rate.key)
    if outcome is None:  # not sequenced
        raise Limited(rate.decision)
    return outcome()


class StatementIntake:
    """ASGI middleware: answers ``POST /v1/statements``; passes everything else on."""

    def __init__(self, app: ASGIApp, ledger: Ledger) -> None:
        self.app, self.ledger = app, ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route
        try:
            response = await submit(self.ledger, receive, scope["headers"], scope.get(DEFERRED))
        except Rejected as refused:
            response = problem_response(Request(scope), refused)
        await response(scope, receive, send)
