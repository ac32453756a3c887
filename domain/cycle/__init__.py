"""An evaluation cycle (kỳ đánh giá, xếp loại): its roster, its acts, and the rules they obey.

A cycle is opened under one pinned regime profile, with the people who hold its
roles (authority, advisory body, chair, scoring panel, inspection). Each subject on
its roster — a person or a collective — has an ``Evaluation``: self-assessment,
comments at a review meeting, ballots and their tally, evidence, the proposed level,
the decision, notices, complaints and re-decisions.

Every handler checks everything first and changes state last, so a refused act
leaves the cycle exactly as it was.

``Cycle`` is one aggregate, its handlers written by phase, a module each:

- ``state``: what a cycle holds, and the checks every phase shares (roles, deadline,
  conflicts, a draft's copy-on-write fork);
- ``opening``: the cycle, its roles, its roster, exceptions to the deadline and quota;
- ``review``: self-assessment, the review meeting, comments and minutes;
- ``scoring``: conflicts, ballots, the confidence vote, the tally;
- ``decision``: evidence, proposal, decision, revision, notices, publication;
- ``complaints``: complaints and appeals within their windows.
"""

from __future__ import annotations

from domain.cycle.complaints import Complaints
from domain.cycle.decision import DISCIPLINE_FORMS, EVIDENCE_KINDS, Decisions
from domain.cycle.opening import Opening
from domain.cycle.review import Review
from domain.cycle.scoring import Scoring
from domain.cycle.state import (
    ADVISORY,
    AUTHORITY,
    CHAIR,
    CYCLE_ROLES,
    DEADLINED,
    INSPECTION,
    PANEL,
    CycleState,
)

__all__ = [
    "ADVISORY",
    "AUTHORITY",
    "CHAIR",
    "CYCLE_ROLES",
    "DEADLINED",
    "DISCIPLINE_FORMS",
    "EVIDENCE_KINDS",
    "INSPECTION",
    "PANEL",
    "Cycle",
    "CycleState",
]


class Cycle(Opening, Review, Scoring, Decisions, Complaints):
    """An evaluation cycle: its state (``CycleState``) and every act's handler, by phase."""
