"""Webhook endpoints over HTTP: an endpoint's public ``v1a`` key, a registration's
state and deliveries (for its registrant and admins), and its ``v1`` secret for the
registrant."""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from access.tokens import FORBIDDEN, AccessStore
from api import schemas
from api.auth import authenticating, standing_roles, who
from api.depends import LedgerDep, access_of, on_state
from api.paging import DEFAULT_LIMIT, LINK_HEADER, Limit, PositionAfter, link_next
from api.policy import ADMIN
from api.problems import PROBLEM, too_large
from domain.registry import ROOT
from ledger.errors import NOT_FOUND, Rejected
from ledger.statement import MAX_SUBMISSION_BYTES
from streams.webhooks import DeliveryStore, Endpoint, WebhookKeys, granted_check, secret_for

HASH = re.compile(r"^[0-9a-f]{64}$")  # anchored: a JSON Schema pattern only searches
WebhookId = Annotated[str, Path(pattern=HASH.pattern, description="registration event hash")]


DeliveriesDep = Annotated[DeliveryStore, on_state("deliveries")]
KeysDep = Annotated[WebhookKeys, on_state("webhook_keys")]
AccessDep = Annotated[AccessStore | None, Depends(access_of)]

# Included only when the service has webhook keys (``create_app``).
router = APIRouter(tags=["webhooks"])


@router.get(
    "/v1/webhooks/{webhook}/key",
    response_class=PlainTextResponse,
    responses={200: schemas.TEXT, 404: PROBLEM},
)
def key(store: DeliveriesDep, keys: KeysDep, webhook: WebhookId) -> PlainTextResponse:
    """The Ed25519 key that signs this endpoint's deliveries (``v1a``), as ``whpk_…``:
    a key per endpoint, so a delivery replayed to another endpoint does not verify."""
    if store.endpoint(webhook) is None:
        raise _unknown(webhook)
    return PlainTextResponse(keys.public_text(webhook) + "\n")


@router.get("/v1/webhooks/{webhook}", responses={**schemas.ok(schemas.Webhook), 404: PROBLEM})
def registration(store: DeliveriesDep, webhook: WebhookId, request: Request) -> dict[str, Any]:
    """A registration as the dispatcher read it, and its deliveries by state (for its
    registrant and admins)."""
    endpoint = _owned(store, webhook, request)
    return {**endpoint.to_json(), "deliveries": store.counts(webhook)}


@router.get(
    "/v1/webhooks/{webhook}/deliveries",
    responses={**schemas.ok(schemas.Deliveries, headers=LINK_HEADER), 404: PROBLEM},
)
def deliveries(
    store: DeliveriesDep,
    request: Request,
    response: Response,
    webhook: WebhookId,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|dead|cancelled)$")] = None,
    after: PositionAfter = -1,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Deliveries by event position; ``state=dead`` lists the dead letters (for the
    registration's registrant and admins)."""
    _owned(store, webhook, request)
    rows = store.deliveries(webhook, state, after, limit)
    following = rows[-1]["index"] if len(rows) == limit else None
    link_next(request, response, following)
    return {"deliveries": rows, "next": following}


@router.post(
    "/v1/webhooks/{webhook}/secret",
    responses={
        **schemas.ok(schemas.WebhookSecret),
        400: PROBLEM,
        403: PROBLEM,
        404: PROBLEM,
        413: PROBLEM,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schemas.SUBMISSION_SCHEMA}},
        }
    },
)
async def secret(
    ledger: LedgerDep,
    store: DeliveriesDep,
    keys: KeysDep,
    access: AccessDep,
    webhook: WebhookId,
    request: Request,
) -> dict[str, str]:
    """The endpoint's ``v1`` HMAC secret (``whsec_…``). Body: a submission of a
    ``webhook.secret_requested`` statement ``{webhook: <id>}`` issued within 5
    minutes and signed with the key that signed the registration. Not stored."""
    body = await request.body()
    if len(body) > MAX_SUBMISSION_BYTES:
        raise too_large(MAX_SUBMISSION_BYTES)
    # With authentication on, a secret is also refused to a registrant that no longer
    # holds the grant its webhook needs.
    granted = granted_check(access, partial(standing_roles, ledger)) if access else None
    text = await anyio.to_thread.run_sync(secret_for, store, keys, webhook, body, granted)
    return {"webhook": webhook, "secret": text}


def _owned(store: DeliveryStore, webhook: str, request: Request) -> Endpoint:
    """The registration, if the caller may see it: its registrant, or an admin (the
    policy let only integrators and admins this far). Another integrator learns
    nothing of it, not even that it exists."""
    endpoint = store.endpoint(webhook)
    identity = who(request)
    if authenticating(request) and (
        identity is None
        or not (identity.roles & {ROOT, ADMIN} or (endpoint and endpoint.actor == identity.person))
    ):
        raise Rejected(
            FORBIDDEN,
            "Chỉ người đăng ký webhook này (và quản trị) được xem nó.",
            "Only this webhook's registrant (and admins) may see it.",
        )
    if endpoint is None:
        raise _unknown(webhook)
    return endpoint


def _unknown(webhook: str) -> Rejected:
    return Rejected(NOT_FOUND, f"Không có webhook {webhook}.", f"No webhook {webhook}.")
