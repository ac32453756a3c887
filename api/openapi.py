"""The OpenAPI document, completed: every refusal an operation can give, as RFC 9457.

FastAPI documents what each route declares, plus a 422 "validation error" this
service never sends (its validation errors are 400 problems). This adds, to every
operation, the refusals that come from the service as a whole rather than from the
route: 400 for a malformed parameter, 413 for a body over the limit, 429 from the
rate limiter (with its headers); and it gives every
problem response the ``Problem`` schema. Routes declare only what is theirs (404, 409…).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.problems import PROBLEM_JSON
from api.schemas import Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
BODY_METHODS = frozenset({"post", "put", "patch"})  # may read a body, declared or not
RATE_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "seconds until a request would be admitted",
        "schema": {"type": "integer"},
    },
    "RateLimit-Policy": {
        "description": 'IETF draft-ietf-httpapi-ratelimit-headers: `"default";q=BURST;w=SECONDS`',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'IETF draft-ietf-httpapi-ratelimit-headers: `"default";r=LEFT;t=SECONDS`',
        "schema": {"type": "string"},
    },
}
SERVICE_WIDE: dict[str, str] = {
    "429": "Too many requests from this person or address (RFC 9457 problem details)",
}


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def complete(app: FastAPI) -> None:
    """Post-process ``app``'s OpenAPI document once, when it is first asked for."""
    build: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not done:
            done.append(_completed(build()))
            app.openapi_schema = done[0]
        return done[0]

    app.openapi = openapi  # type: ignore[method-assign]


def _completed(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            _operation(method, operation)
    for name in FASTAPI_VALIDATION:
        components.pop(name, None)
    return schema


def _operation(method: str, operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        _not_null(parameter)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # validation errors are answered 400, as problems
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("400", problem("Invalid request (RFC 9457 problem details)"))
    if operation.get("requestBody") is not None or method in BODY_METHODS:
        responses.setdefault("400", problem("Invalid request (RFC 9457 problem details)"))
        responses.setdefault("413", problem("The body is over the limit (RFC 9457)"))
    for status, description in SERVICE_WIDE.items():
        responses.setdefault(status, problem(description))
    responses["429"].setdefault("headers", {}).update(RATE_HEADERS)
    for status, response in responses.items():
        content = response.get("content", {})
        for media in content.values():
            schema = media.get("schema")
            # FastAPI merges a documented model into the route's inferred
            # ``dict[str, Any]``: keep only the model.
            if isinstance(schema, dict) and "$ref" in schema and len(schema) > 1:
                media["schema"] = {"$ref": schema["$ref"]}
        if status.isdigit() and int(status) >= 400:
            content.pop("application/json", None)
            content.setdefault(PROBLEM_JSON, {}).setdefault("schema", PROBLEM_REF)
            response["content"] = content


def _not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter is one left out, never one sent as ``null``: FastAPI's
    ``anyOf: [X, {"type": "null"}]`` for ``X | None`` becomes ``X`` (a client, or a
    fuzzer, that read the null branch would send the text "null", which is refused)."""
    schema = parameter.get("schema", {})
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) == len(branches):
        return
    del schema["anyOf"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept
