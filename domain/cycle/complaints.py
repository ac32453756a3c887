"""Complaints (khiếu nại) and appeals, each within its window (Luật Khiếu nại)."""

from __future__ import annotations

from datetime import date, timedelta

from domain.acts import Act
from domain.cycle.state import AUTHORITY, INSPECTION, CycleState
from domain.evaluation import Complaint, Evaluation
from domain.messages import existing, refusal
from domain.problems import APPEAL_NOT_OPEN, UNKNOWN_REFERENCE, WRONG_PHASE, require_reason

__all__ = ["Complaints"]


class Complaints(CycleState):
    """Complaints and appeals against a decision, and their time limits."""

    def complaint_filed(self, act: Act) -> None:
        ev = self._own_evaluation(act, "complainant")
        body = act.body
        against = body.event("against")
        body.text("grounds")
        decisions = {o.event for o in (ev.decision, *ev.superseded) if o}
        if against not in decisions:
            raise refusal(UNKNOWN_REFERENCE, "complaint.against", {"field": "against"})
        appeal_of = body.event("appeal_of") if body.has("appeal_of") else None
        setting = self.profile.setting
        if appeal_of is not None:
            first = ev.complaints.get(appeal_of)
            if first is None:
                raise refusal(UNKNOWN_REFERENCE, "complaint.first_unknown")
            # Resolved, or left unresolved past its time limit (Luật Khiếu nại Art. 33).
            opened = first.resolved or self.resolve_limit(first)
            if first.resolved is None and act.day <= opened:
                raise refusal(
                    APPEAL_NOT_OPEN, "appeal_not_open", {"limit": opened.isoformat()}, limit=opened
                )
            self._within(act, opened, setting("complaint_appeal_days"), "appeal")
        else:
            start = self.published[0] if self.published else None
            if start is None:
                raise refusal(WRONG_PHASE, "complaint.unpublished")
            self._within(act, start, setting("complaint_file_days"), "filing")
        ev.complaints[act.event] = Complaint(act.event, act.day, against, appeal_of)

    def complaint_accepted(self, act: Act) -> None:
        self._require(act, INSPECTION, AUTHORITY)
        _, complaint = self._complaint(act)
        if complaint.accepted is not None:
            raise existing("complaint.accepted_exists")
        self._within(act, complaint.filed, self.profile.setting("complaint_accept_days"), "accept")
        complaint.complex = act.body.flag("complex")
        complaint.accepted = act.day

    def complaint_resolved(self, act: Act) -> None:
        self._require(act, INSPECTION, AUTHORITY)
        _, complaint = self._complaint(act)
        upheld = act.body.flag("upheld")
        require_reason(act.body.text("finding"), "finding")
        if complaint.accepted is None:
            raise refusal(WRONG_PHASE, "complaint.not_accepted")
        if complaint.resolved is not None:
            raise existing("complaint.resolved_exists")
        days = self._resolve_days(complaint)
        self._within(act, complaint.accepted, days, "resolve")
        complaint.resolved, complaint.resolution, complaint.upheld = act.day, act.event, upheld

    def _resolve_days(self, complaint: Complaint) -> int:
        """First complaints 30 days (45 complex); second ones 45 (60 complex)."""
        kind = "appeal" if complaint.appeal_of else "complaint"
        return int(
            self.profile.setting(f"{kind}_resolve_days" + ("_complex" if complaint.complex else ""))
        )

    def resolve_limit(self, complaint: Complaint) -> date:
        """The last day a complaint may be resolved: acceptance's limit then resolution's
        (an unaccepted complaint counts as accepted on its last day to be)."""
        setting = self.profile.setting
        accepted = complaint.accepted or complaint.filed + timedelta(
            days=int(setting("complaint_accept_days"))
        )
        return accepted + timedelta(days=self._resolve_days(complaint))

    def _complaint(self, act: Act) -> tuple[Evaluation, Complaint]:
        ev = self._evaluation(act)
        complaint = ev.complaints.get(act.body.event("complaint"))
        if complaint is None:
            raise refusal(UNKNOWN_REFERENCE, "complaint.unknown", {"field": "complaint"})
        return ev, complaint
