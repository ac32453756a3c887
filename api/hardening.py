"""Response headers every answer carries, and ``/docs`` served from the package.

The service authenticates browsers with a cookie, so whatever script runs on its origin
acts as the signed-in person. ``/docs`` (Swagger UI) therefore loads nothing from
elsewhere: its script and styles come from the ``swagger-ui-bundle`` package, under a
Content-Security-Policy that names no other origin. API answers hold personal data and
must not be kept by a shared cache or a browser's: ``Cache-Control: no-store`` unless
the route set its own (the public checkpoint's ``no-cache``), and ``nosniff`` so that
nothing is ever read as another type than the one sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

DOCS = "/docs"
ASSETS = "/docs/assets"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cadreledger — API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body></html>
"""
# A file of its own, not an inline script: the policy allows scripts from 'self' only.
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
});
"""


class SecurityHeaders:
    """ASGI middleware: ``nosniff`` on every answer; ``no-store`` on every answer whose
    route did not say how it may be cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


class HeaderedFiles(StaticFiles):
    """Static files whose every answer carries ``headers`` (a CSP, caching)."""

    def __init__(self, *, headers: dict[str, str], **options: Any) -> None:
        super().__init__(**options)
        self.headers = headers

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.headers)
        return response


def install_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI from the package (the app is made with ``docs_url=None``)."""
    app.mount(
        ASSETS,
        HeaderedFiles(headers=_PAGE_HEADERS, directory=Path(str(swagger_ui_path))),
        name="docs-assets",
    )
    app.add_route(DOCS, _docs, include_in_schema=False)
    app.add_route(f"{DOCS}/init.js", _init, include_in_schema=False)


async def _docs(request: Request) -> Response:
    return HTMLResponse(_PAGE.format(assets=ASSETS, docs=DOCS), headers=_PAGE_HEADERS)


async def _init(request: Request) -> Response:
    return PlainTextResponse(_INIT, media_type="text/javascript", headers=_PAGE_HEADERS)
