"""Health, readiness, metrics and logs: what an operator watches, with no personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.observability import REQUEST_ID, _RequestIdFilter, json_logging
from cadreledger.service import Ledger
from tests.evaluation import CADRES, CYCLE, World
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


@pytest.fixture
def served(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> Iterator[tuple[TestClient, Ledger, World]]:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    with TestClient(create_app(ledger)) as client:
        yield client, ledger, w


def test_health_and_readiness(served: tuple[TestClient, Ledger, World]) -> None:
    client, ledger, w = served
    assert client.get("/healthz").json() == {"status": "ok"}
    run_cycle(w)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["log_size"] == ledger.size()
    assert ledger.sequencer is not None
    ledger.sequencer.stop()
    stopped = client.get("/readyz")
    assert stopped.status_code == 503
    assert stopped.headers["content-type"] == "application/problem+json"
    assert "writer" in stopped.json()["detail"]


def test_metrics_count_requests_by_route_batches_and_checks(
    served: tuple[TestClient, Ledger, World],
) -> None:
    client, ledger, w = served
    run_cycle(w)
    client.get(f"/v1/cycles/{CYCLE}/cadres/{CADRES[0]}")
    ledger.verify()
    text = client.get("/metrics").text
    assert 'route="/v1/cycles/{cycle}/cadres/{cadre}"' in text
    assert CADRES[0] not in text  # routes by template, never a person's id
    batches = next(
        line for line in text.splitlines() if line.startswith("cadreledger_append_batch_size_count")
    )
    assert float(batches.split()[-1]) >= 1
    assert 'cadreledger_verify_checks_total{check="V8",status="pass"} 1.0' in text
    assert "cadreledger_sequencer_queue_depth 0.0" in text
    assert f"cadreledger_log_size {float(ledger.size())}" in text


def test_json_logs_are_written_by_their_own_thread_and_flushed_on_stop() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    writer = json_logging(stream=stream)
    try:
        token = REQUEST_ID.set("r-1")
        try:
            logging.getLogger("cadreledger.http").info("request", extra={"status": 201})
        finally:
            REQUEST_ID.reset(token)
        logging.getLogger("cadreledger.other").warning("queued %s", "late")
    finally:
        writer.stop()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])  # (and forget what loggers cached of the level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "r-1" and first["status"] == 201
    assert first["name"] == "cadreledger.http" and first["levelname"] == "INFO"
    assert second["message"] == "queued late" and second["request_id"] == "-"


def test_request_ids_and_json_logs_without_personal_data(
    served: tuple[TestClient, Ledger, World], caplog: pytest.LogCaptureFixture
) -> None:
    client, _, w = served
    run_cycle(w)
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    from pythonjsonlogger.json import JsonFormatter

    http_log = logging.getLogger("cadreledger.http")
    stamp = _RequestIdFilter()
    http_log.addFilter(stamp)  # as json_logging's handler does, while the request runs
    try:
        with caplog.at_level(logging.INFO, logger="cadreledger.http"):
            client.get(f"/v1/cycles/{CYCLE}/cadres/{CADRES[1]}", headers={"X-Request-ID": "r-9"})
    finally:
        http_log.removeFilter(stamp)
    (record,) = [r for r in caplog.records if r.name == "cadreledger.http"]
    line = json.loads(
        JsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s").format(record)
    )
    assert line["route"] == "/v1/cycles/{cycle}/cadres/{cadre}" and line["status"] == 200
    assert line["request_id"] == "r-9"
    assert CADRES[1] not in json.dumps(line)


def test_compression_keeps_starlettes_rules() -> None:
    """The service's gzip (api.app.Compression) answers as Starlette's would: large
    answers compressed for clients that ask, and marked ``Vary`` for those that do not;
    event streams never compressed (they would be held back until the buffer fills)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from api.app import Compression

    large = b"x" * 4096

    async def page(_: Request) -> Response:
        return Response(large, media_type="text/plain")

    async def events(_: Request) -> Response:
        return Response(large, media_type="text/event-stream")

    app = Starlette(routes=[Route("/page", page), Route("/events", events)])
    with TestClient(Compression(app, minimum_size=1024)) as client:
        zipped = client.get("/page", headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert int(zipped.headers["content-length"]) < 100 and zipped.content == large
        plain = client.get("/page", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == large
        assert plain.headers["vary"] == "Accept-Encoding"
        stream = client.get("/events", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in stream.headers and stream.content == large
