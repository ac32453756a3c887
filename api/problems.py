"""RFC 9457 problem details for every refusal, in the caller's language (Vietnamese by default).

The rooms declare their refusals (``ledger/errors.py``, ``domain/problems.py``…); this is
the one place that turns a refusal into an HTTP answer, and the one list of the
catalogues the API documents at ``/problems/<slug>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from access.tokens import ACCESS_PROBLEMS
from api import schemas
from domain.messages import en, vi
from domain.problems import DOMAIN_PROBLEMS
from ledger.errors import (
    INVALID_REQUEST,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    PROBLEMS,
    Catalogue,
    Problem,
    Rejected,
)
from streams.webhooks.targets import WEBHOOK_PROBLEMS

PROBLEM_JSON = "application/problem+json"
# An operation's refusal in the OpenAPI document.
PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {}}, "description": "RFC 9457 problem details"}

# The edge's own refusals (rate limits: ``api/rate_limit.py`` declares them here).
API_PROBLEMS = Catalogue()
# Every catalogue of refusals the API answers with, registered here by name rather than
# by a module adding itself to another's list when imported.
CATALOGUES: tuple[Catalogue, ...] = (
    PROBLEMS,
    DOMAIN_PROBLEMS,
    ACCESS_PROBLEMS,
    WEBHOOK_PROBLEMS,
    API_PROBLEMS,
)


def find(slug: str) -> Problem | None:
    """The problem a slug names, in whichever registered catalogue declares it."""
    for catalogue in CATALOGUES:
        if slug in catalogue.by_slug:
            return catalogue.by_slug[slug]
    return None


def render(error: Rejected, lang: str = "vi", instance: str | None = None) -> dict[str, Any]:
    """RFC 9457 problem details; ``lang`` picks ``title``/``detail``, both stay available."""
    english = lang == "en"
    body: dict[str, Any] = {
        "type": error.problem.type,
        "title": error.problem.title_en if english else error.problem.title_vi,
        "status": error.problem.status,
        "detail": error.detail_en if english else error.detail_vi,
        "detail_vi": error.detail_vi,
        "detail_en": error.detail_en,
    }
    if instance:
        body["instance"] = instance
    body.update(error.extensions)
    return body


def language(request: Request) -> str:
    """``en`` when the caller prefers English, else ``vi``."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("vi"):
            return "vi"
        if tag.startswith("en"):
            return "en"
    return "vi"


def problem_response(
    request: Request, error: Rejected, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = render(error, language(request), instance=request.url.path)
    return JSONResponse(
        body, status_code=error.problem.status, media_type=PROBLEM_JSON, headers=headers
    )


async def on_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Rejected)
    return problem_response(request, exc)


async def on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(
        ".".join(str(p) for p in err.get("loc", ())) + f": {err.get('msg', '')}"
        for err in exc.errors()
    )
    return problem_response(
        request,
        Rejected(
            INVALID_REQUEST,
            f"Tham số không hợp lệ — {where}",
            f"Invalid parameters — {where}",
        ),
    )


def too_large(limit: int) -> Rejected:
    return Rejected(
        PAYLOAD_TOO_LARGE,
        f"Nội dung yêu cầu vượt quá {limit} byte.",
        f"The request body is over {limit} bytes.",
        limit=limit,
    )


async def on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    problem = (
        NOT_FOUND
        if exc.status_code == 404
        else Problem(f"http-{exc.status_code}", exc.status_code, str(exc.detail), str(exc.detail))
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette's ``Allow`` names the methods of the first route on the path only.
        headers["Allow"] = ", ".join(_methods_at(request))
    return problem_response(request, Rejected(problem, problem.title_vi, problem.title_en), headers)


def _methods_at(request: Request) -> list[str]:
    """Every method some route takes on this request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def describe(slug: str) -> dict[str, Any] | None:
    problem = find(slug)
    if problem is None:
        return None
    described: dict[str, Any] = {
        "type": problem.type,
        "status": problem.status,
        "title_vi": problem.title_vi,
        "title_en": problem.title_en,
    }
    # What the rule means, where the rules' catalogues explain it.
    for lang, explanations in (("vi", vi.EXPLANATIONS), ("en", en.EXPLANATIONS)):
        if slug in explanations:
            described[f"explanation_{lang}"] = explanations[slug]
    return described


# What a problem type means, at its ``type`` URI.
router = APIRouter()  # its route names its tag


@router.get(
    "/problems/{slug}",
    tags=["meta"],
    responses={**schemas.ok(schemas.ProblemType), 404: PROBLEM},
)
def problem(slug: str) -> dict[str, Any]:
    """What a problem ``type`` means."""
    described = describe(slug)
    if described is None:
        raise Rejected(NOT_FOUND, f"Không có loại lỗi {slug!r}.", f"No problem type {slug!r}.")
    return described
