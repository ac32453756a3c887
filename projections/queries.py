"""What the API asks of the read model, each question one method.

The API answers from here and from ``cadreledger.service.Ledger``'s public methods, never
from the projector's or the store's insides: which lock guards the model, that a read
first catches up with the log, where a cycle's envelopes are read from — all stay here.
Each answer is caught up with the log as it was when asked (a client sees its own
accepted statements).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from domain.cycle import Cycle
from domain.model import Model
from ledger.store import Entry, LogStore
from projections.cycle_fairness import cycle_fairness
from projections.follower import Projector
from projections.history import Step, replay_cycle


class Replayed(NamedTuple):
    """A cycle replayed up to a moment: its state, its timeline, and the log size that
    covers them."""

    cycle: Cycle
    steps: list[Step]
    size: int


class Fairness(NamedTuple):
    """A cycle's fairness report (projections.cycle_fairness) and the position it is of."""

    report: dict[str, Any]
    position: int


class Queries:
    """The read model's answers to the API (an evaluation ledger's)."""

    def __init__(self, store: LogStore, projector: Projector) -> None:
        self._store = store
        self._projector = projector

    def model(self) -> Model:
        """The domain state, caught up with the log."""
        self._projector.catch_up()
        return self._projector.model

    def documents(self, prefix: str = "") -> tuple[int, dict[str, Any]]:
        """Caught up: the position and every read-model document named ``prefix``…"""
        return self._projector.current(prefix)

    def stored_position(self) -> int:
        """How far the stored documents reflect the log (the readiness check's lag);
        ``projections.readmodel.Damaged`` when they cannot be read."""
        return self._projector.read_model.position()

    def envelopes(self, streams: Sequence[str], stop: int) -> list[Entry]:
        """The stored entries of ``streams`` below position ``stop``, in log order."""
        return self._store.entries_of(streams, stop)

    def replay(
        self,
        cycle: str,
        *,
        through: int | None = None,
        at: datetime | None = None,
        cadre: str | None = None,
    ) -> Replayed | None:
        """``cycle`` replayed through the rules up to position ``through`` or time
        ``at`` (now without either), its timeline only ``cadre``'s and cycle-wide acts
        if given; None if the log has no such cycle (by then)."""
        model = self.model()
        now = model.cycles.get(cycle)
        if now is None:
            return None
        replayed, steps = replay_cycle(
            self._store,
            model.registry,
            cycle,
            list(now.evaluations),
            through=through,
            at=at,
            cadre=cadre,
        )
        found = replayed.cycles.get(cycle)
        if found is None:
            return None
        size = model.position
        return Replayed(found, steps, size if through is None else min(through + 1, size))

    def fairness(self, cycle: str) -> Fairness | None:
        """The cycle's fairness report now; None if there is no such cycle."""
        model = self.model()
        now = model.cycles.get(cycle)
        if now is None:
            return None
        report = cycle_fairness(self._store, model.registry, cycle, list(now.evaluations))
        return Fairness(report, model.position)

    def unit(self, unit: str, visible: Callable[[Cycle], bool] | None) -> dict[str, Any] | None:
        """A unit's ratings across its cycles: each subject's level and total, per cycle
        — of the cycles ``visible`` lets through (all without it). None if the registry
        has no such unit and no cycle names it."""
        position, docs = self.documents("")
        units = docs.get("registry", {}).get("units", {})
        cycles = [d for name, d in docs.items() if name.startswith("cycle/") and d["unit"] == unit]
        if unit not in units and not cycles:
            return None
        if visible is not None:
            model = self._projector.model
            cycles = [c for c in cycles if visible(model.cycles[c["cycle"]])]
        return {
            "unit": unit,
            "name": units.get(unit, {}).get("name"),
            "parent": units.get(unit, {}).get("parent"),
            "position": position,
            "cycles": [
                {
                    "cycle": c["cycle"],
                    "year": c["year"],
                    "regime": c["regime"]["id"],
                    "phase": c["phase"],
                    "ratings": {
                        sid: {
                            "name": r["name"],
                            "level": r["level"],
                            "total": r["score"]["total"] if r["score"] else None,
                        }
                        for sid, r in c["subjects"].items()
                    },
                }
                for c in sorted(cycles, key=lambda c: (-c["year"], c["cycle"]))
            ],
        }
