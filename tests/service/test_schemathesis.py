"""Property-based API tests: schemathesis drives every operation of the real app.

The app serves an evaluation ledger holding a demo cycle (people, a panel, ballots,
decisions, a complaint), so that generated requests reach real documents as well as
missing ones. Every response must conform to the OpenAPI document (status code,
content type, headers, body schema), no request may cause a 5xx, a request that
breaks the schema must be refused, and every 4xx must be an RFC 9457 problem
(``application/problem+json`` with ``type``, ``title`` and ``status``).

A request that fits the schema may be refused with 400 only for what no schema can
state: a relation between its values or the log's state (a proof for a tree size the
log does not have, ``from`` above ``to``, ``start`` with ``after``, a cursor that names
nothing), or — for a signed statement — its signature, key and content. Each of those
has a problem type of its own, and ``schema_valid_requests_are_accepted`` (in place of
schemathesis' own "positive data acceptance", which cannot tell them apart) fails on
any other: a 400 for a request the schema admits means the two disagree.

The schemas are given when this module is imported (schemathesis' pytest plugin
parametrizes at collection; its fixture-based loader does not work with pytest 9.2), but
the apps and their ledger are built only when a test first calls them (``_LazyApp``):
collecting this module (``pytest -k``, ``-m``, ``--co``) builds nothing. The OpenAPI
documents come from the apps' own ``openapi()``, kept in ``.pytest_cache`` under a hash
of every source file of the five packages and the versions of the libraries that shape
them, so that a changed route or model always gets documents built afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from access.tokens import AccessStore
from api.app import create_app
from api.feed import StreamSettings
from api.problems import PROBLEM_JSON
from cadreledger.config import Settings
from cadreledger.demo import Demo
from cadreledger.service import Ledger
from ledger.keys import SignerKey
from streams.webhooks import WebhookKeys
from tests.conftest import AT_SESSION_END, examples
from tests.paths import ROOT

# Examples per operation and phase; ~30 operations stay well under two minutes.
EXAMPLES = examples(25)

PACKAGES = (
    "access",
    "api",
    "cadreledger",
    "domain",
    "evidence",
    "ledger",
    "projections",
    "streams",
    "witness",
)
LIBRARIES = ("fastapi", "pydantic", "starlette", "schemathesis")


class _Served:
    """The ledger both apps serve, opened on first use (closed when the session ends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledger: Ledger | None = None
        self.where = Path()

    @property
    def ledger(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                home = tempfile.TemporaryDirectory(prefix="cadreledger-schemathesis-")
                self.where = Path(home.name)
                self._ledger = Ledger(
                    Settings(
                        db=f"sqlite:///{self.where / 'ledger.db'}",
                        log_key_file=str(self.where / "log.key"),
                        root_key_file=str(self.where / "root.key"),
                    )
                )
                AT_SESSION_END.extend([home.cleanup, self._ledger.close])  # run last to first
            return self._ledger

    def open_app(self) -> FastAPI:
        return create_app(
            self.ledger,
            streams=StreamSettings(heartbeat=0.1),
            webhook_keys=WebhookKeys.load_or_create(self.where / "webhook.key"),
        )

    def secured_app(self) -> FastAPI:
        # The same ledger behind authentication, asked by someone without a token.
        return create_app(self.ledger, access=AccessStore(self.ledger.store))


_served = _Served()


class _LazyApp:
    """An ASGI app built by ``build`` when first needed (schemathesis sees an ASGI app)."""

    def __init__(self, build: Callable[[], FastAPI]) -> None:
        self._build = build
        self._app: FastAPI | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> FastAPI:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


_open, _secured = _LazyApp(_served.open_app), _LazyApp(_served.secured_app)


def _documents() -> dict[str, Any]:
    """Both apps' OpenAPI documents: from the cache if the code and libraries that make
    them are unchanged, else from the apps (built now) into the cache."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={version(library)}\0".encode())
    cached = ROOT / ".pytest_cache" / "cadreledger-openapi" / f"{digest.hexdigest()}.json"
    if cached.exists():
        return json.loads(cached.read_text())  # type: ignore[no-any-return]
    documents = {"open": _open.app.openapi(), "secured": _secured.app.openapi()}
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(documents))
    partial.replace(cached)  # whole or not at all, if another run writes it too
    return documents


def _schema(document: dict[str, Any], app: _LazyApp) -> Any:
    schema = schemathesis.openapi.from_dict(document, config=_config)
    schema.app, schema.location = app, "/openapi.json"  # as from_asgi sets them
    return schema


# A request that breaks the schema may be refused as too large, too: a string over its
# maxLength can make the body go over the limit first.
_config = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429]
            }
        }
    }
)
_documents_now = _documents()
schema = _schema(_documents_now["open"], _open)
# (The sign-in routes themselves, /v1/auth/*, are left out until they document their 401.)
secured = _schema(_documents_now["secured"], _secured).exclude(path_regex="^/v1/auth/")


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx is an RFC 9457 problem with the members a client relies on."""
    if not 400 <= response.status_code < 500:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == PROBLEM_JSON, f"{response.status_code} answered as {media!r}"
    body = response.json()
    for member in ("type", "title", "status"):
        assert member in body, f"problem without {member!r}: {body}"
    assert body["status"] == response.status_code, body
    assert body["type"].startswith("/problems/"), body


# Refusals of a schema-valid request for what no schema states (see the module's doc).
BEYOND_THE_SCHEMA = frozenset(
    f"/problems/{slug}" for slug in ("invalid-range", "unknown-cursor", "conflicting-parameters")
)
# A signed statement's own checks: its signature, its key, its canonical form and content.
STATEMENT_CHECKS = frozenset(
    f"/problems/{slug}"
    for slug in (
        "invalid-statement",
        "invalid-key",
        "bad-signature",
        "non-nfc-string",
        "non-ascii-key",
        "integer-out-of-range",
        "float-not-allowed",
        "disclosure-mismatch",
        "bad-login",
    )
)


@schemathesis.check
def schema_valid_requests_are_accepted(ctx: Any, response: Any, case: Any) -> None:
    """A request generated to fit the schema is never refused as malformed."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code not in (400, 422):
        return
    body = response.json()
    allowed = BEYOND_THE_SCHEMA | (STATEMENT_CHECKS if case.method.upper() == "POST" else set())
    assert body.get("type") in allowed, (
        f"a request the schema admits was refused as {body.get('type')}: {body.get('detail_en')}"
    )


@pytest.fixture(scope="module", autouse=True)
def demo() -> Iterator[None]:
    """The demo cycle, in the ledger the app serves (closed when the session ends)."""
    ledger = _served.ledger
    if ledger.size() == 0:
        root = SignerKey.parse((_served.where / "root.key").read_text())
        Demo(ledger, root, size=20).run()
        ledger.projector.catch_up()
    yield


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: schemathesis.Case) -> None:
    # An event stream never ends: schemathesis keeps what came within the timeout (or
    # its first 20 events) and checks each event; a filter that matches nothing sends
    # only heartbeats, so the timeout is what ends those.
    timeout = 0.5 if case.operation.path == "/v1/events/stream" else 60
    case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=timeout)


@secured.parametrize()
@settings(max_examples=examples(5), deadline=None, suppress_health_check=list(HealthCheck))
def test_anonymous_callers_get_documented_problems(case: schemathesis.Case) -> None:
    timeout = 0.5 if case.operation.path == "/v1/events/stream" else 60
    case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=timeout)


def test_every_route_is_in_the_schema() -> None:
    """The parametrized test covers every route the app serves (none hidden from it)."""
    documented = {(op.method.upper(), op.path) for op in _operations()}
    served = {
        (method, getattr(route, "path_format", route.path))  # "{index:path}" as "{index}"
        for route in _open.app.routes
        for method in getattr(route, "methods", ()) or ()
        if getattr(route, "include_in_schema", False) and method != "HEAD"
    }
    assert served <= documented, served - documented
    assert len(documented) >= 25


def _operations() -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]
