"""The read model's tables: documents, and the log position they reflect.

Both change in one transaction, and the position moves only from the value the
writer last read: a crash leaves the documents and their position together, and a
second follower racing the first fails instead of applying a batch twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

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


__all__ = [
    "Damaged",
    "MemoryReadModel",
    "RaceLost",
    "ReadModel",
    "ReadModelStore",
    "Stored",
    "stored",
    "stored_doc",
]


class ReadModelStore(Protocol):
    """Where the projector keeps the documents and the position they reflect: the
    tables (``ReadModel``), or a hot standby's memory (``MemoryReadModel``)."""

    def ensure(self) -> None: ...

    def position(self) -> int: ...

    def state(self) -> tuple[int, str]: ...

    def has_docs(self) -> bool: ...

    def save(
        self,
        docs: Mapping[str, bytes],
        position: int,
        expected: int | None,
        *,
        replace: bool = False,
    ) -> None: ...

    def doc(self, name: str) -> Any | None: ...

    def docs(self, prefix: str = "") -> dict[str, Any]: ...


class RaceLost(RuntimeError):
    """Another follower moved the read model on first: this batch was not applied."""


class Damaged(RuntimeError):
    """The read model's recorded position is missing or impossible: no document it
    holds can be trusted to reflect any position of the log (rebuild it)."""


class ReadModel:
    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.ensure()

    def ensure(self) -> None:
        """Its tables, and the position row at 0 if there is none yet."""
        for statement in _DDL:
            self.store.execute(statement)
        self.store.execute(
            "INSERT INTO projection_position (id, position, version) VALUES (1, 0, ?)"
            " ON CONFLICT DO NOTHING",
            (VIEWS_VERSION,),
        )

    def position(self) -> int:
        return self.state()[0]

    def state(self) -> tuple[int, str]:
        """The position the documents reflect, and the version of the code that wrote
        them; ``Damaged`` if the position is not there or no position at all."""
        try:
            rows = self.store.query(
                "SELECT position, version FROM projection_position WHERE id = 1"
            )
        except Exception as e:  # the driver's own error type
            # The table gone, or the database not answering? Only the first is damage:
            # a passing outage must not cost a rebuild of the whole read model.
            self.store.query("SELECT 1 AS one")
            raise Damaged(f"projection_position cannot be read: {e}") from e
        if not rows:
            raise Damaged("projection_position has no row")
        position = rows[0]["position"]
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise Damaged(f"projection_position holds the impossible position {position!r}")
        return position, str(rows[0]["version"])

    def has_docs(self) -> bool:
        return bool(self.store.query("SELECT name FROM projection_docs LIMIT 1"))

    def save(
        self,
        docs: Mapping[str, bytes],
        position: int,
        expected: int | None,
        *,
        replace: bool = False,
    ) -> None:
        """Write ``docs`` (``views.encoded``) and move the position from ``expected`` to
        ``position`` (``None``: from whatever is there, even nothing — a rebuild of a
        damaged read model)."""
        sql = self.store.sql
        with self.store.transaction(commit=True) as cursor:
            if expected is None:
                cursor.execute(
                    sql(
                        "INSERT INTO projection_position (id, position, version) VALUES (1, ?, ?)"
                        " ON CONFLICT (id) DO UPDATE"
                        " SET position = excluded.position, version = excluded.version"
                    ),
                    (position, VIEWS_VERSION),
                )
            else:
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


class MemoryReadModel:
    """The read model of a server that cannot write its database (a hot standby).

    Seeded once from the stored tables the primary's projector keeps (replicated with
    the log), read in one statement so that the documents and their position belong
    together; from there the replica's projector applies its own log in memory. What it
    serves thus always reflects a position of the replica's own log, never the
    primary's: a replica behind its primary answers as of where it is.
    """

    def __init__(self, position: int = 0, version: str = VIEWS_VERSION) -> None:
        self._position, self._version = position, version
        self._docs: dict[str, bytes] = {}

    @classmethod
    def seeded(cls, store: LogStore) -> MemoryReadModel:
        """As the stored read model stands, or empty at 0 if there is none to read
        (the primary never projected): the projector then replays from the log."""
        try:
            rows = store.query(
                "SELECT p.position, p.version, d.name, d.doc FROM projection_position p"
                " LEFT JOIN projection_docs d ON 1 = 1 WHERE p.id = 1"
            )
        except Exception:  # the driver's own error: no tables yet
            return cls()
        if not rows or not isinstance(rows[0]["position"], int) or rows[0]["position"] < 0:
            return cls()
        model = cls(rows[0]["position"], str(rows[0]["version"]))
        model._docs = {r["name"]: str(r["doc"]).encode() for r in rows if r["name"] is not None}
        return model

    def ensure(self) -> None:
        """Nothing to make: memory."""

    def position(self) -> int:
        return self._position

    def state(self) -> tuple[int, str]:
        return self._position, self._version

    def has_docs(self) -> bool:
        return bool(self._docs)

    def save(
        self,
        docs: Mapping[str, bytes],
        position: int,
        expected: int | None,
        *,
        replace: bool = False,
    ) -> None:
        if expected is not None and expected != self._position:
            raise RaceLost(f"the read model is no longer at position {expected}")
        if replace:
            self._docs = {}
        self._docs.update(docs)
        self._position, self._version = position, VIEWS_VERSION

    def doc(self, name: str) -> Any | None:
        raw = self._docs.get(name)
        return json.loads(raw) if raw is not None else None

    def docs(self, prefix: str = "") -> dict[str, Any]:
        found = sorted(item for item in self._docs.items() if item[0].startswith(prefix))
        return {name: json.loads(raw) for name, raw in found}


# -- the stored tables as an auditor reads them ----------------------------------------


class Stored(NamedTuple):
    """What the read model's tables hold, read without creating or judging anything
    (``projections.audit`` judges it)."""

    docs_table: bool  # whether projection_docs exists
    names: set[str]  # the documents it holds
    position: Any  # as recorded, whatever it is; None: no position row (or no table)
    version: str | None


def stored(store: LogStore) -> Stored | None:
    """The tables as they are; None only if the read model was never built here
    (neither of its tables exists)."""
    docs_table = _exists(store, "projection_docs")
    position_table = _exists(store, "projection_position")
    if not docs_table and not position_table:
        return None
    names = (
        {str(r["name"]) for r in store.query("SELECT name FROM projection_docs")}
        if docs_table
        else set()
    )
    rows = (
        store.query("SELECT position, version FROM projection_position WHERE id = 1")
        if position_table
        else []
    )
    if not rows:
        return Stored(docs_table, names, None, None)
    return Stored(docs_table, names, rows[0]["position"], str(rows[0]["version"]))


def stored_doc(store: LogStore, name: str) -> str | None:
    """A stored document's text as it is, not parsed."""
    rows = store.query("SELECT doc FROM projection_docs WHERE name = ?", (name,))
    return str(rows[0]["doc"]) if rows else None


def _exists(store: LogStore, table: str) -> bool:
    """Whether ``table`` exists (a query that reads no row fails only if it does not,
    or if the database does not answer: that raises)."""
    try:
        store.query(f"SELECT 1 FROM {table} WHERE 1 = 0")
    except Exception:  # the database driver's own error type
        store.query("SELECT 1 AS one")  # a database that does not answer is no answer
        return False
    return True
