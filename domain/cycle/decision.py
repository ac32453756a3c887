"""Evidence, the advisory body's proposal, the authority's decision and its revision
(re-classification), notices, and publication (công khai).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.acts import Act
from domain.cycle.state import ADVISORY, AUTHORITY, INSPECTION, CycleState
from domain.evaluation import Evaluation, Evidence
from domain.fields import given
from domain.judgement import UNMITIGABLE, end_state, group_rules, judged, rejudged
from domain.messages import Term, existing, refusal, render, sentence
from domain.problems import (
    AGAINST_COMPLAINANT,
    DATE_FROM_LOG,
    DECISION_OUTDATED,
    NOT_IN_REGIME,
    NOT_MITIGABLE,
    REASON_REQUIRED,
    UNKNOWN_REFERENCE,
    WRONG_PHASE,
    require_reason,
)
from domain.regimes import TASK_FIGURES
from ledger.errors import Rejected

__all__ = ["DISCIPLINE_FORMS", "EVIDENCE_KINDS", "Decisions"]

DISCIPLINE_FORMS = (  # every one is at least khiển trách
    "khien_trach",
    "canh_cao",
    "ha_bac_luong",
    "giang_chuc",
    "cach_chuc",
    "buoc_thoi_viec",
    "khai_tru",
)
EVIDENCE_KINDS = (
    "discipline",
    "degradation",  # kết luận suy thoái, "tự diễn biến", "tự chuyển hoá"
    "tasks_failed",
    "unit_completion",
    "subordinate_kht",
    "corruption",
    "criteria_failed",
    "mitigation",  # the person found and fixed the fault themselves (QĐ 366)
    "task_figures",  # the year's task figures, judged by the regime's task conditions
)


class Decisions(CycleState):
    """Evidence, proposals, decisions, revisions, notices, publication."""

    def evidence_recorded(self, act: Act, used_violations: Mapping[tuple[str, str], int]) -> None:
        self._require(act, AUTHORITY, INSPECTION, ADVISORY)
        ev = self._evaluation(act)
        body = act.body
        kind = body.choice("kind", EVIDENCE_KINDS)
        detail: dict[str, Any] = {}
        year = None
        if kind == "discipline":
            detail["form"] = body.choice("form", DISCIPLINE_FORMS)
            detail["duty_related"] = body.flag("duty_related")
            decided = body.day("decided")
            detail["decided"], year = decided.isoformat(), decided.year
            if body.has("violation"):
                detail["violation"] = violation = body.id("violation")
                earlier = used_violations.get((ev.subject.id, violation))
                if earlier is not None and earlier != self.year:
                    detail["already_counted_in"] = earlier
        elif kind in ("tasks_failed", "unit_completion", "subordinate_kht", "criteria_failed"):
            detail["percent"] = body.integer("percent", 0, 100)
        elif kind == "task_figures":
            for figure in TASK_FIGURES:
                detail[figure] = body.integer(figure, 0, 100)
        elif kind == "mitigation":
            if not self.profile.data["mitigation"]:
                raise refusal(NOT_IN_REGIME, "no_mitigation")
            detail["evidence"] = cited = body.event("evidence")
            record = next((e for e in ev.evidence if e.event == cited), None)
            if record is None:
                raise refusal(UNKNOWN_REFERENCE, "evidence.unknown")
            if record.kind in UNMITIGABLE:
                raise refusal(
                    NOT_MITIGABLE,
                    "not_mitigable",
                    {"evidence": cited},
                    kind=Term("evidence", record.kind),
                )
        require_reason(body.text("text"), "text")
        ev.evidence.append(Evidence(kind, act.event, detail, year))

    def finding_recorded(self, act: Act) -> None:
        """The inspection committee's finding; a wrong result opens re-classification."""
        self._require(act, INSPECTION)
        ev = self._evaluation(act)
        require_reason(act.body.text("text"), "text")
        ev.findings[act.event] = act.body.flag("result_wrong")

    def appraisal_proposed(self, act: Act) -> None:
        ev = self._rating(act, ADVISORY)
        if ev.decision is not None:
            raise refusal(WRONG_PHASE, "appraisal.decided")
        if self.profile.points and ev.tally is None:
            raise refusal(WRONG_PHASE, "appraisal.no_tally")
        if not self.profile.points and not any(self.meetings[m].minutes for m in ev.meetings):
            raise refusal(WRONG_PHASE, "appraisal.no_minutes")
        ev.proposal = judged(self, act, ev, act.body.level("level"))

    def decision_issued(self, act: Act) -> None:
        ev = self._rating(act, AUTHORITY)
        if ev.decision is not None:
            raise existing("decision.exists")
        if ev.proposal is None:
            raise refusal(WRONG_PHASE, "decision.no_proposal")
        outcome = judged(self, act, ev, act.body.level("level"), proposed=ev.proposal)
        if outcome.level != ev.proposal.level and not given(act.body.text("reason", optional=True)):
            raise refusal(REASON_REQUIRED, "decision.differs")
        group_rules(self, ev, outcome.level)
        ev.decision = outcome

    def decision_revised(self, act: Act) -> None:
        """Re-classification (QĐ 366 Art. 15): cites its cause; the original stays on record."""
        self._require(act, AUTHORITY)
        ev = self._evaluation(act)
        self._not_own(act, ev)
        self._no_conflict(act, ev)
        body = act.body
        supersedes, cause = body.event("supersedes"), body.event("cause")
        if ev.decision is None or supersedes != ev.decision.event:
            raise refusal(UNKNOWN_REFERENCE, "revision.not_current", {"field": "supersedes"})
        require_reason(body.text("reason"))
        upheld = any(
            c.resolution == cause and c.upheld for c in ev.complaints.values()
        ) or ev.findings.get(cause, False)
        if not upheld:
            raise refusal(UNKNOWN_REFERENCE, "revision.no_cause", {"field": "cause"})
        corrected = None
        if body.has("total"):  # the cause found the score itself wrong
            self._points_only()
            maximum = self.profile.general_max + self.profile.tasks_max
            corrected = {"total": body.points("total", maximum), "event": act.event}
        outcome = judged(self, act, ev, body.level("level"), corrected)
        complained = any(c.resolution == cause and c.upheld for c in ev.complaints.values())
        if complained and outcome.level.rank < ev.decision.level.rank:
            raise refusal(
                AGAINST_COMPLAINANT,
                "against_complainant",
                {"current": ev.decision.level.value},
                level=outcome.level,
                current=ev.decision.level,
            )
        group_rules(self, ev, outcome.level)
        ev.superseded.append(ev.decision)
        ev.decision = outcome
        if corrected is not None:
            ev.corrected = corrected

    def notice_sent(self, act: Act) -> None:
        self._require(act, AUTHORITY)
        ev = self._evaluation(act)
        if ev.decision is None:
            raise refusal(WRONG_PHASE, "notice.undecided")
        ev.notice = act.event

    def result_published(self, act: Act) -> None:
        """Publication (công khai) once every subject on the roster is decided."""
        self._require(act, AUTHORITY)
        self._need_roster()
        if act.body.has("date"):
            # The 90-day complaint window runs from publication: its day is the log's.
            raise refusal(DATE_FROM_LOG, "publication.date", {"field": "date"})
        day = act.day
        undecided = sorted(s for s, ev in self.evaluations.items() if ev.decision is None)
        if undecided:
            raise refusal(
                WRONG_PHASE,
                "publication.undecided",
                {"undecided": undecided},
                count=len(undecided),
                subjects=undecided[:5],
            )
        if self.published is not None:
            raise existing("publication.exists")
        end_state(self)  # what each decision respected must hold for all of them together
        # Each decision again, on the record as it stands now: a conflict declared, a
        # ballot recounted or evidence recorded after it must not leave it standing.
        for ev in self.evaluations.values():
            problem = rejudged(self, ev)
            if problem is not None:
                raise _outdated(ev, problem)
        self.published = (day, act.event)


def _outdated(ev: Evaluation, problem: Rejected) -> Rejected:
    """``decision-outdated``: the subject's decision no longer follows, and why."""
    assert ev.decision is not None
    values = {"subject": ev.subject.id, "level": ev.decision.level}
    return Rejected(
        DECISION_OUTDATED,
        sentence(render("vi", "decision.outdated", {**values, "cause": problem.detail_vi})),
        sentence(render("en", "decision.outdated", {**values, "cause": problem.detail_en})),
        cadre=ev.subject.id,
        decision=ev.decision.event,
        rule=problem.problem.slug,
    )
