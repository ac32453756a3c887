"""The service's webhook key, and each endpoint's signing key and secret derived from it.

Every delivery carries ``webhook-signature`` with two signatures over
``id.timestamp.body`` (Standard Webhooks): ``v1a,`` Ed25519 by the endpoint's own key,
published at ``/v1/webhooks/{id}/key`` as ``whpk_…``, and ``v1,`` HMAC-SHA256 with the
endpoint's own secret ``whsec_…``. Both are derived from one seed and the webhook id, so
nothing secret is stored per endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

if TYPE_CHECKING:
    from streams.log import StreamSettings

__all__ = ["WebhookKeys", "key_path"]


def key_path(settings: StreamSettings) -> Path:
    """``CADRELEDGER_WEBHOOK_KEY_FILE``, or beside the log key (``….webhookkey``)."""
    configured = os.environ.get("CADRELEDGER_WEBHOOK_KEY_FILE")
    if configured:
        return Path(configured)
    log_key = settings.key_path()
    return log_key.with_name(
        log_key.name.removesuffix(".logkey").removesuffix(".key") + ".webhookkey"
    )


class WebhookKeys:
    """The service's webhook key: the seed from which each endpoint's own ``v1a`` Ed25519
    key and its ``v1`` HMAC secret are derived.

    A key per endpoint (Standard Webhooks' advice for asymmetric signatures): the signed
    content, ``id.timestamp.body``, does not name the endpoint, so with one key for all a
    delivery captured by one registrant would verify at another's within the freshness
    window. Derived, not stored: nothing secret is kept per endpoint."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self._master = hmac.new(seed, b"cadreledger webhook v1 secrets", hashlib.sha256).digest()
        self._v1a = hmac.new(seed, b"cadreledger webhook v1a keys", hashlib.sha256).digest()
        self._signers: OrderedDict[str, Ed25519PrivateKey] = OrderedDict()

    @classmethod
    def load_or_create(cls, path: Path) -> WebhookKeys:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as f:
                    f.write("whsk_" + base64.b64encode(os.urandom(32)).decode() + "\n")
        text = path.read_text().strip()
        seed = base64.b64decode(text.removeprefix("whsk_"), validate=True)
        if len(seed) != 32:
            raise ValueError(f"{path} is not a whsk_ Ed25519 key")
        return cls(seed)

    def signer(self, webhook: str) -> Ed25519PrivateKey:
        """The endpoint's own ``v1a`` signing key."""
        found = self._signers.get(webhook)
        if found is None:
            seed = hmac.new(self._v1a, webhook.encode(), hashlib.sha256).digest()
            found = self._signers[webhook] = Ed25519PrivateKey.from_private_bytes(seed)
            while len(self._signers) > 10_000:
                self._signers.popitem(last=False)
        return found

    def public(self, webhook: str) -> bytes:
        return self.signer(webhook).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def public_text(self, webhook: str) -> str:
        """The endpoint's ``v1a`` verifying key, ``whpk_…``."""
        return "whpk_" + base64.b64encode(self.public(webhook)).decode()

    def secret(self, webhook: str) -> bytes:
        return hmac.new(self._master, webhook.encode(), hashlib.sha256).digest()

    def secret_text(self, webhook: str) -> str:
        return "whsec_" + base64.b64encode(self.secret(webhook)).decode()

    def signature_header(self, webhook: str, msg_id: str, timestamp: int, body: bytes) -> str:
        content = f"{msg_id}.{timestamp}.".encode() + body
        mac = hmac.new(self.secret(webhook), content, hashlib.sha256).digest()
        sig = self.signer(webhook).sign(content)
        return f"v1,{base64.b64encode(mac).decode()} v1a,{base64.b64encode(sig).decode()}"
