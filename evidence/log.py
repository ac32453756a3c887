"""What the evidence room asks of the log service, as a protocol: the wiring hands the
service (``cadreledger.service.Ledger``) in, and bundles, audits and tile exports name
only what they use of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from ledger.keys import VerifierKey
from ledger.logkeys import LogKeys
from ledger.receipt import Receipt
from ledger.sequencer import Clock
from ledger.statement import SignedStatement
from ledger.store import LogStore
from ledger.tiles import TileHashReader
from ledger.verifier import Report
from projections.follower import Projector

__all__ = ["EvidencedLog"]


class EvidencedLog(Protocol):
    """The log as evidence is drawn from it: its store, tree and keys, the read model's
    projector, the rules (None on a bare log), the verifier, and the writer to sign an
    audit into."""

    @property
    def store(self) -> LogStore: ...

    @property
    def reader(self) -> TileHashReader: ...

    @property
    def log_key(self) -> VerifierKey: ...

    @property
    def log_keys(self) -> LogKeys: ...

    @property
    def max_clock_skew(self) -> timedelta: ...

    @property
    def root_keys(self) -> list[str]: ...

    @property
    def rules(self) -> object | None: ...

    @property
    def projector(self) -> Projector: ...

    @property
    def clock(self) -> Clock: ...

    def checkpoint(self) -> str: ...

    def size(self) -> int: ...

    def verify(self, *, pinned: VerifierKey | None = None, **options: Any) -> Report: ...

    def append(self, signed: SignedStatement) -> Receipt: ...
