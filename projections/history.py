"""Looking back: a cycle as it stood at any position or time, and its timeline.

Both replay the cycle's own streams through the same rules, judging each act against
the registry as it stood at that act's position (``Registry`` keeps positions, so the
projector's current registry serves for any earlier moment; its stream need not be
replayed). "As of a time" takes the acts the log admitted at or before it (their
``logged_at``, sealed in the envelope; never the signer's ``issued_at``): what was on
record at that time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.acts import Act
from domain.model import Model
from domain.registry import Registry
from ledger.envelope import format_logged_at
from ledger.store import LogStore
from projections.source import admitted_act

ENVELOPE_FIELDS = ("v", "type", "actor", "issued_at", "nonce", "cycle", "cadre")


@dataclass(frozen=True)
class Step:
    """One act on a cycle's timeline, and whether the rules admitted it on replay."""

    position: int
    event: str
    stream: str
    act: Act
    refused: str | None

    def to_json(self) -> dict[str, Any]:
        statement, at = self.act.statement, self.act.logged_at
        return {
            "position": self.position,
            "event": self.event,
            "stream": self.stream,
            "type": self.act.type,
            "actor": self.act.actor,
            "signer": self.act.signer,
            "issued_at": statement["issued_at"],
            # As the envelope spells it (None for a version 1 envelope): the UI compares.
            "logged_at": None if at is None else format_logged_at(at),
            "cadre": statement.get("cadre"),
            "fields": {k: v for k, v in statement.items() if k not in ENVELOPE_FIELDS},
            "refused": self.refused,
        }


def cycle_streams(cycle: str, subjects: Iterable[str]) -> list[str]:
    """A cycle's streams: its own, and one per subject on its roster."""
    return [f"cycle/{cycle}", *(f"cycle/{cycle}/cadre/{s}" for s in subjects)]


def cycle_acts(
    store: LogStore, streams: Sequence[str], stop: int | None = None
) -> Iterator[tuple[str, Act]]:
    """The acts of ``streams`` below position ``stop``, in log order (read as events
    this ledger admitted: ``projections.source``)."""
    end = stop if stop is not None else _size(store)
    for index, stream, _version, raw in store.entries_of(streams, end):
        yield stream, admitted_act(raw, index)


def replay_cycle(
    store: LogStore,
    registry: Registry,
    cycle: str,
    subjects: Iterable[str],
    *,
    through: int | None = None,
    at: datetime | None = None,
    cadre: str | None = None,
) -> tuple[Model, list[Step]]:
    """The model with the cycle as of position ``through`` (inclusive) or time ``at``,
    and the cycle's timeline up to then (only ``cadre``'s and cycle-wide acts if given).
    ``registry`` must be from at least as late in the log (the projector's), and
    ``subjects`` the cycle's roster (which never changes once listed)."""
    model = Model((), registry=registry)
    steps: list[Step] = []
    stop = None if through is None else through + 1
    for stream, act in cycle_acts(store, cycle_streams(cycle, subjects), stop):
        if at is not None and act.time > at:
            continue
        refused = model.replay(act)
        if cadre is None or stream in (f"cycle/{cycle}", f"cycle/{cycle}/cadre/{cadre}"):
            steps.append(
                Step(act.position, act.event, stream, act, refused.problem if refused else None)
            )
    return model, steps


def _size(store: LogStore) -> int:
    latest = store.latest_checkpoint()
    return latest[0] if latest else 0
