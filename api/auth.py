"""Authentication (xác thực): who is asking, and whether the policy lets them.

A request carries a token as ``Authorization: Bearer clt_…`` or, from the web UI, in
the HttpOnly cookie ``cadreledger_token``. The token names a person; their roles are
read from the registry as it stands now, and a token got by signing with a key dies
with that key's revocation. Statements and other signed requests authenticate
themselves and need no token. ``api/policy.py`` holds the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from access.sign_in import sign_in
from access.tokens import FORBIDDEN, UNAUTHENTICATED, AccessStore, ServedLog, current_model
from api import schemas
from api.openapi import problem
from api.policy import INTEGRATOR, Ask, Identity, public, rule_for, text_scope
from api.problems import too_large
from cadreledger.service import Ledger
from ledger.canonical import parse_strict
from ledger.errors import INVALID_REQUEST, Rejected
from ledger.statement import MAX_SUBMISSION_BYTES
from ledger.vault import WITHHELD, Revealed

COOKIE = "cadreledger_token"
_BEARER = "bearer "


def standing_roles(ledger: ServedLog, person: str) -> frozenset[str]:
    """``person``'s standing roles in the registry now (none on a bare log)."""
    model = current_model(ledger)
    found = model.registry.people.get(person) if model else None
    return frozenset(found.roles) if found else frozenset()


class Gatekeeper:
    """Turns tokens into identities and asks the policy about each request."""

    def __init__(self, ledger: Ledger, access: AccessStore) -> None:
        self.ledger = ledger
        self.access = access

    def identify(self, token: str) -> Identity | None:
        found = self.access.resolve(token)
        if found is None:
            return None
        model = current_model(self.ledger)
        roles = set(found.roles)
        if model is not None:
            person = model.registry.people.get(found.person)
            if person is None:
                return None
            if found.signer is not None:
                record = person.keys.get(found.signer)
                if record is None or record.revoked_by is not None:
                    return None
            roles |= person.roles
        grants = self.access.grants(found.person) if INTEGRATOR in roles else frozenset()
        return Identity(found.person, frozenset(roles), grants)


def ask_of(ledger: Ledger, request: Request) -> Ask:
    """This request as the policy's rules see it."""
    return Ask(
        who(request),
        request.path_params,
        request.query_params,
        lambda: current_model(ledger),
        getattr(request.scope.get("route"), "path", ""),
    )


def who(request: Request) -> Identity | None:
    """The signed-in person of this request (None when anonymous or auth is off)."""
    found = getattr(request.state, "identity", None)
    return found if isinstance(found, Identity) else None


def authenticating(request: Request) -> bool:
    """Whether this app checks who asks (the middleware marks every request it saw)."""
    return getattr(request.state, "token_presented", None) is not None


def reveal(request: Request, found: list[str]) -> Mapping[str, Revealed]:
    """The sealed texts a response holds, opened for those the policy lets read them
    (the cycle's insiders; the cadre, or complainant, on their own page — their own
    record's texts, not others' on it) and withheld from the rest — e.g. a colleague
    reading a published cycle's levels."""
    ledger: Ledger = request.app.state.ledger
    if not authenticating(request):
        return ledger.reveal(found)
    scope = text_scope(ask_of(ledger, request))
    if scope is None:
        return ledger.reveal(found)
    if not scope:
        return dict.fromkeys(found, WITHHELD)
    texts = ledger.reveal(found)
    # Each text's data subject: whose key seals it (the cadre it is about, else its author).
    subjects = ledger.text_subjects([c for c, t in texts.items() if t.status == "revealed"])
    return {
        c: t if t.status != "revealed" or subjects.get(c) in scope else WITHHELD
        for c, t in texts.items()
    }


class Authenticate:
    """ASGI middleware: puts ``identity`` on every request's state before anything else
    (the rate limiter keys on it), reading the token store only when a token came."""

    def __init__(self, app: ASGIApp, gatekeeper: Gatekeeper) -> None:
        self.app = app
        self.gatekeeper = gatekeeper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            token = _presented(scope)
            identity = None
            if token:
                identity = await anyio.to_thread.run_sync(self.gatekeeper.identify, token)
            state = scope.setdefault("state", {})
            state["identity"], state["token_presented"] = identity, bool(token)
        await self.app(scope, receive, send)


def install(app: FastAPI, ledger: Ledger, access: AccessStore) -> None:
    """Authentication on every route of ``app``, and the routes to sign in and out."""
    gatekeeper = app.state.gatekeeper = Gatekeeper(ledger, access)
    app.add_middleware(Authenticate, gatekeeper=gatekeeper)
    # Before any route is added: a route takes its router's dependencies when added.
    app.router.dependencies.append(Depends(authorized))
    app.include_router(router)
    _document(app)


async def gatekeeper_of(request: Request) -> Gatekeeper:
    gatekeeper: Gatekeeper = request.app.state.gatekeeper
    return gatekeeper


GatekeeperDep = Annotated[Gatekeeper, Depends(gatekeeper_of)]


async def authorized(request: Request) -> None:
    """Every route's first dependency. A route nobody wrote a rule for is refused."""
    rule = rule_for(request.method, getattr(request.scope.get("route"), "path", ""))
    if rule is public:
        return
    # A rule may read the read model (a cycle's roles): off the event loop.
    ask = ask_of(request.app.state.ledger, request)
    if rule is None or not await anyio.to_thread.run_sync(rule, ask):
        raise _refusal(request)


def _refusal(request: Request) -> Rejected:
    if who(request) is not None:
        return Rejected(
            FORBIDDEN,
            "Vai trò của bạn không cho phép xem nội dung này.",
            "Your roles do not allow you to see this.",
        )
    if getattr(request.state, "token_presented", False):
        return Rejected(
            UNAUTHENTICATED,
            "Mã truy cập không hợp lệ, đã hết hạn hoặc đã bị thu hồi.",
            "The access token is invalid, expired or revoked.",
        )
    return Rejected(
        UNAUTHENTICATED,
        "Cần đăng nhập: gửi mã truy cập trong tiêu đề Authorization: Bearer.",
        "Sign in first: send an access token as Authorization: Bearer.",
    )


router = APIRouter(prefix="/v1/auth", tags=["auth"])
_REFUSED: dict[int | str, dict[str, Any]] = {
    401: problem("Not signed in, or the sign-in refused (RFC 9457)")
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "/tokens",
    status_code=201,
    responses={201: {"model": schemas.Token, "description": "A new token"}, **_REFUSED},
    openapi_extra=_body(schemas.SUBMISSION_SCHEMA),
)
async def token(gatekeeper: GatekeeperDep, request: Request) -> dict[str, Any]:
    """A token for the person who signed the body: a submission of an ``auth.token``
    statement ``{audience: <this log's origin>}`` signed within 5 minutes with a
    registered, unrevoked key. Each such statement can be used once."""
    body = await request.body()
    if len(body) > MAX_SUBMISSION_BYTES:
        raise too_large(MAX_SUBMISSION_BYTES)
    signed_in = await anyio.to_thread.run_sync(sign_in, gatekeeper.ledger, gatekeeper.access, body)
    return signed_in._asdict()


@router.post(
    "/session",
    responses={
        **schemas.ok(schemas.Session),
        **_REFUSED,
        403: problem("A request from another origin (RFC 9457 problem details)"),
    },
    openapi_extra=_body(schemas.SESSION_SCHEMA),
)
async def session(gatekeeper: GatekeeperDep, request: Request) -> JSONResponse:
    """Keep a token in an HttpOnly cookie for the web UI. Body: ``{"token": "clt_…"}``
    as ``application/json``, from this service's own origin (a form or a ``text/plain``
    post from another site could otherwise sign a browser in as someone else)."""
    _same_origin(request)
    body = await request.body()
    data = parse_strict(body, max_bytes=SESSION_MAX_BYTES)
    text = data.get("token") if isinstance(data, dict) else None
    identity = None
    if isinstance(text, str):
        identity = await anyio.to_thread.run_sync(gatekeeper.identify, text)
    if identity is None or not isinstance(text, str):
        raise Rejected(
            UNAUTHENTICATED,
            "Mã truy cập không hợp lệ, đã hết hạn hoặc đã bị thu hồi.",
            "The access token is invalid, expired or revoked.",
        )
    answer = JSONResponse({"person": identity.person, "roles": sorted(identity.roles)})
    answer.set_cookie(
        COOKIE,
        text,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.delete("/session", status_code=204)
async def sign_out(gatekeeper: GatekeeperDep, request: Request) -> Response:
    """Forget the cookie, and revoke the token it held."""
    text = request.cookies.get(COOKIE)
    if text:
        await anyio.to_thread.run_sync(gatekeeper.access.revoke, text)
    answer = Response(status_code=204)
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get("/whoami", responses=schemas.ok(schemas.WhoAmI))
def whoami(gatekeeper: GatekeeperDep, request: Request) -> dict[str, Any]:
    """The signed-in person: standing roles, roles per cycle, granted cycles."""
    identity = who(request)
    assert identity is not None  # the policy lets only the signed-in here
    model = current_model(gatekeeper.ledger)
    person = model.registry.people.get(identity.person) if model else None
    cycles = {
        cid: sorted(role for role, people in cycle.roles.items() if identity.person in people)
        for cid, cycle in (model.cycles.items() if model else ())
    }
    return {
        "person": identity.person,
        "name": person.name if person else None,
        "roles": sorted(identity.roles),
        "cycles": {cid: roles for cid, roles in cycles.items() if roles},
        "grants": sorted(identity.grants),
    }


SESSION_MAX_BYTES = 4096


def _same_origin(request: Request) -> None:
    """Refuse a cookie sign-in that a browser sends on behalf of another site (login
    CSRF): the body must be JSON — which a page of another origin cannot send without a
    CORS preflight this service never answers — and ``Origin`` (or, without it,
    ``Sec-Fetch-Site``) must say this origin. Clients that are not browsers send
    neither header and are not affected."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Rejected(
            INVALID_REQUEST,
            "Cần gửi JSON (Content-Type: application/json).",
            "Send JSON (Content-Type: application/json).",
            field="content-type",
        )
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site", "").lower()
    host = request.headers.get("host", "").lower()
    foreign = (
        urlsplit(origin).netloc.lower() != host or not host
        if origin is not None
        else site in ("cross-site", "same-site")
    )
    if foreign:
        raise Rejected(
            FORBIDDEN,
            "Chỉ trang của chính dịch vụ này mới được đăng nhập bằng cookie.",
            "Only this service's own pages may sign in with a cookie.",
        )


def _presented(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = value.decode("latin-1")
            if text[: len(_BEARER)].lower() == _BEARER:
                return text[len(_BEARER) :].strip()
        elif name == b"cookie":
            cookies: str = value.decode("latin-1")
            for part in cookies.split(";"):
                key, _, found = part.strip().partition("=")
                if key == COOKIE and found:
                    return found
    return None


def _document(app: FastAPI) -> None:
    """Say in the OpenAPI document which operations need a token, and how to send one."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "clt_… token"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = rule_for(method.upper(), path)
                if rule is public:
                    continue
                operation["security"] = [{"bearer": []}, {"cookie": []}]
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", problem("Not signed in (RFC 9457 problem details)"))
                responses.setdefault("403", problem("Not allowed (RFC 9457 problem details)"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
