"""The web UI (giao diện web) for inspection committees, complainants and auditors.

Plain HTML, CSS and ES modules in ``static/`` (package data: a ``pip install .`` ships
them), served at ``/ui/`` with no build step. The pages hold no data: they read the JSON
API under ``/v1`` as the signed-in browser, and check signatures and inclusion proofs
themselves with WebCrypto.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.hardening import HeaderedFiles

PREFIX = "/ui"
# The scripts build every element from data with textContent and load nothing from
# elsewhere, so the policy can forbid all the rest: a second wall against markup
# smuggled into a name, a reason or a comment.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate (ETag): a new release shows at once
}


def install(app: FastAPI) -> None:
    """Serve the pages at ``/ui/`` and send ``/`` there."""
    app.mount(
        PREFIX,
        HeaderedFiles(headers=HEADERS, packages=[("api.ui", "static")], html=True),
        name="ui",
    )
    app.add_route("/", _home, include_in_schema=False)


async def _home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)
