"""The witness's memory: per origin, the tree head it last cosigned, and the refusals
kept as evidence of a log misbehaving. A small SQLite file of its own (not the log's
database): every SQL statement of the witness is here."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from ledger.cosignature import TreeHead

__all__ = ["Evidence", "WitnessState"]


class Evidence(NamedTuple):
    """A refused ``add-checkpoint`` kept as evidence, with the request verbatim."""

    at: int  # Unix time of the refusal
    origin: str
    status: int  # the HTTP status answered (409, 422…)
    reason: str
    request: bytes


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

    def evidence(self, origin: str | None = None) -> list[Evidence]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, origin, status, reason, request FROM witness_evidence"
                " WHERE ? IS NULL OR origin = ? ORDER BY id",
                (origin, origin),
            ).fetchall()
        return [Evidence(at, o, status, reason, bytes(req)) for at, o, status, reason, req in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
