"""A C2SP tlog-witness: its key, the logs it watches, and its durable memory.

The memory is a small SQLite file: per origin, the tree head it last cosigned. A new
head is recorded by compare-and-swap on the old one, in the same statement that checks
it, so two concurrent requests from one old size can never both advance it (the
rollback race tlog-witness warns of), even across processes sharing the file. Nothing is
cosigned before the new head is on disk.

Refusals that may show a log misbehaving (a bad consistency proof, a second root for a
size already cosigned) are kept as evidence, with the request verbatim.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledger.checkpoint import Checkpoint
from ledger.cosignature import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    TreeHead,
    WitnessError,
    cosign,
    cosigner_key,
    decide,
)
from ledger.keys import SignerKey, VerifierKey

log = logging.getLogger(__name__)

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS witness_logs ("
    " origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
    " note TEXT, updated_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS witness_evidence ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, origin TEXT NOT NULL,"
    " status INTEGER NOT NULL, reason TEXT NOT NULL, request BLOB NOT NULL)",
]


class WitnessState:
    """The witness's memory in SQLite (WAL, synchronous=FULL: a head is durable once set)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        # One connection, one statement at a time: requests are few and each is short.
        # The compare-and-swap is a single statement, so it stays atomic even against
        # another process on the same file.
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            for ddl in _SCHEMA:
                db.execute(ddl)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def heads(self) -> dict[str, TreeHead]:
        with self._connect() as db:
            rows = db.execute("SELECT origin, size, root FROM witness_logs").fetchall()
        return {origin: TreeHead(size, bytes(root)) for origin, size, root in rows}

    def head(self, origin: str) -> TreeHead:
        with self._connect() as db:
            row = db.execute(
                "SELECT size, root FROM witness_logs WHERE origin = ?", (origin,)
            ).fetchone()
        return TreeHead(row[0], bytes(row[1])) if row else TreeHead.empty()

    def note(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for ``origin`` (as the log signed it)."""
        with self._connect() as db:
            row = db.execute("SELECT note FROM witness_logs WHERE origin = ?", (origin,)).fetchone()
        return row[0] if row else None

    def advance(self, origin: str, old: TreeHead, new: TreeHead, note: str) -> bool:
        """Record ``new`` if ``old`` is still what is stored; whether it was."""
        now = int(time.time())
        with self._connect() as db:
            if old == TreeHead.empty():
                # Never cosigned: the first writer inserts; a second finds the row there.
                cur = db.execute(
                    "INSERT INTO witness_logs (origin, size, root, note, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET"
                    " size = excluded.size, root = excluded.root, note = excluded.note,"
                    " updated_at = excluded.updated_at"
                    " WHERE witness_logs.size = 0",
                    (origin, new.size, new.root, note, now),
                )
            else:
                cur = db.execute(
                    "UPDATE witness_logs SET size = ?, root = ?, note = ?, updated_at = ?"
                    " WHERE origin = ? AND size = ? AND root = ?",
                    (new.size, new.root, note, now, origin, old.size, old.root),
                )
            return cur.rowcount == 1

    def keep_evidence(self, origin: str, status: int, reason: str, request: bytes) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO witness_evidence (at, origin, status, reason, request)"
                " VALUES (?, ?, ?, ?, ?)",
                (int(time.time()), origin, status, reason, request),
            )

    def evidence(self, origin: str | None = None) -> list[tuple[int, str, int, str, bytes]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, origin, status, reason, request FROM witness_evidence"
                " WHERE ? IS NULL OR origin = ? ORDER BY id",
                (origin, origin),
            ).fetchall()
        return [(at, o, status, reason, bytes(req)) for at, o, status, reason, req in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as tlog-witness specifies it."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """Checks and cosigns checkpoints of the logs it is configured to watch."""

    def __init__(
        self,
        key: SignerKey,
        logs: Iterable[tuple[str, VerifierKey]],
        state: WitnessState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.verifier = cosigner_key(key)
        self.log_keys: dict[str, list[VerifierKey]] = {}
        for origin, log_key in logs:
            self.log_keys.setdefault(origin, []).append(log_key)
        self.state = state
        self.clock = clock
        # Called between the check and the compare-and-swap: tests stall a request there
        # to race two of them, as a slow disk or a busy core could in production.
        self.before_commit: Callable[[], None] | None = None

    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer one ``add-checkpoint`` request body."""
        try:
            request = AddCheckpoint.parse(body)
            checkpoint, text = self._record(request, body)
        except WitnessError as e:
            if e.suspicious:
                # Evidence of a log misbehaving (kept in witness_evidence): say so loudly.
                log.warning("add-checkpoint refused (%d), kept as evidence: %s", e.status, e.en)
            else:
                log.info("add-checkpoint refused (%d): %s", e.status, e.en)
            if e.known is not None:
                return Answer(e.status, e.body(), SIZE_CONTENT_TYPE)
            return Answer(e.status, e.body())
        line = cosign(self.key, text, int(self.clock()))
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
        return Answer(200, line.line())

    def _record(self, request: AddCheckpoint, body: bytes) -> tuple[Checkpoint, str]:
        head = self.state.head(request.origin)
        try:
            checkpoint, text = decide(request, self.log_keys, {request.origin: head})
        except WitnessError as e:
            if e.suspicious:
                self.state.keep_evidence(request.origin, e.status, e.en, body)
            raise
        if self.before_commit is not None:
            self.before_commit()
        new = TreeHead(checkpoint.size, checkpoint.root)
        if not self.state.advance(request.origin, head, new, request.checkpoint):
            now = self.state.head(request.origin)
            raise WitnessError(
                409,
                f"the latest cosigned size is now {now.size}",
                f"kích thước đã đồng ký gần nhất nay là {now.size}",
                known=now.size,
            )
        return checkpoint, text
