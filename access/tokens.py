"""Access tokens and integrator grants (quyền truy cập), kept beside the ledger.

A token stands for one person of the key registry. People get one by signing a
short ``auth.token`` statement with their own key (``POST /v1/auth/tokens``); an
operator with access to the database may issue one directly (``cadreledger token
issue``), e.g. for an integrator's machine. Only a token's SHA-256 is stored, so a
copy of the database hands out no sessions. What a person may see is decided on
every request from the registry as it stands then (api/policy.py): revoking a role
or a key takes effect at once, whatever tokens are out.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from access.repository import AccessRepository
from ledger.errors import Catalogue, Rejected
from ledger.statement import SignedStatement
from ledger.store import LogStore

if TYPE_CHECKING:
    from domain.model import Model

__all__ = [
    "ACCESS_PROBLEMS",
    "BAD_LOGIN",
    "DEFAULT_TTL",
    "FORBIDDEN",
    "LOGIN_TYPE",
    "LOGIN_WINDOW",
    "OVERSIGHT",
    "TOKEN_PREFIX",
    "UNAUTHENTICATED",
    "AccessStore",
    "InCycle",
    "ServedLog",
    "Token",
    "current_model",
]

# Standing roles that see inside every cycle: the whole log, unpublished scores included.
OVERSIGHT = frozenset({"root", "admin", "auditor", "inspector"})
TOKEN_PREFIX = "clt_"
DEFAULT_TTL = timedelta(hours=12)
LOGIN_TYPE = "auth.token"
LOGIN_WINDOW = timedelta(minutes=5)

ACCESS_PROBLEMS = Catalogue()  # registered by name in api/problems.py
UNAUTHENTICATED = ACCESS_PROBLEMS.add(
    "unauthenticated", 401, "Chưa xác thực", "Authentication required"
)
FORBIDDEN = ACCESS_PROBLEMS.add("forbidden", 403, "Không có quyền truy cập", "Access denied")
BAD_LOGIN = ACCESS_PROBLEMS.add("bad-login", 401, "Đăng nhập không hợp lệ", "Login refused")


class InCycle(Protocol):
    """What an entitlement reads of an event (a ``streams.feed.FeedEvent``): its cycle."""

    @property
    def cycle(self) -> str | None: ...


@dataclass(frozen=True)
class Token:
    """What a presented token proves: who, with which key (None: operator-issued), and
    any roles the operator added (for a bare log, which has no registry)."""

    person: str
    signer: str | None
    roles: frozenset[str]
    expires_at: float


class AccessStore:
    """Tokens and grants, over the ``access_*`` tables of the ledger's own database
    (``access.repository``: SQLite or PostgreSQL)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.tables = AccessRepository(store)

    def issue(
        self,
        person: str,
        *,
        signer: str | None = None,
        roles: frozenset[str] = frozenset(),
        ttl: timedelta = DEFAULT_TTL,
        login_nonce: str | None = None,
    ) -> tuple[str, float]:
        """A new token for ``person`` and when it expires (Unix time)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        expires = now + ttl.total_seconds()
        try:
            self.tables.add_token(
                _digest(token),
                person,
                signer=signer,
                roles=roles,
                login_nonce=login_nonce,
                issued_at=now,
                expires_at=expires,
            )
        except Exception as e:  # the UNIQUE nonce: a login statement used twice
            if login_nonce is not None and self.tables.nonce_used(login_nonce):
                raise Rejected(
                    BAD_LOGIN,
                    "Tuyên bố đăng nhập này đã được dùng.",
                    "This login statement was already used.",
                ) from e
            raise
        return token, expires

    def login(self, signed: SignedStatement, origin: str, ttl: timedelta = DEFAULT_TTL) -> str:
        """A token for a verified ``auth.token`` statement meant for this log, signed
        within the last five minutes (its key is checked against the registry by the
        caller). Each login statement can be used once."""
        statement = signed.statement
        if statement["type"] != LOGIN_TYPE or statement.get("audience") != origin:
            raise Rejected(
                BAD_LOGIN,
                f"Cần tuyên bố loại {LOGIN_TYPE} với audience = {origin!r}.",
                f"Expected a {LOGIN_TYPE} statement with audience = {origin!r}.",
            )
        issued = datetime.fromisoformat(statement["issued_at"])
        if abs(datetime.now(UTC) - issued) > LOGIN_WINDOW:
            raise Rejected(
                BAD_LOGIN,
                "Tuyên bố đăng nhập phải được ký trong vòng 5 phút.",
                "The login statement must be signed within the last 5 minutes.",
            )
        token, _ = self.issue(
            statement["actor"],
            signer=str(signed.signer),
            ttl=ttl,
            login_nonce=statement["nonce"],
        )
        return token

    def resolve(self, token: str) -> Token | None:
        """The live token behind ``token``, or None (unknown, expired or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        # Read on every request, never cached: a revocation (``token revoke``, sign-out,
        # from any process) must close the door on the very next request.
        now = time.time()
        row = self.tables.live_token(_digest(token))
        found = Token(*row) if row is not None else None
        return found if found is not None and found.expires_at > now else None

    def revoke(self, token: str) -> None:
        self.tables.revoke(_digest(token))

    def revoke_person(self, person: str) -> int:
        """Every token of ``person`` (an operator's answer to a lost device)."""
        return self.tables.revoke_person(person)

    # -- an integrator's cycles -------------------------------------------------------

    def grant(self, person: str, cycle: str) -> None:
        self.tables.grant(person, cycle)

    def withdraw(self, person: str, cycle: str) -> None:
        self.tables.withdraw(person, cycle)

    def grants(self, person: str) -> frozenset[str]:
        return self.tables.grants(person)

    def entitlement(
        self, roles_of: Callable[[str], frozenset[str]]
    ) -> Callable[[str, InCycle], bool]:
        """Whether a webhook's registrant may receive an event: oversight receives every
        one; anyone else only those of the cycles granted to them. Read anew at each
        call (each delivery): a withdrawn grant stops the very next delivery."""

        def entitled(person: str, event: InCycle) -> bool:
            if roles_of(person) & OVERSIGHT:
                return True
            return event.cycle is not None and event.cycle in self.grants(person)

        return entitled


class _Modelled(Protocol):
    @property
    def model(self) -> Model: ...


class _Projecting(Protocol):
    @property
    def model(self) -> Model: ...

    def catch_up(self) -> int: ...


class ServedLog(Protocol):
    """What ``current_model`` asks of the log service (``Ledger``): the writer's rules,
    whether it writes, and its read model's projector."""

    @property
    def rules(self) -> _Modelled | None: ...

    @property
    def sequencer(self) -> object | None: ...

    @property
    def projector(self) -> _Projecting: ...


def current_model(ledger: ServedLog) -> Model | None:
    """The freshest domain state at hand: the writer's, else the read model's caught up
    with the log (None on a bare log, which has no registry)."""
    if ledger.rules is None:
        return None
    if ledger.sequencer is not None:
        return ledger.rules.model
    projector = ledger.projector
    projector.catch_up()
    return projector.model


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
