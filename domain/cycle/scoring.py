"""Ballots and the tally (kiểm phiếu): declared conflicts, scores and their amendments,
the confidence vote, the count that must equal the mean of the ballots.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from domain.acts import Act
from domain.cycle.state import CHAIR, PANEL, CycleState
from domain.evaluation import Ballot, Evaluation
from domain.fields import format_points, parse_points
from domain.messages import Points, existing, refusal
from domain.problems import (
    BALLOTS_MISSING,
    TALLY_MISMATCH,
    UNKNOWN_REFERENCE,
    WRONG_PHASE,
    require_reason,
)

__all__ = ["Scoring"]


class Scoring(CycleState):
    """The panel's ballots and the chair's count."""

    def conflict_declared(self, act: Act) -> None:
        """A declared conflict bars the declarer from the ballot, the proposal and the
        decision on this subject; a ballot already cast leaves the tally (recounted)."""
        ev = self._evaluation(act)
        require_reason(act.body.text("reason"))
        if act.actor in ev.conflicts:
            raise existing("conflict.exists")
        ev.conflicts.add(act.actor)
        if ev.ballots.pop(act.actor, None) is not None and ev.tally is not None:
            ev.tally = _count(list(ev.ballots.values()), act.event) if ev.ballots else None

    def score_submitted(self, act: Act) -> None:
        ev = self._scoring(act)
        if act.actor in ev.ballots:
            raise existing("ballot.exists")
        general, tasks = self._scores(act.body)
        ev.ballots[act.actor] = Ballot(act.actor, general, tasks, act.event)

    def score_amended(self, act: Act) -> None:
        """A changed ballot keeps the original on record and must say why."""
        ev = self._scoring(act)
        amends = act.body.event("amends")
        reason = act.body.text("reason")
        ballot = ev.ballots.get(act.actor)
        if ballot is None or amends != ballot.event:
            raise refusal(UNKNOWN_REFERENCE, "ballot.not_latest", {"field": "amends"})
        require_reason(reason)
        general, tasks = self._scores(act.body)
        ballot.general, ballot.tasks, ballot.event = general, tasks, act.event
        ballot.amendments.append(act.event)

    def confidence_tallied(self, act: Act) -> None:
        self._require(act, CHAIR)
        ev = self._evaluation(act)
        self._not_own(act, ev)  # a leader does not count the confidence vote about themselves
        votes = act.body.integer("votes", 1, 100_000)
        low = act.body.integer("low", 0, votes)
        self._before_deadline(act)
        if ev.confidence is not None:
            raise existing("confidence.exists")
        ev.confidence = {"votes": votes, "low": low, "event": act.event}

    def tally_recorded(self, act: Act) -> None:
        """The count (kiểm phiếu) must equal the mean of the ballots as they stand."""
        self._require(act, CHAIR)
        ev = self._evaluation(act)
        self._points_only()
        self._before_deadline(act)
        if ev.tally is not None:
            raise existing("tally.exists")
        ballots = list(ev.ballots.values())
        self._enough_ballots(ev)
        counted = _count(ballots, act.event)
        total = counted["total"]
        stated_count = act.body.integer("ballots", 0, 100_000)
        stated_total = parse_points(act.body.raw("total"), "total")
        if stated_count != len(ballots) or stated_total != total:
            raise refusal(
                TALLY_MISMATCH,
                "tally.mismatch",
                {"expected_ballots": len(ballots), "expected_total": format_points(total)},
                stated_count=stated_count,
                stated_total=Points(stated_total),
                count=len(ballots),
                total=Points(total),
            )
        ev.tally = counted

    def _enough_ballots(self, ev: Evaluation) -> None:
        """By default every panel member present at the subject's review meeting votes
        (less the subject and those who declared a conflict); a regime or cycle may set a
        number instead (``min_ballots``)."""
        setting = self.profile.setting("min_ballots")
        if setting is not None:
            missing: list[str] = []
            needed = int(setting)
        else:
            present = set().union(*(self.meetings[m].attendees for m in ev.meetings))
            expected = (present & self.roles[PANEL]) - ev.conflicts
            expected -= {ev.subject.id, self.owner(ev.subject.id)}
            missing = sorted(expected - set(ev.ballots))
            needed = max(1, len(expected))
        if missing or len(ev.ballots) < needed:
            raise refusal(
                BALLOTS_MISSING,
                "ballots_missing_from" if missing else "ballots_missing",
                {"needed": needed, "missing": missing},
                needed=needed,
                count=len(ev.ballots),
                missing=missing,
            )

    def scoring_reopened(self, act: Act) -> None:
        """The chair reopens scoring after a tally, saying why: ballots may change again
        and a new tally is needed. (What changes then is a late change, and says so.)"""
        self._require(act, CHAIR)
        ev = self._evaluation(act)
        require_reason(act.body.text("reason"))
        self._before_deadline(act)
        if ev.tally is None:
            raise refusal(WRONG_PHASE, "reopen.no_tally")
        if ev.proposal is not None or ev.decision is not None:
            raise refusal(WRONG_PHASE, "reopen.rated")
        ev.tally = None

    def _scoring(self, act: Act) -> Evaluation:
        self._require(act, PANEL)
        self._points_only()
        ev = self._evaluation(act)
        self._not_own(act, ev)
        self._no_conflict(act, ev)
        self._before_deadline(act)
        if not any(self.meetings[m].minutes for m in ev.meetings):
            raise refusal(WRONG_PHASE, "scoring.before_minutes")
        if ev.tally is not None:
            raise refusal(WRONG_PHASE, "scoring.after_tally")
        return ev


def _mean(values: list[int]) -> int:
    """Mean of hundredths, rounded half up (away from zero) to hundredths: exactly, in
    integers, as floor((2·|sum| + n) / 2n)."""
    total, count = sum(values), len(values)
    rounded = (2 * abs(total) + count) // (2 * count)
    return rounded if total >= 0 else -rounded


def _count(ballots: list[Ballot], event: str) -> dict[str, Any]:
    """A tally of ``ballots``: means rounded to hundredths for display, and the exact mean
    of the totals (a Fraction of hundredths), which thresholds are compared against."""
    totals = [b.total for b in ballots]
    return {
        "event": event,
        "ballots": len(ballots),
        "general": _mean([b.general for b in ballots]),
        "tasks": _mean([b.tasks for b in ballots]),
        "total": _mean(totals),
        "exact": Fraction(sum(totals), len(totals)),
    }
