"""Replaying a log from zero on every core: what a rebuild and a projector's start do.

One model replays a log one act after another, on one core. But a cycle's acts read and
change only that cycle and the registry, so the log is read once here, in order, and
each page shared out among worker processes: each cycle's acts to one worker (its
shard), the acts outside cycles (the registry, standing acts) to every worker. Each
worker replays what it receives in log order through a model of its own, which for its
cycles is exactly the state one model would reach: its registry went through the same
acts in the same order. At the end each worker hands back its cycles (pickled, and
kept so until they are used: ``PackedCycles``), their documents' bytes, what it refused
and its discipline records.

Two things cross cycles, as in the audit (``projections.audit``). A discipline counts
against a violation in one year only (ND 48/2023): a worker knows only the records of
its own cycles, so a cycle with a record its worker judged knowing another first record
of the violation than the log's is replayed again here, knowing the log's first record
of each. And an act stored in another part's streams than its statement names (the
writer never does that) cannot be shared out: ``replay_log`` then answers None and the
caller replays the log in one model.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import traceback
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from operator import attrgetter
from typing import Any

from domain.cycle import Cycle
from domain.model import Model, Violation
from domain.registry import Registry
from ledger.canonical import canonical_bytes
from ledger.store import LogStore
from projections.audit_part import Home, belongs, counted
from projections.source import admitted_act, pages, stream_entries
from projections.views import cycle_view

FROM = 20_000  # events: below this a replay on one core is faster than starting workers
BACKLOG = 8  # pages waiting for each worker: enough to keep it busy, little memory
Shipped = list[tuple[int, str | None, bytes]]  # (position, the act's cycle or None, envelope)
Record = tuple[tuple[str, str], int, int, int | None]  # see _Shard.counted


class PackedCycles(MutableMapping[str, Cycle]):
    """A model's cycles, each kept pickled until it is first used (most never are
    after a rebuild: a follow touches the cycles still in progress)."""

    def __init__(self, packed: Iterable[tuple[str, bytes]] = ()) -> None:
        self._held: dict[str, Cycle | bytes] = dict(packed)

    def __getitem__(self, cycle_id: str) -> Cycle:
        held = self._held[cycle_id]
        if isinstance(held, bytes):
            held = self._held[cycle_id] = pickle.loads(held)
        assert isinstance(held, Cycle)
        return held

    def __setitem__(self, cycle_id: str, cycle: Cycle) -> None:
        self._held[cycle_id] = cycle

    def __delitem__(self, cycle_id: str) -> None:
        del self._held[cycle_id]

    def __contains__(self, cycle_id: object) -> bool:
        return cycle_id in self._held

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)


@dataclass
class Replayed:
    """A log replayed from zero: the model, and each document's bytes if asked."""

    model: Model
    docs: dict[str, bytes] = field(default_factory=dict)  # cycle/<id> → views.encoded


@dataclass
class _Shard:
    """What a worker hands back."""

    cycles: dict[str, tuple[int, bytes, bytes]] = field(default_factory=dict)
    # ↑ cycle → (position of its opening, pickled Cycle, its document's bytes or b"")
    refused: dict[str | None, list[Violation]] = field(default_factory=dict)  # by cycle
    # Per cycle, its admitted discipline records: (subject, violation), position, the
    # cycle's year, and the year this worker had seen it first recorded in (or None).
    counted: dict[str, list[Record]] = field(default_factory=dict)
    registry: bytes = b""  # pickled; only the first worker's is asked for
    misplaced: bool = False


def replay_log(
    store: LogStore,
    root_keys: Sequence[str],
    stop: int,
    *,
    documents: bool,
    workers: int | None = None,
) -> Replayed | None:
    """The log's first ``stop`` events replayed on ``workers`` processes (default: one
    per core); with ``documents``, each cycle's document encoded too. None when the log
    cannot be taken apart by its streams (see the module's doc)."""
    workers = workers or os.cpu_count() or 1
    context = get_context("forkserver")
    outbox = context.Queue()
    team = [_Worker(context, i, tuple(root_keys), documents, outbox) for i in range(workers)]
    try:
        streams = _share_out(store, stop, team)
        shards = _answers(outbox, team)
    except BaseException:
        for worker in team:
            worker.process.kill()
        raise
    for worker in team:
        worker.process.join()
    if any(shard.misplaced for shard in shards):
        return None
    return _merged(store, root_keys, stop, shards, streams, documents)


class _Worker:
    """One worker process and the pages waiting for it."""

    def __init__(
        self, context: Any, index: int, root_keys: tuple[str, ...], documents: bool, outbox: Any
    ) -> None:
        self.inbox = context.Queue(BACKLOG)
        self.process = context.Process(
            target=_work,
            args=(index, root_keys, documents, self.inbox, outbox),
            name=f"cadreledger-replay-{index}",
            daemon=True,
        )
        self.process.start()

    def send(self, shipped: Shipped | None) -> None:
        while True:  # a worker that died would leave this waiting forever
            try:
                self.inbox.put(shipped, timeout=1)
                return
            except queue.Full:
                self.check()

    def check(self) -> None:
        """Raise if the process died (a worker's own errors come as its answer: only a
        kill, or a crash of the interpreter, ends one otherwise)."""
        if self.process.exitcode not in (None, 0):
            raise RuntimeError(f"{self.process.name} exited with {self.process.exitcode}")


def _answers(outbox: Any, team: list[_Worker]) -> list[_Shard]:
    """Each worker's ``_Shard``, in the workers' order."""
    found: dict[int, _Shard] = {}
    while len(found) < len(team):
        try:
            index, answer = outbox.get(timeout=1)
        except queue.Empty:
            for i, worker in enumerate(team):
                if i not in found:
                    worker.check()
            continue
        if isinstance(answer, str):
            raise RuntimeError(f"replay worker {index} failed:\n{answer}")
        found[index] = answer
    return [found[i] for i in range(len(team))]


def _share_out(store: LogStore, stop: int, team: list[_Worker]) -> dict[str, set[str]]:
    """Send every event below ``stop`` to the workers that replay it, a page at a time;
    each cycle's streams, as seen on the way. Cycles are dealt out in the order they
    appear, so that neighbours in the log (a year's cycles, written side by side) land
    on different workers."""
    shard_of: dict[str, tuple[int, str | None]] = {}  # stream → (worker or -1, cycle)
    streams: dict[str, set[str]] = {}  # cycle → its streams
    dealt: dict[str, int] = {}  # cycle → worker
    for page in pages(store, 0, stop):
        out: list[Shipped] = [[] for _ in team]
        for position, stream, _version, raw in page:
            where = shard_of.get(stream)
            if where is None:
                if stream.startswith("cycle/"):
                    named = stream.split("/", 2)[1]
                    where = (dealt.setdefault(named, len(dealt) % len(team)), named)
                    streams.setdefault(named, set()).add(stream)
                else:
                    where = (-1, None)
                shard_of[stream] = where
            shard, cycle = where
            if shard < 0:
                for shipped in out:
                    shipped.append((position, None, raw))
            else:
                out[shard].append((position, cycle, raw))
        for worker, shipped in zip(team, out, strict=True):
            if shipped:
                worker.send(shipped)
    for worker in team:
        worker.send(None)
    return streams


def _work(
    index: int,
    root_keys: tuple[str, ...],
    documents: bool,
    inbox: Any,
    outbox: Any,
) -> None:
    """A worker: replay what arrives until None, then hand back its ``_Shard``."""
    try:
        outbox.put((index, _replayed_shard(root_keys, documents, index == 0, inbox)))
    except BaseException:
        outbox.put((index, traceback.format_exc()))
        _drain(inbox)


def _replayed_shard(root_keys: tuple[str, ...], documents: bool, first: bool, inbox: Any) -> _Shard:
    gc.disable()  # as in follower._collector_paused: the model only grows
    model = Model(root_keys)
    shard = _Shard()
    opened: dict[str, int] = {}
    while (shipped := inbox.get()) is not None:
        for position, cycle, raw in shipped:
            act = admitted_act(raw, position)
            if not belongs(act.statement, cycle if cycle is not None else Home.OUTSIDE):
                shard.misplaced = True
                _drain(inbox)
                return shard
            key = counted(act)
            seen = model.violations_seen.get(key) if key is not None else None
            violation = model.replay(act)
            if violation is not None:
                shard.refused.setdefault(cycle, []).append(violation)
            elif cycle is not None:
                if act.type == "cycle.opened":
                    opened[cycle] = position
                elif key is not None:
                    record = (key, position, model.cycles[cycle].year, seen)
                    shard.counted.setdefault(cycle, []).append(record)
    for cycle_id, cycle in model.cycles.items():
        doc = canonical_bytes(cycle_view(cycle)) if documents else b""
        shard.cycles[cycle_id] = (opened[cycle_id], pickle.dumps(cycle, protocol=5), doc)
    if first:
        shard.registry = pickle.dumps(model.registry, protocol=5)
    return shard


def _drain(inbox: Any) -> None:
    """Take what is still coming, unread, so that the reader is not left waiting."""
    for _ in iter(inbox.get, None):
        pass


def _merged(
    store: LogStore,
    root_keys: Sequence[str],
    stop: int,
    shards: list[_Shard],
    streams: dict[str, set[str]],
    documents: bool,
) -> Replayed:
    registry: Registry = pickle.loads(shards[0].registry)
    cycles = {c: held for shard in shards for c, held in shard.cycles.items()}
    refused: dict[str | None, list[Violation]] = {
        c: found for shard in shards for c, found in shard.refused.items() if c
    }
    refused[None] = shards[0].refused.get(None, [])  # every worker refused the same
    records = {c: found for shard in shards for c, found in shard.counted.items()}
    first: dict[tuple[str, str], tuple[int, int]] = {}  # the log's first record of each
    for found in records.values():
        for key, position, year, _ in found:
            first[key] = min(first.get(key, (position, year)), (position, year))
    seed = {key: year for key, (_, year) in first.items()}
    for cycle in [c for c, found in records.items() if _misjudged(found, first)]:
        model = Model((), registry=registry)
        model.violations_seen.update(seed)
        for position, _stream, _version, raw in stream_entries(store, sorted(streams[cycle]), stop):
            model.replay(admitted_act(raw, position))
        again = model.cycles[cycle]
        doc = canonical_bytes(cycle_view(again)) if documents else b""
        cycles[cycle] = (cycles[cycle][0], pickle.dumps(again, protocol=5), doc)
        refused[cycle] = model.refused
    model = Model(root_keys, registry=registry)
    ordered = sorted(cycles.items(), key=lambda item: item[1][0])
    model.cycles = PackedCycles((c, packed) for c, (_, packed, _) in ordered)
    model.violations_seen = seed
    model.refused = sorted(
        (v for found in refused.values() for v in found), key=attrgetter("position")
    )
    model.position = stop
    docs = {f"cycle/{c}": doc for c, (_, _, doc) in ordered} if documents else {}
    return Replayed(model, docs)


def _misjudged(records: list[Record], first: dict[tuple[str, str], tuple[int, int]]) -> bool:
    """Whether a worker judged one of a cycle's discipline records knowing another first
    record of its violation than the log's (a record in a cycle it did not replay came
    first, or one it did replay did not)."""
    for key, position, _, seen in records:
        at, year = first[key]
        if seen != (year if at < position else None):
            return True
    return False
