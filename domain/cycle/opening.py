"""Opening a cycle: its roles, its roster, recorded exceptions to the deadline and to
the quota.
"""

from __future__ import annotations

from typing import Self

from domain.acts import Act
from domain.cycle.state import (
    ADVISORY,
    AUTHORITY,
    CHAIR,
    CYCLE_ROLES,
    DEADLINED,
    CycleState,
    DeadlineException,
    roles_apart,
)
from domain.evaluation import Evaluation, Subject, subject_from
from domain.fields import Body, refuse_field
from domain.messages import existing, refusal, role
from domain.problems import UNKNOWN_REFERENCE, WRONG_PHASE, require_reason
from domain.regimes import Profile

__all__ = ["Opening"]


class Opening(CycleState):
    """A cycle opened under a pinned profile, with its roles and its roster."""

    @classmethod
    def open(cls, act: Act, profile: Profile) -> Self:
        body = act.body
        roles_field = body.mapping("roles")
        roles: dict[str, set[str]] = {}
        for name in CYCLE_ROLES:
            members = Body(roles_field).ids(name) if name in roles_field else []
            roles[name] = set(members)
        extra = set(roles_field) - set(CYCLE_ROLES)
        if extra:
            refuse_field("roles", "roles.unknown", roles=sorted(extra))
        for needed in (AUTHORITY, CHAIR):
            if not roles[needed]:
                refuse_field("roles", "roles.missing", role=role(needed))
        roles_apart(roles[AUTHORITY] & roles[ADVISORY])
        year = body.integer("year", 1990, 2100)
        deadline = body.day("deadline") if body.has("deadline") else profile.default_deadline(year)
        cycle = cls(
            id=body.id("cycle"),
            profile=profile,
            unit=body.id("unit"),
            year=year,
            deadline=deadline,
            roles=roles,
            opened=act.event,
        )
        return cycle

    def roster_set(self, act: Act) -> None:
        self._require(act, AUTHORITY)
        if self.roster is not None:
            raise existing("roster.exists")
        entries = act.body.raw("subjects")
        if not isinstance(entries, list) or not entries:
            refuse_field("subjects", "roster.empty")
        subjects: dict[str, Subject] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                refuse_field("subjects", "roster.not_object")
            subject = subject_from(Body(entry))
            if subject.id in subjects:
                refuse_field("subjects", "roster.repeated", subject=subject.id)
            subjects[subject.id] = subject
        for subject in subjects.values():
            head_of = subject.head_of
            if head_of is not None and subjects.get(head_of, subject).kind != "collective":
                refuse_field("subjects", "roster.head_of", subject=subject.id)
        self.evaluations = {sid: Evaluation(s) for sid, s in subjects.items()}
        self.roster = act.event

    def role_assigned(self, act: Act, withdraw: bool) -> None:
        self._require(act, AUTHORITY)
        name = act.body.choice("role", CYCLE_ROLES)
        person = act.body.id("person")
        members = self.roles[name]
        if withdraw and person not in members:
            raise refusal(UNKNOWN_REFERENCE, "role.not_held", person=person, role=role(name))
        if not withdraw and person in members:
            raise existing("role.held", person=person, role=role(name))
        if withdraw and name in (AUTHORITY, CHAIR) and members == {person}:
            raise refusal(WRONG_PHASE, "role.last", role=role(name))
        apart = {AUTHORITY: ADVISORY, ADVISORY: AUTHORITY}.get(name)
        if not withdraw and apart is not None and person in self.roles[apart]:
            roles_apart({person})
        (members.discard if withdraw else members.add)(person)

    def exception_recorded(self, act: Act) -> None:
        """A recorded exception to the deadline (for some acts, until a day), with why."""
        self._require(act, AUTHORITY)
        body = act.body
        acts = frozenset(body.ids("acts")) if body.has("acts") else DEADLINED
        unknown_acts = acts - DEADLINED
        if unknown_acts:
            refuse_field("acts", "exception.no_deadline", acts=sorted(unknown_acts))
        until = body.day("until")
        require_reason(body.text("reason"))
        self.exceptions.append(DeadlineException(acts, until, act.event))

    def quota_exception(self, act: Act) -> None:
        """The authority records outstanding achievement: the group's HTXS cap rises."""
        self._require(act, AUTHORITY)
        group = act.body.id("group")
        require_reason(act.body.text("reason"))
        if group in self.quota_exceptions:
            raise existing("quota_exception.exists", group=group)
        self.quota_exceptions[group] = act.event
