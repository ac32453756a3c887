"""What a person gets back for every accepted statement, and how anyone checks it.

A receipt names the event (hash, stream, version), its place in the global log
(leaf index), an inclusion proof and the signed checkpoint the proof leads to. The
same facts are also given as a C2SP ``tlog-proof`` text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.checkpoint import open_checkpoint
from ledger.keys import VerifierKey
from ledger.merkle import leaf_hash, verify_inclusion

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class Receipt:
    stream: str
    version: int
    event_hash: bytes
    index: int
    tree_size: int
    proof: tuple[bytes, ...]
    checkpoint: str
    duplicate: bool = False

    def tlog_proof(self) -> str:
        return self._tlog_proof([base64.b64encode(h).decode() for h in self.proof])

    def _tlog_proof(self, hashes: list[str]) -> str:
        lines = "".join(h + "\n" for h in hashes)
        return f"{TLOG_PROOF_HEADER}\nindex {self.index}\n{lines}\n{self.checkpoint}"

    def to_json(self) -> dict[str, Any]:
        hashes = [base64.b64encode(h).decode() for h in self.proof]  # once, for both
        return {
            "stream": self.stream,
            "version": self.version,
            "event_hash": self.event_hash.hex(),
            "index": self.index,
            "tree_size": self.tree_size,
            "inclusion_proof": hashes,
            "checkpoint": self.checkpoint,
            "tlog_proof": self._tlog_proof(hashes),
            "duplicate": self.duplicate,
        }

    def verify(self, log_key: VerifierKey) -> None:
        """Raise unless the checkpoint is the log's and the proof includes the event."""
        checkpoint = open_checkpoint(self.checkpoint, log_key)
        if checkpoint.size != self.tree_size:
            raise ValueError("receipt's tree size differs from its checkpoint")
        verify_inclusion(
            self.index, self.tree_size, leaf_hash(self.event_hash), self.proof, checkpoint.root
        )
