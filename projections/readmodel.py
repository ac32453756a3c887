"""The read model's tables: documents, and the log position they reflect.

Both change in one transaction, and the position moves only from the value the
writer last read: a crash leaves the documents and their position together, and a
second follower racing the first fails instead of applying a batch twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledger.store import LogStore
from projections.views import VIEWS_VERSION

_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_docs (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_position ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), position BIGINT NOT NULL, version TEXT NOT NULL)",
)
_UPSERT = (
    "INSERT INTO projection_docs (name, doc) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET doc = excluded.doc"
)


class RaceLost(RuntimeError):
    """Another follower moved the read model on first: this batch was not applied."""


class ReadModel:
    def __init__(self, store: LogStore) -> None:
        self.store = store
        for statement in _DDL:
            store.execute(statement)
        store.execute(
            "INSERT INTO projection_position (id, position, version) VALUES (1, 0, ?)"
            " ON CONFLICT DO NOTHING",
            (VIEWS_VERSION,),
        )

    def position(self) -> int:
        return self.state()[0]

    def state(self) -> tuple[int, str]:
        """The position the documents reflect, and the version of the code that wrote them."""
        rows = self.store.query("SELECT position, version FROM projection_position WHERE id = 1")
        return int(rows[0]["position"]), str(rows[0]["version"])

    def save(
        self, docs: Mapping[str, bytes], position: int, expected: int, *, replace: bool = False
    ) -> None:
        """Write ``docs`` (``views.encoded``) and move the position from ``expected`` to
        ``position``."""
        sql = self.store._sql
        with self.store._transaction(commit=True) as cursor:
            cursor.execute(
                sql(
                    "UPDATE projection_position SET position = ?, version = ?"
                    " WHERE id = 1 AND position = ? RETURNING position"
                ),
                (position, VIEWS_VERSION, expected),
            )
            if not cursor.fetchall():
                raise RaceLost(f"the read model is no longer at position {expected}")
            if replace:
                cursor.execute("DELETE FROM projection_docs")
            for name, doc in docs.items():
                cursor.execute(sql(_UPSERT), (name, doc.decode()))

    def doc(self, name: str) -> Any | None:
        rows = self.store.query("SELECT doc FROM projection_docs WHERE name = ?", (name,))
        return json.loads(rows[0]["doc"]) if rows else None

    def docs(self, prefix: str = "") -> dict[str, Any]:
        rows = self.store.query(
            "SELECT name, doc FROM projection_docs WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(prefix), prefix),
        )
        return {r["name"]: json.loads(r["doc"]) for r in rows}
