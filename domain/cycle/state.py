"""A cycle's state and the checks its handlers share: who holds which role, the
roster's evaluations, the deadline and its recorded exceptions, and the guards (the
role required, not for oneself, no declared conflict, by the deadline).

A draft's fork copies an evaluation or a meeting only on its first write (``fork``,
``_own``): every handler reaches them through ``_evaluation`` and ``_meeting``. What
is public of it is what ``domain.cycle`` exports.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple, Self

from domain.acts import Act
from domain.evaluation import Evaluation, Meeting
from domain.fields import Body
from domain.messages import Term, act_type, refusal, role
from domain.problems import (
    CONFLICT_OF_INTEREST,
    DEADLINE_PASSED,
    NOT_AUTHORISED,
    NOT_IN_REGIME,
    ROLES_APART,
    SELF_EVALUATION,
    UNKNOWN_REFERENCE,
    WRONG_PHASE,
)
from domain.regimes import Profile
from ledger.errors import Rejected

# Roles a cycle assigns (vai trò trong kỳ đánh giá).
AUTHORITY = "authority"  # cấp có thẩm quyền: decides
ADVISORY = "advisory"  # cơ quan tham mưu, thẩm định: proposes a level
CHAIR = "chair"  # chủ trì hội nghị: meetings, minutes, tallies
PANEL = "panel"  # người chấm điểm
INSPECTION = "inspection"  # ủy ban kiểm tra: findings, complaints
CYCLE_ROLES = (AUTHORITY, ADVISORY, CHAIR, PANEL, INSPECTION)

# Acts that must come by the cycle's deadline unless an exception is recorded.
DEADLINED = frozenset(
    {
        "self_assessment.submitted",
        "meeting.held",
        "comment.made",
        "minutes.adopted",
        "score.submitted",
        "score.amended",
        "confidence.tallied",
        "tally.recorded",
        "scoring.reopened",
        "appraisal.proposed",
        "decision.issued",
    }
)


class DeadlineException(NamedTuple):
    """A recorded exception to the deadline: these acts are let through until a day."""

    acts: frozenset[str]
    until: date
    event: str  # the ``exception.recorded`` act


@dataclass
class CycleState:
    """What a cycle holds, and the checks every phase's handlers share. The handlers
    themselves are in the phase modules; ``domain.cycle.Cycle`` gathers them."""

    id: str
    profile: Profile
    unit: str
    year: int
    deadline: date
    roles: dict[str, set[str]]
    opened: str
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    roster: str | None = None
    meetings: dict[str, Meeting] = field(default_factory=dict)
    quota_exceptions: dict[str, str] = field(default_factory=dict)  # group → event
    exceptions: list[DeadlineException] = field(default_factory=list)
    published: tuple[date, str] | None = None
    # In a draft's fork: evaluations and meetings still shared with the original,
    # copied on their first write (see ``fork``).
    _shared: set[str] = field(default_factory=set, repr=False, compare=False)

    def fork(self) -> Self:
        """A copy for a batch's draft that costs little however big the cycle: each
        evaluation and meeting is copied only when the draft first changes it."""
        twin = copy.copy(self)
        twin.roles = {role: set(people) for role, people in self.roles.items()}
        twin.evaluations = dict(self.evaluations)
        twin.meetings = dict(self.meetings)
        twin.quota_exceptions = dict(self.quota_exceptions)
        twin.exceptions = list(self.exceptions)
        twin._shared = set(self.evaluations) | set(self.meetings)
        return twin

    def _own(self, key: str) -> None:
        if key in self._shared:
            self._shared.discard(key)
            # Their own deep copies, called directly: ``copy.deepcopy``'s memo and
            # dispatch cost more than copying an evaluation (one per act in a batch).
            if key in self.evaluations:
                self.evaluations[key] = self.evaluations[key].__deepcopy__({})
            else:
                self.meetings[key] = self.meetings[key].__deepcopy__({})

    def _scores(self, body: Body) -> tuple[int, int]:
        return (
            body.points("general", self.profile.general_max),
            body.points("tasks", self.profile.tasks_max),
        )

    def _points_only(self) -> None:
        if not self.profile.points:
            raise refusal(NOT_IN_REGIME, "not_points", regime=self.profile.id)

    def _excepted(self, act: Act) -> bool:
        """A recorded exception lets this act through on its day."""
        return any(act.type in acts and act.day <= until for acts, until, _ in self.exceptions)

    def _before_deadline(self, act: Act) -> None:
        if act.day <= self.deadline or self._excepted(act):
            return
        raise refusal(
            DEADLINE_PASSED,
            "deadline_passed",
            {"deadline": self.deadline.isoformat()},
            deadline=self.deadline,
        )

    def _within(self, act: Act, start: date, days: int, what: str) -> None:
        if (act.day - start).days <= days or self._excepted(act):
            return
        raise refusal(
            DEADLINE_PASSED,
            "window_passed",
            {"window_days": days, "since": start.isoformat()},
            days=days,
            since=start,
            stage=Term("stage", what),
        )

    def _require(self, act: Act, *roles: str) -> None:
        actor = act.actor
        for name in roles:  # a loop, not any(): this runs for nearly every act
            if actor in self.roles[name]:
                return
        raise not_authorised(act, *roles)

    def _not_own(self, act: Act, ev: Evaluation) -> None:
        subject = ev.subject
        own = act.actor == subject.id or (
            subject.kind == "collective" and act.actor == self._head_of(subject.id)
        )
        if own:
            raise refusal(
                SELF_EVALUATION, "self_evaluation", actor=act.actor, act=act_type(act.type)
            )

    def _need_roster(self) -> None:
        if self.roster is None:
            raise refusal(WRONG_PHASE, "no_roster")

    def _rating(self, act: Act, needed: str) -> Evaluation:
        """Who may propose or decide a level: the role, not for oneself, by the deadline."""
        self._require(act, needed)
        ev = self._evaluation(act)
        self._not_own(act, ev)
        self._no_conflict(act, ev)
        self._before_deadline(act)
        return ev

    def _no_conflict(self, act: Act, ev: Evaluation) -> None:
        if act.actor in ev.conflicts:
            raise refusal(
                CONFLICT_OF_INTEREST, "conflict_of_interest", actor=act.actor, subject=ev.subject.id
            )

    def _evaluation(self, act: Act) -> Evaluation:
        """The evaluation the act is about, ready to be changed."""
        self._need_roster()
        sid = act.body.id("cadre")
        self._own(sid)
        ev = self.evaluations.get(sid)
        if ev is None:
            raise refusal(
                UNKNOWN_REFERENCE, "not_on_roster", {"field": "cadre"}, subject=sid, cycle=self.id
            )
        return ev

    def _own_evaluation(self, act: Act, as_role: str) -> Evaluation:
        """The evaluation the act is about, which only the one who answers for it (the
        person, or the head of a collective) may act on, as ``as_role``."""
        ev = self._evaluation(act)
        if act.actor != self.owner(ev.subject.id):
            raise not_authorised(act, as_role)
        return ev

    def _meeting(self, event: str) -> Meeting:
        self._own(event)
        meeting = self.meetings.get(event)
        if meeting is None:
            raise refusal(UNKNOWN_REFERENCE, "meeting.unknown", {"field": "meeting"})
        return meeting

    def owner(self, subject: str) -> str | None:
        """Who answers for an evaluation: the person, or the head of a collective."""
        ev = self.evaluations.get(subject)
        if ev is None or ev.subject.kind == "person":
            return subject if ev is not None else None
        return self._head_of(subject)

    def _head_of(self, collective: str) -> str | None:
        for ev in self.evaluations.values():
            if ev.subject.head_of == collective:
                return ev.subject.id
        return None


def roles_apart(both: set[str]) -> None:
    """The authority decides on what the advisory body proposes: one person never both."""
    if both:
        raise refusal(ROLES_APART, "roles_apart", {"people": sorted(both)}, people=sorted(both))


def not_authorised(act: Act, *needed: str) -> Rejected:
    return refusal(
        NOT_AUTHORISED,
        "not_authorised",
        {"needed": " / ".join(needed)},
        actor=act.actor,
        act=act_type(act.type),
        needed=[role(name) for name in needed],
    )
