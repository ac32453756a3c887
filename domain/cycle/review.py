"""Self-assessment and the review meeting (hội nghị): comments, and minutes that list
every comment made, none dropped or added.
"""

from __future__ import annotations

from domain.acts import Act
from domain.cycle.state import CHAIR, CycleState, not_authorised
from domain.evaluation import Meeting
from domain.messages import refusal
from domain.problems import MINUTES_ADOPTED, UNKNOWN_REFERENCE, WRONG_PHASE, require_reason
from ledger.errors import Rejected

__all__ = ["Review"]


class Review(CycleState):
    """Self-assessment, the review meeting, its comments and minutes."""

    def self_assessed(self, act: Act) -> None:
        ev = self._own_evaluation(act, "subject")
        self._before_deadline(act)
        if ev.meetings:
            raise refusal(WRONG_PHASE, "self_assessment.after_meeting")
        scores = None
        if self.profile.points and act.body.has("general"):
            scores = self._scores(act.body)
        act.body.text("report")
        ev.self_assessment, ev.self_scores = act.event, scores

    def meeting_held(self, act: Act) -> None:
        self._require(act, CHAIR)
        self._need_roster()
        body = act.body
        attendees = set(body.ids("attendees"))
        subjects = set(body.ids("subjects")) if body.has("subjects") else set(self.evaluations)
        day = body.day("date")
        self._before_deadline(act)
        missing_subjects = subjects - set(self.evaluations)
        if missing_subjects:
            raise refusal(
                UNKNOWN_REFERENCE, "not_on_roster_many", subjects=sorted(missing_subjects)
            )
        unassessed = sorted(s for s in subjects if self.evaluations[s].self_assessment is None)
        if unassessed:
            raise refusal(
                WRONG_PHASE, "meeting.unassessed", {"subjects": unassessed}, subjects=unassessed
            )
        self.meetings[act.event] = Meeting(act.event, day, attendees, subjects)
        for sid in subjects:
            self._own(sid)
            self.evaluations[sid].meetings.append(act.event)

    def comment_made(self, act: Act) -> None:
        ev = self._evaluation(act)
        meeting = self._meeting(act.body.event("meeting"))
        act.body.text("text")
        self._before_deadline(act)
        if act.actor not in meeting.attendees:
            raise not_authorised(act, "attendee")
        if ev.subject.id not in meeting.subjects:
            raise refusal(WRONG_PHASE, "meeting.not_reviewing", subject=ev.subject.id)
        if meeting.minutes is not None:
            raise _minutes_adopted(meeting)
        meeting.comments.append(act.event)
        ev.comments.append(act.event)

    def minutes_adopted(self, act: Act) -> None:
        """Every comment made at the meeting goes into its minutes, none dropped or added."""
        self._require(act, CHAIR)
        meeting = self._meeting(act.body.event("meeting"))
        if meeting.minutes is not None:
            raise _minutes_adopted(meeting)
        self._check_minutes(act, meeting)
        self._before_deadline(act)
        meeting.minutes = act.event

    def minutes_superseded(self, act: Act) -> None:
        """Adopted minutes are never edited: a new version replaces them, saying why, and
        the original stays on record."""
        self._require(act, CHAIR)
        meeting = self._meeting(act.body.event("meeting"))
        supersedes = act.body.event("supersedes")
        self._check_minutes(act, meeting)
        require_reason(act.body.text("reason"))
        if meeting.minutes is None or supersedes != meeting.minutes:
            raise refusal(UNKNOWN_REFERENCE, "minutes.not_current", {"field": "supersedes"})
        meeting.superseded.append(meeting.minutes)
        meeting.minutes = act.event

    def _check_minutes(self, act: Act, meeting: Meeting) -> None:
        listed = act.body.events("comments")
        act.body.text("text")
        dropped = sorted(set(meeting.comments) - set(listed))
        foreign = sorted(set(listed) - set(meeting.comments))
        if dropped or foreign:
            raise refusal(
                WRONG_PHASE,
                "minutes.comments",
                {"missing": dropped, "foreign": foreign},
                missing=len(dropped),
                foreign=len(foreign),
            )


def _minutes_adopted(meeting: Meeting) -> Rejected:
    assert meeting.minutes is not None
    return refusal(MINUTES_ADOPTED, "minutes.adopted", {"minutes": meeting.minutes})
