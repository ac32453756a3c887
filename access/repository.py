"""The ``access_*`` tables on the ledger's own database: every SQL statement of access.

The same SQL on SQLite and PostgreSQL (the store turns ``?`` into the driver's mark), so
one repository serves both. Only a token's digest is stored, never the token.
"""

from __future__ import annotations

from typing import NamedTuple

from ledger.store import LogStore

__all__ = ["AccessRepository", "TokenRow"]

_DDL = [
    "CREATE TABLE IF NOT EXISTS access_tokens ("
    " digest TEXT PRIMARY KEY, person TEXT NOT NULL, signer TEXT, roles TEXT NOT NULL,"
    " login_nonce TEXT UNIQUE, issued_at DOUBLE PRECISION NOT NULL,"
    " expires_at DOUBLE PRECISION NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS access_grants ("
    " person TEXT NOT NULL, cycle TEXT NOT NULL, PRIMARY KEY (person, cycle))",
]


class TokenRow(NamedTuple):
    """A live (not revoked) row of ``access_tokens``."""

    person: str
    signer: str | None
    roles: frozenset[str]
    expires_at: float


class AccessRepository:
    """Tokens by digest, and integrators' grants to cycles."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        for ddl in _DDL:
            store.execute(ddl)

    def add_token(
        self,
        digest: str,
        person: str,
        *,
        signer: str | None,
        roles: frozenset[str],
        login_nonce: str | None,
        issued_at: float,
        expires_at: float,
    ) -> None:
        """Raises the driver's integrity error on a login nonce already used."""
        self.store.execute(
            "INSERT INTO access_tokens (digest, person, signer, roles, login_nonce,"
            " issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest, person, signer, ",".join(sorted(roles)), login_nonce, issued_at, expires_at),
        )

    def live_token(self, digest: str) -> TokenRow | None:
        """The token's row unless revoked (expired or not: the caller's question)."""
        rows = self.store.query(
            "SELECT person, signer, roles, expires_at FROM access_tokens"
            " WHERE digest = ? AND revoked = 0",
            (digest,),
        )
        if not rows:
            return None
        row = rows[0]
        roles = frozenset(r for r in row["roles"].split(",") if r)
        return TokenRow(row["person"], row["signer"], roles, float(row["expires_at"]))

    def nonce_used(self, nonce: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM access_tokens WHERE login_nonce = ?", (nonce,)))

    def revoke(self, digest: str) -> None:
        self.store.execute("UPDATE access_tokens SET revoked = 1 WHERE digest = ?", (digest,))

    def revoke_person(self, person: str) -> int:
        """Revokes every token of ``person``; how many were live."""
        live = self.store.query(
            "SELECT COUNT(*) AS n FROM access_tokens WHERE person = ? AND revoked = 0", (person,)
        )
        self.store.execute("UPDATE access_tokens SET revoked = 1 WHERE person = ?", (person,))
        return int(live[0]["n"])

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
