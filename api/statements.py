"""``POST /v1/statements``: a signed statement in, its receipt out.

The route documents the operation and is the fallback; submissions are answered by
``api.intake.StatementIntake`` before routing (the fast path), with the same function."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api import schemas
from api.depends import LedgerDep
from api.intake import submit as submit_statement
from api.problems import PROBLEM
from api.rate_limit import DEFERRED
from api.schemas import SUBMISSION_SCHEMA

router = APIRouter()


@router.post(
    "/v1/statements",
    status_code=201,
    tags=["statements"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SUBMISSION_SCHEMA}},
        }
    },
    response_model=schemas.Receipt,  # documents; the receipt is answered as it is
    responses={
        200: {
            "description": "A retry of a statement already stored: its receipt",
            "model": schemas.Receipt,
        },
        400: PROBLEM,
        403: PROBLEM,
        409: PROBLEM,
        413: PROBLEM,
        503: PROBLEM,
    },
)
async def submit(ledger: LedgerDep, request: Request) -> Response:
    """Submit a signed statement; the answer is its receipt (201), or the stored
    statement's receipt (200) when it is a retry of the same statement.
    (Answered by ``api.intake.StatementIntake`` before routing.)"""
    scope = request.scope
    return await submit_statement(ledger, request.receive, scope["headers"], scope.get(DEFERRED))
