"""An act: one signed statement as the rules see it — who, when, what, and where it landed.

"When" is the log's time (``logged_at``: when the sequencer admitted it, sealed in its
envelope), never the signer's ``issued_at``: the signer writes that, and could
back-date it. Every time rule (deadlines, windows, key validity) reads ``time`` or
``day``.
"""

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
    # The log's time. None only for an envelope of version 1 (written before the log
    # kept time) or an act judged outside any log (a pure model in tests): then the
    # signer's issued_at stands in, and the verifier says those acts' times went unchecked.
    logged_at: datetime | None = None

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
    def time(self) -> datetime:
        """When the log admitted it (thời điểm ghi sổ): what every time rule reads."""
        return self.logged_at if self.logged_at is not None else self.issued_at

    @property
    def day(self) -> date:
        """The calendar day in Vietnam when the log admitted it: what deadlines count."""
        return self.time.astimezone(VIETNAM).date()

    @property
    def body(self) -> Body:
        return Body(self.statement)
