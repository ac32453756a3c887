"""HTTP load: ``POST /v1/statements`` against a real ``cadreledger serve``, on loopback.

    python bench/http_submit.py --db postgres|sqlite [--people 200] [--statements 20000]
                         [--connections 64] [--warmup 1000] [--baseline 4000]
                         [--workers 0,2] [--rounds 1] [--json [PATH]]

One fresh evaluation ledger (a new SQLite file, or a PostgreSQL database created for
the run and dropped afterwards) is set up in this process with the demo's cast: the
root of trust registers ``--people`` cadres and the officials, a QĐ 366 cycle opens,
everyone self-assesses, and a review meeting is held with every cadre attending.
The load is what such a meeting produces: ``comment.made`` statements, each by one
registered attendee about another, every one admitted by the evaluation rules. All
statements are signed before anything is timed (signing is the clients' work).

Measured in the same run, in this order:

  in-process  ``await Ledger.submit_async(body)`` from ``--connections`` asyncio tasks,
              in this process, on the same ledger: what the service can do without HTTP
  serve       ``cadreledger serve`` starts in a child process on the same database
              (authentication on as by default; the rate limiter on with a rate it never
              reaches, so that its cost is in the figures); it must answer ``/readyz``
  healthz     ``GET /healthz`` from the same client: the HTTP stack's own ceiling
  http        ``POST /v1/statements`` from ``--connections`` concurrent keep-alive
              connections, after ``--warmup`` untimed statements: sustained
              statements/s, p50/p99 latency, errors (anything but 201: must be 0), and
              the CPU time the server process, the PostgreSQL backends on its
              database and this client spent per request (from ``/proc`` and
              ``time.process_time``: figures the machine's other load disturbs far
              less than the rate), and the rate their sum allows on this machine's
              cores at best. The client is a lean
              HTTP/1.1 loop on uvloop, requests prepared before the clock starts, as
              wrk's would be
  workers     the same against ``cadreledger serve --workers N`` for each N of
              ``--workers`` (default 0,2: one process, then two HTTP workers), every one
              in each of ``--rounds`` rounds (median reported); the service's CPU is its
              process and its descendants
  lost        after the server stops, every acknowledged receipt's event hash must sit
              at its position in the log, read back from the database (must be 0)

The client runs in this process and competes with the server (and PostgreSQL) for the
CPUs: on a 2-core machine the figures are a floor. Target (issue 21): ≥ 1,800 signed
statements/s with p99 < 100 ms on PostgreSQL. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _common as C
import uvloop

TARGET_RATE, TARGET_P99_MS = 1800, 100  # issue 21
COMMENT = unicodedata.normalize("NFC", "Đồng chí cần chủ động hơn trong tham mưu, đề xuất.")


# -- the world: the demo's cast, a cycle, a meeting in session -----------------------------


def set_up(settings: Any, people: int) -> tuple[Any, str, Any]:
    """A cycle whose review meeting is in session; (demo, meeting hash, the ledger)."""
    from cadreledger.demo import UNIT, Demo
    from cadreledger.service import Ledger
    from ledger.keys import SignerKey

    ledger = Ledger(settings)
    root = SignerKey.parse(settings.root_key_path().read_text())
    demo = Demo(ledger, root, size=people)
    demo.enrol()
    demo.open_cycle()
    demo.many(
        partial(demo.on_cycle, p, "self_assessment.submitted", cadre=p.id, report="Tự đánh giá.")
        for p in demo.cadres
    )
    demo.on_cycle(demo.head, "self_assessment.submitted", cadre=UNIT, report="Tập thể.")
    meeting = demo.on_cycle(
        demo.head,
        "meeting.held",
        date=demo.today.isoformat(),
        attendees=[p.id for p in demo.cadres],
    ).event_hash.hex()
    return demo, meeting, ledger


def sign_comments(demo: Any, meeting: str, n: int, start: int) -> list[bytes]:
    """``n`` submissions of ``comment.made``: attendee ``i`` about another cadre."""
    import secrets

    from ledger.statement import sign_statement

    cadres = demo.cadres
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = []
    for i in range(start, start + n):
        by = cadres[i % len(cadres)]
        about = cadres[(i % len(cadres) + 1 + i // len(cadres)) % len(cadres)]
        if about is by:
            about = cadres[(cadres.index(by) + 1) % len(cadres)]
        statement = {
            "v": 1,
            "type": "comment.made",
            "actor": by.id,
            "issued_at": issued,
            "nonce": secrets.token_urlsafe(16),
            "cycle": demo.cycle,
            "cadre": about.id,
            "meeting": meeting,
            "text": COMMENT,
        }
        signed = sign_statement(statement, by.key)
        bodies.append(json.dumps(signed.submission(), ensure_ascii=False).encode())
    return bodies


# -- in-process baseline -----------------------------------------------------------------


def in_process(ledger: Any, bodies: list[bytes], tasks: int) -> dict[str, Any]:
    async def run() -> tuple[dict[str, float], list[float]]:
        latencies: list[float] = []

        async def work(share: list[bytes]) -> None:
            for body in share:
                t0 = time.perf_counter()
                receipt = await ledger.submit_async(body)
                latencies.append(time.perf_counter() - t0)
                if receipt.duplicate:
                    raise RuntimeError("unexpected duplicate receipt")

        database = C.BackendsCPU(ledger.settings.db)
        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(work(bodies[t::tasks]) for t in range(tasks)))
        elapsed = time.perf_counter() - start
        return {
            "seconds": elapsed,
            # This process is the service here: its CPU is the ledger's work without HTTP.
            "server_cpu_us": (time.process_time() - cpu) / len(bodies) * 1e6,
            **database_figures(database.stop(), len(bodies)),
        }, latencies

    run_figures, latencies = asyncio.run(run())
    return _figures(
        "in-process", "await Ledger.submit_async(body), same ledger", run_figures, latencies
    )


def database_figures(database: C.DatabaseCPU, items: int) -> dict[str, Any]:
    """PostgreSQL's CPU per item, from the backends serving the benchmark's own database
    (none on SQLite: nothing to show)."""
    if not database.backends:
        return {}
    return {
        "database_cpu_us": database.us_per(items),
        "database_backends": database.backends,
        # With any, database_cpu_us is a lower bound (C.BackendsCPU).
        "database_backends_ended": database.ended,
    }


# -- the server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    db: C.FreshDB, settings: Any, port: int, log: Path, workers: int = 0
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CADRELEDGER_LOG_KEY_FILE": str(settings.key_path()),
        "CADRELEDGER_ROOT_KEY_FILE": str(settings.root_key_path()),
        "CADRELEDGER_DATA_KEY_FILE": str(settings.data_key_path()),
        "CADRELEDGER_MAX_BATCH": str(settings.max_batch),
        # Counted, never refused: every request comes from 127.0.0.1.
        "CADRELEDGER_RATE_LIMIT": "1000000",
        "CADRELEDGER_RATE_BURST": "1000000",
    }
    command = [sys.executable, "-m", "cadreledger.cli", "--db", db.ledger_url, "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    root = Path(__file__).resolve().parent.parent
    with log.open("ab") as out:  # a file, never a pipe: one JSON line per request
        return subprocess.Popen(command, stdout=out, stderr=out, env=env, cwd=root)


async def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"cadreledger serve exited with {server.returncode}")
            try:
                async with session.get(base + "/readyz") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cadreledger serve did not become ready")
            await asyncio.sleep(0.2)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- the load ----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a load generator should be (what
    wrk does in C): requests are bytes prepared before the clock starts, an answer is
    read by its ``Content-Length``. The client shares the machine's two cores with the
    server; every microsecond it spends per request is taken from the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        found = CONTENT_LENGTH.search(head)
        if found is None:
            raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
        return int(head[9:12]), await self.reader.readexactly(int(found.group(1)))

    def close(self) -> None:
        self.writer.close()


CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


def request_bytes(port: int, method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def load(
    port: int,
    server_pid: int,
    database_url: str,
    bodies: list[bytes],
    connections: int,
    warmup: int,
    healthz: int,
) -> dict[str, Any]:
    """Warm up, measure ``GET /healthz``, then the statements: rates, latencies, and the
    CPU time the server and this client spent per request."""
    posts = [request_bytes(port, "POST", "/v1/statements", body) for body in bodies]
    probe = request_bytes(port, "GET", "/healthz")
    errors: list[str] = []
    answers: list[bytes] = []
    pool = [await Connection.open(port) for _ in range(connections)]

    async def post(conn: Connection, raw: bytes, latencies: list[float] | None) -> None:
        t0 = time.perf_counter()
        try:
            status, body = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, RuntimeError) as e:
            errors.append(f"{type(e).__name__}: {e}")
            return
        if status != 201:
            errors.append(f"{status} {body[:200]!r}")
            return
        if latencies is not None:
            latencies.append(time.perf_counter() - t0)
        answers.append(body)  # read after the clock stops

    async def get(conn: Connection, raw: bytes, latencies: list[float]) -> None:
        t0 = time.perf_counter()
        status, _ = await conn.request(raw)
        if status != 200:
            errors.append(f"healthz {status}")
        latencies.append(time.perf_counter() - t0)

    async def spread(jobs: list[bytes], run: Any) -> dict[str, float]:
        async def worker(conn: Connection, share: list[bytes]) -> None:
            for job in share:
                await run(conn, job)

        server_cpu, client_cpu = server_cpu_seconds(server_pid), time.process_time()
        writer_cpu = C.cpu_seconds(server_pid)
        database = C.BackendsCPU(database_url)
        start = time.perf_counter()
        await asyncio.gather(*(worker(c, jobs[i::connections]) for i, c in enumerate(pool)))
        return {
            "seconds": time.perf_counter() - start,
            "server_cpu_us": (server_cpu_seconds(server_pid) - server_cpu) / len(jobs) * 1e6,
            # The process that writes (with workers, the HTTP is elsewhere): its
            # interpreter is the one that cannot be spread over cores.
            "writer_cpu_us": (C.cpu_seconds(server_pid) - writer_cpu) / len(jobs) * 1e6,
            "client_cpu_us": (time.process_time() - client_cpu) / len(jobs) * 1e6,
            **database_figures(database.stop(), len(jobs)),
        }

    try:
        await spread(posts[:warmup], lambda c, r: post(c, r, None))
        probed: list[float] = []
        probe_run = await spread([probe] * healthz, lambda c, r: get(c, r, probed))
        timed: list[float] = []
        post_run = await spread(posts[warmup:], lambda c, r: post(c, r, timed))
        _, metrics = await pool[0].request(request_bytes(port, "GET", "/metrics"))
    finally:
        for conn in pool:
            conn.close()
    receipts = [json.loads(a) for a in answers]
    return {
        "healthz": _figures("healthz", "GET /healthz, same client", probe_run, probed),
        "http": _figures(
            "http", "POST /v1/statements, signed comment.made", post_run, timed, errors
        ),
        "receipts": [(r["index"], r["event_hash"]) for r in receipts],
        "mean_batch": _mean(metrics.decode(), "cadreledger_append_batch_size"),
    }


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds of the service: its process and its HTTP workers (its descendants)."""
    return sum(C.cpu_seconds(p) for p in [pid, *C.descendants(pid)])


def lost(settings: Any, receipts: list[tuple[int, str]]) -> dict[str, Any]:
    """Acknowledged receipts whose event is not at its position in the stored log."""
    from cadreledger.service import Ledger

    with Ledger(settings, writer=False) as ledger:
        size = ledger.size()
        stored: dict[int, str] = {}
        wanted = sorted(i for i, _ in receipts)
        position = wanted[0] if wanted else 0
        while position <= (wanted[-1] if wanted else -1):
            rows = ledger.entries(position, 1000)
            if not rows:
                break
            stored.update((row["index"], row["event_hash"]) for row in rows)
            position = rows[-1]["index"] + 1
        # Nothing in the load reads the read model, so nothing moves it on; the next
        # run's server is ready only within 10,000 events of it (/readyz).
        ledger.projector.catch_up()
    missing = [i for i, h in receipts if stored.get(i) != h]
    return {
        "acknowledged": len(receipts),
        "distinct_positions": len({i for i, _ in receipts}),
        "lost": len(missing),
        "first_lost": missing[:5],
        "log_size": size,
    }


# -- numbers -----------------------------------------------------------------------------


def _figures(
    name: str,
    what: str,
    run: dict[str, float],
    latencies: list[float],
    errors: list[str] | None = None,
) -> dict[str, Any]:
    lat = sorted(latencies)
    elapsed = run["seconds"]
    return {
        "name": name,
        "what": what,
        "requests": len(lat),
        **run,
        "per_second": len(lat) / elapsed if elapsed else float("nan"),
        "p50_ms": C.percentile(lat, 50) * 1e3,
        "p99_ms": C.percentile(lat, 99) * 1e3,
        "errors": len(errors or []),
        "first_errors": (errors or [])[:5],
    }


def _mean(metrics: str, histogram: str) -> float | None:
    def value(suffix: str) -> float | None:
        found = re.search(rf"^{histogram}_{suffix} (\S+)$", metrics, re.MULTILINE)
        return float(found.group(1)) if found else None

    total, count = value("sum"), value("count")
    return total / count if total is not None and count else None


def database_cell(run: dict[str, Any]) -> Any:
    """``database µs`` as the table shows it: ``≥`` when a backend ended in the run."""
    if "database_cpu_us" not in run:
        return "–"
    if run["database_backends_ended"]:
        return f"≥{run['database_cpu_us']:,.0f}"
    return run["database_cpu_us"]


def serve_and_load(
    db: C.FreshDB,
    settings: Any,
    bodies: list[bytes],
    args: argparse.Namespace,
    workers: int,
    log: Path,
) -> dict[str, Any]:
    """One ``cadreledger serve`` (with ``workers`` HTTP workers, or none), loaded."""
    port = free_port()
    server = start_server(db, settings, port, log, workers)
    try:
        try:
            asyncio.run(wait_ready(f"http://127.0.0.1:{port}", server, timeout=300))
        except RuntimeError:
            print(log.read_text()[-3000:], file=sys.stderr)
            raise
        measured = uvloop.run(  # the client on the loop the server runs on
            load(
                port,
                server.pid,
                db.ledger_url,
                bodies,
                args.connections,
                args.warmup,
                args.healthz,
            )
        )
    finally:
        stop_server(server)
    check = lost(settings, measured.pop("receipts"))
    if check["lost"] or check["distinct_positions"] != check["acknowledged"]:
        print(log.read_text()[-3000:], file=sys.stderr)
    name = f"http, {workers} workers" if workers else "http, 1 process"
    measured["http"]["name"] = name
    measured["healthz"]["name"] = f"healthz, {workers} workers" if workers else "healthz"
    return {**measured, "lost": check, "workers": workers}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round by statements/s, with every round's rate beside it."""
    chosen = dict(sorted(runs, key=lambda r: r["http"]["per_second"])[len(runs) // 2])
    chosen["rounds"] = [r["http"]["per_second"] for r in runs]
    chosen["errors_all_rounds"] = sum(r["http"]["errors"] for r in runs)
    chosen["lost_all_rounds"] = sum(r["lost"]["lost"] for r in runs)
    return chosen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    C.add_db_args(p)
    p.add_argument("--people", type=int, default=200, help="registered attendees (default 200)")
    p.add_argument("--statements", type=int, default=20000, help="timed POSTs (default 20000)")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections (64)")
    p.add_argument("--warmup", type=int, default=1000, help="untimed POSTs first (1000)")
    p.add_argument("--baseline", type=int, default=4000, help="in-process submissions (4000)")
    p.add_argument("--healthz", type=int, default=5000, help="GET /healthz requests (5000)")
    p.add_argument("--max-batch", type=int, default=1000, help="Settings.max_batch (1000)")
    p.add_argument(
        "--workers",
        default="0,2",
        help="comma-separated `serve --workers` values to measure, each in every round "
        "(default 0,2: one process, then two HTTP workers)",
    )
    p.add_argument("--rounds", type=int, default=1, help="rounds; the median is reported (1)")
    C.add_json_arg(p)
    args = p.parse_args(argv)
    if args.people < 20:
        p.error("--people must be at least 20 (the demo's panel and leaders)")
    modes = [int(w) for w in args.workers.split(",")]
    out = C.human_stream(args)
    pg = C.pg_server(args) if args.db == "postgres" else None
    env = C.environment()

    from cadreledger.config import Settings

    with C.workdir(args.tmpdir) as tmp, C.fresh_db(args.db, "http", tmp, pg) as db:
        settings = Settings(
            db=db.ledger_url,
            log_key_file=db.key_file,
            root_key_file=str(tmp / "http.rootkey"),
            data_key_file=str(tmp / "http.datakey"),
            max_batch=args.max_batch,
        )
        started = time.perf_counter()
        demo, meeting, ledger = set_up(settings, args.people)
        print(f"set up {ledger.size()} events in {time.perf_counter() - started:.1f}s", file=out)
        started = time.perf_counter()
        per_run = args.warmup + args.statements
        n = args.baseline + per_run * len(modes) * args.rounds
        bodies = sign_comments(demo, meeting, n, 0)
        print(f"signed {n} statements in {time.perf_counter() - started:.1f}s", file=out)
        try:
            baseline = in_process(ledger, bodies[: args.baseline], args.connections)
        finally:
            ledger.close()
        runs: dict[int, list[dict[str, Any]]] = {w: [] for w in modes}
        at = args.baseline
        for turn in range(args.rounds):  # interleaved: a burst of load hits every mode
            for workers in modes:
                run = serve_and_load(
                    db, settings, bodies[at : at + per_run], args, workers, tmp / "serve.log"
                )
                at += per_run
                runs[workers].append(run)
                print(
                    f"round {turn + 1}: {run['http']['name']}: {run['http']['per_second']:,.0f}/s",
                    file=out,
                )
    chosen = {w: _median(r) for w, r in runs.items()}

    rows = [
        [
            r["name"],
            r["requests"],
            r["per_second"],
            r["p50_ms"],
            r["p99_ms"],
            r["errors"],
            r.get("server_cpu_us", "–"),
            r.get("writer_cpu_us", r.get("server_cpu_us", "–")),
            database_cell(r),
            r.get("client_cpu_us", "–"),
        ]
        for r in [baseline] + [m[k] for m in chosen.values() for k in ("healthz", "http")]
    ]
    print(
        f"\nHTTP load — {args.db}, {args.connections} connections, {args.people} people "
        f"(code {env['code']}, load {env['loadavg_at_start']}; median of {args.rounds} "
        "rounds)",
        file=out,
    )
    headers = ["run", "requests", "per s", "p50 ms", "p99 ms", "errors", "server µs", "writer µs"]
    headers += ["database µs", "client µs"]
    print(C.table(headers, rows), file=out)
    if db.pg_name:
        print(
            f"database µs: CPU of the PostgreSQL backends on {db.pg_name} only (the server's "
            "checkpointer, background and WAL writers left out); ≥: a backend ended "
            "during the run, taking its CPU time with it",
            file=out,
        )
    results: list[dict[str, Any]] = [baseline]
    ok = True
    for m in chosen.values():
        http = m["http"]
        rates = ", ".join(f"{r:,.0f}" for r in m["rounds"])
        # Every request costs the machine this much CPU in all; no scheduling does
        # better than the cores divided by it.
        database = http.get("database_cpu_us", 0.0)  # SQLite's is in the server's
        per_statement = http["server_cpu_us"] + database + http["client_cpu_us"]
        ceiling = (os.cpu_count() or 1) / per_statement * 1e6
        met = http["per_second"] >= TARGET_RATE and http["p99_ms"] < TARGET_P99_MS
        ok = ok and m["errors_all_rounds"] == 0 and m["lost_all_rounds"] == 0
        print(
            f"{http['name']}: CPU per statement {per_statement:,.0f} µs (service "
            f"{http['server_cpu_us']:,.0f}, database and client) → at most {ceiling:,.0f}/s on "
            f"{os.cpu_count()} cores; lost {m['lost']['lost']} of {m['lost']['acknowledged']} "
            f"acknowledged (all rounds: {m['lost_all_rounds']} lost, "
            f"{m['errors_all_rounds']} errors); rounds {rates}/s; "
            f"HTTP ÷ in-process {http['per_second'] / baseline['per_second']:.2f}; "
            f"target ≥ {TARGET_RATE}/s and p99 < {TARGET_P99_MS} ms: {'met' if met else 'NOT met'}",
            file=out,
        )
        for error in http["first_errors"]:
            print(f"  error: {error}", file=out)
        results += [m["healthz"], http]
        http["cpu_us_per_statement"] = per_statement
        http["cpu_ceiling_per_second"] = ceiling
        http["lost"] = m["lost"]
        http["mean_batch"] = m["mean_batch"]
        http["rounds"] = m["rounds"]
        http["target_met"] = met
    C.write_json(
        args,
        {
            "benchmark": "http",
            "args": vars(args),
            "environment": env,
            "results": results,
            "target": {"per_second": TARGET_RATE, "p99_ms": TARGET_P99_MS},
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
