"""The cadreledger application: eventsourcing storage, the log and its single writer.

This is the one place that knows how the parts fit: settings pick the database,
the eventsourcing ``Application`` builds the recorder, ``LogStore`` adds the log's
tables, the ``Sequencer`` writes, and the domain says which stream a statement joins.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from cadreledger.config import ConfigError, Settings
from domain.streams import stream_for
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.envelope import event_hash
from ledger.errors import INVALID_RANGE, INVALID_STATEMENT, Rejected
from ledger.keys import SignerKey, VerifierKey
from ledger.merkle import EMPTY_ROOT, consistency_proof, inclusion_proof
from ledger.receipt import Receipt
from ledger.sequencer import Sealed, Sequencer
from ledger.statement import SignedStatement, parse_submission
from ledger.store import LogStore
from ledger.tiles import TileHashReader
from ledger.verifier import Report, verify_log

MAX_CLOCK_SKEW = timedelta(minutes=5)
PROCESSES_FROM = 20_000  # events; see Ledger.verify


class LedgerApplication(Application):  # type: ignore[type-arg]
    """eventsourcing's application object, named so tables read ``cadreledger_events``."""

    name = "cadreledger"


def route(signed: SignedStatement) -> str:
    return stream_for(signed.statement)


class Ledger:
    """Open a ledger database; with ``writer=True`` also take up appending to it."""

    def __init__(self, settings: Settings, *, writer: bool = True) -> None:
        self.settings = settings
        self.app = LedgerApplication(env=settings.eventsourcing_env())
        self.store = LogStore(self.app.recorder)
        self.reader = TileHashReader(self.store)
        self.sequencer: Sequencer | None = None
        self._cpu = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="cpu")
        meta = self.store.meta()
        signer = self._log_signer(meta) if writer else None
        if not meta:
            if signer is None:
                raise ConfigError("this database holds no ledger yet")
            empty = Checkpoint(signer.name, 0, EMPTY_ROOT).sign(signer)
            self.store.init_meta(
                {"origin": signer.name, "log_key": str(signer.verifier)}, (0, empty)
            )
            meta = self.store.meta()
        self.log_key = VerifierKey.parse(meta["log_key"])
        if signer is not None:
            if signer.verifier != self.log_key:
                raise ConfigError(
                    f"the key in {settings.key_path()} is not this log's key ({self.log_key})"
                )
            self.sequencer = Sequencer(
                self.store,
                signer,
                self.reader,
                route,
                max_batch=settings.max_batch,
                deliver=self._cpu,
            )
            self.sequencer.start()

    def _log_signer(self, meta: dict[str, str]) -> SignerKey:
        path = self.settings.key_path()
        if path.exists():
            return SignerKey.parse(path.read_text())
        if meta:
            raise ConfigError(f"the log's private key {path} is missing; cannot append")
        key = SignerKey.generate(self.settings.origin)
        _write_private(path, str(key) + "\n")
        return key

    def close(self) -> None:
        if self.sequencer is not None:
            self.sequencer.stop()
        self._cpu.shutdown()
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------

    def submit(self, body: bytes) -> Receipt:
        """Untrusted submission bytes → receipt, or ``Rejected`` with nothing stored."""
        return self.submit_future(body).result()

    async def submit_async(self, body: bytes) -> Receipt:
        return await asyncio.wrap_future(self.submit_future(body))

    def submit_future(self, body: bytes) -> Future[Receipt]:
        """Start a submission; the future holds its receipt or its ``Rejected``.

        Parsing with the signature check, and later the receipt's proof, run in a pool
        of one thread per core; nothing waits in a thread of its own. However many
        requests are in flight, only those few threads contend with the sequencer for
        the GIL, so it is not starved between its database calls.
        """
        writer = self._writer()
        result: Future[Receipt] = Future()

        def admit() -> None:
            try:
                sealed = writer.submit(self._admit(parse_submission(body)))
            except BaseException as e:
                result.set_exception(e)
            else:
                # Runs when the batch commits, in the pool thread that settles the batch.
                sealed.add_done_callback(answer)

        def answer(sealed: Future[Sealed]) -> None:
            try:
                result.set_result(writer.receipt(sealed.result()))
            except BaseException as e:
                result.set_exception(e)

        self._cpu.submit(admit)
        return result

    def append(self, signed: SignedStatement) -> Receipt:
        """An already verified statement (the demo's, the tests'): sequence it, wait."""
        return self._writer().append(self._admit(signed))

    def _writer(self) -> Sequencer:
        if self.sequencer is None:
            raise RuntimeError("this ledger was opened read-only")
        return self.sequencer

    def _admit(self, signed: SignedStatement) -> SignedStatement:
        """What the ledger checks that a signature cannot: the statement is not from the future."""
        issued = datetime.fromisoformat(signed.statement["issued_at"])
        if issued > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise Rejected(
                INVALID_STATEMENT,
                "Thời điểm ký (issued_at) ở tương lai quá 5 phút.",
                "The statement's issued_at is more than 5 minutes in the future.",
                field="issued_at",
            )
        return signed

    # -- reading ----------------------------------------------------------------------

    def checkpoint(self) -> str:
        if self.sequencer is not None:
            return self.sequencer.checkpoint
        latest = self.store.latest_checkpoint()
        assert latest is not None  # genesis writes one
        return latest[1]

    def size(self) -> int:
        return open_checkpoint(self.checkpoint(), self.log_key).size

    def inclusion(self, index: int, size: int) -> list[bytes]:
        self._check_range(0 <= index < size <= self.size(), index, size)
        return inclusion_proof(index, size, self.reader)

    def consistency(self, first: int, second: int) -> list[bytes]:
        self._check_range(1 <= first <= second <= self.size(), first, second)
        return consistency_proof(first, second, self.reader)

    def entries(self, start: int, limit: int) -> list[dict[str, Any]]:
        rows = self.store.entries(start, limit)
        return [
            {
                "index": index,
                "stream": stream,
                "version": version,
                "event_hash": event_hash(raw).hex(),
                "envelope": raw.decode(),
            }
            for index, stream, version, raw in rows
        ]

    def verify(self, *, pinned: VerifierKey | None = None, **options: Any) -> Report:
        """Run the verifier over this database; ``options`` go to ``verify_log``.

        Big logs are checked in worker processes (starting them costs more than it
        saves below some tens of thousands of events)."""
        options.setdefault("processes", self.store.count_events() > PROCESSES_FROM)
        return verify_log(
            self.store,
            pinned or self.log_key,
            log_key_source="pinned" if pinned else "database",
            **options,
        )

    def _check_range(self, ok: bool, a: int, b: int) -> None:
        if not ok:
            size = self.size()
            raise Rejected(
                INVALID_RANGE,
                f"Không có bằng chứng cho ({a}, {b}) trong sổ cái kích thước {size}.",
                f"No proof for ({a}, {b}) in a log of size {size}.",
                tree_size=size,
            )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
