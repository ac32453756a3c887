"""``GET /v1/log/checkpoint/cosigned``: the latest checkpoint witnesses have cosigned.

The answer is one C2SP signed note: the log's signature line, then one cosignature line
per witness (C2SP tlog-cosignature), exactly as a witness-aware client expects it. The
plain ``/v1/log/checkpoint`` stays the newest checkpoint, cosigned or not yet.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api import schemas
from api.depends import LedgerDep
from api.problems import PROBLEM
from ledger.errors import NOT_FOUND, Rejected

router = APIRouter(tags=["log"])


@router.get(
    "/v1/log/checkpoint/cosigned",
    response_class=PlainTextResponse,
    responses={200: schemas.TEXT, 404: PROBLEM},
)
def cosigned(
    ledger: LedgerDep,
    witnesses: Annotated[int, Query(ge=1, le=64)] = 1,
) -> PlainTextResponse:
    """The largest checkpoint cosigned by at least ``witnesses`` witnesses, with every
    cosignature the log holds for it (a signed note with several signature lines)."""
    size = ledger.cosignatures.latest_cosigned(witnesses)
    note = ledger.cosignatures.cosigned_note(size) if size is not None else None
    if note is None:
        raise Rejected(
            NOT_FOUND,
            f"Chưa có điểm kiểm tra nào được {witnesses} nhân chứng đồng ký.",
            f"No checkpoint is cosigned by {witnesses} witness(es) yet.",
            witnesses=witnesses,
        )
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})
