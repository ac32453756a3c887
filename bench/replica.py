"""Read scale-out: one primary alone vs the primary and one streaming replica.

    python -m bench.replica [--cadres 42] [--requests 2000] [--connections 16]
                            [--rounds 3] [--json [PATH]]

A private PostgreSQL primary and a hot standby made from it (``bench.replication``:
``initdb`` and ``pg_basebackup -R`` on free ports; never the machine's shared server).
The demo's QĐ 366 cycle (``--cadres`` people) is written to the primary and its read
model projected; then ``cadreledger serve`` runs on the primary and ``cadreledger
serve --read-only`` on the replica, each a process of its own, authentication on (the
inspection committee's token), the rate limiter on with a rate never reached.

Two reads, each measured two ways, in the same run, alternating, ``--rounds`` times
after an untimed warm-up round (the median round is reported):

  cadre page  ``GET /v1/cycles/{cycle}/cadres/{cadre}``, over every cadre in turn
  feed        ``GET /v1/events?after=P&limit=100``, over the whole log in turn

  primary           every request to the primary (the baseline)
  primary+replica   the same requests split evenly between the two servers, half
                    the connections each

Reported: requests/s, p50/p99 latency, errors (anything but 200: must be 0), and CPU
time per request of the service processes (both, in the second setup) and of the
PostgreSQL backends on the databases they serve (bench/README.md). The client runs
in this process on the same cores: on a 2-core machine a second server process mostly
competes with the first for the same two cores, so the gain is bounded by the CPU left
over, not by the design.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _common as C
from bench.drills.cluster import server_programs
from bench.drills.crash import free_port
from bench.replication import Replicated

ROOT = Path(__file__).resolve().parent.parent
INSPECTION = "ubkt.dongson"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


class Connection:
    """A keep-alive HTTP/1.1 connection; requests prepared as bytes (as wrk would)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        found = CONTENT_LENGTH.search(head)
        if found is None:
            raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
        await self.reader.readexactly(int(found.group(1)))
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


def request(port: int, path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def serve(db: str, keys: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CADRELEDGER_LOG_KEY_FILE": str(keys / "log.key"),
        "CADRELEDGER_ROOT_KEY_FILE": str(keys / "root.key"),
        "CADRELEDGER_DATA_KEY_FILE": str(keys / "log.datakey"),
        "CADRELEDGER_RATE_LIMIT": "1000000",
        "CADRELEDGER_RATE_BURST": "1000000",
    }
    command = [sys.executable, "-m", "cadreledger.cli", "--db", db, "serve", *extra]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, env=env, cwd=ROOT)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"cadreledger serve exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("cadreledger serve did not become ready")
        time.sleep(0.2)


def set_up(pair: Replicated, keys: Path, cadres: int) -> tuple[str, list[str], int, str]:
    """The demo's cycle on the primary, projected; the inspection committee's token."""
    from access.tokens import AccessStore
    from cadreledger.config import Settings
    from cadreledger.demo import Demo
    from cadreledger.service import Ledger
    from ledger.keys import SignerKey

    settings = Settings(
        db=pair.primary.url,
        log_key_file=str(keys / "log.key"),
        root_key_file=str(keys / "root.key"),
    )
    with Ledger(settings) as ledger:
        demo = Demo(ledger, SignerKey.parse((keys / "root.key").read_text()), size=cadres)
        demo.run()
        ledger.projector.catch_up()
        token, _ = AccessStore(ledger.store).issue(INSPECTION)
        return demo.cycle, [c.id for c in demo.cadres], ledger.size(), token


async def measure(
    targets: list[tuple[int, int]],
    databases: list[str],
    paths: list[str],
    token: str,
    connections: int,
) -> dict[str, Any]:
    """``paths`` spread over ``connections`` connections, split evenly between the
    ``targets`` (port, server pid) that serve ``databases`` (their URLs)."""
    pool: list[tuple[Connection, int]] = []
    for i in range(connections):
        port = targets[i % len(targets)][0]
        pool.append((await Connection.open(port), port))
    latencies: list[float] = []
    errors: list[str] = []

    async def worker(conn: Connection, port: int, share: list[str]) -> None:
        for path in share:
            t0 = time.perf_counter()
            status = await conn.get(request(port, path, token))
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"{status} {path}")

    servers = [pid for _, pid in targets]
    server_cpu = sum(C.cpu_seconds(p) for p in servers)
    database = C.BackendsCPU(*databases)
    start = time.perf_counter()
    try:
        await asyncio.gather(
            *(worker(c, port, paths[i::connections]) for i, (c, port) in enumerate(pool))
        )
    finally:
        for conn, _ in pool:
            conn.close()
    seconds = time.perf_counter() - start
    database_cpu = database.stop()
    latencies.sort()
    n = len(paths)
    return {
        "requests": n,
        "per_second": n / seconds,
        "p50_ms": C.percentile(latencies, 50) * 1000,
        "p99_ms": C.percentile(latencies, 99) * 1000,
        "errors": len(errors),
        "service_cpu_us": (sum(C.cpu_seconds(p) for p in servers) - server_cpu) / n * 1e6,
        "database_cpu_us": database_cpu.us_per(n),
        # With any, database_cpu_us is a lower bound (C.BackendsCPU).
        "database_backends_ended": database_cpu.ended,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    programs = server_programs()
    if programs is None:
        raise SystemExit("PostgreSQL's server programs (initdb, pg_basebackup) are needed")
    pair = Replicated(programs).start()
    work = Path(tempfile.mkdtemp(prefix="cadreledger-replica-bench-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        cycle, cadres, size, token = set_up(pair, work, args.cadres)
        a, b = free_port(), free_port()
        servers.append(serve(pair.primary.url, work, a, work / "primary.log"))
        servers.append(serve(pair.replica_url, work, b, work / "replica.log", "--read-only"))
        for port, server in zip((a, b), servers, strict=True):
            wait_ready(port, server)
        primary, replica = (a, servers[0].pid), (b, servers[1].pid)
        loads = {
            "cadre page": [
                f"/v1/cycles/{cycle}/cadres/{cadres[i % len(cadres)]}" for i in range(args.requests)
            ],
            "feed": [
                f"/v1/events?after={(i * 97) % size - 1}&limit=100" for i in range(args.requests)
            ],
        }
        setups = {"primary": [primary], "primary+replica": [primary, replica]}
        databases = {
            "primary": [pair.primary.url],
            "primary+replica": [pair.primary.url, pair.replica_url],
        }
        rounds: dict[str, dict[str, list[dict[str, Any]]]] = {
            load: {setup: [] for setup in setups} for load in loads
        }
        for round_ in range(args.rounds + 1):  # round 0 warms both servers up, untimed
            for load, paths in loads.items():
                for setup, targets in setups.items():
                    found = asyncio.run(
                        measure(targets, databases[setup], paths, token, args.connections)
                    )
                    if round_:
                        rounds[load][setup].append(found)
        results = {
            load: {setup: _median(found) for setup, found in by_setup.items()}
            for load, by_setup in rounds.items()
        }
        return {
            "benchmark": "replica",
            "command": "python -m bench.replica " + " ".join(sys.argv[1:]),
            "environment": C.environment(),
            "log_size": size,
            "cadres": args.cadres,
            "connections": args.connections,
            "rounds": args.rounds,
            "results": results,
            "all_rounds": rounds,
        }
    finally:
        for server in servers:
            stop(server)
        pair.stop()
        shutil.rmtree(work, ignore_errors=True)


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round of median rate, as it was measured (its own latencies and CPU)."""
    by_rate = sorted(rounds, key=lambda r: r["per_second"])
    chosen = dict(by_rate[len(by_rate) // 2])
    chosen["rates"] = [round(r["per_second"]) for r in rounds]
    chosen["errors"] = sum(r["errors"] for r in rounds)
    return chosen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cadres", type=int, default=42)
    p.add_argument("--requests", type=int, default=2000, help="per load, per setup, per round")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    C.add_json_arg(p)
    args = p.parse_args(argv)
    data = run(args)
    out = C.human_stream(args)
    rows = []
    for load, by_setup in data["results"].items():
        base = by_setup["primary"]["per_second"]
        for setup, r in by_setup.items():
            rows.append(
                [
                    load,
                    setup,
                    round(r["per_second"]),
                    f"{r['per_second'] / base:.2f}×",
                    " / ".join(map(str, r["rates"])),
                    f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}",
                    round(r["service_cpu_us"]),
                    round(r["database_cpu_us"]),
                    r["errors"],
                ]
            )
    headers = ["read", "servers", "req/s", "vs primary", "rounds", "p50/p99 ms"]
    headers += ["service CPU µs/req", "PostgreSQL CPU µs/req", "errors"]
    print(C.table(headers, rows), file=out)
    print(f"log of {data['log_size']} events; {data['connections']} connections", file=out)
    C.write_json(args, data)
    errors = sum(r["errors"] for by in data["results"].values() for r in by.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
