"""Where a webhook may be delivered: public addresses only, unless the ledger admits
private targets (``webhooks_allow_private``, recorded in the ledger).

Checked three times: at submission (``registration_refusal``), when the dispatcher reads
the registration (``registration.parse_registration``), and at each delivery, on the
very address connected to (``PublicResolver``; ``check_literal`` for an IP literal): a
name may resolve elsewhere later (DNS rebinding).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from domain.fields import Body
from domain.webhooks import webhook_host
from ledger.errors import Catalogue, Rejected

__all__ = [
    "TARGET_NOT_PUBLIC",
    "WEBHOOK_PROBLEMS",
    "PublicResolver",
    "check_literal",
    "non_public",
    "registration_refusal",
]


def _internal(address: str) -> bool:
    """Whether an IP address is loopback, private, link-local or otherwise not public
    (an IPv4-mapped IPv6 address is judged by its IPv4 address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def non_public(host: str) -> str | None:
    """Why ``host`` may not be a webhook target (None: it may). Resolved here, at
    registration; a name that does not resolve now is left to each delivery."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        addresses = [str(info[4][0]) for info in infos]
    else:
        addresses = [host]
    for address in addresses:
        if _internal(address):
            return f"{host} is or resolves to a non-public address {address}"
    return None


WEBHOOK_PROBLEMS = Catalogue()  # registered by name in api/problems.py
TARGET_NOT_PUBLIC = WEBHOOK_PROBLEMS.add(
    "webhook-target-not-public",
    400,
    "Địa chỉ nhận webhook không phải địa chỉ công cộng",
    "The webhook target is not a public address",
)


def registration_refusal(statement: dict[str, Any], *, allow_private: bool) -> Rejected | None:
    """Why the service refuses a ``webhook.registered`` statement at submission (None: it
    admits it): a malformed target (``invalid-field``, the domain's own check), or one
    that is, or resolves now to, a loopback, private, link-local or otherwise non-public
    address — unless this ledger admits private targets (``webhooks_allow_private``, a
    setting recorded in the ledger). Each delivery checks the address it connects to
    again (``PublicResolver``): a name may resolve elsewhere later."""
    host = webhook_host(Body(statement))  # raises Rejected on a malformed target
    if allow_private:
        return None
    why = non_public(host)
    if why is None:
        return None
    return Rejected(
        TARGET_NOT_PUBLIC,
        f"Webhook chỉ được gửi tới địa chỉ công cộng: {host} là hoặc trỏ tới địa chỉ nội bộ "
        "(loopback, mạng riêng, link-local).",
        f"Webhooks are delivered to public addresses only: {why}.",
        field="url",
        host=host,
    )


class PublicResolver(AbstractResolver):
    """Resolves a webhook target's name once and hands aiohttp only public addresses:
    the connection goes to the very address that was checked, so a name that answers
    a public address to the check and a private one to the connection (DNS rebinding)
    gets nowhere."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            if _internal(result["host"]):
                # An OSError with its words as ``strerror``: aiohttp wraps it in its
                # ClientConnectorDNSError, and the delivery's last_error shows them.
                raise OSError(
                    errno.EACCES, f"{host} resolves to a non-public address {result['host']}"
                )
        return found

    async def close(self) -> None:
        await self._inner.close()


def check_literal(url: str) -> None:
    """aiohttp connects to an IP literal without asking the resolver: check it here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: PublicResolver checks what it resolves to
    if _internal(host):
        raise PermissionError(f"{host} is a non-public address")
