"""Keeping the read model up to date: rebuild from zero, or follow the log as it grows.

The projector holds the model in memory, as of the position the read model records.
Each step applies the next stored events (in log order, through the same rules the
writer used), and writes the documents they touched with the new position in one
transaction. On PostgreSQL it wakes on the NOTIFY every committed batch sends
(eventsourcing's recorder sends it); on SQLite it polls. A replay from zero — a rebuild,
or a start on a read model already built — runs on every core for a big log
(``projections.cores``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from domain.acts import Act
from domain.model import Model
from domain.streams import REGISTRY_TYPES
from ledger.store import LogStore
from projections import cores
from projections.cores import Replayed
from projections.readmodel import Damaged, RaceLost, ReadModel, ReadModelStore
from projections.source import admitted_acts
from projections.views import (
    VIEWS_VERSION,
    cycle_documents,
    cycle_view,
    digest,
    documents,
    encoded,
    encoded_digest,
)

log = logging.getLogger(__name__)


class Projector:
    def __init__(
        self,
        store: LogStore,
        root_keys: Sequence[str],
        *,
        read_model: ReadModelStore | None = None,
        listen: bool = True,
    ) -> None:
        """``read_model``: where the documents are kept (the stored tables by default;
        a replica's own memory, ``MemoryReadModel``). ``listen``: wake on PostgreSQL's
        NOTIFY (a hot standby cannot LISTEN: it polls)."""
        self.store = store
        self.root_keys = tuple(root_keys)
        self.read_model = read_model if read_model is not None else ReadModel(store)
        self.listen = listen
        # One step at a time in this process: a request catching up and the follower
        # thread never race each other.
        self._lock = threading.RLock()
        self.model = Model(self.root_keys)
        state = self._sound_state()
        if state is None:
            self.rebuild()
        elif state[1] != VIEWS_VERSION:
            log.warning("read model written by %s, not %s: rebuilding", state[1], VIEWS_VERSION)
            self.rebuild()
        else:
            self.model = self._replayed(state[0]).model

    def _sound_state(self) -> tuple[int, str] | None:
        """The read model's position and version; None (said in the log) if that
        position cannot be the read model's: missing, not a position, beyond the log,
        or 0 — nothing applied — beside documents. Its documents then reflect no
        position of the log, and must not be served: it is to be rebuilt."""
        try:
            position, version = self.read_model.state()
        except Damaged as e:
            log.warning("the read model is damaged (%s): rebuilding it from the log", e)
            return None
        if position > self.log_size():
            log.warning("the read model claims position %d, beyond the log: rebuilding", position)
            return None
        if position == 0 and self.read_model.has_docs():
            log.warning("the read model is at position 0 but holds documents: rebuilding")
            return None
        return position, version

    def _hold_position(self) -> None:
        """Before each step: the read model must be where this projector left it, or
        further on (another projector's work, taken up from there). Moved back, gone
        or impossible, it was changed behind the service's back: rebuilt from the log
        rather than served."""
        state = self._sound_state()
        if state is not None and state[0] < self.model.position:
            log.warning(
                "the read model moved back from %d to %d: rebuilding it from the log",
                self.model.position,
                state[0],
            )
            state = None
        if state is None:
            self.rebuild()
        elif state[0] > self.model.position:
            self.model = self._replayed(state[0]).model

    def _replayed(self, stop: int, documents: bool = False) -> Replayed:
        """The first ``stop`` events replayed (on every core for a big log); with
        ``documents``, the cycles' documents encoded too."""
        with _collector_paused():
            if stop >= cores.FROM:
                found = cores.replay_log(self.store, self.root_keys, stop, documents=documents)
                if found is not None:
                    return found
            model = Model(self.root_keys)
            for act in admitted_acts(self.store, 0, stop):
                model.replay(act)
        return Replayed(model, encoded(cycle_documents(model)) if documents else {})

    def log_size(self) -> int:
        latest = self.store.latest_checkpoint()
        return latest[0] if latest else 0

    def step(self, limit: int = 2000) -> int:
        """Apply up to ``limit`` new events; how many were applied."""
        with self._lock:
            return self._step(limit)

    def catch_up(self) -> int:
        """Step until the read model reflects the whole log as it is now."""
        with self._lock:
            applied = 0
            while n := self._step(2000):
                applied += n
            return applied

    def snapshot(self, names: list[str]) -> tuple[int, dict[str, Any]]:
        """Caught up with the log: the position (a checkpoint's size) and these documents."""
        with self._lock:
            self.catch_up()
            docs = {name: self.read_model.doc(name) for name in names}
            return self.model.position, {k: v for k, v in docs.items() if v is not None}

    def current(self, prefix: str = "") -> tuple[int, dict[str, Any]]:
        """Caught up with the log: the position and every document named ``prefix``…"""
        with self._lock:
            self.catch_up()
            return self.model.position, self.read_model.docs(prefix)

    def _step(self, limit: int) -> int:
        self._hold_position()
        start = self.model.position
        stop = min(self.log_size(), start + limit)
        if stop <= start:
            return 0
        refused = len(self.model.refused)
        touched = {"registry"} if start == 0 else set()  # the root of trust is there from 0
        for act in admitted_acts(self.store, start, stop):
            self.model.replay(act)
            touched.update(_documents_of(act))
        docs: dict[str, Any] = {}
        for name in touched:
            if name == "registry":
                docs[name] = self.model.registry.to_doc()
            elif (cycle := self.model.cycles.get(name.removeprefix("cycle/"))) is not None:
                docs[name] = cycle_view(cycle)
        if len(self.model.refused) != refused:
            docs["refused"] = [v.__dict__ for v in self.model.refused]
        try:
            self.read_model.save(encoded(docs), self.model.position, start)
        except RaceLost:
            log.warning("another projector moved the read model on; taking up from there")
            self.model = self._replayed(self.read_model.position()).model
            return 0
        return stop - start

    def rebuild(self) -> str:
        """Replace the read model with one built from zero; the digest of its documents."""
        with self._lock, _collector_paused():
            size = self.log_size()
            replayed = self._replayed(size, documents=True)
            model, docs = replayed.model, replayed.docs
            docs.update(encoded(documents(model, cycles=False)))
            try:
                expected: int | None = self.read_model.position()
            except Damaged:
                self.read_model.ensure()  # its tables, if they were dropped
                expected = None  # replaced whatever is there
            self.read_model.save(docs, size, expected, replace=True)
            self.model = model
            return encoded_digest(docs)

    def stored_digest(self) -> str:
        return digest(self.read_model.docs())

    def follow(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Step until ``stop`` is set, waiting for new commits in between."""
        with self._waiter(stop, poll) as wait:
            while not stop.is_set():
                try:
                    if self.step() == 0:
                        wait()
                except Exception:
                    log.exception("projection step failed; retrying")
                    stop.wait(poll)

    @contextmanager
    def _waiter(self, stop: threading.Event, poll: float) -> Iterator[Callable[[], None]]:
        """A wait for the next commit: a NOTIFY on PostgreSQL, else ``poll`` seconds."""
        notifications = self.store.commit_notifications() if self.listen else None
        if notifications is None:

            def sleep() -> None:
                stop.wait(poll)

            yield sleep
            return
        with notifications as notified:

            def wait() -> None:
                deadline = time.monotonic() + poll
                while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    # Short slices, so that a stop is noticed between notifications.
                    if notified(min(left, 0.25)):
                        return

            yield wait


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused (if it was running) for a replay from zero.

    A replay makes no reference cycles, but it grows the model by millions of objects,
    and each full collection meanwhile walks all of them again: 17 of them took 8 of the
    57 s a rebuild of 1,000,000 events took before. Cycles other threads make meanwhile
    wait until it resumes."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def _documents_of(act: Act) -> tuple[str, ...]:
    if act.type in REGISTRY_TYPES:
        return ("registry",)
    cycle = act.statement.get("cycle")
    return (f"cycle/{cycle}",) if isinstance(cycle, str) else ()
