"""The load drill (tải bền): writers, readers and SSE followers on the real service, for minutes.

``cadreledger serve`` runs in a subprocess over SQLite or PostgreSQL, its rate limit set
out of reach (every client is 127.0.0.1). Before it starts, a QĐ 366 cycle is set up in
process: people and roles, the roster, self-assessments, meeting A (minutes adopted: its
cadres may be scored) and meeting B (in session: its cadres may be commented on), and an
access token for each reader. Then, for ``seconds``, concurrently:

- **writers**, each one panel member: signed ``comment.made`` by any attendee of meeting
  B (half), ``score.submitted`` for the next cadre of meeting A, and ``score.amended`` of
  the member's latest ballot for a cadre (its receipt's event hash) — all admitted by the
  rules, signed at the moment they are sent;
- **readers** with tokens of several roles: the chair, a panel member and the inspection
  committee (ratings, cadre pages, timelines ``?at=``), a standing auditor (ratings
  ``?at=``, the log, the feed), cadres (their own page and timeline), and anyone
  (checkpoints, inclusion and consistency proofs);
- **SSE followers** of ``/v1/events/stream``: an auditor and an inspector (every event),
  an integrator granted the cycle (``cycle=``), one of them cutting its own connection
  every few seconds and resuming with ``Last-Event-ID``.

Measured: requests/s and latency p50/p95/p99 per kind; errors (any answer or stream
event not expected: must be 0); lost events (an acknowledged statement not stored once
at its receipt's position, or not seen by every follower, in order: must be 0); the
service's resident memory every second, judged flat when the median of the last third of
the run (after warm-up) exceeds the first third's by at most ``rss_slack_mb`` MiB or
``rss_slack_ratio`` of it or ``rss_per_event_kib`` for each statement acknowledged
between the two thirds, whichever is largest: the drill's one cycle takes every write,
and the service's state grows with its cycle (docs/reliability.md, §5).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from access.tokens import AccessStore
from bench._common import percentile, table
from bench.drills.base import Keys, submit_in_batches
from bench.drills.crash import Service
from bench.drills.scenario import CHAIR, INSPECTION, Scenario
from cadreledger.service import Ledger
from domain.acts import VIETNAM
from ledger.envelope import Event
from ledger.statement import sign_statement

AUDITOR, INSPECTOR, INTEGRATOR = "kiem-toan", "thanh-tra", "tich-hop"
READERS = ((AUDITOR, "auditor"), (INSPECTOR, "inspector"), (INTEGRATOR, "integrator"))
MAX_SAMPLES = 20  # errors and problems listed; one is enough to fail the drill
WRITES = ("comment", "score", "amendment")


@dataclass
class Plan:
    seconds: float = 50.0
    writers: int = 4  # one panel member each
    readers: int = 6
    followers: int = 3  # an auditor, an inspector, an integrator (cycle=), round robin
    cadres: int = 120  # half reviewed at meeting A (scored), half at meeting B (commented on)
    cut_every: tuple[float, float] = (3.0, 8.0)  # the first follower's own disconnections
    warmup: float = 0.25  # share of the run left out of the memory judgement
    rss_slack_mb: float = 20.0
    rss_slack_ratio: float = 0.10
    # What an event may add while the one cycle grows: ~2 KB of state and ~4 KiB of the
    # cycle's replay (docs/reliability.md), with a margin. The leak found before: 17–20.
    rss_per_event_kib: float = 8.0
    catch_up: float = 60.0  # seconds followers get to reach the last acknowledged event
    seed: int = 5


@dataclass
class Figures:
    database: str
    seconds: float = 0.0  # the load window
    log_start: int = 0
    log_end: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    acknowledged: int = 0
    lost_in_log: int = 0  # acknowledged, not stored once where the receipt says
    duplicated_in_log: int = 0  # (actor, nonce) stored more than once
    followers: list[dict[str, Any]] = field(default_factory=list)
    lost_by_followers: int = 0  # (acknowledged statement, follower) pairs never delivered
    out_of_order: int = 0  # deliveries not after the previous one (or, unfiltered, a gap)
    sse_lag: list[float] = field(default_factory=list)  # acknowledged → delivered, seconds
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds, KiB)
    acks: list[float] = field(default_factory=list)  # seconds, each acknowledgement
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_in_log + self.duplicated_in_log + self.lost_by_followers

    def memory(self, plan: Plan) -> dict[str, Any]:
        """The first and last thirds of the samples after warm-up, and the verdict."""
        kept = [(t, kib) for t, kib in self.rss if t >= plan.warmup * self.seconds]
        third = len(kept) // 3
        if third < 2:
            return {"samples": len(self.rss), "flat": False, "why": "too few samples"}
        early, late = kept[:third], kept[-third:]
        first = statistics.median(kib for _, kib in early) / 1024
        last = statistics.median(kib for _, kib in late) / 1024
        since = statistics.median(t for t, _ in early)
        until = statistics.median(t for t, _ in late)
        events = sum(1 for t in self.acks if since <= t < until)
        allowed = max(
            plan.rss_slack_mb, plan.rss_slack_ratio * first, plan.rss_per_event_kib * events / 1024
        )
        return {
            "samples": len(self.rss),
            "start_mb": round(self.rss[0][1] / 1024, 1),
            "first_third_mb": round(first, 1),
            "last_third_mb": round(last, 1),
            "growth_mb": round(last - first, 1),
            "events_between": events,
            "kib_per_event": round((last - first) * 1024 / events, 1) if events else None,
            "allowed_mb": round(allowed, 1),
            "peak_mb": round(max(k for _, k in self.rss) / 1024, 1),
            "flat": last - first <= allowed,
        }

    def kinds(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind, values in sorted(self.latencies.items(), key=lambda kv: _order(kv[0])):
            lat = sorted(values)
            out[kind] = {
                "requests": len(lat),
                "per_s": round(len(lat) / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": round(percentile(lat, 50) * 1e3, 1),
                "p95_ms": round(percentile(lat, 95) * 1e3, 1),
                "p99_ms": round(percentile(lat, 99) * 1e3, 1),
            }
        return out

    def ok(self, plan: Plan) -> bool:
        flat = bool(self.memory(plan)["flat"])
        return (
            not self.errors
            and not self.lost
            and not self.out_of_order
            and flat
            and (not self.problems)
        )

    def to_json(self, plan: Plan) -> dict[str, Any]:
        lag = sorted(self.sse_lag)
        writes = sum(len(self.latencies[k]) for k in WRITES if k in self.latencies)
        return {
            "database": self.database,
            "seconds": round(self.seconds, 1),
            "log": [self.log_start, self.log_end],
            "writes_per_s": round(writes / self.seconds, 1) if self.seconds else 0.0,
            "kinds": self.kinds(),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "lost_in_log": self.lost_in_log,
            "duplicated_in_log": self.duplicated_in_log,
            "lost_by_followers": self.lost_by_followers,
            "out_of_order": self.out_of_order,
            "followers": self.followers,
            "sse_lag_ms": {
                "p50": round(percentile(lag, 50) * 1e3, 1),
                "p95": round(percentile(lag, 95) * 1e3, 1),
                "p99": round(percentile(lag, 99) * 1e3, 1),
            },
            "memory": self.memory(plan),
            "rss_mb_every_5s": [round(k / 1024, 1) for _, k in self.rss[::5]],
            "problems": self.problems,
            "ok": self.ok(plan),
        }


def _order(kind: str) -> tuple[int, str]:
    return (WRITES.index(kind), kind) if kind in WRITES else (len(WRITES), kind)


# -- the world ---------------------------------------------------------------------------


class World(Scenario):
    """The drill's people and cycle; statements set up on a clock from a minute ago, the
    load's signed at the moment they are sent (the ledger refuses an ``issued_at``
    more than its clock skew from the log's time)."""

    def __init__(self, plan: Plan) -> None:
        today = datetime.now(VIETNAM).date()
        super().__init__(
            cadres=plan.cadres, panel=plan.writers, seed=plan.seed, cycle=f"{today.year}-qd366-tai"
        )
        self.today = today
        self.deadline = (today + timedelta(days=60)).isoformat()  # never met during a drill
        self.clock = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        half = plan.cadres // 2
        self.scored, self.commented = self.cadres[:half], self.cadres[half:]
        self.attendees = [CHAIR, *self.panel, *self.commented]  # of meeting B
        self.meeting_b = ""

    def meetings(self, ledger: Ledger) -> None:
        """Meeting A with its minutes (scoring may start), meeting B in session."""
        day = self.today.isoformat()

        def held(cadres: list[str]) -> str:
            attendees = [CHAIR, *self.panel, *cadres]
            signed = self.on(CHAIR, "meeting.held", date=day, attendees=attendees, subjects=cadres)
            return ledger.append(signed).event_hash.hex()

        meeting_a = held(self.scored)
        minutes = self.on(CHAIR, "minutes.adopted", meeting=meeting_a, comments=[], text="BB.")
        ledger.append(minutes)
        self.meeting_b = held(self.commented)

    def now(self, actor: str, type_: str, **body: Any) -> tuple[str, bytes]:
        """A submission signed now: (its nonce, its bytes)."""
        statement = {
            "v": 1,
            "type": type_,
            "actor": actor,
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": self.nonce(),
            "cycle": self.cycle,
            **body,
        }
        signed = sign_statement(statement, self.key(actor))
        return signed.nonce, json.dumps(signed.submission(), ensure_ascii=False).encode()


def prepare(url: str, keys: Keys, plan: Plan) -> tuple[World, dict[str, str]]:
    """The cycle, written in process, and a token for each reading person."""
    world = World(plan)
    keys.folder.mkdir(parents=True, exist_ok=True)
    keys.root.write_text(str(world.root) + "\n")
    with Ledger(keys.settings(url)) as ledger:
        opening = world.opening(READERS, world.today.year, world.deadline)
        submit_in_batches(ledger, opening, random.Random(plan.seed), most=200)
        world.meetings(ledger)
        access = AccessStore(ledger.store)
        people = [CHAIR, world.panel[0], INSPECTION, AUDITOR, INSPECTOR, INTEGRATOR]
        people += world.commented[:4] + world.scored[:4]
        tokens = {p: access.issue(p)[0] for p in people}
        access.grant(INTEGRATOR, world.cycle)
    return world, tokens


# -- the run -----------------------------------------------------------------------------


class Drill:
    def __init__(self, url: str, workdir: Path, plan: Plan) -> None:
        self.url, self.workdir, self.plan = url, workdir, plan
        self.keys = Keys(workdir / "keys")
        self.figures = Figures("postgresql" if url.startswith("postgres") else "sqlite")
        self.service = Service(url, self.keys, workdir)
        # Every request comes from 127.0.0.1: counted, never refused.
        self.service.env.update(
            {"CADRELEDGER_RATE_LIMIT": "1000000", "CADRELEDGER_RATE_BURST": "1000000"}
        )
        self.rng = random.Random(plan.seed)
        self.receipts: dict[int, tuple[str, str, str]] = {}  # index → hash, actor, nonce
        self.acked_at: dict[int, float] = {}
        self.size = 0  # the log's size as the clients know it
        self.stopping = False

    def error(self, text: str) -> None:
        self.figures.errors += 1
        if len(self.figures.error_samples) < MAX_SAMPLES:
            self.figures.error_samples.append(text[:400])

    def problem(self, text: str) -> None:
        if len(self.figures.problems) < MAX_SAMPLES:
            self.figures.problems.append(text[:1500])

    def run(self) -> Figures:
        world, tokens = prepare(self.url, self.keys, self.plan)
        self.service.start()
        try:
            asyncio.run(self._load(world, tokens))
        finally:
            self.service.stop()
            self._service_errors()
        self._check_stored()
        return self.figures

    def _service_errors(self) -> None:
        """The service's own account of what went wrong (its JSON log lines at ERROR,
        with their tracebacks), kept as evidence: the work folder does not outlive the run."""
        if not self.service.log.exists():
            return
        for line in self.service.log.read_text(errors="replace").splitlines():
            if '"levelname": "ERROR"' in line or line.startswith("Traceback"):
                self.problem(f"service log: {line[-1500:]}")

    async def _load(self, world: World, tokens: dict[str, str]) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(self.service.base, connector=connector) as http:
            async with http.get("/v1/log/checkpoint") as answer:
                self.size = self.figures.log_start = int((await answer.text()).split("\n")[1])
            followers = [Follower(self, http, i, tokens, world.cycle) for i in range(self._n())]
            following = [asyncio.create_task(f.follow()) for f in followers]
            sampler = asyncio.create_task(self._sample())
            started = time.monotonic()
            self.started = started
            work = [self._writer(http, world, i) for i in range(self.plan.writers)]
            work += [self._reader(http, world, tokens, i) for i in range(self.plan.readers)]
            tasks = [asyncio.create_task(w) for w in work]
            await asyncio.sleep(self.plan.seconds)
            self.stopping = True
            await asyncio.gather(*tasks)
            self.figures.seconds = time.monotonic() - started
            sampler.cancel()
            last = max(self.receipts, default=self.figures.log_start - 1)
            deadline = time.monotonic() + self.plan.catch_up
            while time.monotonic() < deadline and any(f.last < last for f in followers):
                await asyncio.sleep(0.1)
            for task in following:
                task.cancel()
            await asyncio.gather(*following, return_exceptions=True)
            for f in followers:
                self._check_follower(f)

    def _n(self) -> int:
        return self.plan.followers

    async def _sample(self) -> None:
        """The service's resident set size, every second, from /proc."""
        assert self.service.process is not None
        status = Path(f"/proc/{self.service.process.pid}/status")
        while True:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    t = time.monotonic() - self.started
                    self.figures.rss.append((round(t, 1), int(line.split()[1])))
            await asyncio.sleep(1.0)

    async def _request(
        self, http: aiohttp.ClientSession, kind: str, method: str, path: str, **options: Any
    ) -> tuple[int, bytes] | None:
        """One request, timed under ``kind``; None (an error counted) if it failed."""
        t0 = time.perf_counter()
        try:
            async with http.request(method, path, **options) as answer:
                body = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            self.error(f"{kind} {path}: {type(e).__name__}: {e}")
            return None
        expected = (201,) if method == "POST" else (200,)
        if answer.status not in expected:
            self.error(f"{kind} {method} {path}: {answer.status} {body[:300]!r}")
            return None
        self.figures.latencies[kind].append(time.perf_counter() - t0)
        return answer.status, body

    async def _writer(self, http: aiohttp.ClientSession, world: World, i: int) -> None:
        """One panel member's ballots and amendments, and anyone's comments at meeting B."""
        scorer = world.panel[i]
        rng = random.Random(f"{self.plan.seed}/writer/{i}")
        unscored = list(world.scored)
        rng.shuffle(unscored)
        latest: dict[str, str] = {}  # cadre → the scorer's latest ballot or amendment
        while not self.stopping:
            r = rng.random()
            cadre = ""
            if r < 0.5:
                kind, actor = "comment", rng.choice(world.attendees)
                about = rng.choice([c for c in world.commented if c != actor])
                nonce, data = world.now(
                    actor,
                    "comment.made",
                    cadre=about,
                    meeting=world.meeting_b,
                    text="Cần chủ động hơn.",
                )
            elif unscored and (r < 0.75 or not latest):
                kind, actor, cadre = "score", scorer, unscored.pop()
                general, tasks = rng.randint(15, 30), rng.randint(40, 70)
                nonce, data = world.now(
                    actor, "score.submitted", cadre=cadre, general=general, tasks=tasks
                )
            else:
                kind, actor, cadre = "amendment", scorer, rng.choice(sorted(latest))
                general, tasks = rng.randint(15, 30), rng.randint(40, 70)
                nonce, data = world.now(
                    actor,
                    "score.amended",
                    cadre=cadre,
                    amends=latest[cadre],
                    reason="Điều chỉnh sau thảo luận.",
                    general=general,
                    tasks=tasks,
                )
            answer = await self._request(
                http,
                kind,
                "POST",
                "/v1/statements",
                data=data,
                headers={"content-type": "application/json"},
            )
            if answer is None:
                continue
            receipt = json.loads(answer[1])
            index = int(receipt["index"])
            if index in self.receipts:
                self.problem(f"two receipts name position {index}")
            self.receipts[index] = (receipt["event_hash"], actor, nonce)
            self.acked_at[index] = time.monotonic()
            self.figures.acks.append(self.acked_at[index] - self.started)
            self.size = max(self.size, int(receipt["tree_size"]))
            if cadre:
                latest[cadre] = receipt["event_hash"]

    async def _reader(
        self, http: aiohttp.ClientSession, world: World, tokens: dict[str, str], i: int
    ) -> None:
        """A person of one role reading what that role may read, as fast as answered."""
        rng = random.Random(f"{self.plan.seed}/reader/{i}")
        role = ["insider", "auditor", "cadre", "anyone", "insider", "cadre"][i % 6]
        insiders = [CHAIR, world.panel[0], INSPECTION]
        c = f"/v1/cycles/{world.cycle}"
        while not self.stopping:
            size = self.size
            # Any state since the cycle was set up (before it, the cycle is not found).
            at = rng.randrange(self.figures.log_start - 1, size)
            if role == "insider":
                who = insiders[rng.randrange(len(insiders))]
                cadre = rng.choice(world.cadres)
                kind, path = rng.choice(
                    [
                        ("ratings", f"{c}/ratings"),
                        ("cadre", f"{c}/cadres/{cadre}"),
                        ("timeline@", f"{c}/timeline?at={at}&limit=50"),
                        ("cadre-timeline@", f"{c}/cadres/{cadre}/timeline?at={at}&limit=50"),
                    ]
                )
            elif role == "auditor":
                who = AUDITOR if rng.random() < 0.5 else INSPECTOR
                kind, path = rng.choice(
                    [
                        ("ratings@", f"{c}/ratings?at={at}"),
                        ("log-entries", f"/v1/log/entries?start={at}&limit=100"),
                        ("feed", f"/v1/events?after={at}&limit=100"),
                    ]
                )
            elif role == "cadre":
                who = rng.choice([p for p in tokens if p in world.cadres])
                kind, path = rng.choice(
                    [
                        ("own-page", f"{c}/cadres/{who}"),
                        ("own-timeline", f"{c}/cadres/{who}/timeline"),
                    ]
                )
            else:
                who = ""
                kind, path = rng.choice(
                    [
                        ("checkpoint", "/v1/log/checkpoint"),
                        ("inclusion", f"/v1/log/proof/inclusion?index={at}&size={size}"),
                        ("consistency", f"/v1/log/proof/consistency?from={at + 1}&to={size}"),
                    ]
                )
            headers = {"authorization": f"Bearer {tokens[who]}"} if who else {}
            await self._request(http, kind, "GET", path, headers=headers)

    # -- the checks -----------------------------------------------------------------------

    def _check_follower(self, f: Follower) -> None:
        seen = {index: event_hash for index, event_hash, _ in f.events}
        missing = 0
        for index, (event_hash, _, _) in self.receipts.items():
            if seen.get(index) != event_hash:
                missing += 1
        self.figures.lost_by_followers += missing
        previous = self.figures.log_start - 1
        for index, _, at in f.events:
            if index <= previous or (f.everything and index != previous + 1):
                self.figures.out_of_order += 1
            previous = index
            if index in self.acked_at:
                self.figures.sse_lag.append(max(0.0, at - self.acked_at[index]))
        self.figures.followers.append(
            {
                "who": f.who,
                "filter": "cycle" if not f.everything else "",
                "delivered": len(f.events),
                "missing": missing,
                "connections": f.connections,
                "own_cuts": f.cuts,
                "overflows": f.overflows,
            }
        )

    def _check_stored(self) -> None:
        with Ledger(self.keys.settings(self.url), writer=False) as ledger:
            stored: dict[int, bytes] = {}
            nonces: Counter[tuple[str, str]] = Counter()
            for position, (*_, raw) in enumerate(ledger.store.iter_events()):
                event = Event.parse(raw)
                stored[position] = event.hash
                nonces[(event.statement["actor"], event.statement["nonce"])] += 1
        self.figures.log_end = len(stored)
        self.figures.acknowledged = len(self.receipts)
        self.figures.duplicated_in_log = sum(1 for n in nonces.values() if n > 1)
        for index, (event_hash, actor, nonce) in self.receipts.items():
            held = stored.get(index)
            if held is None or held.hex() != event_hash or nonces[(actor, nonce)] != 1:
                self.figures.lost_in_log += 1
                self.problem(f"acknowledged statement at {index} is not stored once there")


class Follower:
    """``GET /v1/events/stream`` with a token, resuming with ``Last-Event-ID`` when cut."""

    WHO: ClassVar = [(AUDITOR, True), (INSPECTOR, True), (INTEGRATOR, False)]

    def __init__(
        self,
        drill: Drill,
        http: aiohttp.ClientSession,
        i: int,
        tokens: dict[str, str],
        cycle: str,
    ) -> None:
        self.drill, self.http = drill, http
        self.who, self.everything = self.WHO[i % len(self.WHO)]
        self.token = tokens[self.who]
        self.params = {} if self.everything else {"cycle": cycle}
        self.cuts_itself = i == 0
        self.rng = random.Random(f"{drill.plan.seed}/follower/{i}")
        self.last = drill.figures.log_start - 1  # Last-Event-ID: the position last seen
        self.events: list[tuple[int, str, float]] = []  # position, event hash, when
        self.connections = self.cuts = self.overflows = 0

    async def follow(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        while True:
            headers = {"authorization": f"Bearer {self.token}", "last-event-id": str(self.last)}
            self.connections += 1
            cut_at = time.monotonic() + self.rng.uniform(*self.drill.plan.cut_every)
            try:
                async with self.http.get(
                    "/v1/events/stream", params=self.params, headers=headers, timeout=timeout
                ) as answer:
                    if answer.status != 200:
                        self.drill.error(f"SSE {self.who}: {answer.status} {await answer.text()}")
                        await asyncio.sleep(1)
                        continue
                    ended = await self._read(answer, cut_at)
            except (aiohttp.ClientError, TimeoutError) as e:
                self.drill.error(f"SSE {self.who} cut off: {type(e).__name__}: {e}")
                continue
            if ended == "cut":
                self.cuts += 1
            elif ended == "overflow":
                self.overflows += 1
            else:
                self.drill.error(f"SSE {self.who}: the service ended the stream at {self.last}")

    async def _read(self, answer: aiohttp.ClientResponse, cut_at: float) -> str:
        """Read messages until the stream ends, overflows, or it is time to cut it."""
        fields: dict[str, str] = {}
        position = self.last
        async for raw in answer.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            event, fields = fields, {}
            if "id" in event:
                position = int(event["id"])
            if event.get("event") == "overflow":
                self.last = position
                return "overflow"
            if "data" in event:
                cloud = json.loads(event["data"])
                if cloud["data"]["index"] != position:
                    self.drill.error(f"SSE {self.who}: id {position} ≠ {cloud['data']['index']}")
                self.events.append((position, cloud["id"], time.monotonic()))
            if "id" in event:
                self.last = position
            if self.cuts_itself and time.monotonic() > cut_at and not self.drill.stopping:
                return "cut"
        return "ended"


def print_figures(figures: Figures, plan: Plan) -> None:
    data = figures.to_json(plan)
    mem = data["memory"]
    print(
        f"load drill ({data['database']}, {data['seconds']} s, {plan.writers} writers,"
        f" {plan.readers} readers, {plan.followers} SSE followers; log"
        f" {data['log'][0]} → {data['log'][1]} events)"
    )
    rows = [
        [k, v["requests"], v["per_s"], v["p50_ms"], v["p95_ms"], v["p99_ms"]]
        for k, v in data["kinds"].items()
    ]
    lag = data["sse_lag_ms"]
    rows.append(["sse delivery", len(figures.sse_lag), None, lag["p50"], lag["p95"], lag["p99"]])
    print(table(["kind", "requests", "per s", "p50 ms", "p95 ms", "p99 ms"], rows))
    print(
        f"writes {data['writes_per_s']}/s; errors {data['errors']}; acknowledged"
        f" {data['acknowledged']}, lost {data['lost']} (log {data['lost_in_log']}, duplicated"
        f" {data['duplicated_in_log']}, followers {data['lost_by_followers']}), out of order"
        f" {data['out_of_order']}"
    )
    for f in data["followers"]:
        print(f"  follower {f}")
    print(
        f"RSS MiB: start {mem.get('start_mb')}, first third {mem.get('first_third_mb')}, last"
        f" third {mem.get('last_third_mb')}, growth {mem.get('growth_mb')} (allowed"
        f" {mem.get('allowed_mb')}), peak {mem.get('peak_mb')}:"
        f" {'flat' if mem['flat'] else 'NOT flat'}"
    )
    print(f"  every 5 s: {data['rss_mb_every_5s']}")
    for text in data["error_samples"] + data["problems"]:
        print(f"  ✗ {text}")


def run(url: str, workdir: Path, plan: Plan) -> Figures:
    return Drill(url, workdir, plan).run()
