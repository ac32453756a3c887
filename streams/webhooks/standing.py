"""Who may still receive a webhook's deliveries, or fetch its secret: the registrant's
key and integrator role as the registry stands now, and (with authentication on) its
grants. Checked before every delivery and every secret handed out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from access.tokens import FORBIDDEN, OVERSIGHT, AccessStore, current_model
from ledger.errors import INVALID_REQUEST, NOT_FOUND, SIGNER_MISMATCH, Rejected
from ledger.statement import parse_submission
from streams.feed import FeedEvent
from streams.webhooks.keys import WebhookKeys
from streams.webhooks.registration import SECRET_REQUESTED, Endpoint
from streams.webhooks.repository import DeliveryStore

if TYPE_CHECKING:
    from streams.log import StreamedLog

__all__ = [
    "REGISTRANT_ROLE",
    "granted_check",
    "registrant_check",
    "registrant_refusal",
    "secret_for",
]

FRESH = timedelta(minutes=5)  # how old a secret request may be
REGISTRANT_ROLE = "integrator"  # what registering took (domain/model.py STANDING_ACTS)


def registrant_refusal(ledger: StreamedLog, endpoint: Endpoint) -> str | None:
    """Why the registrant of ``endpoint`` may no longer receive deliveries or fetch its
    secret, from the registry as it stands now: the key that signed the registration
    revoked, or the integrator role gone. None when it still stands (or on a bare
    log, which has no registry)."""
    model = current_model(ledger)
    if model is None:
        return None
    person = model.registry.people.get(endpoint.actor)
    record = person.keys.get(endpoint.signer) if person else None
    if person is None or record is None or record.revoked_by is not None:
        return "the key that signed the registration is revoked"
    if REGISTRANT_ROLE not in person.roles:
        return f"the registrant no longer holds the {REGISTRANT_ROLE} role"
    return None


def registrant_check(
    ledger: StreamedLog, entitled: Callable[[str, FeedEvent], bool] | None = None
) -> Callable[[Endpoint, FeedEvent], str | None]:
    """The check a dispatcher makes before each delivery: the registrant's key and role
    (``registrant_refusal``), and with ``entitled`` (authentication on) its grant."""

    def standing(endpoint: Endpoint, event: FeedEvent) -> str | None:
        refused = registrant_refusal(ledger, endpoint)
        if refused is None and entitled is not None and not entitled(endpoint.actor, event):
            refused = "the registrant is no longer entitled to this event (grant withdrawn)"
        return refused

    return standing


# -- asking for an endpoint's secret -------------------------------------------------


def granted_check(
    access: AccessStore, roles_of: Callable[[str], frozenset[str]]
) -> Callable[[Endpoint], bool]:
    """With authentication on, whether a registrant may still have its endpoint's secret
    as far as grants go: oversight always; an integrator only while it holds the grant
    for the cycle its filter names, or, with no cycle in the filter, any grant at all."""

    def granted(endpoint: Endpoint) -> bool:
        if roles_of(endpoint.actor) & OVERSIGHT:
            return True
        grants = access.grants(endpoint.actor)
        return endpoint.filter.cycle in grants if endpoint.filter.cycle else bool(grants)

    return granted


def secret_for(
    db: DeliveryStore,
    keys: WebhookKeys,
    webhook: str,
    body: bytes,
    granted: Callable[[Endpoint], bool] | None = None,
) -> str:
    """The ``v1`` secret of ``webhook``, for a fresh ``webhook.secret_requested``
    statement signed with the key that signed the registration, while that key and the
    registrant's integrator role stand in the registry (and, with ``granted``, its
    grant); else ``Rejected``."""
    endpoint = db.endpoint(webhook)
    if endpoint is None:
        raise Rejected(
            NOT_FOUND,
            f"Chưa có webhook {webhook} (hoặc bộ gửi webhook chưa đọc tới đăng ký).",
            f"No webhook {webhook} (or the dispatcher has not yet read its registration).",
        )
    signed = parse_submission(body)
    statement = signed.statement
    if statement["type"] != SECRET_REQUESTED or statement.get("webhook") != webhook:
        raise Rejected(
            INVALID_REQUEST,
            f"Cần một tuyên bố {SECRET_REQUESTED} có webhook = {webhook}.",
            f"Expected a {SECRET_REQUESTED} statement with webhook = {webhook}.",
            field="statement",
        )
    issued = datetime.fromisoformat(statement["issued_at"])
    if abs(datetime.now(UTC) - issued) > FRESH:
        raise Rejected(
            INVALID_REQUEST,
            "Yêu cầu đã quá 5 phút (issued_at); hãy ký lại.",
            "The request is more than 5 minutes old (issued_at); sign a fresh one.",
            field="issued_at",
        )
    if str(signed.signer) != endpoint.signer:
        raise Rejected(
            SIGNER_MISMATCH,
            "Chỉ khóa đã ký đăng ký webhook mới được lấy bí mật của nó.",
            "Only the key that signed the registration may fetch its secret.",
        )
    refused = registrant_refusal(db.ledger, endpoint)
    if refused is None and granted is not None and not granted(endpoint):
        refused = "the registrant holds no grant for what this webhook asks"
    if refused is not None:
        raise Rejected(
            FORBIDDEN,
            "Khóa đã ký đăng ký webhook bị thu hồi, hoặc người đăng ký không còn vai trò"
            " tích hợp: không cấp bí mật.",
            f"No secret: {refused}.",
        )
    return keys.secret_text(webhook)
