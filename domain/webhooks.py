"""A webhook registration's target, as the rules read it: its shape, never its address.

The domain is pure (no DNS): it checks only that ``url`` is an ``http(s)://host/…`` URL
of bounded length and that ``filter`` has the shape the dispatcher reads. Whether the
host is, or resolves to, a public address is judged at the edge (the service admits a
registration only then, ``streams.webhooks.registration_refusal``), and again by the
dispatcher at each delivery.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from domain.fields import Body, refuse_field

MAX_URL = 2048


def webhook_host(body: Body) -> str:
    """The host a ``webhook.registered`` body names; ``invalid-field`` if it is not an
    http(s) URL with a host, or its filter is malformed."""
    url = body.raw("url")
    if not isinstance(url, str) or len(url) > MAX_URL:
        refuse_field("url", "webhook.url", maximum=MAX_URL)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        refuse_field("url", "webhook.url", maximum=MAX_URL)
    if parts.scheme not in ("http", "https") or not host:
        refuse_field("url", "webhook.url", maximum=MAX_URL)
    if body.has("filter"):
        flt = body.raw("filter")
        if not isinstance(flt, dict) or set(flt) - {"types", "cycle", "unit"}:
            refuse_field("filter", "webhook.filter")
        types = flt.get("types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            refuse_field("filter", "webhook.filter")
        if not all(isinstance(flt.get(k), str | None) for k in ("cycle", "unit")):
            refuse_field("filter", "webhook.filter")
    return host
