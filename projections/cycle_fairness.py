"""One cycle's fairness findings — signs to examine (dấu hiệu cần xem xét) of favour or
suppression (thiên vị, trù dập) — for the read API.

``cadreledger verify`` gathers the evidence over the whole log; a page about one cycle
or one cadre needs only that cycle's. So this replays the cycle's own streams through
the rules, as ``projections.history`` does, and shows each admitted act to the same
``Fairness`` watcher. Two kinds look across cycles in the full report and not here:
``scorer-bias`` and a next-cycle ``retaliation``. The route judges the sealed
amendment reasons its reader may read (``judge_sealed_reasons``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.model import Model
from domain.registry import Registry
from ledger.store import LogStore
from projections.fairness import Fairness, FairnessSettings
from projections.history import cycle_acts, cycle_streams


def cycle_fairness(
    store: LogStore,
    registry: Registry,
    cycle: str,
    subjects: Iterable[str],
    settings: FairnessSettings | None = None,
) -> dict[str, Any]:
    """The fairness report (settings, counts by kind, findings) of ``cycle``'s acts.

    ``registry`` must be the projector's (at least as late as the cycle's acts), and
    ``subjects`` the cycle's roster."""
    model = Model((), registry=registry)
    watcher = Fairness(settings)
    for _, act in cycle_acts(store, cycle_streams(cycle, subjects)):
        if model.replay(act) is None:
            watcher.observe(act, model)
    report = watcher.report(model)
    for finding in report["findings"]:
        # The watcher keys evidence about a cadre across cycles by "*"; here it is one.
        if finding["cycle"] == "*":
            finding["cycle"] = cycle
    return report
