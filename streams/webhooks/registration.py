"""A webhook's registration: the signed ``webhook.registered`` statement read into an
``Endpoint`` (or an invalid one, with its reason: the event is on the ledger anyway)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ledger.errors import Rejected
from streams.feed import FeedEvent, FeedFilter
from streams.webhooks.targets import non_public

__all__ = [
    "MAX_URL",
    "REGISTERED",
    "REMOVED",
    "SECRET_REQUESTED",
    "Endpoint",
    "parse_registration",
]

REGISTERED = "webhook.registered"
REMOVED = "webhook.removed"
SECRET_REQUESTED = "webhook.secret_requested"
MAX_URL = 2048


@dataclass
class Endpoint:
    id: str
    idx: int
    actor: str
    signer: str
    url: str
    filter: FeedFilter
    state: str = "active"
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "registered_at": self.idx,
            "actor": self.actor,
            "url": self.url,
            "filter": self.filter.to_json(),
            "state": self.state,
            "reason": self.reason,
        }


def parse_registration(e: FeedEvent, *, allow_private: bool = True) -> Endpoint:
    """The endpoint a ``webhook.registered`` event asks for (state ``invalid`` with a
    reason if the body is not a valid registration: the event is on the ledger anyway).
    Without ``allow_private``, a target that is or resolves to a loopback, private or
    otherwise internal address is invalid from the start (each delivery checks again)."""
    body = e.statement
    envelope = e.envelope
    endpoint = Endpoint(
        e.hash.hex(), e.index, str(body.get("actor")), str(envelope["signer"]), "", FeedFilter()
    )
    url = body.get("url")
    try:
        if not isinstance(url, str) or len(url) > MAX_URL:
            raise ValueError("url must be a string of at most 2048 characters")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http(s)://host/…")
        endpoint.url = url
        if not allow_private:
            refused = non_public(parts.hostname)
            if refused:
                raise ValueError(refused)
        flt = body.get("filter") or {}
        if not isinstance(flt, dict) or set(flt) - {"types", "cycle", "unit"}:
            raise ValueError("filter must be an object with types, cycle, unit")
        types = flt.get("types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ValueError("filter.types must be a list of statement types")
        # Checked here, not by FeedFilter.parse (which takes query strings): a non-string
        # cycle raised TypeError there and the scanner retried the same page forever.
        if not all(isinstance(flt.get(k), str | None) for k in ("cycle", "unit")):
            raise ValueError("filter.cycle and filter.unit must be strings")
        endpoint.filter = FeedFilter.parse(types, flt.get("cycle"), flt.get("unit"))
    except (ValueError, Rejected) as err:
        endpoint.state, endpoint.reason = "invalid", str(err)
    return endpoint
