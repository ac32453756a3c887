"""The cadreledger application: eventsourcing storage, the log and its single writer.

This is the one place that knows how the parts fit: settings pick the database,
the eventsourcing ``Application`` builds the recorder, ``LogStore`` adds the log's
tables, the ``Sequencer`` writes, and the domain says which stream a statement joins.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application

from cadreledger.checkers import Checkers
from cadreledger.config import ConfigError, Settings
from cadreledger.genesis import RULES_VERSION, read_genesis
from cadreledger.replica import consistent_checkpoint, in_recovery
from cadreledger.rules import EvaluationRules
from domain.privacy import data_subject
from domain.streams import stream_for
from ledger.answers import Answer, Settable
from ledger.checkpoint import Checkpoint
from ledger.envelope import MAX_CLOCK_SKEW_META, event_hash
from ledger.errors import INVALID_RANGE, INVALID_STATEMENT, READ_ONLY, Rejected
from ledger.keys import KeyFormatError, SignerKey, VerifierKey
from ledger.logkeys import LogKeys, Rotation, RotationError
from ledger.logtime import LogTime, check_witnessed_time, recorded_skew
from ledger.merkle import EMPTY_ROOT, consistency_proof, inclusion_proof
from ledger.receipt import Receipt
from ledger.sequencer import Clock, Sequencer, utc_now
from ledger.statement import SignedStatement, parse_submission
from ledger.store import Entry, open_store
from ledger.tilelog import TileResources
from ledger.tiles import TileHashReader
from ledger.vault import (
    DataKeyError,
    Erasure,
    Revealed,
    TextVault,
    create_key_file,
    key_id,
    read_key_file,
)
from ledger.verifier import Finding, Page, Report, verify_log
from projections.audit import audit
from projections.audit_part import Verified
from projections.fairness import judge_sealed_reasons
from projections.follower import Projector
from projections.queries import Queries
from projections.readmodel import MemoryReadModel
from witness.cosignatures import CosignatureStore

if TYPE_CHECKING:
    from cadreledger.handover import HandoverClient

PROCESSES_FROM = 20_000  # events; see Ledger.verify
ROOT_NAME = "root"


class LedgerApplication(Application):  # type: ignore[type-arg]
    """eventsourcing's application object, named so tables read ``cadreledger_events``."""

    name = "cadreledger"


def route(signed: SignedStatement) -> str:
    return stream_for(signed.statement)


class Ledger:
    """Open a ledger database; with ``writer=True`` also take up appending to it."""

    def __init__(self, settings: Settings, *, writer: bool = True, clock: Clock = utc_now) -> None:
        """``clock``: the log's time source (tests drive it; production is the system's
        UTC clock)."""
        self.settings = settings
        # A PostgreSQL hot standby (cadreledger.replica): reads only, as of its own log.
        self.replica = in_recovery(settings)
        if self.replica and writer:
            raise ConfigError(
                f"{settings.db} is a read-only replica (a hot standby): serve it with "
                "--read-only, and write to the primary"
            )
        env = settings.eventsourcing_env()
        if self.replica:
            env["CREATE_TABLE"] = "no"  # the primary's tables, replicated
        self.app = LedgerApplication(env=env)
        self.store = open_store(self.app.recorder)
        self.store.read_only = self.replica
        self.primary: str | None = None  # where writes go, said when refusing them
        self.reader = TileHashReader(self.store)
        self.sequencer: Sequencer | None = None
        self.checkers: Checkers | None = None
        # An HTTP worker's: where its checked statements go to be sequenced
        # (cadreledger.workers); it writes nothing itself.
        self.forward: HandoverClient | None = None
        self._cpu = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="cpu")
        self._projector: Projector | None = None
        self._projector_made = threading.Lock()
        self._queries: Queries | None = None
        self._tiles: TileResources | None = None
        self._cosignatures: CosignatureStore | None = None
        self.on_verified: list[Callable[[Report], None]] = []  # e.g. metrics
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        meta = self.store.meta()
        signer = self._log_signer(meta) if writer else None
        if not meta:
            if signer is None:
                raise ConfigError("this database holds no ledger yet")
            empty = Checkpoint(signer.name, 0, EMPTY_ROOT).sign(signer)
            genesis = {"origin": signer.name, "log_key": str(signer.verifier), "rules": "none"}
            if settings.rules:
                genesis["rules"] = RULES_VERSION
                genesis["root_keys"] = json.dumps([str(self._root_of_trust())])
            self.store.init_meta(genesis, (0, empty))
            meta = self.store.meta()
        # Fixed at genesis: a bare log stays bare, an evaluation ledger keeps its rules.
        fixed = read_genesis(meta)
        try:
            self.log_keys = LogKeys.follow(fixed.log_key, self.store.log_key_rotations())
        except RotationError as e:
            if signer is not None:
                raise ConfigError(f"ledger_log_keys: {e}") from e
            self.log_keys = LogKeys(fixed.log_key)  # verify reports it (V6)
        self.log_key = self.log_keys.current  # today's; the genesis key signed the start
        # What the writer allows between issued_at and the log's time (recorded by the
        # first writer; until then, what the settings say).
        recorded = recorded_skew(meta)
        self.max_clock_skew = (
            recorded if recorded is not None else timedelta(seconds=settings.max_clock_skew)
        )
        # Whether webhook registrations may name non-public targets: as the ledger
        # recorded it (its first writer), else as configured; off by default.
        recorded_private = meta.get("webhooks_allow_private")
        self.webhooks_allow_private = (
            recorded_private == "true"
            if recorded_private is not None
            else settings.webhooks_allow_private
        )
        self.root_keys: list[str] = fixed.root_keys
        self.rules = EvaluationRules(self.root_keys) if fixed.evaluation else None
        self.vault = TextVault(self.store, self._data_key(meta, writer), data_subject)
        if signer is not None:
            if signer.verifier != self.log_key:
                raise ConfigError(
                    f"the key in {settings.key_path()} is not this log's current key "
                    f"({self.log_key})"
                )
            skew = self.max_clock_skew = self._max_clock_skew()
            self.webhooks_allow_private = self._webhooks_allow_private()
            self.sequencer = Sequencer(
                self.store,
                signer,
                self.reader,
                route,
                max_batch=settings.max_batch,
                deliver=self._cpu,
                rules=self.rules,
                texts=self.vault,
                keys=self.log_keys,
                clock=clock,
                max_skew=skew,
            )
            self.sequencer.start()
            if settings.check_processes > 0:
                self.checkers = Checkers(settings.check_processes)

    def _max_clock_skew(self) -> timedelta:
        """The clock skew the ledger allows, recorded by its first writer: the verifier
        judges every stored event by it, so it is one value for the ledger's life."""
        configured = self.settings.max_clock_skew
        if configured < 0:
            raise ConfigError(f"max_clock_skew {configured} is negative")
        recorded = self.store.meta_once(MAX_CLOCK_SKEW_META, str(configured))
        if recorded != str(configured):
            raise ConfigError(
                f"max_clock_skew is {configured} seconds but this ledger recorded {recorded} "
                f"(ledger_meta.{MAX_CLOCK_SKEW_META}): it is fixed for the ledger's life"
            )
        return timedelta(seconds=configured)

    def _webhooks_allow_private(self) -> bool:
        """Whether this ledger admits webhook registrations of non-public targets, on the
        record (``ledger_meta.webhooks_allow_private``, set by its first writer): a
        writer configured otherwise refuses to start, so nobody opens a ledger to
        internal targets quietly."""
        configured = "true" if self.settings.webhooks_allow_private else "false"
        recorded = self.store.meta_once("webhooks_allow_private", configured)
        if recorded != configured:
            raise ConfigError(
                f"webhooks_allow_private is {configured} but this ledger recorded {recorded} "
                "(ledger_meta.webhooks_allow_private): it is fixed for the ledger's life"
            )
        return recorded == "true"

    @property
    def clock(self) -> Clock:
        """The log's clock (what the sequencer stamps each batch with)."""
        return self._writer().clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._writer().clock = clock

    def _log_signer(self, meta: dict[str, str]) -> SignerKey:
        path = self.settings.key_path()
        if path.exists():
            return SignerKey.parse(path.read_text())
        if meta:
            raise ConfigError(f"the log's private key {path} is missing; cannot append")
        key = SignerKey.generate(self.settings.origin)
        _write_private(path, str(key) + "\n")
        return key

    def _data_key(self, meta: dict[str, str], writer: bool) -> bytes | None:
        """The key-encryption key of sealed texts: read from its file, or made there the
        first time a writer opens this ledger. Its id is recorded in the ledger, so a
        wrong or lost file is said plainly instead of texts quietly becoming unreadable."""
        path = self.settings.data_key_path()
        recorded = meta.get("data_key")
        try:
            if path.exists():
                kek = read_key_file(path)
            elif writer and recorded is None:
                kek = create_key_file(path)
            elif writer:
                raise ConfigError(
                    f"the data key file {path} is missing: sealed texts cannot be stored or "
                    "read (restore it from its backup, or set CADRELEDGER_DATA_KEY_FILE)"
                )
            else:
                return None  # a reader without the file: texts show as unavailable
        except (OSError, DataKeyError) as e:
            raise ConfigError(f"the data key file {path}: {e}") from e
        if writer:
            recorded = self.store.meta_once("data_key", key_id(kek))
        if recorded is not None and recorded != key_id(kek):
            raise ConfigError(f"the data key in {path} is not this ledger's (id {recorded})")
        return kek

    @property
    def projector(self) -> Projector:
        """The read model of ratings, quotas and complaints (an evaluation ledger only)."""
        if self.rules is None:
            raise ConfigError("a bare log has no evaluation read model")
        with self._projector_made:  # the first reads may come together (tables made once)
            if self._projector is None:
                self._projector = (
                    Projector(
                        self.store,
                        self.root_keys,
                        read_model=MemoryReadModel.seeded(self.store),
                        listen=False,
                    )
                    if self.replica
                    else Projector(self.store, self.root_keys)
                )
        return self._projector

    @property
    def queries(self) -> Queries:
        """The read model's answers (an evaluation ledger only): what the API reads."""
        if self._queries is None:
            self._queries = Queries(self.store, self.projector)
        return self._queries

    @property
    def tiles(self) -> TileResources:
        """The log as C2SP tlog-tiles: hash tiles and entry and envelope bundles."""
        if self._tiles is None:
            self._tiles = TileResources(self.store)
        return self._tiles

    @property
    def cosignatures(self) -> CosignatureStore:
        """The witnesses' cosignatures of this log's checkpoints."""
        if self._cosignatures is None:
            self._cosignatures = CosignatureStore(self.store)
        return self._cosignatures

    def _root_of_trust(self) -> VerifierKey:
        """The root key fixed at genesis, read from its file: the verifier key (what
        ``cadreledger init`` leaves there), or a private key, of which only the verifier
        is used. The service never makes the root's private key beside the database;
        only where the operator named the file (``CADRELEDGER_ROOT_KEY_FILE``: tests, a
        closed demo) is a missing one made there."""
        path = self.settings.root_key_path()
        if not path.exists():
            if not self.settings.root_key_file:
                raise ConfigError(
                    f"no root of trust for this new evaluation ledger ({path} is missing): "
                    "run `cadreledger init --root-key-out PATH` (the private key goes where "
                    "you say, to keep offline; only its verifier key is kept for the "
                    "service), or put the root's verifier key in that file"
                )
            _write_private(path, str(SignerKey.generate(ROOT_NAME)) + "\n")
        text = path.read_text().strip()
        try:
            return SignerKey.parse(text).verifier
        except KeyFormatError:
            return VerifierKey.parse(text)

    def close(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        if self.checkers is not None:
            self.checkers.close()
        if self.sequencer is not None:
            self.sequencer.stop()
        self._cpu.shutdown()
        self.store.close()  # (SQLite: the connection its batches were written on)
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------

    def submit(self, body: bytes) -> Receipt:
        """Untrusted submission bytes → receipt, or ``Rejected`` with nothing stored.

        The calling thread, which waits for the receipt anyway, parses and checks the
        statement itself (unless checker processes do), and waits on an ``Answer``:
        handing the statement to the pool and waiting on a future cost the writer's
        process a fifth of its time per statement with 128 submitting threads. Checked
        in a checker process, it waits on an ``Answer`` too, which the writer settles
        itself, without a pool thread's turn."""
        if self.sequencer is None:
            raise self.read_only_refusal()
        answer: Answer[Receipt] = Answer()
        if self.checkers is not None:
            self.checkers.check(body).add_done_callback(lambda v: self._sequence(answer, v.result))
        else:
            self.submit_checked(parse_submission(body), answer)
        return answer.result()

    async def submit_async(self, body: bytes) -> Receipt:
        if self.forward is not None:
            return await self.forward.submit(body)
        return await asyncio.wrap_future(self.submit_future(body))

    def submit_future(self, body: bytes) -> Future[Receipt]:
        """Start a submission; the future holds its receipt or its ``Rejected``.

        Parsing with the signature check runs in the checker processes if there are
        any (``Settings.check_processes``), else with the receipt's proof in a pool of
        one thread per core; nothing waits in a thread of its own. However many
        requests are in flight, only those few threads contend with the sequencer for
        the GIL, so it is not starved between its database calls.
        """
        if self.sequencer is None:
            raise self.read_only_refusal()
        result: Future[Receipt] = Future()
        if self.checkers is not None:
            self.checkers.check(body).add_done_callback(lambda v: self._sequence(result, v.result))
        else:
            self._cpu.submit(self._sequence, result, partial(parse_submission, body))
        return result

    def _sequence(self, result: Settable[Receipt], signed: Callable[[], SignedStatement]) -> None:
        """Sequence the statement ``signed`` gives (parsed and checked here, or a
        checker's verdict); its refusal, or any failure, is ``result``'s answer."""
        try:
            self.submit_checked(signed(), result)
        except BaseException as e:
            result.set_exception(e)

    def submit_checked(self, signed: SignedStatement, result: Settable[Receipt]) -> None:
        """Sequence a statement whose signature this service's own code has checked (a
        checker's, an HTTP worker's): ``result`` gets its receipt, or its ``Rejected``,
        when it lands. Refused before the writer: ``Rejected``."""
        writer = self._writer()
        # Answered when the batch commits, in the pool thread that settles the batch.
        writer.submit_receipt(self._admit(signed), result)

    def append(self, signed: SignedStatement) -> Receipt:
        """An already verified statement (the demo's, the tests'): sequence it, wait."""
        return self._writer().append(self._admit(signed))

    def read_only_refusal(self) -> Rejected:
        """Why a read-only server stores nothing: and where to write instead."""
        where = f" ({self.primary})" if self.primary else ""
        return Rejected(
            READ_ONLY,
            f"Máy chủ này chỉ đọc (bản sao); hãy gửi tới máy chủ chính{where}.",
            f"This server is read-only (a replica); send writes to the primary{where}.",
            **({"primary": self.primary} if self.primary else {}),
        )

    def _writer(self) -> Sequencer:
        if self.sequencer is None:
            raise RuntimeError("this ledger was opened read-only")
        return self.sequencer

    def _admit(self, signed: SignedStatement) -> SignedStatement:
        """What the ledger checks that a signature cannot, before the writer: that it can
        keep the statement's texts. (How far its issued_at is from the log's time the
        writer judges, against the very time it writes into the envelope.)"""
        if signed.texts and not self.vault.can_store:
            raise Rejected(
                INVALID_STATEMENT,
                "Sổ cái này không có khóa dữ liệu để lưu văn bản niêm phong.",
                "This ledger has no data key to keep sealed texts.",
            )
        if signed.statement.get("type") == "webhook.registered":
            # Resolved here, at the edge (the rules are pure): a non-public target is
            # refused before anything is stored. (Imported late: webhooks needs the ledger.)
            from streams.webhooks import registration_refusal

            refused = registration_refusal(
                dict(signed.statement), allow_private=self.webhooks_allow_private
            )
            if refused is not None:
                raise refused
        return signed

    # -- reading ----------------------------------------------------------------------

    def checkpoint(self) -> str:
        if self.sequencer is not None:
            return self.sequencer.checkpoint
        # A reader may be a lagging replica: the checkpoint its own events fill.
        latest = consistent_checkpoint(self.store)
        assert latest is not None  # genesis writes one
        return latest[1]

    def size(self) -> int:
        if self.sequencer is not None:
            return self.sequencer.size
        return self.log_keys.open(self.checkpoint()).size

    def wait_beyond(self, size: int, timeout: float) -> int:
        """The log's size once it exceeds ``size``, or after ``timeout`` seconds.

        A writer is woken by its own commits; a read-only ledger polls the database."""
        if self.sequencer is not None:
            return self.sequencer.wait_beyond(size, timeout)
        deadline = time.monotonic() + timeout
        while (now := self.size()) <= size and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return now

    def inclusion(self, index: int, size: int) -> list[bytes]:
        self._check_range(0 <= index < size <= self.size(), index, size)
        return inclusion_proof(index, size, self.reader)

    def consistency(self, first: int, second: int) -> list[bytes]:
        self._check_range(1 <= first <= second <= self.size(), first, second)
        return consistency_proof(first, second, self.reader)

    def entries(self, start: int, limit: int) -> list[dict[str, Any]]:
        return [entry_json(row) for row in self.store.entries(start, limit)]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The largest stored checkpoint (size, signed note), read from the database
        each time (the readiness check's: does the database answer?)."""
        return self.store.latest_checkpoint()

    def rotate_log_key(self, old: SignerKey, new: SignerKey) -> Rotation:
        """Record that ``new`` signs every checkpoint after the latest one (signed by
        ``old``, this log's current key, and by ``new``). The service should be stopped:
        a writer that keeps running would go on signing with the old key."""
        if old.verifier != self.log_key:
            raise RotationError(f"{old.verifier} is not this log's current key ({self.log_key})")
        with self.store.writer_lock():  # no batch of another writer lands in between
            latest = self.store.latest_checkpoint()
            size = latest[0] if latest else 0
            rotation = Rotation(old.name, size, old.verifier, new.verifier)
            note = rotation.sign(old, new)
            # The chain must still hold: a second rotation at one size is refused here.
            LogKeys.follow(self.log_keys.first, [*self.store.log_key_rotations(), note])
            self.store.add_log_key_rotation(size, note)
        return rotation

    def queue_depth(self) -> int:
        """Statements waiting for the writer's next batch (0 when this one does not write)."""
        return self.sequencer.queue_depth if self.sequencer is not None else 0

    def on_batch(self, observe: Callable[[int, float], None]) -> None:
        """Call ``observe(size, seconds)`` after each batch this ledger writes (none
        when it does not write)."""
        if self.sequencer is not None:
            self.sequencer.observers.append(observe)

    @property
    def writer_stopped(self) -> bool:
        """Whether this ledger took up writing and its writer has since stopped — its own
        sequencer, or for an HTTP worker the writer process it hands statements to."""
        if self.forward is not None and self.forward.lost:
            return True
        return self.sequencer is not None and not self.sequencer.running

    def text_subjects(self, commitments: Iterable[str]) -> dict[str, str]:
        """Each stored sealed text's data subject (whose key seals it)."""
        return self.vault.subjects(commitments)

    def reveal(self, commitments: Iterable[str]) -> dict[str, Revealed]:
        """The texts behind sealed values (commitment → text, or why not: erased, …).
        Whoever may read them is the caller's to decide (the API's access policy)."""
        return self.vault.reveal(commitments)

    def erase(self, subject: str, reason: str) -> Erasure:
        """Crypto-shredding: destroy ``subject``'s data keys, so every text sealed about
        them is unreadable for good, and record when and why. Signed statements, proofs
        and checks are untouched. ``ValueError`` if the reason is missing."""
        return self.vault.erase(subject, reason)

    def verify(self, *, pinned: VerifierKey | None = None, **options: Any) -> Report:
        """Run the verifier over this database (V1–V7 and V10, and V8–V9 with the fairness
        evidence on an evaluation ledger); ``options`` go to ``verify_log``.

        Big logs are checked in worker processes, their events' signatures and then
        their cycles' rules (starting them costs more than it saves below some tens of
        thousands of events)."""
        options.setdefault("processes", self.store.count_events() > PROCESSES_FROM)
        log_time = LogTime(recorded_skew(self.store.meta()))
        verified = Verified() if self.rules is not None else None
        report = self.verify_entries(log_time, pinned=pinned, verified=verified, **options)
        if self.rules is not None:
            audit(
                self.store,
                self.root_keys,
                report,
                processes=options["processes"],
                workers=options.get("workers"),
                verified=verified,
            )
        self.verify_after_audit(report, log_time, **options)
        for observe in self.on_verified:
            observe(report)
        return report

    def verify_entries(
        self,
        log_time: LogTime,
        *,
        pinned: VerifierKey | None = None,
        verified: Verified | None = None,
        **options: Any,
    ) -> Report:
        """V1–V7 over the stored entries, feeding ``log_time`` (V10) the events as the
        verifier reads them, and ``verified`` what it read, for the audit that follows.
        (Apart so that bench/evaluation_log.py times each part as ``verify`` runs it.)"""

        def read(page: Page, hashes: list[bytes]) -> None:
            log_time.add((p, s, v, raw) for p, s, v, _topic, raw in page)
            if verified is not None:
                verified.add(page, hashes)

        report = verify_log(
            self.store,
            pinned or self.log_keys.first,
            log_key_source="pinned" if pinned else "database",
            on_page=read,
            **options,
        )
        if pinned is not None and pinned not in self.log_keys.keys:
            # The pinned key verified what it could; the database names other keys.
            report.checks["V5"].fail(
                Finding(
                    "the database's log keys (ledger_meta.log_key, then the rotations in "
                    f"ledger_log_keys) are {', '.join(map(str, self.log_keys.keys))}, not the "
                    f"pinned {pinned}",
                    "cơ sở dữ liệu ghi khóa sổ cái khác với khóa được ghim",
                )
            )
        return report

    def verify_after_audit(self, report: Report, log_time: LogTime, **options: Any) -> None:
        """What ``verify`` adds after V1–V9: the sealed amendment reasons judged (with the
        data key), V10 (the log's time, ``log_time`` fed by ``verify_entries``) and, with
        a witness policy, the witnessed time."""
        if self.rules is not None:
            self._judge_reasons(report)
        times = log_time.finish(report)
        if options.get("witness_policy") is not None:
            check_witnessed_time(
                times,
                self.store,
                self.store.latest_checkpoint(),
                options["witness_policy"],
                options.get("cosignatures"),
                log_time.skew,
            )

    def _judge_reasons(self, report: Report) -> None:
        """With the data key, the fairness findings judge the sealed amendment reasons
        too (thin, or "as directed"); without it they stay "not judged: text sealed"."""
        fairness = report.annexes.get("fairness")
        if fairness is None or self.vault.kek is None:
            return

        def texts(wanted: list[str]) -> dict[str, str | None]:
            return {c: r.text for c, r in self.vault.reveal(wanted).items()}

        judge_sealed_reasons(fairness, texts)

    def _check_range(self, ok: bool, a: int, b: int) -> None:
        if not ok:
            size = self.size()
            raise Rejected(
                INVALID_RANGE,
                f"Không có bằng chứng cho ({a}, {b}) trong sổ cái kích thước {size}.",
                f"No proof for ({a}, {b}) in a log of size {size}.",
                tree_size=size,
            )


def entry_json(row: Entry) -> dict[str, Any]:
    """A stored log entry as the API gives it: position, stream, the envelope verbatim."""
    index, stream, version, raw = row
    return {
        "index": index,
        "stream": stream,
        "version": version,
        "event_hash": event_hash(raw).hex(),
        "envelope": raw.decode(),
    }


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
