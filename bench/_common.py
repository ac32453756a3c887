"""Shared helpers for the benchmarks in this directory (not part of the product).

Statements, throwaway databases (a temporary SQLite file, or a PostgreSQL database
created for the measurement and dropped afterwards), percentiles, tables and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The package of this checkout, not whichever one the venv installed (an editable install
# points at the checkout it was made from): a figure is of the code beside its script.
ROOT = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [ROOT]:
    sys.path.insert(0, ROOT)

CYCLE = "2025-qd366"
ISSUED_AT = "2025-12-01T08:00:00Z"


def signed_clock() -> datetime:
    """The log's clock for a benchmark whose statements are all signed at ``ISSUED_AT``
    (pre-signed in bulk): the ledger admits a statement only near its log time."""
    return datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


NOTE = unicodedata.normalize("NFC", "Hoàn thành tốt nhiệm vụ")


# -- statements ----------------------------------------------------------------------


def actor_name(k: int) -> str:
    return f"officer-{k:02d}"


def make_statement(i: int, actor: str, cadres: int) -> dict[str, Any]:
    """Statement number ``i``: the shape a client sends, one of ``cadres`` streams."""
    return {
        "v": 1,
        "type": "score.submitted",
        "actor": actor,
        "issued_at": ISSUED_AT,
        "nonce": secrets.token_urlsafe(16),
        "cycle": CYCLE,
        "cadre": f"c{i % cadres}",
        "general": 20 + i % 11,
        "tasks": 50 + i % 41,
        "note": NOTE,
    }


# Signing in worker processes: keys arrive as seeds, once per worker.
_WORKER_KEYS: list[Any] = []


def init_signer(seeds: Sequence[bytes]) -> None:
    from ledger.keys import SignerKey

    _WORKER_KEYS[:] = [SignerKey.from_seed(actor_name(k), s) for k, s in enumerate(seeds)]


def sign_range(job: tuple[Any, ...]) -> list[Any]:
    """Sign statements ``start … start+count-1`` (key ``i % len(keys)``) in a worker;
    with ``sealed``, the ``note`` text sealed (a commitment, the text disclosed beside)."""
    from ledger.statement import sign_statement
    from ledger.texts import Sealer

    start, count, cadres, *rest = job  # (start, count, cadres[, sealed])
    sealed = bool(rest and rest[0])
    keys = _WORKER_KEYS
    out = []
    for i in range(start, start + count):
        key = keys[i % len(keys)]
        statement = make_statement(i, key.name, cadres)
        sealer = Sealer()
        if sealed:
            statement = sealer.seal_fields(statement, frozenset({"note"}))
        out.append(sign_statement(statement, key, sealer.texts))
    return out


def make_keys(n: int) -> tuple[list[Any], list[bytes]]:
    """``n`` signer keys named officer-00 … and their seeds (for worker processes)."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from ledger.keys import SignerKey

    keys = [SignerKey.generate(actor_name(k)) for k in range(n)]
    seeds = [k.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()) for k in keys]
    return keys, seeds


def sign_all(
    n: int,
    seeds: Sequence[bytes],
    cadres: int,
    *,
    start: int = 0,
    procs: int | None = None,
    sealed: bool = False,
) -> list[Any]:
    """Pre-sign ``n`` statements in a process pool (the clients' work; never timed)."""
    import multiprocessing

    procs = procs or os.cpu_count() or 1
    step = 2000
    jobs = [(i, min(step, start + n - i), cadres, sealed) for i in range(start, start + n, step)]
    if procs == 1 or n <= step:
        init_signer(seeds)
        return [s for job in jobs for s in sign_range(job)]
    with multiprocessing.get_context("fork").Pool(procs, init_signer, (seeds,)) as pool:
        return [s for chunk in pool.imap(sign_range, jobs) for s in chunk]


# -- databases -----------------------------------------------------------------------


@dataclass
class PgServer:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    admin_db: str = "test"

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.admin_db,
            autocommit=True,
        )

    def url(self, dbname: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"


def add_db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", choices=("sqlite", "postgres"), required=True)
    p.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    p.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    p.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    p.add_argument("--pg-password", default=os.environ.get("BENCH_PG_PASSWORD", ""))
    p.add_argument(
        "--pg-admin-db",
        default=os.environ.get("BENCH_PG_ADMIN_DB", "test"),
        help="existing database to connect to for CREATE/DROP DATABASE (default: test)",
    )
    p.add_argument(
        "--tmpdir",
        default=None,
        help="where SQLite files and log keys go (default: a fresh temporary directory)",
    )


def pg_server(args: argparse.Namespace) -> PgServer:
    return PgServer(args.pg_host, args.pg_port, args.pg_user, args.pg_password, args.pg_admin_db)


@dataclass
class FreshDB:
    """One throwaway database: a SQLite file path, or a PostgreSQL database name."""

    kind: str
    label: str
    sqlite_path: str | None = None
    pg_name: str | None = None
    pg: PgServer | None = None
    key_file: str = ""

    @property
    def ledger_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        assert self.pg and self.pg_name
        return self.pg.url(self.pg_name)

    def eventsourcing_env(self, pool_size: int) -> dict[str, str]:
        """Plain eventsourcing settings for the baseline application."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        assert self.pg and self.pg_name
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.pg_name,
            "POSTGRES_HOST": self.pg.host,
            "POSTGRES_PORT": str(self.pg.port),
            "POSTGRES_USER": self.pg.user,
            "POSTGRES_PASSWORD": self.pg.password,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": "0",
            "POSTGRES_CONNECT_TIMEOUT": "30",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
        }


@contextmanager
def fresh_db(kind: str, label: str, tmp: Path, pg: PgServer | None) -> Iterator[FreshDB]:
    """A new, empty database for one measurement; removed afterwards."""
    tag = f"{label}_{os.getpid()}_{secrets.token_hex(3)}"
    key_file = str(tmp / f"{tag}.logkey")
    if kind == "sqlite":
        path = tmp / f"{tag}.db"
        try:
            yield FreshDB(kind, label, sqlite_path=str(path), key_file=key_file)
        finally:
            for suffix in ("", "-wal", "-shm", ".lock", ".logkey"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            Path(key_file).unlink(missing_ok=True)
        return
    assert pg is not None
    name = f"bench_{tag}".lower()
    with pg.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield FreshDB(kind, label, pg_name=name, pg=pg, key_file=key_file)
    finally:
        with pg.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        Path(key_file).unlink(missing_ok=True)


@contextmanager
def workdir(given: str | None) -> Iterator[Path]:
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cadreledger-bench-") as d:
        yield Path(d)


# -- numbers and output --------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0…100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def environment() -> dict[str, Any]:
    import cryptography
    import eventsourcing
    import nacl

    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "code": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "eventsourcing": getattr(eventsourcing, "__version__", "?"),
        "cryptography": cryptography.__version__,
        "pynacl": nacl.__version__,  # its bundled libsodium verifies (ledger.keys)
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def code_version() -> str:
    """The repository's commit, with "+dirty" if the package sources have local changes."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ledger", "cadreledger", "domain"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "-" * len(line)]
    for r in cells:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != v:
            return "–"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="also write machine-readable results to PATH ('-' or no value: stdout, "
        "and the human table goes to stderr)",
    )


def human_stream(args: argparse.Namespace) -> Any:
    return sys.stderr if args.json == "-" else sys.stdout


def write_json(args: argparse.Namespace, data: dict[str, Any]) -> None:
    if args.json is None:
        return
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if args.json == "-":
        print(text)
    else:
        Path(args.json).write_text(text + "\n")


# -- CPU time and memory of this process tree and of PostgreSQL (Linux /proc) ----------


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                stack += kids
        except OSError:
            continue
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process so far, in clock ticks (0 if it is gone)."""
    return _ticks(pid) or 0


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


class TreeSampler(threading.Thread):
    """Peak RSS of this process, of its largest descendant, and of all of them together;
    and the CPU time its descendants (worker processes, not waited for) spent meanwhile."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(name="rss-tree", daemon=True)
        self.interval = interval
        self.self_peak = self.child_peak = self.total_peak = 0
        self.children_seen = 0
        self.started: dict[int, int] = {}  # descendant → CPU ticks when first seen
        self.ticks: dict[int, int] = {}  # descendant → CPU ticks when last seen
        self._halt = threading.Event()
        for pid in descendants(os.getpid()):
            self.started[pid] = cpu_ticks(pid)

    def sample(self) -> None:
        me = rss_kb(os.getpid())
        pids = descendants(os.getpid())
        kids = [rss_kb(p) for p in pids]
        for pid in pids:
            self.ticks[pid] = cpu_ticks(pid)
            self.started.setdefault(pid, 0)  # started after us: all its time is ours
        self.children_seen = max(self.children_seen, len(kids))
        self.self_peak = max(self.self_peak, me)
        self.child_peak = max([self.child_peak, *kids])
        self.total_peak = max(self.total_peak, me + sum(kids))

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, int]:
        self._halt.set()
        self.join()
        self.sample()
        ticks = sum(t - self.started[pid] for pid, t in self.ticks.items())
        return {
            "self_peak_kb": self.self_peak,
            "largest_worker_peak_kb": self.child_peak,
            "total_peak_kb": self.total_peak,
            "workers_seen": self.children_seen,
            "workers_cpu_s": ticks / os.sysconf("SC_CLK_TCK"),
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone)."""
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


@dataclass
class DatabaseCPU:
    """CPU seconds, and backends lost, of one measured phase (see ``BackendsCPU``)."""

    seconds: float
    backends: int  # serving the database at the start or the end of the phase
    ended: int  # of them, gone by the end: their CPU in the phase is not counted

    def us_per(self, items: int) -> float:
        return self.seconds / items * 1e6


class BackendsCPU:
    """The CPU time PostgreSQL spends serving the databases ``urls`` during a phase: the
    backends ``pg_stat_activity`` shows on them when the phase starts and when it ends
    (``stop()``), their user + system time read from ``/proc/<pid>/stat`` at both ends
    (a server on this machine, then). Not every ``postgres`` process on the machine: on
    a shared server, other databases' backends are someone else's work. The server's
    own processes that serve every database (checkpointer, background writer, WAL
    writer, autovacuum launcher, a replica's startup and WAL receiver) are left out;
    autovacuum workers on these databases are counted, being their backends.

    A backend that starts within the phase counts all its time. One that ends within it
    took its time with it: ``ended`` says how many, and with any the figure is a lower
    bound (the ledger's connection pools keep their connections for an hour, so with
    none ending, it is exact). SQLite URLs are skipped: that work is the caller's own."""

    def __init__(self, *urls: str) -> None:
        self.urls = [u for u in urls if u.startswith("postgres")]
        self.start = {pid: _ticks(pid) for pid in self._backends()}

    def _backends(self) -> set[int]:
        import psycopg

        pids: set[int] = set()
        for url in self.urls:
            # Our own short connection is on the database too; it is not the load's.
            with psycopg.connect(url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
            pids.update(int(pid) for (pid,) in rows)
        return pids

    def stop(self) -> DatabaseCPU:
        last = {pid: _ticks(pid) for pid in self.start}  # before any more of them end
        last.update((pid, _ticks(pid)) for pid in self._backends() - last.keys())
        ticks, ended = 0, 0
        for pid, now in last.items():
            before = self.start.get(pid, 0)  # started within the phase: all its time
            if now is None or before is None:
                ended += 1
            else:
                ticks += now - before
        return DatabaseCPU(ticks / os.sysconf("SC_CLK_TCK"), len(last), ended)
