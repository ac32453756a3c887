"""An act: one signed statement as the rules see it — who, when, what, and where it landed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from domain.fields import Body

VIETNAM = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class Act:
    statement: Mapping[str, Any]
    signer: str  # the C2SP verifier key text the statement was signed with
    event: str  # hex event hash: how later statements refer to this one
    position: int  # global log position (Merkle leaf index)

    @property
    def type(self) -> str:
        return str(self.statement["type"])

    @property
    def actor(self) -> str:
        return str(self.statement["actor"])

    @property
    def issued_at(self) -> datetime:
        return datetime.fromisoformat(self.statement["issued_at"]).astimezone(UTC)

    @property
    def day(self) -> date:
        """The calendar day in Vietnam when it was signed: what deadlines count."""
        return self.issued_at.astimezone(VIETNAM).date()

    @property
    def body(self) -> Body:
        return Body(self.statement)
