"""Operations: liveness, readiness, Prometheus metrics, and JSON logs with request ids.

Logs and metrics name routes by their template (``/v1/cycles/{cycle}/cadres/{cadre}``),
never by the path a client sent: paths hold people's ids, and personal data stays out
of logs. Every response carries ``X-Request-ID`` (the client's, or a new one), and every
log line written while the request runs carries it too.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import logging.handlers
import queue
import sys
import threading
import time
import uuid
from typing import Annotated, Any, TextIO

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import schemas
from api.depends import LedgerDep, on_state
from api.problems import render
from cadreledger.service import Ledger
from ledger.errors import UNAVAILABLE, Rejected
from ledger.verifier import Report
from projections.readmodel import Damaged

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
MAX_READ_MODEL_LAG = 10_000  # events: beyond this the service is not ready to serve reads
log = logging.getLogger("cadreledger.http")


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self, ledger: Ledger) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "cadreledger_http_request_duration_seconds",
            "HTTP request latency, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.batch_size = Histogram(
            "cadreledger_append_batch_size",
            "Statements per committed batch (group commit)",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "cadreledger_append_batch_seconds", "Time to write and settle one batch", registry=r
        )
        self.checks = Counter(
            "cadreledger_verify_checks_total",
            "Verification checks run by this service, by check and outcome",
            ["check", "status"],
            registry=r,
        )
        queue = Gauge(
            "cadreledger_sequencer_queue_depth", "Statements waiting for a batch", registry=r
        )
        queue.set_function(ledger.queue_depth)
        Gauge("cadreledger_log_size", "Events in the log", registry=r).set_function(ledger.size)
        ledger.on_batch(self.batch)
        ledger.on_verified.append(self.verified)

    def batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def verified(self, report: Report) -> None:
        for check in report.checks.values():
            self.checks.labels(check.id, check.status).inc()


class RequestContext:
    """ASGI middleware: request id, latency metric and one access log line per request
    (pure ASGI, so that streamed responses — SSE — pass straight through)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        # The histogram's child per (method, route, status): ``labels`` looks it up
        # under a lock and checks every label on each call, and every request needs one.
        self._timers: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope.get("headers", ()))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        id_field = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), id_field]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self._timer(scope["method"], route, status).observe(elapsed)
            _log_request(scope["method"], route, status, elapsed)
            REQUEST_ID.reset(token)

    def _timer(self, method: str, route: str, status: int) -> Any:
        # As many children as the metric itself keeps: routes are templates.
        key = (method, route, status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = self.metrics.requests.labels(method, route, str(status))
        return timer


def _request_id(headers: Any) -> str:
    """The client's ``X-Request-ID`` (the last one sent) if it is short and printable,
    else a new one."""
    given = ""
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1")
    return given if 0 < len(given) <= 128 and given.isprintable() else _new_id()


def _log_request(method: str, route: str, status: int, elapsed: float) -> None:
    """The access line. Made as ``Logger.info`` makes it, but without looking up the
    caller's file and line in the stack (no line shows them): a tenth of a request's
    cost in the middleware."""
    if not log.isEnabledFor(logging.INFO):
        return
    fields = {"method": method, "route": route, "status": status}
    fields["duration_ms"] = round(elapsed * 1000, 2)
    log.handle(
        log.makeRecord(log.name, logging.INFO, __file__, 0, "request", (), None, None, fields)
    )


# Unique, not secret: a per-process prefix and a counter. (uuid4 reads the OS's random
# source, and that system call lets go of the GIL on the event loop's thread, which
# under load then waits for the sequencer's threads to let go in turn.)
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count()


def _new_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):016x}"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def json_logging(level: int = logging.INFO, stream: TextIO | None = None) -> LogWriter:
    """Structured logs on ``stream`` (stderr): one JSON object per line, each with its
    request id. Records are formatted and written by a thread of their own (``LogWriter``);
    stop it to write what is still queued."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    enqueue = _Enqueue(records)
    enqueue.addFilter(_RequestIdFilter())  # here: the request id is the caller's context
    root = logging.getLogger()
    root.handlers[:] = [enqueue]
    root.setLevel(level)
    writer = LogWriter(records, stream)
    writer.start()
    return writer


class _Enqueue(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The queue never leaves the process: no need to format the message here, nor
        # to copy the record, as QueueHandler does for a queue that pickles.
        return record


class LogWriter(threading.Thread):
    """Formats and writes the queued records every ``interval`` seconds, all at once.

    A thread woken for every record (``logging.handlers.QueueListener``) cost the
    service ~150 µs of CPU a request on two cores — more than formatting and writing
    the line (~50 µs) — and requests only ever wait for a queue's append."""

    def __init__(
        self,
        records: queue.SimpleQueue[logging.LogRecord],
        stream: TextIO | None = None,
        interval: float = 0.05,
    ) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.records, self.stream, self.interval = records, stream, interval
        self.formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
        )
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            self._write_queued()
        self._write_queued()

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def _write_queued(self) -> None:
        lines: list[str] = []
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                break
            try:
                lines.append(self.formatter.format(record))
            except Exception:  # a record that cannot be formatted loses its line only
                lines.append(json.dumps({"levelname": "ERROR", "message": "unloggable record"}))
        if lines:
            stream = self.stream or sys.stderr
            try:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            except (OSError, ValueError):  # stderr gone: drop the lines, keep draining
                pass


def install(app: FastAPI, ledger: Ledger) -> Metrics:
    """Add the middleware and ``/healthz``, ``/readyz``, ``/metrics`` to ``app``."""
    metrics = app.state.metrics = Metrics(ledger)
    app.add_middleware(RequestContext, metrics=metrics)
    app.include_router(router)
    return metrics


MetricsDep = Annotated[Metrics, on_state("metrics")]
router = APIRouter()  # each route names its tag


@router.get("/healthz", tags=["operations"], responses=schemas.ok(schemas.Health))
async def healthz() -> dict[str, str]:
    """The process is up. (``async``: a plain function would cost every probe a hop to
    the thread pool, and back.)"""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    responses={**schemas.ok(schemas.Ready), 503: {"description": "not ready"}},
)
def readyz(ledger: LedgerDep) -> JSONResponse:
    """Ready to serve: the database answers, the writer runs, the read model keeps up."""
    checks: dict[str, Any] = {}
    try:
        checks["log_size"] = ledger.latest_checkpoint() and ledger.size()
    except Exception as e:  # the database does not answer
        return _not_ready(f"database: {type(e).__name__}")
    if ledger.writer_stopped:
        return _not_ready("the writer has stopped")
    if ledger.rules is not None:
        try:
            lag = ledger.size() - ledger.queries.stored_position()
        except Damaged as e:  # rebuilt from the log at the projector's next step
            return _not_ready(f"the read model is damaged: {e}")
        checks["read_model_lag"] = lag
        if lag > MAX_READ_MODEL_LAG:
            return _not_ready(f"the read model is {lag} events behind")
    return JSONResponse({"status": "ready", **checks})


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=PlainTextResponse,
    responses={200: schemas.TEXT},
)
def prometheus(metrics: MetricsDep) -> PlainTextResponse:
    """Prometheus text exposition."""
    return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _not_ready(why: str) -> JSONResponse:
    problem = render(
        Rejected(
            UNAVAILABLE, f"Dịch vụ chưa sẵn sàng: {why}.", f"The service is not ready: {why}."
        ),
        "en",
    )
    return JSONResponse(problem, status_code=503, media_type="application/problem+json")
