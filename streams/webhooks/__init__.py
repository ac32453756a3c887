"""Webhooks registered on the ledger, delivered per the Standard Webhooks spec.

An integrator registers an endpoint with a signed statement, submitted like any
other (so the registration is itself on the ledger)::

    {"type": "webhook.registered", "url": "https://…/hook",
     "filter": {"types": ["decision.issued"], "cycle": "…", "unit": "…"}}   # filter optional
    {"type": "webhook.removed", "webhook": "<event hash of the registration>"}

The filter is nested so that a ``cycle`` in it does not route the registration into
that cycle's stream. The webhook's id is its registration's event hash; only the
registrant's actor may remove it. An endpoint gets the events committed after its
registration that match its filter.

Each delivery is an HTTP POST of the event's CloudEvent (structured JSON) with
``webhook-id`` = event hash (the consumer's idempotency key), ``webhook-timestamp``
and ``webhook-signature`` holding two signatures over ``id.timestamp.body``:

- ``v1a,`` Ed25519 by the endpoint's own key, derived from the service's webhook key
  and the webhook id, published at ``/v1/webhooks/{id}/key`` as ``whpk_…`` (a key per
  endpoint, so that a delivery replayed to another endpoint does not verify there);
- ``v1,`` HMAC-SHA256 with the endpoint's own secret ``whsec_…``, derived from the
  service's key and the webhook id (so nothing secret is stored per endpoint). The
  registrant fetches it from ``POST /v1/webhooks/{id}/secret`` by signing a fresh
  ``webhook.secret_requested`` statement with the key that signed the registration.

Delivery state lives in the database (``webhook_*`` tables): a scanner turns events
into pending deliveries and moves its cursor in the same transaction, so a restart
neither skips nor repeats that step; deliveries are retried with exponential backoff
and jitter, and after ``max_attempts`` failures they are dead letters that an
operator can redeliver. At least once: a crash between a receiver's 2xx and the
state update means one more delivery of the same ``webhook-id``.

One module a job: the signing keys (``keys``), registrations (``registration``) and
their targets (``targets``), the tables (``repository``), the retry policy (``retry``),
who may still receive (``standing``) and the delivery itself (``dispatcher``).
"""

from streams.webhooks.dispatcher import Dispatcher
from streams.webhooks.keys import WebhookKeys, key_path
from streams.webhooks.registration import (
    REGISTERED,
    REMOVED,
    SECRET_REQUESTED,
    Endpoint,
    parse_registration,
)
from streams.webhooks.repository import Delivery, DeliveryStore
from streams.webhooks.retry import RetryPolicy
from streams.webhooks.standing import (
    granted_check,
    registrant_check,
    registrant_refusal,
    secret_for,
)
from streams.webhooks.targets import (
    TARGET_NOT_PUBLIC,
    WEBHOOK_PROBLEMS,
    PublicResolver,
    non_public,
    registration_refusal,
)

__all__ = [
    "REGISTERED",
    "REMOVED",
    "SECRET_REQUESTED",
    "TARGET_NOT_PUBLIC",
    "WEBHOOK_PROBLEMS",
    "Delivery",
    "DeliveryStore",
    "Dispatcher",
    "Endpoint",
    "PublicResolver",
    "RetryPolicy",
    "WebhookKeys",
    "granted_check",
    "key_path",
    "non_public",
    "parse_registration",
    "registrant_check",
    "registrant_refusal",
    "registration_refusal",
    "secret_for",
]
