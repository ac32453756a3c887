"""An evaluation cycle (kỳ đánh giá, xếp loại): its roster, its acts, and the rules they obey.

A cycle is opened under one pinned regime profile, with the people who hold its
roles (authority, advisory body, chair, scoring panel, inspection). Each subject on
its roster — a person or a collective — has an ``Evaluation``: self-assessment,
comments at a review meeting, ballots and their tally, evidence, the proposed level,
the decision, notices, complaints and re-decisions.

Every handler checks everything first and changes state last, so a refused act
leaves the cycle exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from domain.acts import Act
from domain.evaluation import (
    Ballot,
    Complaint,
    Evaluation,
    Evidence,
    Meeting,
    Subject,
    subject_from,
)
from domain.fields import Body, format_points, given, parse_points, refuse_field
from domain.judgement import UNMITIGABLE, end_state, group_rules, judged, rejudged
from domain.messages import Points, Term, act_type, existing, refusal, render, role, sentence
from domain.problems import (
    AGAINST_COMPLAINANT,
    APPEAL_NOT_OPEN,
    BALLOTS_MISSING,
    CONFLICT_OF_INTEREST,
    DATE_FROM_LOG,
    DEADLINE_PASSED,
    DECISION_OUTDATED,
    MINUTES_ADOPTED,
    NOT_AUTHORISED,
    NOT_IN_REGIME,
    NOT_MITIGABLE,
    REASON_REQUIRED,
    ROLES_APART,
    SELF_EVALUATION,
    TALLY_MISMATCH,
    UNKNOWN_REFERENCE,
    WRONG_PHASE,
    require_reason,
)
from domain.regimes import TASK_FIGURES, Profile
from ledger.errors import Rejected

# Roles a cycle assigns (vai trò trong kỳ đánh giá).
AUTHORITY = "authority"  # cấp có thẩm quyền: decides
ADVISORY = "advisory"  # cơ quan tham mưu, thẩm định: proposes a level
CHAIR = "chair"  # chủ trì hội nghị: meetings, minutes, tallies
PANEL = "panel"  # người chấm điểm
INSPECTION = "inspection"  # ủy ban kiểm tra: findings, complaints
CYCLE_ROLES = (AUTHORITY, ADVISORY, CHAIR, PANEL, INSPECTION)

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


@dataclass
class Cycle:
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
    exceptions: list[tuple[frozenset[str], date, str]] = field(default_factory=list)
    published: tuple[date, str] | None = None
    # In a draft's fork: evaluations and meetings still shared with the original,
    # copied on their first write (see ``fork``).
    _shared: set[str] = field(default_factory=set, repr=False, compare=False)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, act: Act, profile: Profile) -> Cycle:
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
        _roles_apart(roles[AUTHORITY] & roles[ADVISORY])
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

    def fork(self) -> Cycle:
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
            if key in self.evaluations:
                self.evaluations[key] = copy.deepcopy(self.evaluations[key])
            else:
                self.meetings[key] = copy.deepcopy(self.meetings[key])

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
            _roles_apart({person})
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
        self.exceptions.append((acts, until, act.event))

    def quota_exception(self, act: Act) -> None:
        """The authority records outstanding achievement: the group's HTXS cap rises."""
        self._require(act, AUTHORITY)
        group = act.body.id("group")
        require_reason(act.body.text("reason"))
        if group in self.quota_exceptions:
            raise existing("quota_exception.exists", group=group)
        self.quota_exceptions[group] = act.event

    # -- self-assessment and the review meeting ----------------------------------------

    def self_assessed(self, act: Act) -> None:
        ev = self._evaluation(act)
        if act.actor != self.owner(ev.subject.id):
            raise _not_authorised(act, "subject")
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
            raise _not_authorised(act, "attendee")
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

    # -- ballots and the tally --------------------------------------------------------

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

    # -- evidence, appraisal, decision ------------------------------------------------

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

    # -- complaints (khiếu nại) --------------------------------------------------------

    def complaint_filed(self, act: Act) -> None:
        ev = self._evaluation(act)
        if act.actor != self.owner(ev.subject.id):
            raise _not_authorised(act, "complainant")
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
        raise _not_authorised(act, *roles)

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

    def _meeting(self, event: str) -> Meeting:
        self._own(event)
        meeting = self.meetings.get(event)
        if meeting is None:
            raise refusal(UNKNOWN_REFERENCE, "meeting.unknown", {"field": "meeting"})
        return meeting

    def _complaint(self, act: Act) -> tuple[Evaluation, Complaint]:
        ev = self._evaluation(act)
        complaint = ev.complaints.get(act.body.event("complaint"))
        if complaint is None:
            raise refusal(UNKNOWN_REFERENCE, "complaint.unknown", {"field": "complaint"})
        return ev, complaint

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


def _roles_apart(both: set[str]) -> None:
    """The authority decides on what the advisory body proposes: one person never both."""
    if both:
        raise refusal(ROLES_APART, "roles_apart", {"people": sorted(both)}, people=sorted(both))


def _not_authorised(act: Act, *needed: str) -> Rejected:
    return refusal(
        NOT_AUTHORISED,
        "not_authorised",
        {"needed": " / ".join(needed)},
        actor=act.actor,
        act=act_type(act.type),
        needed=[role(name) for name in needed],
    )


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


def _minutes_adopted(meeting: Meeting) -> Rejected:
    assert meeting.minutes is not None
    return refusal(MINUTES_ADOPTED, "minutes.adopted", {"minutes": meeting.minutes})
