"""Signing in (đăng nhập): a signed ``auth.token`` statement exchanged for a token.

The use case behind ``POST /v1/auth/tokens``: the statement is read as a submission,
its signer's key judged against the registry as it stands now (registered, unrevoked,
valid at the service's time), and the token store checks the rest (audience, freshness,
single use) and issues the token. A bare log has no registry: its tokens come from the
operator (``cadreledger token issue``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from access.tokens import AccessStore, ServedLog, current_model
from domain.acts import Act
from ledger.errors import INVALID_REQUEST, Rejected
from ledger.keys import VerifierKey
from ledger.statement import parse_submission


class SigningInLog(ServedLog, Protocol):
    """What signing in asks of the log service: its model, and the log key's name that
    a token is issued under."""

    @property
    def log_key(self) -> VerifierKey: ...


class SignedIn(NamedTuple):
    """A new token, whose it is, and when it dies (seconds since the epoch)."""

    token: str
    person: str
    expires_at: float


def sign_in(ledger: SigningInLog, access: AccessStore, body: bytes) -> SignedIn:
    """A token for the person who signed ``body``, or ``Rejected`` saying why not."""
    signed = parse_submission(body)
    model = current_model(ledger)
    if model is None:
        raise Rejected(
            INVALID_REQUEST,
            "Sổ cái này không có sổ đăng ký khóa: mã truy cập do người vận hành cấp.",
            "This log has no key registry: its tokens are issued by the operator.",
        )
    # Judged at the service's time, as the log would judge it now (key validity).
    now = datetime.now(UTC)
    model.registry.check_signer(Act(signed.statement, str(signed.signer), "", model.position, now))
    token = access.login(signed, ledger.log_key.name)
    found = access.resolve(token)
    assert found is not None
    return SignedIn(token, found.person, found.expires_at)
