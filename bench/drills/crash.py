"""The crash drill: the real service killed with SIGKILL under load, again and again.

``cadreledger serve`` runs in a subprocess on a loopback port, over SQLite or
PostgreSQL. Several clients — a scoring panel and a registrar — submit signed
statements as fast as the service takes them. At random moments the service is killed
with ``kill -9`` and started again; on PostgreSQL its database connections are also
cut from the server's side (``pg_terminate_backend``) while it writes. A client whose
answer was lost retries the same signed statement once the service is back, or gives
up on it (a person who never came back).

Afterwards the drill checks what the ledger promises:

- every acknowledged statement (201, or 200 for a retry) is in the log exactly once,
  at the position and with the event hash its receipt names, and the receipt's
  inclusion proof leads to its checkpoint;
- no statement is in the log twice, and every statement whose answer was lost and
  that was never retried is either wholly there (event, index row, nonce row, under
  the latest checkpoint) or not there at all;
- every checkpoint any client saw, before any crash, is signed by the log and
  consistent with the final one (an RFC 9162 consistency proof from the service);
- ``cadreledger verify`` exits 0, holding the log to a sample of those checkpoints.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.drills.base import Keys
from bench.drills.scenario import REGISTRAR, Scenario
from cadreledger.service import Ledger
from ledger.checkpoint import open_checkpoint
from ledger.envelope import Event
from ledger.keys import VerifierKey
from ledger.merkle import ProofError, verify_consistency
from ledger.receipt import Receipt
from ledger.statement import SignedStatement

if TYPE_CHECKING:
    from bench.drills.cluster import PrivateCluster

READY_TIMEOUT = 90.0
MAX_PROBLEMS = 20  # listed; one is enough to fail the drill


@dataclass
class Plan:
    clients: int = 4  # one registrar, the rest a scoring panel
    cadres: int = 200  # each panel member scores every cadre …
    newcomers: int = 20_000  # … and the registrar registers newcomers, until the drill ends
    kills: int = 4
    terminations: int = 0  # PostgreSQL: backend terminations while writing
    server_crashes: int = 0  # a private PostgreSQL cluster: immediate stops, then starts
    workers: int = 0  # serve --workers N (HTTP worker processes, cadreledger.workers)
    worker_kills: int = 0  # with workers: SIGKILL of one worker (the writer lives on)
    pause: tuple[float, float] = (0.6, 2.0)  # seconds of load between disruptions
    give_up: float = 0.5  # share of lost answers never retried
    seed: int = 11


@dataclass
class Figures:
    database: str
    submitted: int = 0  # statements sent at least once
    acknowledged: int = 0
    acknowledged_on_retry: int = 0  # 200: the first try was stored, its answer lost
    unanswered: int = 0  # no answer at all: refused connection, or cut off mid-request
    unavailable: int = 0  # 503 answers (a batch that could not be written)
    throttled: int = 0  # 429 answers: the service's rate limit; the client waits and resends
    given_up: int = 0
    given_up_stored: int = 0
    refused: list[str] = field(default_factory=list)
    kills: int = 0
    worker_kills: int = 0
    terminations: int = 0
    server_crashes: int = 0
    restart_seconds: list[float] = field(default_factory=list)  # start → answering
    # disruption → the next acknowledged statement (service writing again)
    recovery_seconds: list[float] = field(default_factory=list)
    checkpoints_seen: int = 0
    consistency_proofs: int = 0
    receipts_checked: int = 0
    log_size: int = 0
    verify_exit: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.refused and self.verify_exit == 0

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("restart_seconds", "recovery_seconds"):
            values: list[float] = getattr(self, name)
            data[name] = {
                "n": len(values),
                "max": round(max(values, default=0.0), 2),
                "mean": round(sum(values) / max(1, len(values)), 2),
            }
        data["seconds"] = round(self.seconds, 1)
        data["ok"] = self.ok
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``cadreledger serve`` in a subprocess; started, killed, started again."""

    def __init__(self, url: str, keys: Keys, workdir: Path, workers: int = 0) -> None:
        self.url, self.keys, self.workers = url, keys, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "CADRELEDGER_LOG_KEY_FILE": str(keys.log),
            "CADRELEDGER_ROOT_KEY_FILE": str(keys.root),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> float:
        """Start and wait until it answers; the seconds that took."""
        started = time.monotonic()
        command = [sys.executable, "-m", "cadreledger.cli", "--db", self.url, "serve"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        while time.monotonic() - started < READY_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the service exited with {self.process.returncode}: {self.tail()}"
                )
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/v1/log/checkpoint", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError(f"the service did not answer in {READY_TIMEOUT}s: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def kill_worker(self, rng: random.Random) -> None:
        """SIGKILL one HTTP worker (a spawned child of the service, not its resource
        tracker); the service starts another."""
        assert self.process is not None
        workers = [
            pid
            for pid in _children(self.process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if workers:
            os.kill(rng.choice(workers), signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Client(threading.Thread):
    """Submits its statements in order; retries a lost answer, or gives up on it."""

    def __init__(self, drill: Drill, name: str, statements: list[SignedStatement]) -> None:
        super().__init__(name=name, daemon=True)
        self.drill = drill
        self.queue = deque(statements)
        self.rng = random.Random(f"{drill.plan.seed}/{name}")
        self.http = httpx.Client(base_url=drill.service.base, timeout=15)

    def run(self) -> None:
        try:
            while self.queue and not self.drill.stopping.is_set():
                signed = self.queue.popleft()
                self.drill.count("submitted")
                retrying = False
                while not self.submit(signed) and not self.drill.finished.is_set():
                    if not retrying and self.rng.random() < self.drill.plan.give_up:
                        self.drill.given_up(signed)
                        break
                    retrying = True
                    self.drill.wait_until_up()
        except Exception as e:  # a drill client must never die quietly
            self.drill.problem(f"client {self.name} stopped: {type(e).__name__}: {e}")
        finally:
            self.http.close()

    def submit(self, signed: SignedStatement) -> bool:
        """Whether the statement got its answer (a receipt or a refusal)."""
        body = json.dumps(signed.submission(), ensure_ascii=False).encode()
        try:
            answer = _polite(
                lambda: self.http.post(
                    "/v1/statements", content=body, headers={"content-type": "application/json"}
                ),
                self.drill,
            )
        except httpx.TransportError:
            self.drill.count("unanswered")
            return False
        if answer.status_code == 503:
            self.drill.count("unavailable")
            return False
        if answer.status_code in (200, 201):
            self.drill.acknowledged(signed, answer.json(), retried=answer.status_code == 200)
            return True
        self.drill.refused(signed, answer)
        return True


class Drill:
    def __init__(
        self, url: str, workdir: Path, plan: Plan, server: PrivateCluster | None = None
    ) -> None:
        self.url, self.workdir, self.plan, self.server = url, workdir, plan, server
        self.keys = Keys(workdir / "keys")
        self.rng = random.Random(plan.seed)
        self.figures = Figures("postgresql" if url.startswith("postgres") else "sqlite")
        self.service = Service(url, self.keys, workdir, plan.workers)
        self.stopping = threading.Event()  # clients take no new statement
        self.finished = threading.Event()  # nor retry the one in hand
        self._lock = threading.Lock()
        self.receipts: list[tuple[SignedStatement, dict[str, Any]]] = []
        self.acked_at: list[float] = []
        self.disrupted_at: list[float] = []
        self.abandoned: list[SignedStatement] = []
        self.checkpoints: dict[int, str] = {}

    # -- what clients report ------------------------------------------------------------

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self.figures, what, getattr(self.figures, what) + 1)

    def acknowledged(self, signed: SignedStatement, receipt: dict[str, Any], retried: bool) -> None:
        with self._lock:
            self.receipts.append((signed, receipt))
            self.acked_at.append(time.monotonic())
            self.figures.acknowledged += 1
            self.figures.acknowledged_on_retry += retried
            self._saw(receipt["checkpoint"])

    def given_up(self, signed: SignedStatement) -> None:
        with self._lock:
            self.abandoned.append(signed)
            self.figures.given_up += 1

    def refused(self, signed: SignedStatement, answer: httpx.Response) -> None:
        with self._lock:
            if len(self.figures.refused) < MAX_PROBLEMS:
                self.figures.refused.append(f"{answer.status_code} {answer.text[:300]}")

    def problem(self, text: str) -> None:
        with self._lock:
            if len(self.figures.problems) < MAX_PROBLEMS:
                self.figures.problems.append(text)
            elif len(self.figures.problems) == MAX_PROBLEMS:
                self.figures.problems.append("… (more problems not listed)")

    def _saw(self, note: str) -> None:
        size = int(note.split("\n", 2)[1])
        self.checkpoints.setdefault(size, note)

    def wait_until_up(self) -> None:
        while not self.finished.is_set():
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.service.base}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)

    # -- the run ------------------------------------------------------------------------

    def prepare(self) -> list[tuple[str, list[SignedStatement]]]:
        """The cycle up to scoring, written in-process; each client's statements."""
        world = Scenario(cadres=self.plan.cadres, panel=self.plan.clients - 1, seed=self.plan.seed)
        self.keys.folder.mkdir(parents=True, exist_ok=True)
        self.keys.root.write_text(str(world.root) + "\n")
        with Ledger(self.keys.settings(self.url)) as ledger:
            world.setup(lambda s: ledger.append(s).event_hash.hex())
        work = [(scorer, world.scores(scorer)) for scorer in world.panel]
        work.append((REGISTRAR, world.newcomers(self.plan.newcomers)))
        return work

    def run(self) -> Figures:
        started = time.monotonic()
        work = self.prepare()
        self.figures.restart_seconds.append(self.service.start())
        watcher = threading.Thread(target=self._watch, name="checkpoints", daemon=True)
        watcher.start()
        clients = [Client(self, name, statements) for name, statements in work]
        for client in clients:
            client.start()
        try:
            self._disrupt(clients)
            time.sleep(self.rng.uniform(*self.plan.pause))  # a last stretch without crashes
            self.stopping.set()
            for client in clients:
                client.join(timeout=600)
                if client.is_alive():
                    self.problem(f"client {client.name} did not finish")
            self.finished.set()
            watcher.join(timeout=10)
            self._recovered()
            self._check_live()
        finally:
            self.finished.set()
            self.service.stop()
        self._check_stored()
        self.figures.seconds = time.monotonic() - started
        return self.figures

    def _disrupt(self, clients: list[Client]) -> None:
        """Kills and, on PostgreSQL, backend terminations, in a random order."""
        events = ["kill"] * self.plan.kills + ["terminate"] * self.plan.terminations
        events += ["worker"] * (self.plan.worker_kills if self.plan.workers else 0)
        events += ["server"] * (self.plan.server_crashes if self.server else 0)
        self.rng.shuffle(events)
        for event in events:
            time.sleep(self.rng.uniform(*self.plan.pause))
            if not any(c.is_alive() for c in clients):
                self.problem("the clients ran out of work before every disruption")
                return
            self.disrupted_at.append(time.monotonic())
            if event == "kill":
                self.service.kill()
                self.figures.kills += 1
                time.sleep(self.rng.uniform(0.0, 0.5))  # clients meet a closed port
                self.figures.restart_seconds.append(self.service.start())
            elif event == "worker":
                self.service.kill_worker(self.rng)
                self.figures.worker_kills += 1
            elif event == "terminate":
                self.figures.terminations += terminate_backends(self.url)
            else:
                assert self.server is not None
                self.server.crash()
                self.figures.server_crashes += 1
                time.sleep(self.rng.uniform(0.2, 1.0))
                self.server.start()

    def _recovered(self) -> None:
        """After every disruption, the service took statements again."""
        for at in self.disrupted_at:
            after = [t for t in self.acked_at if t > at]
            if not after:
                self.problem("no statement was acknowledged after a disruption")
            else:
                self.figures.recovery_seconds.append(min(after) - at)

    def _watch(self) -> None:
        """A client that only reads the latest checkpoint, as often as it can."""
        with httpx.Client(base_url=self.service.base, timeout=5) as http:
            while not self.finished.is_set():
                with suppress(httpx.HTTPError):
                    answer = _polite(lambda: http.get("/v1/log/checkpoint"), self)
                    if answer.status_code == 200:
                        with self._lock:
                            self._saw(answer.text)
                time.sleep(0.03)

    # -- the checks -----------------------------------------------------------------------

    def log_key(self) -> VerifierKey:
        return self.keys.log_signer().verifier

    def _check_live(self) -> None:
        """Against the last incarnation: every checkpoint seen is consistent with the
        latest, by a proof the service gives; every receipt's proof holds."""
        key = self.log_key()
        latest_note = httpx.get(f"{self.service.base}/v1/log/checkpoint", timeout=10).text
        latest = open_checkpoint(latest_note, key)
        self.figures.checkpoints_seen = len(self.checkpoints)
        with httpx.Client(base_url=self.service.base, timeout=15) as http:
            for size, note in sorted(self.checkpoints.items()):
                seen = open_checkpoint(note, key)
                if size == 0:
                    continue
                params = {"from": size, "to": latest.size}
                get = partial(http.get, "/v1/log/proof/consistency", params=params)
                answer = _polite(get, self)
                if answer.status_code != 200:
                    self.problem(f"no consistency proof from {size}: {answer.status_code}")
                    continue
                proof = [_b64(h) for h in answer.json()["proof"]]
                try:
                    verify_consistency(size, latest.size, seen.root, latest.root, proof)
                except ProofError as e:
                    self.problem(f"checkpoint {size} is not consistent with {latest.size}: {e}")
                self.figures.consistency_proofs += 1
        for _, receipt in self.receipts:
            try:
                _receipt(receipt).verify(key)
            except Exception as e:
                self.problem(f"receipt for position {receipt['index']} does not verify: {e}")
            self.figures.receipts_checked += 1

    def _check_stored(self) -> None:
        with Ledger(self.keys.settings(self.url), writer=False) as ledger:
            store = ledger.store
            seen: Counter[tuple[str, str]] = Counter()
            by_position: dict[int, bytes] = {}
            for position, (_, _, _, raw) in enumerate(store.iter_events()):
                event = Event.parse(raw)
                seen[(event.statement["actor"], event.statement["nonce"])] += 1
                by_position[position] = event.hash
            self.figures.log_size = len(by_position)
            for key, n in seen.items():
                if n != 1:
                    self.problem(f"statement {key} is stored {n} times")
            for signed, receipt in self.receipts:
                stored = by_position.get(receipt["index"])
                if stored is None or stored.hex() != receipt["event_hash"]:
                    self.problem(
                        f"acknowledged statement at {receipt['index']} is not stored there"
                    )
                if seen[(signed.actor, signed.nonce)] != 1:
                    self.problem(f"acknowledged statement {signed.nonce} is not stored once")
            indexed = store.find_nonces([(s.actor, s.nonce) for s in self.abandoned])
            for signed in self.abandoned:
                in_log = seen[(signed.actor, signed.nonce)] == 1
                in_index = (signed.actor, signed.nonce) in indexed
                if in_log != in_index:
                    self.problem(
                        f"statement {signed.nonce} is half-written (log {in_log}, index {in_index})"
                    )
                self.figures.given_up_stored += in_log
        self.figures.verify_exit = self._verify()

    def _verify(self) -> int:
        """``cadreledger verify`` as an auditor runs it, holding the log to checkpoints
        the clients saw (the largest before each restart among them)."""
        sample = sorted(self.checkpoints)
        chosen = sorted(set(sample[:: max(1, len(sample) // 40)] + sample[-3:]))
        files = []
        for size in chosen:
            path = self.workdir / f"checkpoint-{size}.txt"
            path.write_text(self.checkpoints[size])
            files += ["--checkpoint", str(path)]
        command = [sys.executable, "-m", "cadreledger.cli", "--db", self.url, "verify", "--json"]
        command += ["--no-remember", "--log-key", str(self.log_key()), *files]
        result = subprocess.run(command, env=self.service.env, capture_output=True, timeout=600)
        if result.returncode != 0:
            self.problem(f"verify exited {result.returncode}: {result.stdout.decode()[-2000:]}")
        return result.returncode


def _polite(request: Callable[[], httpx.Response], drill: Drill) -> httpx.Response:
    """A request resent after the wait a 429 asks for: rate limiting stores nothing."""
    while True:
        answer = request()
        if answer.status_code != 429:
            return answer
        drill.count("throttled")
        time.sleep(min(2.0, float(answer.headers.get("retry-after", "1") or 1)))


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def terminate_backends(url: str) -> int:
    """Cut every connection the service holds to its database, from the server's side."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _receipt(data: dict[str, Any]) -> Receipt:
    return Receipt(
        data["stream"],
        data["version"],
        bytes.fromhex(data["event_hash"]),
        data["index"],
        data["tree_size"],
        tuple(_b64(h) for h in data["inclusion_proof"]),
        data["checkpoint"],
        data["duplicate"],
    )


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[tuple[str, PrivateCluster | None]]:
    """``sqlite``; ``postgres`` (a scratch database on the shared server); or
    ``postgres-private`` (a cluster of the drill's own, which it may crash)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'crash.db'}", None
        return
    if kind == "postgres-private":
        from bench.drills.cluster import PrivateCluster, server_programs

        programs = server_programs()
        if programs is None:
            raise RuntimeError("no PostgreSQL server programs (initdb, pg_ctl) found")
        server = PrivateCluster(programs)
        server.create()
        try:
            yield server.url, server
        finally:
            server.stop()
        return
    from bench.drills.databases import scratch_pg

    with scratch_pg("drill_crash") as url:
        yield url, None


def run(kind: str, workdir: Path, plan: Plan) -> Figures:
    with database(kind, workdir) as (url, server):
        return Drill(url, workdir, plan, server).run()
