"""The witnesses' cosignatures on the log's checkpoints: ``ledger_cosignatures`` on the
ledger's own database (SQLite or PostgreSQL; they differ only in how a table is known to
exist). Every SQL statement of witnessing is here."""

from __future__ import annotations

from ledger.cosignature import parse_lines, with_signatures
from ledger.keys import VerifierKey
from ledger.note import NoteSignature
from ledger.store import LogStore

__all__ = ["COSIGNATURES_DDL", "CosignatureStore"]

COSIGNATURES_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_cosignatures ("
    " size BIGINT NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL,"
    " PRIMARY KEY (size, witness))"
)
_EXISTS_POSTGRES = "SELECT to_regclass('ledger_cosignatures') IS NOT NULL AS t"
_EXISTS_SQLITE = (
    "SELECT COUNT(*) > 0 AS t FROM sqlite_master"
    " WHERE type = 'table' AND name = 'ledger_cosignatures'"
)


class CosignatureStore:
    """``ledger_cosignatures`` over a ``LogStore``."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._exists = _EXISTS_POSTGRES if store.mark == "%s" else _EXISTS_SQLITE

    def ensure(self) -> None:
        try:
            self.store.execute(COSIGNATURES_DDL)
        except Exception:
            # Two processes creating it at once on PostgreSQL: one of them loses the race
            # on the catalogue, and the table is there all the same.
            if not self.exists():
                raise

    def exists(self) -> bool:
        return bool(self.store.query(self._exists)[0]["t"])

    def add(self, size: int, witness: VerifierKey, line: NoteSignature) -> None:
        self.store.execute(
            "INSERT INTO ledger_cosignatures (size, witness, line) VALUES (?, ?, ?)"
            " ON CONFLICT (size, witness) DO NOTHING",
            (size, str(witness), line.line().rstrip("\n")),
        )

    def lines(self, size: int) -> list[str]:
        """Every stored cosignature line on the checkpoint of ``size`` (each ends in \\n)."""
        if not self.exists():
            return []
        rows = self.store.query(
            "SELECT line FROM ledger_cosignatures WHERE size = ? ORDER BY witness", (size,)
        )
        return [r["line"] + "\n" for r in rows]

    def latest_size(self, witness: VerifierKey) -> int:
        """The largest checkpoint size ``witness`` cosigned here (0 if none)."""
        if not self.exists():
            return 0
        rows = self.store.query(
            "SELECT MAX(size) AS size FROM ledger_cosignatures WHERE witness = ?",
            (str(witness),),
        )
        return int(rows[0]["size"] or 0)

    def latest_cosigned(self, witnesses: int = 1) -> int | None:
        """The largest checkpoint size with cosignatures by at least ``witnesses`` witnesses."""
        if not self.exists():
            return None
        rows = self.store.query(
            "SELECT size FROM ledger_cosignatures GROUP BY size HAVING COUNT(*) >= ?"
            " ORDER BY size DESC LIMIT 1",
            (witnesses,),
        )
        return int(rows[0]["size"]) if rows else None

    def cosigned_note(self, size: int) -> str | None:
        """The checkpoint of ``size`` as the log signed it, with every cosignature held."""
        note = self.store.checkpoint_at(size)
        if note is None:
            return None
        lines = parse_lines("".join(self.lines(size))) if self.lines(size) else []
        return with_signatures(note, lines)
