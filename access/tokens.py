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

from ledger.errors import Catalogue, Rejected
from ledger.statement import SignedStatement
from ledger.store import LogStore

if TYPE_CHECKING:
    from cadreledger.service import Ledger
    from domain.model import Model

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

_DDL = [
    "CREATE TABLE IF NOT EXISTS access_tokens ("
    " digest TEXT PRIMARY KEY, person TEXT NOT NULL, signer TEXT, roles TEXT NOT NULL,"
    " login_nonce TEXT UNIQUE, issued_at DOUBLE PRECISION NOT NULL,"
    " expires_at DOUBLE PRECISION NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS access_grants ("
    " person TEXT NOT NULL, cycle TEXT NOT NULL, PRIMARY KEY (person, cycle))",
]


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
    """The ``access_*`` tables on the ledger's own database (SQLite or PostgreSQL)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        for ddl in _DDL:
            store.execute(ddl)

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
            self.store.execute(
                "INSERT INTO access_tokens (digest, person, signer, roles, login_nonce,"
                " issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _digest(token),
                    person,
                    signer,
                    ",".join(sorted(roles)),
                    login_nonce,
                    now,
                    expires,
                ),
            )
        except Exception as e:  # the UNIQUE nonce: a login statement used twice
            if login_nonce is not None and self._nonce_used(login_nonce):
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
        rows = self.store.query(
            "SELECT person, signer, roles, expires_at FROM access_tokens"
            " WHERE digest = ? AND revoked = 0",
            (_digest(token),),
        )
        found = (
            Token(
                rows[0]["person"],
                rows[0]["signer"],
                frozenset(r for r in rows[0]["roles"].split(",") if r),
                float(rows[0]["expires_at"]),
            )
            if rows
            else None
        )
        return found if found is not None and found.expires_at > now else None

    def revoke(self, token: str) -> None:
        digest = _digest(token)
        self.store.execute("UPDATE access_tokens SET revoked = 1 WHERE digest = ?", (digest,))

    def revoke_person(self, person: str) -> int:
        """Every token of ``person`` (an operator's answer to a lost device)."""
        live = self.store.query(
            "SELECT COUNT(*) AS n FROM access_tokens WHERE person = ? AND revoked = 0", (person,)
        )
        self.store.execute("UPDATE access_tokens SET revoked = 1 WHERE person = ?", (person,))
        return int(live[0]["n"])

    # -- an integrator's cycles -------------------------------------------------------

    def grant(self, person: str, cycle: str) -> None:
        self.store.execute(
            "INSERT INTO access_grants (person, cycle) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (person, cycle),
        )

    def withdraw(self, person: str, cycle: str) -> None:
        self.store.execute(
            "DELETE FROM access_grants WHERE person = ? AND cycle = ?", (person, cycle)
        )

    def grants(self, person: str) -> frozenset[str]:
        rows = self.store.query("SELECT cycle FROM access_grants WHERE person = ?", (person,))
        return frozenset(r["cycle"] for r in rows)

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

    def _nonce_used(self, nonce: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM access_tokens WHERE login_nonce = ?", (nonce,)))


def current_model(ledger: Ledger) -> Model | None:
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
