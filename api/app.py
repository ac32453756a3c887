"""The HTTP service: the log's read endpoints and statement submission, under ``/v1``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from access.tokens import AccessStore
from api import schemas, tiles, witnessing
from api.auth import install as install_auth
from api.body_limit import MAX_BODY_BYTES, BodyLimit
from api.cycles import cycles_router
from api.feed import StreamSettings, feed_router
from api.hardening import SecurityHeaders, install_docs
from api.intake import StatementIntake
from api.intake import submit as submit_statement
from api.observability import install as install_operations
from api.openapi import complete as complete_openapi
from api.paging import (
    DEFAULT_LIMIT,
    LINK_HEADER,
    MAX_POSITION,
    Limit,
    link_next,
    link_next_start,
)
from api.problems import (
    PROBLEM_JSON,
    describe,
    on_http,
    on_rejected,
    on_validation,
    problem_response,
)
from api.rate_limit import Decision, RateLimit, RatePolicy
from api.schemas import SUBMISSION_SCHEMA
from api.ui import install as install_ui
from api.webhooks import webhooks_router
from cadreledger import __version__
from cadreledger.service import Ledger
from ledger.errors import CONFLICTING_PARAMETERS, INVALID_REQUEST, NOT_FOUND, Rejected
from streams.feed import EventHub, Feed
from streams.webhooks import DeliveryStore, WebhookKeys

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "RFC 9457 problem details"}


MAX_BATCH = 1000  # inclusion proofs in one answer


def _indexes(text: str) -> list[int]:
    """``indexes=3,5,8``: leaf positions, at most ``MAX_BATCH`` of them."""
    parts = text.split(",")
    if len(parts) > MAX_BATCH or not all(p.isdigit() and len(p) <= 12 for p in parts):
        raise Rejected(
            INVALID_REQUEST,
            f"indexes phải là tối đa {MAX_BATCH} số không âm, cách nhau bởi dấu phẩy.",
            f"indexes must be at most {MAX_BATCH} non-negative integers, comma-separated.",
            field="indexes",
        )
    return [int(p) for p in parts]


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


def b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


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
    # Added before the operations and authentication middleware, so inside them: the
    # rate limiter sees who is asking, and refusals are logged and measured.
    app.add_middleware(StatementIntake, ledger=ledger)  # innermost: see api/intake.py
    if rate is not None:
        app.add_middleware(RateLimit, policy=rate, decide=rate_decisions)
    app.add_middleware(BodyLimit, limit=max_body)
    install_operations(app, ledger)
    app.add_middleware(SecurityHeaders)  # outside the rest: every answer, refusals too
    if access is not None:
        install_auth(app, ledger, access)
    # Outermost: answers of a kilobyte or more go gzip-compressed to clients that ask
    # (a cycle's envelopes shrink about sevenfold); event streams are never buffered.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_exception_handler(Rejected, on_rejected)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    if ledger.replica:
        _refuse_writes(app, ledger)
    app.include_router(feed_router(hub.feed, hub, streams or StreamSettings()))
    if webhook_keys is not None:
        app.include_router(webhooks_router(DeliveryStore(ledger), webhook_keys, access))
    if ledger.rules is not None:
        app.include_router(cycles_router(ledger, _PROBLEM))
    app.include_router(witnessing.router)
    app.include_router(tiles.router)  # C2SP tlog-tiles

    @app.get(
        "/v1/log/checkpoint",
        response_class=PlainTextResponse,
        tags=["log"],
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def checkpoint() -> PlainTextResponse:
        """The latest signed checkpoint (C2SP tlog-checkpoint as a signed note)."""
        return PlainTextResponse(ledger.checkpoint(), headers={"Cache-Control": "no-cache"})

    @app.get(
        "/v1/log/key",
        response_class=PlainTextResponse,
        tags=["log"],
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def key() -> PlainTextResponse:
        """The log's verifier key, ``name+keyid+base64``."""
        return PlainTextResponse(str(ledger.log_key) + "\n")

    @app.get(
        "/v1/log/proof/inclusion",
        tags=["log"],
        responses={**schemas.ok(schemas.InclusionProof), 400: _PROBLEM},
    )
    def inclusion(
        size: Annotated[
            int,
            Query(ge=1, description="a tree size the log has (/problems/invalid-range beyond)"),
        ],
        index: Annotated[int | None, Query(ge=0, description="a position below `size`")] = None,
        indexes: Annotated[
            str | None,
            Query(
                max_length=MAX_BATCH * 13,
                pattern=r"^[0-9]{1,12}(,[0-9]{1,12}){0,999}$",
                description=f"or up to {MAX_BATCH} leaves, comma-separated: one proof each "
                "(exactly one of `index` and `indexes`: /problems/conflicting-parameters)",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """RFC 9162 inclusion proof of the leaf at ``index`` in the tree of ``size`` —
        or, with ``indexes``, of many leaves in one answer (``proofs``), so that a
        reader checking a whole cycle asks once per few hundred events."""
        if (index is None) == (indexes is None):
            raise Rejected(
                CONFLICTING_PARAMETERS,
                "Cần đúng một trong hai tham số index và indexes.",
                "Give index or indexes, exactly one of them.",
                field="index",
            )
        if index is not None:
            return {"index": index, "tree_size": size, "proof": b64(ledger.inclusion(index, size))}
        wanted = _indexes(indexes or "")
        return {
            "tree_size": size,
            "proofs": [{"index": i, "proof": b64(ledger.inclusion(i, size))} for i in wanted],
        }

    @app.get(
        "/v1/log/proof/consistency",
        tags=["log"],
        responses={**schemas.ok(schemas.ConsistencyProof), 400: _PROBLEM},
    )
    def consistency(
        first: Annotated[int, Query(alias="from", ge=1, description="a tree size, at most `to`")],
        second: Annotated[
            int,
            Query(
                alias="to",
                ge=1,
                description="a tree size the log has (/problems/invalid-range beyond, "
                "or below `from`)",
            ),
        ],
    ) -> dict[str, Any]:
        """RFC 9162 consistency proof between tree sizes ``from`` and ``to``."""
        return {"from": first, "to": second, "proof": b64(ledger.consistency(first, second))}

    @app.get(
        "/v1/log/entries",
        tags=["log"],
        responses={**schemas.ok(schemas.LogEntries, headers=LINK_HEADER), 400: _PROBLEM},
    )
    def entries(
        request: Request,
        response: Response,
        start: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_POSITION,
                description="the first position wanted (never with `after`: "
                "/problems/conflicting-parameters)",
            ),
        ] = None,
        after: Annotated[
            int | None,
            Query(
                ge=-1,
                le=MAX_POSITION,
                description="or, as on every list: the last position you have (never with "
                "`start`: /problems/conflicting-parameters)",
            ),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Log entries from position ``start`` (or after ``after``): event hash and the
        full stored envelope. ``next`` is the next ``start`` — or, paging with
        ``after``, the next ``after``."""
        if start is not None and after is not None:
            raise Rejected(
                CONFLICTING_PARAMETERS,
                "Chỉ dùng một trong hai tham số start và after.",
                "Give start or after, not both.",
                field="after",
            )
        first = start if start is not None else (after + 1 if after is not None else 0)
        rows = ledger.entries(first, limit)
        last = rows[-1]["index"] if len(rows) == limit else None
        if after is not None:
            link_next(request, response, last)
            return {"entries": rows, "next": last}
        following = None if last is None else last + 1
        link_next_start(request, response, following)
        return {"entries": rows, "next": following}

    @app.post(
        "/v1/statements",
        status_code=201,
        tags=["statements"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SUBMISSION_SCHEMA}},
            }
        },
        response_model=schemas.Receipt,  # documents; the receipt is answered as it is
        responses={
            200: {
                "description": "A retry of a statement already stored: its receipt",
                "model": schemas.Receipt,
            },
            400: _PROBLEM,
            403: _PROBLEM,
            409: _PROBLEM,
            413: _PROBLEM,
            503: _PROBLEM,
        },
    )
    async def submit(request: Request) -> Response:
        """Submit a signed statement; the answer is its receipt (201), or the stored
        statement's receipt (200) when it is a retry of the same statement.
        (Answered by ``api.intake.StatementIntake`` before routing.)"""
        return await submit_statement(ledger, request.receive, request.scope["headers"])

    @app.get(
        "/problems/{slug}",
        tags=["meta"],
        responses={**schemas.ok(schemas.ProblemType), 404: _PROBLEM},
    )
    def problem(slug: str) -> dict[str, Any]:
        """What a problem ``type`` means."""
        described = describe(slug)
        if described is None:
            raise Rejected(NOT_FOUND, f"Không có loại lỗi {slug!r}.", f"No problem type {slug!r}.")
        return described

    install_ui(app)  # the web UI at /ui/, and / sends there
    install_docs(app)
    complete_openapi(app)
    return app
