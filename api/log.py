"""The log's read endpoints under ``/v1/log``: its checkpoint and key, RFC 9162 proofs,
and its entries (the C2SP tiles are api/tiles.py, cosigned checkpoints api/witnessing.py)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from api import schemas
from api.depends import LedgerDep
from api.paging import (
    DEFAULT_LIMIT,
    LINK_HEADER,
    MAX_POSITION,
    Limit,
    link_next,
    link_next_start,
)
from api.problems import PROBLEM
from ledger.errors import CONFLICTING_PARAMETERS, INVALID_REQUEST, Rejected

MAX_BATCH = 1000  # inclusion proofs in one answer


def _indexes(text: str) -> list[int]:
    """``indexes=3,5,8``: leaf positions, at most ``MAX_BATCH`` of them."""
    parts = text.split(",")
    if len(parts) > MAX_BATCH or not all(p.isdigit() and len(p) <= 12 for p in parts):
        raise Rejected(
            INVALID_REQUEST,
            f"indexes phải là tối đa {MAX_BATCH} số không âm, cách nhau bởi dấu phẩy.",
            f"indexes must be at most {MAX_BATCH} non-negative integers, comma-separated.",
            field="indexes",
        )
    return [int(p) for p in parts]


def b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


router = APIRouter()  # each route names its tag


@router.get(
    "/v1/log/checkpoint",
    response_class=PlainTextResponse,
    tags=["log"],
    responses={200: schemas.TEXT},
)
def checkpoint(ledger: LedgerDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint as a signed note)."""
    return PlainTextResponse(ledger.checkpoint(), headers={"Cache-Control": "no-cache"})


@router.get(
    "/v1/log/key",
    response_class=PlainTextResponse,
    tags=["log"],
    responses={200: schemas.TEXT},
)
def key(ledger: LedgerDep) -> PlainTextResponse:
    """The log's verifier key, ``name+keyid+base64``."""
    return PlainTextResponse(str(ledger.log_key) + "\n")


@router.get(
    "/v1/log/proof/inclusion",
    tags=["log"],
    responses={**schemas.ok(schemas.InclusionProof), 400: PROBLEM},
)
def inclusion(
    ledger: LedgerDep,
    size: Annotated[
        int,
        Query(ge=1, description="a tree size the log has (/problems/invalid-range beyond)"),
    ],
    index: Annotated[int | None, Query(ge=0, description="a position below `size`")] = None,
    indexes: Annotated[
        str | None,
        Query(
            max_length=MAX_BATCH * 13,
            pattern=r"^[0-9]{1,12}(,[0-9]{1,12}){0,999}$",
            description=f"or up to {MAX_BATCH} leaves, comma-separated: one proof each "
            "(exactly one of `index` and `indexes`: /problems/conflicting-parameters)",
        ),
    ] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of the leaf at ``index`` in the tree of ``size`` —
    or, with ``indexes``, of many leaves in one answer (``proofs``), so that a
    reader checking a whole cycle asks once per few hundred events."""
    if (index is None) == (indexes is None):
        raise Rejected(
            CONFLICTING_PARAMETERS,
            "Cần đúng một trong hai tham số index và indexes.",
            "Give index or indexes, exactly one of them.",
            field="index",
        )
    if index is not None:
        return {"index": index, "tree_size": size, "proof": b64(ledger.inclusion(index, size))}
    wanted = _indexes(indexes or "")
    return {
        "tree_size": size,
        "proofs": [{"index": i, "proof": b64(ledger.inclusion(i, size))} for i in wanted],
    }


@router.get(
    "/v1/log/proof/consistency",
    tags=["log"],
    responses={**schemas.ok(schemas.ConsistencyProof), 400: PROBLEM},
)
def consistency(
    ledger: LedgerDep,
    first: Annotated[int, Query(alias="from", ge=1, description="a tree size, at most `to`")],
    second: Annotated[
        int,
        Query(
            alias="to",
            ge=1,
            description="a tree size the log has (/problems/invalid-range beyond, or below `from`)",
        ),
    ],
) -> dict[str, Any]:
    """RFC 9162 consistency proof between tree sizes ``from`` and ``to``."""
    return {"from": first, "to": second, "proof": b64(ledger.consistency(first, second))}


@router.get(
    "/v1/log/entries",
    tags=["log"],
    responses={**schemas.ok(schemas.LogEntries, headers=LINK_HEADER), 400: PROBLEM},
)
def entries(
    ledger: LedgerDep,
    request: Request,
    response: Response,
    start: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_POSITION,
            description="the first position wanted (never with `after`: "
            "/problems/conflicting-parameters)",
        ),
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=-1,
            le=MAX_POSITION,
            description="or, as on every list: the last position you have (never with "
            "`start`: /problems/conflicting-parameters)",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Log entries from position ``start`` (or after ``after``): event hash and the
    full stored envelope. ``next`` is the next ``start`` — or, paging with
    ``after``, the next ``after``."""
    if start is not None and after is not None:
        raise Rejected(
            CONFLICTING_PARAMETERS,
            "Chỉ dùng một trong hai tham số start và after.",
            "Give start or after, not both.",
            field="after",
        )
    first = start if start is not None else (after + 1 if after is not None else 0)
    rows = ledger.entries(first, limit)
    last = rows[-1]["index"] if len(rows) == limit else None
    if after is not None:
        link_next(request, response, last)
        return {"entries": rows, "next": last}
    following = None if last is None else last + 1
    link_next_start(request, response, following)
    return {"entries": rows, "next": following}
