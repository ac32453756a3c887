"""The record of one subject in a cycle: what the rules remember between acts.

A subject (đối tượng đánh giá) is a person, or a collective (tập thể) with its head.
Its ``Evaluation`` holds the self-assessment, the meetings and comments, the ballots
and their tally, evidence, the proposal, the decision (and those it superseded), the
notice and complaints. ``Meeting`` is one review meeting (hội nghị kiểm điểm).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from domain.fields import Body, Text
from domain.levels import Level


@dataclass
class Subject:
    """One entry of the roster: a person, or a collective (tập thể) with its head."""

    id: str
    name: str
    kind: str  # "person" | "collective"
    group: str  # the comparable group quotas count within
    leader: bool = False
    head_of: str | None = None  # the collective this person heads
    months_worked: int | None = None
    leave_months: int = 0
    maternity: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Subject:
        # Every field is a string, a number, a flag or None: a shallow copy is a deep one.
        twin = object.__new__(Subject)
        twin.__dict__.update(self.__dict__)
        return twin


# Evaluation.__deepcopy__: the lists of event hashes that grow with the cycle; the
# types ``copy.deepcopy`` gives back as they are; the containers it makes anew.
_GROWING = frozenset({"comments", "meetings"})
_ATOMS = frozenset({type(None), str, int, float, bool})
_CONTAINERS = frozenset({list, dict, set})


@dataclass
class Ballot:
    scorer: str
    general: int
    tasks: int
    event: str  # the latest version: the ballot itself or its last amendment
    amendments: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.general + self.tasks


@dataclass
class Evidence:
    kind: str
    event: str
    detail: dict[str, Any]
    year: int | None = None


@dataclass
class Complaint:
    event: str
    filed: date
    against: str
    appeal_of: str | None = None
    accepted: date | None = None
    complex: bool = False
    resolved: date | None = None
    resolution: str | None = None
    upheld: bool | None = None

    @property
    def status(self) -> str:
        if self.resolved is not None:
            return "upheld" if self.upheld else "dismissed"
        return "accepted" if self.accepted else "filed"


@dataclass
class Outcome:
    """A level and why: the rule or override that set it, with the events behind it."""

    level: Level
    event: str
    why: list[dict[str, Any]]
    reason: Text = ""
    actor: str = ""  # who proposed or decided it: a conflict they declare later undoes it


@dataclass
class Evaluation:
    subject: Subject
    self_assessment: str | None = None
    self_scores: tuple[int, int] | None = None
    meetings: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    ballots: dict[str, Ballot] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    tally: dict[str, Any] | None = None
    confidence: dict[str, Any] | None = None
    evidence: list[Evidence] = field(default_factory=list)
    proposal: Outcome | None = None
    decision: Outcome | None = None
    superseded: list[Outcome] = field(default_factory=list)
    corrected: dict[str, Any] | None = None  # a total a re-classification corrected
    notice: str | None = None
    findings: dict[str, bool] = field(default_factory=dict)  # event → result found wrong
    complaints: dict[str, Complaint] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> Evaluation:
        # A batch copies an evaluation the first time it writes to it (one per act of a
        # batch, mostly): as ``copy.deepcopy`` would, for a few µs instead of 40. The
        # lists that grow with the cycle hold only event hashes (strings): copied
        # without walking each item. What deepcopy gives back as it is (None, a string,
        # a number) is kept; an empty container, and the subject (strings, numbers and
        # flags only), are made anew; anything else is copied as deep as ever. (No two
        # fields ever share a container: each is made for its own field.)
        twin = object.__new__(Evaluation)
        fields = twin.__dict__
        for name, value in self.__dict__.items():
            kind = type(value)
            if kind in _ATOMS:
                fields[name] = value
            elif name in _GROWING:
                fields[name] = list(value)
            elif not value and kind in _CONTAINERS:
                fields[name] = kind()
            elif kind is Subject:
                fields[name] = value.__deepcopy__(memo)
            else:
                fields[name] = copy.deepcopy(value, memo)
        return twin

    @property
    def current(self) -> Level | None:
        """The level that counts now: decided, else proposed."""
        outcome = self.decision or self.proposal
        return outcome.level if outcome else None


@dataclass
class Meeting:
    event: str
    day: date
    attendees: set[str]
    subjects: set[str]
    comments: list[str] = field(default_factory=list)
    minutes: str | None = None
    superseded: list[str] = field(default_factory=list)  # earlier minutes, oldest first

    def __deepcopy__(self, memo: dict[int, Any]) -> Meeting:
        # Strings only: copying the containers is a deep copy (a meeting may hold
        # hundreds of comments, and a batch copies the meeting it writes to).
        return replace(
            self,
            attendees=set(self.attendees),
            subjects=set(self.subjects),
            comments=list(self.comments),
            superseded=list(self.superseded),
        )


def subject_from(body: Body) -> Subject:
    """A roster entry as the roster statement gives it."""
    kind = body.choice("kind", ("person", "collective")) if body.has("kind") else "person"
    return Subject(
        id=body.id("id"),
        name=body.label("name"),
        kind=kind,
        group=body.id("group") if body.has("group") else "default",
        leader=body.flag("leader"),
        head_of=body.id("head_of") if body.has("head_of") else None,
        months_worked=body.integer("months_worked", 0, 12) if body.has("months_worked") else None,
        leave_months=body.integer("leave_months", 0, 12) if body.has("leave_months") else 0,
        maternity=body.flag("maternity"),
    )
