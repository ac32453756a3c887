"""The HTTP service: the log's read endpoints and statement submission, under ``/v1``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import Receive, Scope, Send

from access.tokens import AccessStore
from api import cycles, feed, log, problems, statements, tiles, webhooks, witnessing
from api.auth import install as install_auth
from api.body_limit import MAX_BODY_BYTES, BodyLimit
from api.cycles import RecentReads
from api.feed import StreamSettings
from api.hardening import SecurityHeaders, install_docs
from api.intake import PATH as STATEMENTS
from api.intake import StatementIntake
from api.observability import install as install_operations
from api.openapi import complete as complete_openapi
from api.problems import (
    PROBLEM_JSON,
    on_http,
    on_rejected,
    on_validation,
    problem_response,
)
from api.rate_limit import Decision, RateLimit, RatePolicy
from api.ui import install as install_ui
from cadreledger import __version__
from cadreledger.service import Ledger
from ledger.errors import Rejected
from streams.feed import EventHub, Feed
from streams.webhooks import DeliveryStore, WebhookKeys

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "RFC 9457 problem details"}


class Compression(GZipMiddleware):
    """Starlette's gzip, without its cost per request: each answer's responder
    normalised the excluded content types (event streams among them) anew, about a
    tenth of what the middleware costs a submission; here they are normalised once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepted = ""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":  # the first, as Starlette reads it
                accepted = value.decode("latin-1")
                break
        responder: IdentityResponder
        if "gzip" in accepted:
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=(),
            )
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=())
        responder.exclude_content_types = self.exclude_content_types
        await responder(scope, receive, send)


def _refuse_writes(app: FastAPI, ledger: Ledger) -> None:
    """On a replica, a write the database refuses (a sign-in's token, a sign-out's
    revocation) is answered as a submission is: /problems/read-only, naming the primary."""
    from eventsourcing.persistence import InternalError
    from psycopg.errors import ReadOnlySqlTransaction

    async def read_only(request: Request, error: Exception) -> Response:
        cause = error if isinstance(error, ReadOnlySqlTransaction) else error.__cause__
        if not isinstance(cause, ReadOnlySqlTransaction):
            raise error  # another failure: the server error it is
        return problem_response(request, ledger.read_only_refusal())

    # eventsourcing's recorder wraps the driver's error in its own.
    app.add_exception_handler(ReadOnlySqlTransaction, read_only)
    app.add_exception_handler(InternalError, read_only)


def create_app(
    ledger: Ledger,
    *,
    hub: EventHub | None = None,
    streams: StreamSettings | None = None,
    webhook_keys: WebhookKeys | None = None,
    access: AccessStore | None = None,
    max_body: int = MAX_BODY_BYTES,
    rate: RatePolicy | None = None,
    rate_decisions: Callable[[str], Awaitable[Decision]] | None = None,
) -> FastAPI:
    """The service over ``ledger``. ``hub`` is shared with in-process integrations
    (webhooks, NATS) when the caller runs them; otherwise the app keeps its own.
    With ``access``, every request is authenticated and checked against the policy
    (api/policy.py); without it the service is open (tests, a local demo).
    ``max_body`` caps every request body (413); ``rate`` limits requests per person or
    address (429); without it nobody is limited. ``rate_decisions``: where the buckets
    are when several processes serve (an HTTP worker's, ``cadreledger.workers``)."""
    own_hub = hub is None
    if hub is None:
        hub = EventHub(ledger, Feed(ledger))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if own_hub:
            hub.stop()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served from the package, not a CDN: api/hardening.py
        # FastAPI's own OpenTelemetry bridge asks on every request whether a provider
        # was set up; none is here (logs and /metrics are the service's own).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        redoc_url=None,
        title="cadreledger",
        version=__version__,
        description=(
            "Sổ cái kiểm toán đánh giá, xếp loại cán bộ — an event-sourced, tamper-evident "
            "ledger for evaluating cadres. Errors are RFC 9457 problem details; proofs "
            "follow RFC 9162; checkpoints are C2SP signed notes."
        ),
    )
    # What the routes are handed (api/depends.py).
    app.state.ledger = ledger
    app.state.hub, app.state.streams = hub, streams or StreamSettings()
    app.state.access = access
    # Added before the operations and authentication middleware, so inside them: the
    # rate limiter sees who is asking, and refusals are logged and measured.
    app.add_middleware(StatementIntake, ledger=ledger)  # innermost: see api/intake.py
    if rate is not None:
        # A worker's submission goes to the writer with its decision: api/intake.py.
        defer = [("POST", STATEMENTS)]
        app.add_middleware(RateLimit, policy=rate, decide=rate_decisions, defer=defer)
    app.add_middleware(BodyLimit, limit=max_body)
    install_operations(app, ledger)
    app.add_middleware(SecurityHeaders)  # outside the rest: every answer, refusals too
    if access is not None:
        install_auth(app, ledger, access)
    # Outermost: answers of a kilobyte or more go gzip-compressed to clients that ask
    # (a cycle's envelopes shrink about sevenfold); event streams are never buffered.
    app.add_middleware(Compression, minimum_size=1024)
    app.add_exception_handler(Rejected, on_rejected)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    if ledger.replica:
        _refuse_writes(app, ledger)
    app.include_router(feed.router)
    if webhook_keys is not None:
        app.state.deliveries, app.state.webhook_keys = DeliveryStore(ledger), webhook_keys
        app.include_router(webhooks.router)
    if ledger.rules is not None:
        app.state.recent_reads = RecentReads()
        app.include_router(cycles.router)
    app.include_router(witnessing.router)
    app.include_router(tiles.router)  # C2SP tlog-tiles
    app.include_router(log.router)
    app.include_router(statements.router)
    app.include_router(problems.router)
    install_ui(app)  # the web UI at /ui/, and / sends there
    install_docs(app)
    complete_openapi(app)
    return app
