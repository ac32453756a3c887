"""The single writer: group commit of verified statements.

Request threads verify signatures (in parallel, off any lock) and hand statements
to ``submit``. One thread takes whatever has queued up, chains each statement onto
its stream, extends the Merkle tree once, signs one checkpoint, and writes the lot
in one transaction. Only then are the waiting requests answered. A crash before the
commit loses only statements nobody was told were accepted; a retry with the same
nonce after a crash *after* the commit gets the stored event's receipt back.

Pipelined: while a batch's transaction commits (in the committer thread: waiting on
the disk's flush, most of a batch's time), the writer lays out the next batch on the
state the committing one leaves. It hands that batch over only once the one before
it is stored, so transactions commit one at a time, in log order; if one fails, the
batch laid out on it is thrown away and both are written again, carefully.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, InvalidStateError, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from eventsourcing.persistence import StoredEvent

from ledger.answers import Answer, Settable
from ledger.checkpoint import Checkpoint
from ledger.envelope import TOPIC, EnvelopeError, Event, event_hash, format_logged_at, wrap
from ledger.errors import CLOCK_SKEW, NONCE_REUSED, UNAVAILABLE, Rejected
from ledger.keys import SignerKey
from ledger.logkeys import LogKeys
from ledger.merkle import EMPTY_ROOT, inclusion_proof, inclusion_proofs, leaf_hash
from ledger.receipt import Receipt
from ledger.statement import SignedStatement
from ledger.store import BatchRows, DataKeyRow, LeafRow, LogStore, NonceRow, TextRow
from ledger.tiles import TileHashReader, TreeBuilder

_T = TypeVar("_T")
log = logging.getLogger(__name__)

Router = Callable[[SignedStatement], str]
Clock = Callable[[], datetime]  # the log's clock: an aware UTC time
DEFAULT_MAX_SKEW = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


class RulesBatch(Protocol):
    def admit(
        self, signed: SignedStatement, event_hash: bytes, index: int, logged_at: datetime
    ) -> None:
        """Judge the next statement of the batch, admitted by the log at ``logged_at``;
        raise ``Rejected`` to refuse it."""

    def commit(self) -> None:
        """The batch is stored: what it admitted is now the rules' state."""


class Rules(Protocol):
    """What the application checks beyond signatures, in log order, as the writer writes."""

    def load(self, store: LogStore, size: int) -> None:
        """Bring the rules' state up to the first ``size`` stored events."""

    def begin(self, after: RulesBatch | None = None) -> RulesBatch:
        """A batch's draft; ``after``: the batch before it, admitted but not yet committed
        (its acts count, and this draft is committed after it)."""


class TextSealer(Protocol):
    """Where the texts that statements seal are kept (``ledger.vault.TextVault``)."""

    @property
    def can_store(self) -> bool: ...

    def seal_batch(
        self, items: Sequence[tuple[SignedStatement, bytes]]
    ) -> tuple[list[DataKeyRow], list[TextRow]]:
        """Rows to write with the batch for its admitted statements that carry texts
        (statement, event hash): new data keys, and the encrypted texts."""


MAX_CACHED_HEADS = 200_000
# How long the writer keeps the store's writer lock across back-to-back batches: another
# writer, an erasure or a key rotation waits at most this long, and a batch.
MAX_HOLD = 0.2
# How long a writer holding the lock waits for more statements before letting go of it.
LINGER = 0.005
# A stored batch of at most this many statements, each awaited by a thread of its own
# (an ``Answer``: answering it releases a lock and runs nothing else), is answered by
# the writer itself once it has handed the batch behind it to the committer: waking a
# pool thread for it cost more than its answers (SQLite, 32 submitters: ~6 % more
# statements a second). Any other batch is answered in the pool (``deliver``): a large
# one's proofs and receipts would hold up the writer laying out the next (PostgreSQL,
# 128 submitters, batches of ~65: 7 % fewer a second when the writer answered them),
# and a future's callbacks may do anything (the hand-over's write to a worker's socket).
ANSWER_HERE = 32


class _HeldLock:
    """The store's writer lock, kept from one batch to the next while statements keep
    coming: on PostgreSQL taking it costs two round trips a batch. Let go when the queue
    runs dry or after ``MAX_HOLD`` seconds."""

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._held: ExitStack | None = None
        self._since = 0.0

    @property
    def held(self) -> bool:
        return self._held is not None

    def hold(self) -> None:
        if self._held is None:
            held = ExitStack()
            held.enter_context(self._store.writer_lock())
            self._held, self._since = held, time.monotonic()

    @property
    def overdue(self) -> bool:
        return self._held is not None and time.monotonic() - self._since > MAX_HOLD

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            try:
                held.close()
            except Exception:  # a lost connection lost its lock with it
                log.exception("could not let go of the writer lock")


@dataclass(frozen=True)
class Landed:
    """Where a statement landed, and the checkpoint that first covers it."""

    index: int
    stream: str
    version: int
    event_hash: bytes
    tree_size: int
    checkpoint: str
    duplicate: bool = False
    # The inclusion proof in the tree of ``tree_size``, when the writer built it with
    # its batch's (``receipt`` builds it otherwise).
    proof: tuple[bytes, ...] | None = None


@dataclass
class _Pending:
    signed: SignedStatement
    stream: str
    future: Settable[Any]  # its Landed; or, with ``receipt``, its Receipt
    # Whether the submitter wants only the receipt (``submit_receipt``): then it is
    # built where the batch is settled, with no Landed future between.
    receipt: bool = False


NonceKey = tuple[str, str]  # (actor, nonce)
_Place = tuple[int, str, int, bytes, bool]  # index, stream, version, event hash, duplicate


@dataclass
class _Outcomes:
    """What a batch's statements get, in order: each its place, or its refusal; and the
    tree and checkpoint that the batch's receipts prove their places in."""

    each: list[_Place | Rejected]
    tree_size: int = 0
    checkpoint: str = ""


@dataclass
class _Staged:
    """A batch laid out before it is written (``Sequencer._stage``)."""

    stamp: datetime  # the log's time of the batch's latest statements (``_join``)
    judged: RulesBatch | None  # the rules' draft, committed with the batch
    events: list[StoredEvent] = field(default_factory=list)
    rows: BatchRows = field(default_factory=BatchRows)  # what the batch adds besides its events
    # Per statement, in order: its refusal, or (index, whether a repeat of a stored one)
    outcomes: list[Rejected | tuple[int, bool]] = field(default_factory=list)
    by_index: dict[int, tuple[str, int, bytes]] = field(default_factory=dict)
    heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # streams it extends
    disclosed: list[tuple[SignedStatement, bytes]] = field(default_factory=list)  # with texts
    # The nonces this batch and the one committing below it use: (digest, index) each
    seen: dict[NonceKey, tuple[bytes, int]] = field(default_factory=dict)


class _Wake:
    """Put in the queue when a commit ends, so that the writer waiting for statements
    wakes to answer that batch's (``Sequencer._next_batch``)."""


_WAKE = _Wake()


@dataclass
class _InFlight:
    """A batch committing in the committer thread while the writer lays out the next."""

    batch: list[_Pending]
    staged: _Staged
    commit: Future[None]
    started: float  # perf_counter when the batch was taken
    landed: bool = False


class Sequencer:
    def __init__(
        self,
        store: LogStore,
        log_key: SignerKey,
        reader: TileHashReader,
        route: Router,
        *,
        max_batch: int = 1000,
        deliver: Executor | None = None,
        rules: Rules | None = None,
        texts: TextSealer | None = None,
        keys: LogKeys | None = None,
        clock: Clock = utc_now,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        self.store = store
        # The log's time (thời điểm ghi sổ) is read from ``clock`` each time statements
        # are taken into a batch and written into their envelopes; a statement whose
        # issued_at is further than ``max_skew`` from it either way is refused.
        self.clock = clock
        self.max_skew = max_skew
        self.logged_at: datetime | None = None  # the latest stored event's log time
        self.log_key = log_key
        # The log's keys by size: the stored latest checkpoint may predate a rotation.
        self.keys = keys or LogKeys(log_key.verifier)
        self.reader = reader
        self.route = route
        self.max_batch = max_batch
        self.rules = rules
        self.texts = texts
        # Where a committed batch's futures are settled. Their callbacks (receipts) then
        # run there, one task per batch, instead of in this thread between commits (a
        # small batch of threads' own ``Answer``s is answered here: ``ANSWER_HERE``).
        self.deliver = deliver
        self._queue: queue.SimpleQueue[_Pending | _Wake | None] = queue.SimpleQueue()
        # Whether statements are taken: not before start(), nor once the writer has been
        # told to stop or has stopped. A statement offered then is refused at once, never
        # left in a queue nobody reads (under the lock: none slips in behind the stop).
        self._open = False
        self._opening = threading.Lock()
        # Commits a batch's transaction while the writer thread lays out the next batch
        # (one at a time: a batch is only handed over once the one before it is stored).
        self._committer: ThreadPoolExecutor | None = None
        self._heads: dict[str, tuple[int, bytes]] = {}
        # Every stream the log has, while there are at most MAX_CACHED_HEADS (else None):
        # a statement that opens a stream then asks the database for no head. A new
        # cycle opens one for each of its cadres, and the lookups cost the writer a
        # query a batch, waiting besides for the connection its batch commits on.
        self._streams: set[str] | None = None
        self._thread: threading.Thread | None = None
        self._grown = threading.Condition()
        self.batches = 0
        # Told (batch size, seconds) after each batch is settled: for metrics.
        self.observers: list[Callable[[int, float], None]] = []
        self._stale = True  # until the state is loaded from the database
        # Whether the writer has held the lock since it last saw the stored log's size:
        # no other writer can have moved the log on meanwhile.
        self._current = False
        self._lock = _HeldLock(store)
        self._load()

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="commit")
            self._open = True
            self._thread = threading.Thread(target=self._run, name="sequencer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._close(stop=True)
            self._thread.join()
            self._thread = None
        if self._committer is not None:
            self._committer.shutdown()
            self._committer = None

    def _load(self) -> None:
        """Take up the log where the database has it: the latest checkpoint and its tiles."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise RuntimeError("the log has no genesis checkpoint")
        size, note = latest
        checkpoint = self.keys.open(note)
        self.reader.clear()
        self.builder = (
            TreeBuilder.load(size, self.reader, self.store) if size else TreeBuilder.empty()
        )
        root = self.builder.root() if size else EMPTY_ROOT
        if root != checkpoint.root:
            raise RuntimeError(f"stored tiles do not match the checkpoint at size {size}")
        if self.rules is not None:
            self.rules.load(self.store, size)
        self.checkpoint = note
        self.size = size  # committed; the builder may run ahead within a failed batch
        self.logged_at = self._last_logged_at(size)
        self._heads.clear()
        self._streams = self.store.stream_names(MAX_CACHED_HEADS)
        self._stale = False

    def _last_logged_at(self, size: int) -> datetime | None:
        """The log time of the last stored event (None: none, or one of envelope v1)."""
        if not size:
            return None
        ((_, _, _, raw),) = self.store.entries(size - 1, 1)
        try:
            return Event.parse(raw).logged_at
        except EnvelopeError:  # damaged behind the writer's back: verify names it (V1)
            return None

    def _stamp(self) -> datetime:
        """This batch's log time: the clock's, but never before the log's latest, so
        log times never decrease along the log (a clock set back cannot reorder it)."""
        now = self.clock().astimezone(UTC)
        return now if self.logged_at is None or now > self.logged_at else self.logged_at

    # -- submitting -------------------------------------------------------------------

    def submit(self, signed: SignedStatement) -> Future[Landed]:
        future: Future[Landed] = Future()
        self._offer(_Pending(signed, self.route(signed), future))
        return future

    def submit_receipt(self, signed: SignedStatement, receipt: Settable[Receipt]) -> None:
        """Submit; ``receipt`` gets the statement's receipt once its batch commits, or its
        ``Rejected``."""
        self._offer(_Pending(signed, self.route(signed), receipt, receipt=True))

    def _offer(self, pending: _Pending) -> None:
        with self._opening:
            if self._open:
                self._queue.put(pending)
                return
        pending.future.set_exception(_unavailable())

    def _close(self, stop: bool) -> None:
        """Take no more statements; with ``stop``, tell the writer to stop after those
        already queued."""
        with self._opening:
            if stop and self._open:
                self._queue.put(None)
            self._open = False

    def append(self, signed: SignedStatement, timeout: float = 30.0) -> Receipt:
        """Submit, wait for the batch to commit, and build the receipt in this thread."""
        landed: Answer[Landed] = Answer()
        self._offer(_Pending(signed, self.route(signed), landed))
        return self.receipt(landed.result(timeout))

    def wait_beyond(self, size: int, timeout: float) -> int:
        """Block until the log holds more than ``size`` entries (or ``timeout``); its size.

        For followers in this process (SSE, webhooks, publishers): they wake on the
        commit instead of polling the database."""
        with self._grown:
            self._grown.wait_for(lambda: self.size > size, timeout)
            return self.size

    def receipt(self, landed: Landed) -> Receipt:
        proof = landed.proof
        if proof is None:
            proof = tuple(inclusion_proof(landed.index, landed.tree_size, self.reader))
        return Receipt(
            landed.stream,
            landed.version,
            landed.event_hash,
            landed.index,
            landed.tree_size,
            proof,
            landed.checkpoint,
            landed.duplicate,
        )

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        inflight: _InFlight | None = None
        try:
            while (batch := self._next_batch(inflight)) is not None:
                items, stopping = batch
                if items:
                    inflight, stopping = self._process(items, inflight, stopping)
                else:  # none queued while a batch commits: see it stored first
                    self._land(inflight)
                    inflight = None
                if stopping:  # (a stop may come right behind a commit's wake)
                    break
                if self._lock.overdue:
                    self._land(inflight)
                    inflight = None
                    self._let_go()
        finally:
            # Stopped, or failed where nothing was meant to fail: either way, statements
            # offered from now on are refused at once, and those queued are answered.
            self._close(stop=False)
            self._land(inflight)
            self._let_go()
            self._refuse_queued()

    def _refuse_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Pending):
                item.future.set_exception(_unavailable())

    def _next_batch(self, inflight: _InFlight | None) -> tuple[list[_Pending], bool] | None:
        """The next batch: while one commits, what queues before its commit ends (perhaps
        nothing). Holding the lock, the writer waits ``LINGER`` for one before it lets go:
        under load the next statements are on their way."""
        while True:
            timeout = LINGER if inflight is None and self._lock.held else None
            taken: tuple[list[_Pending | _Wake], bool] | None
            try:
                taken = take_batch(self._queue, self.max_batch, timeout)
            except queue.Empty:
                self._let_go()
                continue
            if taken is None:
                return None
            items, stopping = taken
            statements = [item for item in items if isinstance(item, _Pending)]
            # (a wake from a commit already answered is no reason to stop waiting)
            if statements or stopping or (inflight is not None and inflight.commit.done()):
                return statements, stopping

    def _let_go(self) -> None:
        self._lock.release()
        self._current = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def queue_depth(self) -> int:
        """Statements waiting for the next batch."""
        return self._queue.qsize()

    def _process(
        self, batch: list[_Pending], inflight: _InFlight | None = None, stopping: bool = False
    ) -> tuple[_InFlight | None, bool]:
        """Write ``batch``: the batch now committing, if it is handed to the committer,
        and whether a stop came meanwhile.

        Pipelined: the batch is laid out while ``inflight`` commits, on the state that
        one leaves (its streams' heads, the tree, the rules' draft), and the statements
        that come before that commit ends join it (``_join``); it is handed to the
        committer once ``inflight`` is stored. If ``inflight`` fails, this layout is
        thrown away and both are written again one after the other, carefully."""
        started = time.perf_counter()
        committer = self._committer
        assert committer is not None, "the writer runs between start() and stop()"
        staged: _Staged | None = None
        try:
            self._lock.hold()
            self._fresh()
            staged = self._stage(batch, careful=False, after=inflight)
            if inflight is not None and not stopping:
                stopping = self._join(batch, staged, inflight)
        except Exception:  # (part of it, perhaps: all of it is written again carefully)
            log.exception("could not lay out a batch of %d", len(batch))
            self._stale, staged = True, None
        if not self._stored(inflight):
            staged = None  # laid out on a batch that was not stored
        tried = False
        handed: _InFlight | None = None
        if staged is not None and staged.events:
            try:
                self._prepare(staged)
                commit = committer.submit(self.store.commit, staged.events, staged.rows)
                commit.add_done_callback(lambda _: self._queue.put(_WAKE))
                handed = _InFlight(batch, staged, commit, started)
            except Exception:
                self._stale, staged, tried = True, None, True
        # The batch stored is taken in and answered only now, while the next one commits:
        # that commit need not wait for it.
        self._land(inflight, here=handed is not None)
        if handed is not None:
            return handed, stopping
        if staged is not None:  # nothing of its own to store
            outcomes = self._outcomes(staged)
        else:
            outcomes = self._write_carefully(batch, first=1 if tried else 0)
        self._deliver(batch, outcomes, started)
        return None, stopping

    def _join(self, batch: list[_Pending], staged: _Staged, inflight: _InFlight) -> bool:
        """Lay out into ``staged`` the statements that come while ``inflight`` commits,
        until it is stored (its wake) or the batch is full: they need not wait for a
        commit more. Each group gets the log time at which it was taken. Whether a stop
        came."""
        while not inflight.commit.done() and len(batch) < self.max_batch:
            taken: tuple[list[_Pending | _Wake], bool] | None
            taken = take_batch(self._queue, self.max_batch - len(batch))
            if taken is None:
                return True
            items, stopping = taken
            more = [item for item in items if isinstance(item, _Pending)]
            if more:
                batch.extend(more)  # first: if laying them out fails, they are written again
                self._stage(more, careful=False, after=inflight, into=staged)
            if stopping:
                return True
        return False

    def _fresh(self) -> None:
        """Know what is stored: rules judge by it, so another writer's commits must be
        known before a verdict, not found at commit time. Unless the writer has held the
        lock since it last looked, ask the database (with rules) how far the log goes."""
        if self.rules is not None and not self._stale and not self._current:
            latest = self.store.latest_checkpoint()
            self._stale = latest is None or latest[0] != self.size
        if self._stale:
            self._load()
        self._current = True

    def _land(self, inflight: _InFlight | None, here: bool = False) -> bool:
        """Wait for ``inflight``'s commit, and answer its statements (``here``: in this
        thread, if the batch is small): False if it failed (then it has been written
        again carefully, or refused, and the state reloaded)."""
        if not self._stored(inflight):
            return False
        if inflight is not None and not inflight.landed:
            inflight.landed = True
            self._publish(inflight.staged)
            outcomes = self._outcomes(inflight.staged)
            self._deliver(inflight.batch, outcomes, inflight.started, here)
        return True

    def _stored(self, inflight: _InFlight | None) -> bool:
        """Wait for ``inflight``'s commit: False if it failed, and then its statements
        have been written again carefully, or refused, and the state reloaded."""
        if inflight is None or inflight.landed:
            return True
        try:
            inflight.commit.result()
        except Exception:
            inflight.landed = True
            self._stale = True  # the tree, heads and draft ran ahead of what is stored
            self._deliver(
                inflight.batch, self._write_carefully(inflight.batch, 1), inflight.started
            )
            return False
        return True

    def _write_carefully(self, batch: list[_Pending], first: int) -> _Outcomes:
        """Write ``batch`` here and now, attempts ``first`` to 2. The first attempt is
        optimistic: it trusts its cached state and leaves stored nonces to the unique key.
        If another writer moved the log on, or a statement is a retry of a stored one, the
        transaction fails whole; then reload and look everything up."""
        for attempt in range(first, 3):
            try:
                self._lock.hold()
                self._fresh()
                return self._write(batch, careful=attempt > 0)
            except Exception:
                # The tree may hold leaves that were never stored: never write from it
                # again before reloading from the database.
                self._stale = True
                if attempt:
                    log.exception("batch of %d failed (attempt %d)", len(batch), attempt)
        self._let_go()  # the database is away: take the lock afresh next time
        return _Outcomes([_unavailable()] * len(batch))

    def _deliver(
        self, batch: list[_Pending], outcomes: _Outcomes, started: float, here: bool = False
    ) -> None:
        if self.deliver is None:
            self._settle(batch, outcomes)
        elif here and _answered_here(batch):
            try:
                self._settle(batch, outcomes)
            except Exception:  # as in the pool: a defect in the answers stops no writer
                log.exception("could not answer a batch of %d", len(batch))
        else:
            self.deliver.submit(self._settle, batch, outcomes)
        for observe in self.observers:
            observe(len(batch), time.perf_counter() - started)

    def _write(self, batch: list[_Pending], careful: bool) -> _Outcomes:
        """Lay the batch out, write it in one transaction, then say what each got."""
        staged = self._stage(batch, careful)
        if staged.events:
            self._prepare(staged)
            self.store.commit(staged.events, staged.rows)
            self._publish(staged)
        return self._outcomes(staged)

    def _stage(
        self,
        batch: list[_Pending],
        careful: bool,
        after: _InFlight | None = None,
        into: _Staged | None = None,
    ) -> _Staged:
        """Chain each statement onto its stream and the tree, or say why it is refused.
        Nothing is written: the tree and the rules' draft hold the batch until commit.
        ``after``: the batch committing meanwhile, whose state this one builds on;
        ``into``: a batch laid out already, which these statements join."""
        keys = [(p.signed.actor, p.signed.nonce) for p in batch]
        known = self.store.find_nonces(keys) if careful else {}
        self._cache_heads({p.stream for p in batch})
        if into is None:
            judged = None
            if self.rules is not None:
                judged = self.rules.begin(after.staged.judged if after is not None else None)
            staged = _Staged(self._stamp(), judged)
            if after is not None:  # a retry of a statement of the batch still committing
                staged.seen = {
                    (r.actor, r.nonce): (r.digest, r.idx) for r in after.staged.rows.nonces
                }
        else:  # taken later than the batch's first statements: a log time not before theirs
            staged = into
            staged.stamp = max(self._stamp(), into.stamp)
        seen = staged.seen
        seen.update(known)
        leaves: list[bytes] = []  # the tree's new leaves, added together at the end
        start = self.builder.size
        logged_at = format_logged_at(staged.stamp)  # the one log time of these statements
        timely: set[str] = set()  # issued_at values within the skew of it
        for pending, key in zip(batch, keys, strict=True):
            signed = pending.signed
            digest = signed.digest
            prior = seen.get(key)
            if prior is not None:
                stored, index = prior
                staged.outcomes.append((index, True) if stored == digest else _nonce_reused(signed))
                continue
            if signed.texts and (self.texts is None or not self.texts.can_store):
                staged.outcomes.append(_no_text_store())
                continue
            issued_at = signed.statement["issued_at"]
            if issued_at not in timely:
                skewed = self._skewed(signed, staged.stamp)
                if skewed is not None:
                    staged.outcomes.append(self._stored_or(skewed, signed, key, careful, seen))
                    continue
                timely.add(issued_at)
            stream = pending.stream
            version, prev = staged.heads.get(stream) or self._heads.get(stream) or (0, None)
            version += 1
            raw = wrap(stream, version, prev, signed, logged_at)
            digest_ = event_hash(raw)
            index = start + len(leaves)
            if staged.judged is not None:
                try:
                    staged.judged.admit(signed, digest_, index, staged.stamp)
                except Rejected as refused:
                    # A retry of a stored statement is one the rules refuse as a repeat
                    # ("already exists"): the client is owed its receipt, not a refusal.
                    staged.outcomes.append(self._stored_or(refused, signed, key, careful, seen))
                    continue
            leaves.append(leaf_hash(digest_))
            staged.events.append(
                StoredEvent(
                    originator_id=stream, originator_version=version, topic=TOPIC, state=raw
                )
            )
            staged.rows.leaves.append(LeafRow(index, stream, version))
            staged.rows.nonces.append(NonceRow(key[0], key[1], digest, index))
            seen[key] = (digest, index)
            staged.heads[stream] = (version, digest_)
            staged.by_index[index] = (stream, version, digest_)
            staged.outcomes.append((index, False))
            if signed.texts:
                staged.disclosed.append((signed, digest_))
        self.builder.extend(leaves)
        return staged

    def _cache_heads(self, streams: set[str]) -> None:
        """Know the head (version, hash) of each of ``streams``, from the store if need be."""
        if len(self._heads) > MAX_CACHED_HEADS:
            self._heads.clear()
        missing = {stream for stream in streams if stream not in self._heads}
        if self._streams is not None:
            missing &= self._streams  # (a stream the log has not had starts at version 1)
        if missing:
            for stream, (version, raw) in self.store.stream_heads(sorted(missing)).items():
                self._heads[stream] = (version, event_hash(raw))

    def _stored_or(
        self,
        refused: Rejected,
        signed: SignedStatement,
        key: NonceKey,
        careful: bool,
        seen: dict[NonceKey, tuple[bytes, int]],
    ) -> Rejected | tuple[int, bool]:
        """``refused``, unless the statement is a retry of a stored one: a retry gets its
        receipt however late it comes, and whatever the rules now say of a repeat."""
        stored = None if careful else self.store.find_nonces([key]).get(key)
        if stored is None:
            return refused
        seen[key] = stored
        return (stored[1], True) if stored[0] == signed.digest else _nonce_reused(signed)

    def _prepare(self, staged: _Staged) -> None:
        """The batch's rows besides its events: sealed texts, tiles, the signed checkpoint.
        The writer's own view moves on with it (heads, log time), so that the next batch
        can be laid out while this one commits; a failed commit reloads that view."""
        builder, rows = self.builder, staged.rows
        if staged.disclosed and self.texts is not None:
            # The texts commit with their events or not at all: an acknowledged
            # statement never lacks its text, a refused one leaves none behind.
            rows.data_keys, rows.texts = self.texts.seal_batch(staged.disclosed)
        size = builder.size
        note = Checkpoint(self.log_key.name, size, builder.root()).sign(self.log_key)
        rows.tiles = builder.take_dirty()
        rows.checkpoint = (size, note)
        self._heads.update(staged.heads)
        if self._streams is not None:
            self._streams.update(staged.heads)
            if len(self._streams) > MAX_CACHED_HEADS:
                self._streams = None
        self.logged_at = staged.stamp

    def _publish(self, staged: _Staged) -> None:
        """The batch is stored: now the rules, the tiles and the log's size take it in."""
        if staged.judged is not None:
            staged.judged.commit()
        for tile, data in staged.rows.tiles.items():
            self.reader.put(tile, data)
        assert staged.rows.checkpoint is not None
        self.size, self.checkpoint = staged.rows.checkpoint
        self.batches += 1
        with self._grown:
            self._grown.notify_all()

    def _outcomes(self, staged: _Staged) -> _Outcomes:
        """What each statement of the batch gets: where it landed, or its refusal."""
        result: list[_Place | Rejected] = []
        for outcome in staged.outcomes:
            if isinstance(outcome, Rejected):
                result.append(outcome)
                continue
            index, duplicate = outcome
            if index not in staged.by_index:
                staged.by_index[index] = self._stored_entry(index)
            result.append((index, *staged.by_index[index], duplicate))
        if staged.rows.checkpoint is None:  # nothing of its own stored: the log as it is
            return _Outcomes(result, self.size, self.checkpoint)
        return _Outcomes(result, *staged.rows.checkpoint)

    def _settle(self, batch: list[_Pending], outcomes: _Outcomes) -> None:
        """Answer a batch's statements: each its place, with its inclusion proof (the
        batch's proofs built together: they share most of their nodes), or its refusal."""
        places = [o[0] for o in outcomes.each if not isinstance(o, Rejected)]
        proofs: Iterator[list[bytes] | None]
        try:
            built = inclusion_proofs(places, outcomes.tree_size, self.reader) if places else []
            proofs = iter(built)
        except Exception:  # the receipts then read their proofs themselves, and say why
            log.exception("could not build the proofs of a batch of %d", len(places))
            proofs = iter([None] * len(places))
        for pending, outcome in zip(batch, outcomes.each, strict=True):
            proof = None if isinstance(outcome, Rejected) else next(proofs)
            try:
                self._answer(pending, outcome, proof, outcomes)
            except InvalidStateError:  # its submitter gave up (a request cancelled)
                continue  # (not contextlib.suppress: a µs per statement)

    def _answer(
        self,
        pending: _Pending,
        outcome: _Place | Rejected,
        proof: list[bytes] | None,
        outcomes: _Outcomes,
    ) -> None:
        future = pending.future
        if isinstance(outcome, Rejected):
            future.set_exception(outcome)
        else:
            index, stream, version, digest_, duplicate = outcome
            if pending.receipt and proof is not None:
                # The receipt ``receipt`` would build from its Landed, built directly.
                future.set_result(
                    Receipt(
                        stream,
                        version,
                        digest_,
                        index,
                        outcomes.tree_size,
                        tuple(proof),
                        outcomes.checkpoint,
                        duplicate,
                    )
                )
                return
            landed = Landed(
                index,
                stream,
                version,
                digest_,
                outcomes.tree_size,
                outcomes.checkpoint,
                duplicate,
                None if proof is None else tuple(proof),
            )
            if not pending.receipt:
                future.set_result(landed)
                return
            try:
                receipt = self.receipt(landed)
            except Exception as e:
                future.set_exception(e)
            else:
                future.set_result(receipt)

    def _skewed(self, signed: SignedStatement, stamp: datetime) -> Rejected | None:
        """The refusal of a statement signed too far from the log's time, if it is."""
        issued = datetime.fromisoformat(signed.statement["issued_at"]).astimezone(UTC)
        if abs(issued - stamp) <= self.max_skew:
            return None
        minutes = self.max_skew.total_seconds() / 60
        where = "trước" if issued < stamp else "sau"
        direction = "before" if issued < stamp else "after"
        return Rejected(
            CLOCK_SKEW,
            f"Thời điểm ký (issued_at) {signed.statement['issued_at']} lệch {where} giờ của "
            f"sổ cái ({format_logged_at(stamp)}) quá {minutes:g} phút; hãy ký lại với giờ "
            "đúng.",
            f"issued_at {signed.statement['issued_at']} is more than {minutes:g} minutes "
            f"{direction} the log's time ({format_logged_at(stamp)}); sign it again with the "
            "right time.",
            field="issued_at",
            logged_at=format_logged_at(stamp),
            max_skew_seconds=int(self.max_skew.total_seconds()),
        )

    def _stored_entry(self, index: int) -> tuple[str, int, bytes]:
        ((_, stream, version, raw),) = self.store.entries(index, 1)
        return stream, version, Event.parse(raw).hash


def _unavailable() -> Rejected:
    return Rejected(
        UNAVAILABLE,
        "Không ghi được vào sổ cái; tuyên bố chưa được lưu, hãy gửi lại.",
        "The ledger could not write; the statement was not stored, retry it.",
    )


def _no_text_store() -> Rejected:
    return Rejected(
        UNAVAILABLE,
        "Sổ cái này không có khóa dữ liệu để lưu văn bản niêm phong; tuyên bố chưa được lưu.",
        "This ledger has no data key to keep sealed texts; the statement was not stored.",
    )


def _nonce_reused(signed: SignedStatement) -> Rejected:
    return Rejected(
        NONCE_REUSED,
        f"Nonce {signed.nonce!r} của {signed.actor!r} đã dùng cho một tuyên bố khác.",
        f"Nonce {signed.nonce!r} of {signed.actor!r} was already used for another statement.",
    )


def _answered_here(batch: list[_Pending]) -> bool:
    return len(batch) <= ANSWER_HERE and all(type(p.future) is Answer for p in batch)


def take_batch(
    pending: queue.SimpleQueue[_T | None], most: int, timeout: float | None = None
) -> tuple[list[_T], bool] | None:
    """Wait for one item, then take whatever else has queued, up to ``most``: a batch,
    and whether a ``None`` (stop) came after it. ``None`` if the stop came first;
    ``queue.Empty`` if nothing came within ``timeout``."""
    first = pending.get(timeout=timeout)
    if first is None:
        return None
    batch = [first]
    while len(batch) < most:
        try:
            item = pending.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False
