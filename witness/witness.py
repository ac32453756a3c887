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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
from witness.state import WitnessState

__all__ = ["Answer", "Witness"]

log = logging.getLogger(__name__)


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
