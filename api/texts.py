"""Sealed texts on the way out: commitments in read models, words in responses.

Read models and replays hold a sealed text only as ``{"sealed": hex}``. Routes made
with ``revealing(...)`` answer with each such value opened where the reader may see it:

    {"sealed": hex, "text": "…", "erased": false}
    {"sealed": hex, "text": null, "erased": true, "notice_vi": "…", "notice_en": "…"}

(a notice in both languages whenever there is no text: erased, withheld, unavailable).
Who may read what is the access policy's to say: it is the ``reveal`` given here, called
with the request (``request.state.identity``) and the commitments the response holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ledger.errors import Rejected
from ledger.texts import sealed_value
from ledger.vault import Revealed

Reveal = Callable[[Request, list[str]], Mapping[str, Revealed]]


def sealed_in(doc: Any) -> list[str]:
    """The commitments of every sealed value in a JSON document, first seen first."""
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            sealed = _sealed(value)
            if sealed is not None:
                found[sealed] = None
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc)
    return list(found)


def opened(doc: Any, texts: Mapping[str, Revealed]) -> Any:
    """``doc`` with each sealed value replaced by what ``texts`` says of it."""
    if isinstance(doc, dict):
        sealed = _sealed(doc)
        if sealed is not None:
            return texts.get(sealed, Revealed("missing")).to_json(sealed)
        return {k: opened(v, texts) for k, v in doc.items()}
    if isinstance(doc, list):
        return [opened(v, texts) for v in doc]
    return doc


def revealing(reveal: Reveal) -> type[APIRoute]:
    """A route class whose JSON responses come out with their sealed texts opened."""

    class RevealingRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def with_texts(request: Request) -> Response:
                response = await handler(request)
                # JSON however it was rendered (a JSONResponse, or FastAPI's own bytes for
                # an annotated return); streamed answers pass. Cheap test first: most
                # documents seal nothing.
                json_body = response.headers.get("content-type", "").startswith("application/json")
                body = bytes(getattr(response, "body", b""))
                if not json_body or b'"sealed"' not in body:
                    return response
                doc = json.loads(body)
                found = sealed_in(doc)
                if not found:
                    return response
                texts = await run_in_threadpool(reveal, request, found)
                answer = JSONResponse(opened(doc, texts), status_code=response.status_code)
                # The original's headers (repeated ones too), with the new body's length.
                answer.raw_headers = [
                    *(h for h in response.raw_headers if h[0] != b"content-length"),
                    (b"content-length", str(len(answer.body)).encode()),
                ]
                return answer

            return with_texts

    return RevealingRoute


def _sealed(value: dict[str, Any]) -> str | None:
    try:
        sealed = sealed_value(value)
    except Rejected:  # only looks like one: leave it as it is
        return None
    return sealed.commitment if sealed is not None else None
