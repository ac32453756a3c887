"""The log's side of witnessing: ask each configured witness to cosign every new
checkpoint (C2SP tlog-witness ``add-checkpoint``), check what comes back, keep it.

One thread per witness wakes on the log's own commits (``Ledger.wait_beyond``) and
never polls the witness: it speaks only when there is a new checkpoint, or to retry
after a failure (with backoff). ``old`` starts from the largest size this database
holds a cosignature of by that witness; a 409 tells the true size and the request is
sent again from there, with a consistency proof from it.

Cosignatures live in ``ledger_cosignatures`` (one line per checkpoint size and witness),
beside the checkpoints they sign, in SQLite or PostgreSQL alike. They are verified before
they are stored, and verified again by whoever reads them (``verify`` V7).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from ledger.checkpoint import Checkpoint
from ledger.cosignature import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    CosignatureError,
    is_by,
    parse_cosigner_key,
    parse_lines,
    verify_cosignature,
)
from ledger.keys import VerifierKey
from ledger.note import NoteSignature, parse
from ledger.store import LogStore
from witness.cosignatures import CosignatureStore

__all__ = [
    "MAX_ATTEMPTS",
    "Refused",
    "WitnessEndpoint",
    "WitnessedLog",
    "Witnessing",
    "parse_witnesses",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4  # per checkpoint and witness: enough to follow a 409 or two


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks: its submission prefix and its cosigner key."""

    url: str
    key: VerifierKey

    @classmethod
    def parse(cls, spec: str) -> WitnessEndpoint:
        """``URL=KEY``; the key (type 0x04) holds no '=', so the last one splits."""
        url, sep, key = spec.rpartition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ValueError(f"witness {spec!r} is not URL=KEY")
        return cls(url.rstrip("/"), parse_cosigner_key(key))


class WitnessedLog(Protocol):
    """What witnessing asks of the log it serves (the service, ``Ledger``): where the
    cosignatures are kept, its latest checkpoint, a wake-up on growth, proofs."""

    @property
    def store(self) -> LogStore: ...

    def checkpoint(self) -> str: ...

    def wait_beyond(self, size: int, timeout: float) -> int: ...

    def consistency(self, first: int, second: int) -> list[bytes]: ...


class Refused(Exception):
    """The witness will not cosign this checkpoint: retrying the same request is useless."""


class Witnessing:
    """Gathers cosignatures for ``ledger`` from ``witnesses`` until ``stop``."""

    def __init__(
        self,
        ledger: WitnessedLog,
        witnesses: Sequence[WitnessEndpoint],
        *,
        timeout: float = 10.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.ledger = ledger
        self.witnesses = list(witnesses)
        self.store = CosignatureStore(ledger.store)
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # Per witness, the size we believe it last cosigned (corrected by 409 answers).
        self._old: dict[VerifierKey, int] = {}
        self._client = httpx.Client(timeout=timeout)

    def __enter__(self) -> Witnessing:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Witnessing:
        if not self.witnesses:
            return self
        self.store.ensure()
        for witness in self.witnesses:
            thread = threading.Thread(
                target=self._run, args=(witness,), name=f"witness {witness.key.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self._client.close()

    def _run(self, witness: WitnessEndpoint) -> None:
        backoff = 0.5
        size = -1
        while not self._stopping.is_set():
            try:
                note = self.ledger.checkpoint()
                size = Checkpoint.parse_text(parse(note).text).size
                if size > 0 and size > self.store.latest_size(witness.key):
                    self.gather(witness, note)
                backoff = 0.5
            except Refused as e:
                # Not retried until the log grows: the same request would be refused.
                log.error("witness %s refused size %d: %s", witness.key.name, size, e)
            except Exception as e:  # the witness or the database: both may come back
                log.warning("gathering from witness %s failed: %s", witness.key.name, e)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            # Short waits only so that ``stop`` is noticed; growth wakes us at once.
            try:
                while not self._stopping.is_set() and self.ledger.wait_beyond(size, 0.5) <= size:
                    pass
            except Exception as e:  # a read-only ledger polls its database, which may fail
                log.warning("waiting for the log to grow failed: %s", e)
                self._stopping.wait(backoff)

    def gather(self, witness: WitnessEndpoint, note: str) -> NoteSignature:
        """Ask ``witness`` to cosign the signed checkpoint ``note``; store and return its
        verified cosignature, or raise ``Refused`` (or a transport error)."""
        text = parse(note).text
        checkpoint = Checkpoint.parse_text(text)
        old = self._old.get(witness.key)
        if old is None:
            old = self.store.latest_size(witness.key)
        for _ in range(MAX_ATTEMPTS):
            if old > checkpoint.size:
                raise Refused(
                    f"the witness has cosigned size {old}, beyond this log's {checkpoint.size}: "
                    "it has seen another (or a rolled-back) history of this log"
                )
            proof = (
                [] if old in (0, checkpoint.size) else self.ledger.consistency(old, checkpoint.size)
            )
            response = self._client.post(
                witness.url + "/add-checkpoint",
                content=AddCheckpoint(old, tuple(proof), note).body(),
            )
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(
                SIZE_CONTENT_TYPE
            ):
                known = _size(response.text)
                if known == old:
                    raise Refused(
                        f"the witness holds another root for size {old}: it was shown a "
                        "different history of this log"
                    )
                self._old[witness.key] = old = known
                continue
            if response.status_code == 409:
                # A conflict without a size: the witness cosigned another root at this
                # checkpoint's size (tlog-witness answers a fork so).
                raise Refused(
                    f"the witness holds another root for size {checkpoint.size}: it was shown "
                    f"a different history of this log ({response.text.strip()[:200]})"
                )
            if response.status_code != 200:
                message = f"HTTP {response.status_code}: {response.text.strip()[:200]}"
                if 400 <= response.status_code < 500:
                    raise Refused(message)
                raise httpx.HTTPStatusError(message, request=response.request, response=response)
            line = _cosignature(witness.key, text, response.text)
            self.store.add(checkpoint.size, witness.key, line)
            self._old[witness.key] = checkpoint.size
            log.info("witness %s cosigned size %d", witness.key.name, checkpoint.size)
            return line
        raise Refused(f"no agreement on the old size after {MAX_ATTEMPTS} attempts")


def _size(body: str) -> int:
    text = body.strip()
    if not (text.isascii() and text.isdigit()):
        raise CosignatureError(f"409 body {body[:40]!r} is not a tree size")
    return int(text)


def _cosignature(witness: VerifierKey, text: str, body: str) -> NoteSignature:
    """The witness's valid cosignature among the lines it answered (others ignored)."""
    mine = [s for s in parse_lines(body) if is_by(witness, s)]
    for line in mine:
        verify_cosignature(witness, text, line)
        return line
    raise CosignatureError(f"the witness answered no cosignature by {witness.name}")


def parse_witnesses(specs: Iterable[str]) -> list[WitnessEndpoint]:
    return [WitnessEndpoint.parse(spec) for spec in specs]
