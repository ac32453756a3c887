"""Webhook endpoints over HTTP: the service's public signing key, a registration's
state and deliveries, and its ``v1`` secret for the registrant."""

from __future__ import annotations

import re
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from api import schemas
from api.paging import DEFAULT_LIMIT, LINK_HEADER, Limit, PositionAfter, link_next
from api.problems import PROBLEM_JSON, too_large
from cadreledger.webhooks import DeliveryStore, WebhookKeys, secret_for
from ledger.errors import NOT_FOUND, Rejected
from ledger.statement import MAX_SUBMISSION_BYTES

_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "RFC 9457 problem details"}
HASH = re.compile(r"^[0-9a-f]{64}$")  # anchored: a JSON Schema pattern only searches
WebhookId = Annotated[str, Path(pattern=HASH.pattern, description="registration event hash")]


def webhooks_router(store: DeliveryStore, keys: WebhookKeys) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.get(
        "/v1/webhooks/key",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def key() -> PlainTextResponse:
        """The Ed25519 key that signs every delivery (``v1a``), as ``whpk_…``."""
        return PlainTextResponse(keys.public_text + "\n")

    @router.get("/v1/webhooks/{webhook}", responses={**schemas.ok(schemas.Webhook), 404: _PROBLEM})
    def registration(webhook: WebhookId) -> dict[str, Any]:
        """A registration as the dispatcher read it, and its deliveries by state."""
        endpoint = store.endpoint(webhook)
        if endpoint is None:
            raise _unknown(webhook)
        return {**endpoint.to_json(), "deliveries": store.counts(webhook)}

    @router.get(
        "/v1/webhooks/{webhook}/deliveries",
        responses={**schemas.ok(schemas.Deliveries, headers=LINK_HEADER), 404: _PROBLEM},
    )
    def deliveries(
        request: Request,
        response: Response,
        webhook: WebhookId,
        state: Annotated[str | None, Query(pattern="^(pending|delivered|dead|cancelled)$")] = None,
        after: PositionAfter = -1,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Deliveries by event position; ``state=dead`` lists the dead letters."""
        if store.endpoint(webhook) is None:
            raise _unknown(webhook)
        rows = store.deliveries(webhook, state, after, limit)
        following = rows[-1]["index"] if len(rows) == limit else None
        link_next(request, response, following)
        return {"deliveries": rows, "next": following}

    @router.post(
        "/v1/webhooks/{webhook}/secret",
        responses={
            **schemas.ok(schemas.WebhookSecret),
            400: _PROBLEM,
            403: _PROBLEM,
            404: _PROBLEM,
            413: _PROBLEM,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schemas.SUBMISSION_SCHEMA}},
            }
        },
    )
    async def secret(webhook: WebhookId, request: Request) -> dict[str, str]:
        """The endpoint's ``v1`` HMAC secret (``whsec_…``). Body: a submission of a
        ``webhook.secret_requested`` statement ``{webhook: <id>}`` issued within 5
        minutes and signed with the key that signed the registration. Not stored."""
        body = await request.body()
        if len(body) > MAX_SUBMISSION_BYTES:
            raise too_large(MAX_SUBMISSION_BYTES)
        text = await anyio.to_thread.run_sync(secret_for, store, keys, webhook, body)
        return {"webhook": webhook, "secret": text}

    return router


def _unknown(webhook: str) -> Rejected:
    return Rejected(NOT_FOUND, f"Không có webhook {webhook}.", f"No webhook {webhook}.")
