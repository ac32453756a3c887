"""Commit-to-delivery latency for integrators: SSE, webhooks and NATS JetStream.

    python bench/delivery.py --db sqlite|postgres [--rate 1000] [--seconds 20]
                             [--only sse,webhooks,nats] [--in-serve] [--json [PATH]]

A fresh database (bare log), served by ``cadreledger serve`` in a child process, as
an operator would run it. The webhook dispatcher (``cadreledger webhooks run``) and the
NATS publisher (``cadreledger publish``) run as processes of their own beside it, or,
with ``--in-serve``, inside the service (``serve --webhooks --nats``).

This process posts pre-signed statements at a steady ``--rate`` per second (open loop:
statement i is due at t0 + i/rate, whatever happened to the ones before) for
``--seconds``, and is at the same time the consumer of the channels: an SSE client of
``/v1/events/stream``, a loopback webhook receiver registered by a signed
``webhook.registered`` statement, and an ordered JetStream consumer.

For every event: ``commit`` = when its submitter got the receipt (201: the batch had
committed), ``delivered`` = when the consumer got it, both ``time.time()`` on this
machine; latency = delivered − commit. It can be below zero: the service pushes an
event to subscribers as soon as its batch commits, while the receipt's proof is still
being built. ``submit→delivered`` counts from when the statement was due to be sent
(time queueing for one of the ``--connections`` counts: no coordinated omission). The
first second is warm-up and left out. Target: p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("sse", "webhooks", "nats")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    C.add_db_args(p)
    p.add_argument("--rate", type=int, default=1000, help="statements per second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--only", default=",".join(CHANNELS), help="channels, comma-separated")
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--connections", type=int, default=32, help="HTTP connections for posting")
    p.add_argument(
        "--in-serve",
        action="store_true",
        help="run the webhook dispatcher and NATS publisher inside the service process",
    )
    C.add_json_arg(p)
    args = p.parse_args()
    channels = [c for c in args.only.split(",") if c]
    with C.workdir(args.tmpdir) as tmp:
        pg = C.pg_server(args) if args.db == "postgres" else None
        with C.fresh_db(args.db, "delivery", tmp, pg) as db:
            result = asyncio.run(run(args, db, tmp, channels))
    result["environment"] = C.environment()
    out = sys.stderr if args.json == "-" else sys.stdout
    print(report(result), file=out)
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")


async def run(
    args: argparse.Namespace, db: C.FreshDB, tmp: Path, channels: list[str]
) -> dict[str, Any]:
    import httpx

    from cadreledger.config import Settings
    from cadreledger.service import Ledger

    # The consumers listen on this machine: the ledger records at genesis that its
    # webhooks may deliver to private addresses, as the service it is then served by says.
    settings = Settings(
        db=db.ledger_url, log_key_file=db.key_file, rules=False, webhooks_allow_private=True
    )
    Ledger(settings).close()  # genesis: a bare log, which the service then takes up
    # A real service judges issued_at against its own clock (within the skew): sign now.
    C.ISSUED_AT = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    total = int(args.rate * args.seconds)
    keys, seeds = C.make_keys(8)
    signed = C.sign_all(total, seeds, cadres=50)
    bodies = [json.dumps(s.submission(), ensure_ascii=False).encode() for s in signed]
    port = C_free_port()
    url = f"http://127.0.0.1:{port}"
    tag = os.urandom(3).hex()
    stream, prefix = f"BENCH_{tag}", f"bench.{tag}"
    env = {
        **os.environ,
        "CADRELEDGER_LOG_KEY_FILE": db.key_file,
        "CADRELEDGER_WEBHOOK_KEY_FILE": str(tmp / f"{tag}.webhookkey"),
        # The receiver is local: registrations of private targets are admitted, on record.
        "CADRELEDGER_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    command = [sys.executable, "-m", "cadreledger.cli", "--db", db.ledger_url, "serve"]
    command += ["--port", str(port)]
    cli = [sys.executable, "-m", "cadreledger.cli", "--db", db.ledger_url]
    helpers: list[list[str]] = []
    if "webhooks" in channels:
        if args.in_serve:
            command += ["--webhooks", "--webhooks-allow-private"]
        else:
            helpers.append([*cli, "webhooks", "run", "--allow-private"])
    if "nats" in channels:
        if args.in_serve:
            command += ["--nats", args.nats, "--nats-stream", stream]
            command += ["--nats-subject-prefix", prefix]
        else:
            publish = ["publish", "--nats", args.nats, "--stream", stream]
            helpers.append([*cli, *publish, "--subject-prefix", prefix])
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # The SSE reader is an auditor (a bare log: the operator names the role).
    issue = [*cli, "token", "issue", "--person", "bench", "--role", "auditor"]
    os.environ["CADRELEDGER_TOKEN"] = subprocess.run(
        issue, cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    log = (tmp / "helpers.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, **quiet)
    others = [
        subprocess.Popen(h, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        for h in helpers
    ]
    commit: dict[str, float] = {}
    sent: dict[str, float] = {}
    got: dict[str, dict[str, float]] = {c: {} for c in channels}
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(
            limits=httpx.Limits(max_connections=args.connections), timeout=30
        ) as client:
            await _wait_up(client, url)
            consumers: list[Awaitable[None]] = []
            if "sse" in channels:
                consumers.append(_sse(url, got["sse"], stop))
            if "webhooks" in channels:
                consumers.append(await _webhooks(client, url, keys[0], got["webhooks"], stop))
            if "nats" in channels:
                consumers.append(await _nats(args.nats, stream, prefix, got["nats"], stop))
            tasks = [asyncio.create_task(c) for c in consumers]
            await asyncio.sleep(1.0)  # consumers connected
            load_started = time.time()
            late = await _load(url, bodies, args.rate, args.connections, sent, commit)
            load_seconds = max(commit.values()) - min(sent.values())
            deadline = time.time() + 15
            while time.time() < deadline and any(len(got[c]) < len(commit) for c in channels):
                await asyncio.sleep(0.2)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for proc in [server, *others]:
            proc.send_signal(signal.SIGTERM)
        for proc in [server, *others]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    warm = load_started + 1.0
    result: dict[str, Any] = {
        "db": args.db,
        "placement": "in-serve" if args.in_serve else "own processes",
        "rate": args.rate,
        "seconds": args.seconds,
        "events": len(commit),
        "achieved_rate": round(len(commit) / load_seconds, 1),
        "late_sends_over_50ms": late,
        "submit_p99_ms": round(
            C.percentile(sorted((commit[h] - sent[h]) * 1000 for h in commit), 99), 1
        ),
        "channels": {},
    }
    for c in channels:
        lat = sorted(
            (got[c][h] - commit[h]) * 1000 for h in commit if h in got[c] and sent[h] >= warm
        )
        full = sorted(
            (got[c][h] - sent[h]) * 1000 for h in commit if h in got[c] and sent[h] >= warm
        )
        result["channels"][c] = {
            "delivered": sum(1 for h in commit if h in got[c]),
            "missing": sum(1 for h in commit if h not in got[c]),
            "p50_ms": round(C.percentile(lat, 50), 1),
            "p99_ms": round(C.percentile(lat, 99), 1),
            "max_ms": round(lat[-1], 1) if lat else None,
            "submit_p50_ms": round(C.percentile(full, 50), 1),
            "submit_p99_ms": round(C.percentile(full, 99), 1),
        }
    return result


def C_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_up(client: Any, url: str) -> None:
    for _ in range(200):
        try:
            await client.get(url + "/v1/log/key")
            return
        except Exception:
            await asyncio.sleep(0.1)
    raise RuntimeError("the service did not start")


class _Connection:
    """A bare HTTP/1.1 keep-alive connection: httpx's async pool costs ~3 ms of CPU per
    request under concurrency here, more than the service's own work."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def _load(
    url: str,
    bodies: list[bytes],
    rate: int,
    connections: int,
    sent: dict[str, float],
    commit: dict[str, float],
) -> int:
    """Open loop: statement i goes at t0 + i/rate. Returns how many went >50 ms late."""
    host, _, port = url.removeprefix("http://").partition(":")
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(_Connection(host, int(port)))
    late = 0
    t0 = time.time() + 0.1
    pending: set[asyncio.Task[None]] = set()

    async def post(body: bytes, due: float) -> None:
        conn = await idle.get()  # waiting for a connection counts: ``due`` is the send time
        try:
            status, answer = await conn.post("/v1/statements", body)
        finally:
            idle.put_nowait(conn)
        done = time.time()
        if status in (200, 201):
            h = json.loads(answer)["event_hash"]
            sent[h], commit[h] = due, done

    for i, body in enumerate(bodies):
        due = t0 + i / rate
        wait = due - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.05:
            late += 1
        task = asyncio.create_task(post(body, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return late


async def _sse(url: str, got: dict[str, float], stop: asyncio.Event) -> None:
    import httpx

    token = os.environ["CADRELEDGER_TOKEN"]
    async with (
        httpx.AsyncClient(
            timeout=httpx.Timeout(10, read=None), headers={"authorization": f"Bearer {token}"}
        ) as client,
        client.stream("GET", url + "/v1/events/stream") as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                now = time.time()
                event_id = line[6:].split('"id":"', 1)[1][:64]
                got[event_id] = now
            if stop.is_set():
                return


async def _webhooks(
    client: Any, url: str, key: Any, got: dict[str, float], stop: asyncio.Event
) -> Awaitable[None]:
    """A loopback receiver (uvicorn in this loop), registered on the ledger."""
    import uvicorn

    from ledger.statement import sign_statement

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        event_id = headers.get(b"webhook-id", b"").decode()
        if event_id:
            got.setdefault(event_id, time.time())
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    port = C_free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    statement = C.make_statement(0, key.name, 1)
    for k in ("cycle", "cadre", "general", "tasks", "note"):
        statement.pop(k)
    statement.update(type="webhook.registered", url=f"http://127.0.0.1:{port}/hook")
    submission = sign_statement(statement, key).submission()
    response = await client.post(url + "/v1/statements", json=submission)
    if response.is_error:
        raise RuntimeError(f"registering the webhook: {response.text}")

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task

    return serve()


async def _nats(
    nats_url: str, stream: str, prefix: str, got: dict[str, float], stop: asyncio.Event
) -> Awaitable[None]:
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for _ in range(100):  # the service creates the stream when its publisher starts
        try:
            await js.stream_info(stream)
            break
        except Exception:
            await asyncio.sleep(0.1)

    async def on_message(msg: Any) -> None:
        now = time.time()
        got.setdefault((msg.headers or {}).get("Nats-Msg-Id", ""), now)

    sub = await js.subscribe(f"{prefix}.>", cb=on_message, ordered_consumer=True)

    async def run() -> None:
        await stop.wait()
        await sub.unsubscribe()
        try:
            await js.delete_stream(stream)
        finally:
            await nc.close()

    return run()


def report(result: dict[str, Any]) -> str:
    rows = [
        [
            c,
            v["delivered"],
            v["missing"],
            v["p50_ms"],
            v["p99_ms"],
            v["max_ms"],
            v["submit_p50_ms"],
            v["submit_p99_ms"],
        ]
        for c, v in result["channels"].items()
    ]
    head = (
        f"{result['db']} ({result['placement']}): {result['events']} events posted at "
        f"{result['rate']}/s "
        f"(achieved {result['achieved_rate']}/s, {result['late_sends_over_50ms']} sent >50 ms "
        f"late, receipt p99 {result['submit_p99_ms']} ms); latency in ms, commit (receipt) → "
        "consumer, first second left out"
    )
    if not rows:
        return head
    table = C.table(
        [
            "channel",
            "delivered",
            "missing",
            "p50",
            "p99",
            "max",
            "submit→deliv p50",
            "submit→deliv p99",
        ],
        rows,
    )
    return head + "\n" + table


if __name__ == "__main__":
    main()
