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
from domain.fields import Body, format_points, given, parse_points, refuse
from domain.judgement import UNMITIGABLE, end_state, group_rules, judged
from domain.problems import (
    AGAINST_COMPLAINANT,
    APPEAL_NOT_OPEN,
    BALLOTS_MISSING,
    CONFLICT_OF_INTEREST,
    DATE_FROM_LOG,
    DEADLINE_PASSED,
    MINUTES_ADOPTED,
    NOT_AUTHORISED,
    NOT_IN_REGIME,
    NOT_MITIGABLE,
    REASON_REQUIRED,
    ROLES_APART,
    SELF_EVALUATION,
    TALLY_MISMATCH,
    exists,
    require_reason,
    unknown,
    wrong_phase,
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
        for role in CYCLE_ROLES:
            members = Body(roles_field).ids(role) if role in roles_field else []
            roles[role] = set(members)
        extra = set(roles_field) - set(CYCLE_ROLES)
        if extra:
            refuse("roles", f"có vai trò lạ {sorted(extra)}", f"has unknown roles {sorted(extra)}")
        for role in (AUTHORITY, CHAIR):
            if not roles[role]:
                refuse("roles", f"phải có {role}", f"must name the {role}")
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
            raise exists("danh sách đánh giá của kỳ này", "this cycle's roster")
        entries = act.body.raw("subjects")
        if not isinstance(entries, list) or not entries:
            refuse("subjects", "phải là danh sách không rỗng", "must be a non-empty list")
        subjects: dict[str, Subject] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                refuse("subjects", "chứa mục không phải đối tượng", "holds a non-object")
            subject = subject_from(Body(entry))
            if subject.id in subjects:
                refuse("subjects", f"lặp {subject.id!r}", f"repeats {subject.id!r}")
            subjects[subject.id] = subject
        for subject in subjects.values():
            head_of = subject.head_of
            if head_of is not None and subjects.get(head_of, subject).kind != "collective":
                refuse("subjects", f"{subject.id}: head_of phải là một tập thể", "head_of bad")
        self.evaluations = {sid: Evaluation(s) for sid, s in subjects.items()}
        self.roster = act.event

    def role_assigned(self, act: Act, withdraw: bool) -> None:
        self._require(act, AUTHORITY)
        role = act.body.choice("role", CYCLE_ROLES)
        person = act.body.id("person")
        members = self.roles[role]
        if withdraw and person not in members:
            raise unknown(f"{person!r} không giữ vai trò {role}.", f"{person!r} is not {role}.")
        if not withdraw and person in members:
            raise exists(f"vai trò {role} của {person!r}", f"{person!r} as {role}")
        if withdraw and role in (AUTHORITY, CHAIR) and members == {person}:
            raise wrong_phase("Kỳ đánh giá không thể thiếu vai trò này.", f"A cycle needs {role}.")
        apart = {AUTHORITY: ADVISORY, ADVISORY: AUTHORITY}.get(role)
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
            refuse("acts", f"không có hạn: {sorted(unknown_acts)}", f"no deadline: {unknown_acts}")
        until = body.day("until")
        require_reason(body.text("reason"))
        self.exceptions.append((acts, until, act.event))

    def quota_exception(self, act: Act) -> None:
        """The authority records outstanding achievement: the group's HTXS cap rises."""
        self._require(act, AUTHORITY)
        group = act.body.id("group")
        require_reason(act.body.text("reason"))
        if group in self.quota_exceptions:
            raise exists(f"ngoại lệ tỷ lệ cho nhóm {group}", f"a quota exception for {group}")
        self.quota_exceptions[group] = act.event

    # -- self-assessment and the review meeting ----------------------------------------

    def self_assessed(self, act: Act) -> None:
        ev = self._evaluation(act)
        if act.actor != self.owner(ev.subject.id):
            raise _not_authorised(act, "người được đánh giá (hoặc người đứng đầu tập thể)")
        self._before_deadline(act)
        if ev.meetings:
            raise wrong_phase(
                "Tự đánh giá phải trước hội nghị kiểm điểm.",
                "Self-assessment must come before the review meeting.",
            )
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
            raise unknown(
                f"Không có trong danh sách: {sorted(missing_subjects)}.",
                f"Not on the roster: {sorted(missing_subjects)}.",
            )
        unassessed = sorted(s for s in subjects if self.evaluations[s].self_assessment is None)
        if unassessed:
            raise wrong_phase(
                f"Chưa tự đánh giá trước hội nghị: {', '.join(unassessed)}.",
                f"Not yet self-assessed before the meeting: {', '.join(unassessed)}.",
                subjects=unassessed,
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
            raise _not_authorised(act, "người dự hội nghị")
        if ev.subject.id not in meeting.subjects:
            raise wrong_phase(
                f"Hội nghị này không kiểm điểm {ev.subject.id!r}.",
                f"This meeting does not review {ev.subject.id!r}.",
            )
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
            raise unknown(
                "supersedes phải trỏ tới biên bản hiện hành của hội nghị này.",
                "supersedes must name this meeting's current minutes.",
                field="supersedes",
            )
        meeting.superseded.append(meeting.minutes)
        meeting.minutes = act.event

    def _check_minutes(self, act: Act, meeting: Meeting) -> None:
        listed = act.body.events("comments")
        act.body.text("text")
        dropped = sorted(set(meeting.comments) - set(listed))
        foreign = sorted(set(listed) - set(meeting.comments))
        if dropped or foreign:
            raise wrong_phase(
                f"Biên bản phải ghi đủ và đúng các góp ý tại hội nghị (thiếu {len(dropped)}, "
                f"thừa {len(foreign)}).",
                f"The minutes must list exactly the meeting's comments ({len(dropped)} "
                f"missing, {len(foreign)} not of this meeting).",
                missing=dropped,
                foreign=foreign,
            )

    # -- ballots and the tally --------------------------------------------------------

    def conflict_declared(self, act: Act) -> None:
        """A declared conflict bars the declarer from the ballot, the proposal and the
        decision on this subject; a ballot already cast leaves the tally (recounted)."""
        ev = self._evaluation(act)
        require_reason(act.body.text("reason"))
        if act.actor in ev.conflicts:
            raise exists("khai báo xung đột lợi ích này", "this declaration")
        ev.conflicts.add(act.actor)
        if ev.ballots.pop(act.actor, None) is not None and ev.tally is not None:
            ev.tally = _count(list(ev.ballots.values()), act.event) if ev.ballots else None

    def score_submitted(self, act: Act) -> None:
        ev = self._scoring(act)
        if act.actor in ev.ballots:
            raise exists(
                "phiếu chấm của người này (hãy dùng score.amended)",
                "a ballot from this scorer (use score.amended)",
            )
        general, tasks = self._scores(act.body)
        ev.ballots[act.actor] = Ballot(act.actor, general, tasks, act.event)

    def score_amended(self, act: Act) -> None:
        """A changed ballot keeps the original on record and must say why."""
        ev = self._scoring(act)
        amends = act.body.event("amends")
        reason = act.body.text("reason")
        ballot = ev.ballots.get(act.actor)
        if ballot is None or amends != ballot.event:
            raise unknown(
                "amends phải trỏ tới phiếu (hoặc lần sửa) mới nhất của chính người chấm.",
                "amends must name the scorer's own latest ballot or amendment.",
                field="amends",
            )
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
            raise exists("kết quả lấy phiếu tín nhiệm", "a confidence tally")
        ev.confidence = {"votes": votes, "low": low, "event": act.event}

    def tally_recorded(self, act: Act) -> None:
        """The count (kiểm phiếu) must equal the mean of the ballots as they stand."""
        self._require(act, CHAIR)
        ev = self._evaluation(act)
        self._points_only()
        self._before_deadline(act)
        if ev.tally is not None:
            raise exists("kết quả kiểm phiếu", "a tally")
        ballots = list(ev.ballots.values())
        self._enough_ballots(ev)
        counted = _count(ballots, act.event)
        total = counted["total"]
        stated_count = act.body.integer("ballots", 0, 100_000)
        stated_total = parse_points(act.body.raw("total"), "total")
        if stated_count != len(ballots) or stated_total != total:
            raise Rejected(
                TALLY_MISMATCH,
                f"Kiểm phiếu ghi {stated_count} phiếu, tổng {format_points(stated_total)}; "
                f"tính lại từ phiếu: {len(ballots)} phiếu, {format_points(total)}.",
                f"The tally says {stated_count} ballots, total {format_points(stated_total)}; "
                f"the ballots give {len(ballots)}, {format_points(total)}.",
                expected_ballots=len(ballots),
                expected_total=format_points(total),
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
            raise Rejected(
                BALLOTS_MISSING,
                f"Cần {needed} phiếu chấm, mới có {len(ev.ballots)}"
                + (f"; chưa chấm: {', '.join(missing)}." if missing else "."),
                f"{needed} ballots are needed; there are {len(ev.ballots)}"
                + (f"; not yet cast by: {', '.join(missing)}." if missing else "."),
                needed=needed,
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
            raise wrong_phase(
                "Chưa kiểm phiếu thì không cần mở lại.", "There is no tally to reopen."
            )
        if ev.proposal is not None or ev.decision is not None:
            raise wrong_phase(
                "Đã có đề xuất hoặc quyết định: không mở lại việc chấm điểm.",
                "A level is already proposed or decided: scoring cannot reopen.",
            )
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
                raise Rejected(
                    NOT_IN_REGIME,
                    "Chế độ này không cho giảm nhẹ.",
                    "This regime has no mitigation.",
                )
            detail["evidence"] = cited = body.event("evidence")
            record = next((e for e in ev.evidence if e.event == cited), None)
            if record is None:
                raise unknown("Không có chứng cứ được dẫn.", "The cited evidence is unknown.")
            if record.kind in UNMITIGABLE:
                raise Rejected(
                    NOT_MITIGABLE,
                    f"Chứng cứ loại {record.kind} không được giảm nhẹ.",
                    f"Evidence of kind {record.kind} cannot be mitigated.",
                    evidence=cited,
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
            raise wrong_phase(
                "Đã có quyết định; thay đổi phải qua quyết định xếp loại lại.",
                "Already decided; a change needs a re-classification (decision.revised).",
            )
        if self.profile.points and ev.tally is None:
            raise wrong_phase("Chưa có kết quả kiểm phiếu.", "There is no tally yet.")
        if not self.profile.points and not any(self.meetings[m].minutes for m in ev.meetings):
            raise wrong_phase(
                "Chưa có biên bản hội nghị kiểm điểm.", "The review meeting has no minutes yet."
            )
        ev.proposal = judged(self, act, ev, act.body.level("level"))

    def decision_issued(self, act: Act) -> None:
        ev = self._rating(act, AUTHORITY)
        if ev.decision is not None:
            raise exists(
                "quyết định cho người này (thay đổi qua decision.revised)",
                "a decision for this subject (change it with decision.revised)",
            )
        if ev.proposal is None:
            raise wrong_phase(
                "Chưa có đề xuất của cơ quan tham mưu (thẩm định).",
                "The advisory body has not proposed a level yet.",
            )
        outcome = judged(self, act, ev, act.body.level("level"), proposed=ev.proposal)
        if outcome.level != ev.proposal.level and not given(act.body.text("reason", optional=True)):
            raise Rejected(
                REASON_REQUIRED,
                "Quyết định khác đề xuất thẩm định thì phải nêu lý do.",
                "A decision that differs from the proposal must give a reason.",
            )
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
            raise unknown(
                "supersedes phải trỏ tới quyết định hiện hành của người này.",
                "supersedes must name this subject's current decision.",
                field="supersedes",
            )
        require_reason(body.text("reason"))
        upheld = any(
            c.resolution == cause and c.upheld for c in ev.complaints.values()
        ) or ev.findings.get(cause, False)
        if not upheld:
            raise unknown(
                "cause phải là một khiếu nại được chấp nhận hoặc kết luận kiểm tra xác định "
                "kết quả sai, về chính người này.",
                "cause must be an upheld complaint resolution or an inspection finding that "
                "the result was wrong, about this subject.",
                field="cause",
            )
        corrected = None
        if body.has("total"):  # the cause found the score itself wrong
            self._points_only()
            maximum = self.profile.general_max + self.profile.tasks_max
            corrected = {"total": body.points("total", maximum), "event": act.event}
        outcome = judged(self, act, ev, body.level("level"), corrected)
        complained = any(c.resolution == cause and c.upheld for c in ev.complaints.values())
        if complained and outcome.level.rank < ev.decision.level.rank:
            raise Rejected(
                AGAINST_COMPLAINANT,
                f"Khiếu nại được chấp nhận không thể dẫn tới mức thấp hơn "
                f"({outcome.level.value} < {ev.decision.level.value}).",
                f"An upheld complaint cannot lead to a lower level "
                f"({outcome.level.value} < {ev.decision.level.value}).",
                current=ev.decision.level.value,
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
            raise wrong_phase("Chưa có quyết định để thông báo.", "Nothing decided to notify.")
        ev.notice = act.event

    def result_published(self, act: Act) -> None:
        """Publication (công khai) once every subject on the roster is decided."""
        self._require(act, AUTHORITY)
        self._need_roster()
        if act.body.has("date"):
            # The 90-day complaint window runs from publication: its day is the log's.
            raise Rejected(
                DATE_FROM_LOG,
                "Ngày công khai là ngày ghi vào sổ; không ghi trường date.",
                "The publication's day is the day the log admits it; leave out date.",
                field="date",
            )
        day = act.day
        undecided = sorted(s for s, ev in self.evaluations.items() if ev.decision is None)
        if undecided:
            raise wrong_phase(
                f"Còn {len(undecided)} người chưa có quyết định: {', '.join(undecided[:5])}…",
                f"{len(undecided)} subjects are not decided yet: {', '.join(undecided[:5])}…",
                undecided=undecided,
            )
        if self.published is not None:
            raise exists("việc công khai kết quả", "the publication")
        end_state(self)  # what each decision respected must hold for all of them together
        self.published = (day, act.event)

    # -- complaints (khiếu nại) --------------------------------------------------------

    def complaint_filed(self, act: Act) -> None:
        ev = self._evaluation(act)
        if act.actor != self.owner(ev.subject.id):
            raise _not_authorised(act, "chính người được đánh giá")
        body = act.body
        against = body.event("against")
        body.text("grounds")
        decisions = {o.event for o in (ev.decision, *ev.superseded) if o}
        if against not in decisions:
            raise unknown(
                "against phải là một quyết định về chính người khiếu nại.",
                "against must be a decision about the complainant.",
                field="against",
            )
        appeal_of = body.event("appeal_of") if body.has("appeal_of") else None
        setting = self.profile.setting
        if appeal_of is not None:
            first = ev.complaints.get(appeal_of)
            if first is None:
                raise unknown("Không có khiếu nại lần đầu này.", "No such first complaint.")
            # Resolved, or left unresolved past its time limit (Luật Khiếu nại Art. 33).
            opened = first.resolved or self.resolve_limit(first)
            if first.resolved is None and act.day <= opened:
                raise Rejected(
                    APPEAL_NOT_OPEN,
                    f"Khiếu nại lần đầu chưa được giải quyết và chưa hết hạn giải quyết "
                    f"({opened.isoformat()}).",
                    f"The first complaint is unresolved and its time limit "
                    f"({opened.isoformat()}) has not passed.",
                    limit=opened.isoformat(),
                )
            self._within(act, opened, setting("complaint_appeal_days"), "appeal")
        else:
            start = self.published[0] if self.published else None
            if start is None:
                raise wrong_phase(
                    "Kết quả chưa được công khai.", "The result has not been published yet."
                )
            self._within(act, start, setting("complaint_file_days"), "filing")
        ev.complaints[act.event] = Complaint(act.event, act.day, against, appeal_of)

    def complaint_accepted(self, act: Act) -> None:
        self._require(act, INSPECTION, AUTHORITY)
        _, complaint = self._complaint(act)
        if complaint.accepted is not None:
            raise exists("việc thụ lý khiếu nại này", "this complaint's acceptance")
        self._within(act, complaint.filed, self.profile.setting("complaint_accept_days"), "accept")
        complaint.complex = act.body.flag("complex")
        complaint.accepted = act.day

    def complaint_resolved(self, act: Act) -> None:
        self._require(act, INSPECTION, AUTHORITY)
        _, complaint = self._complaint(act)
        upheld = act.body.flag("upheld")
        require_reason(act.body.text("finding"), "finding")
        if complaint.accepted is None:
            raise wrong_phase("Khiếu nại chưa được thụ lý.", "The complaint is not accepted yet.")
        if complaint.resolved is not None:
            raise exists("kết quả giải quyết khiếu nại này", "this complaint's resolution")
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
            raise wrong_phase(
                "Chỉ chấm điểm sau khi biên bản hội nghị kiểm điểm đã được thông qua.",
                "Scoring starts once the review meeting's minutes are adopted.",
            )
        if ev.tally is not None:
            raise wrong_phase(
                "Đã kiểm phiếu: không thể chấm hay sửa điểm nữa.",
                "The tally is recorded: ballots can no longer be cast or changed.",
            )
        return ev

    def _scores(self, body: Body) -> tuple[int, int]:
        return (
            body.points("general", self.profile.general_max),
            body.points("tasks", self.profile.tasks_max),
        )

    def _points_only(self) -> None:
        if not self.profile.points:
            raise Rejected(
                NOT_IN_REGIME,
                f"Chế độ {self.profile.id} đánh giá theo tiêu chí, không chấm điểm.",
                f"The {self.profile.id} regime rates by criteria, without points.",
            )

    def _excepted(self, act: Act) -> bool:
        """A recorded exception lets this act through on its day."""
        return any(act.type in acts and act.day <= until for acts, until, _ in self.exceptions)

    def _before_deadline(self, act: Act) -> None:
        if act.day <= self.deadline or self._excepted(act):
            return
        raise Rejected(
            DEADLINE_PASSED,
            f"Quá hạn {self.deadline.isoformat()} và không có ngoại lệ được ghi nhận.",
            f"Past the deadline {self.deadline.isoformat()}, with no recorded exception.",
            deadline=self.deadline.isoformat(),
        )

    def _within(self, act: Act, start: date, days: int, what: str) -> None:
        if (act.day - start).days <= days or self._excepted(act):
            return
        raise Rejected(
            DEADLINE_PASSED,
            f"Quá thời hạn {days} ngày kể từ {start.isoformat()} ({what}).",
            f"More than {days} days after {start.isoformat()} ({what}).",
            window_days=days,
            since=start.isoformat(),
        )

    def _require(self, act: Act, *roles: str) -> None:
        actor = act.actor
        for role in roles:  # a loop, not any(): this runs for nearly every act
            if actor in self.roles[role]:
                return
        raise _not_authorised(act, " / ".join(roles))

    def _not_own(self, act: Act, ev: Evaluation) -> None:
        subject = ev.subject
        own = act.actor == subject.id or (
            subject.kind == "collective" and act.actor == self._head_of(subject.id)
        )
        if own:
            raise Rejected(
                SELF_EVALUATION,
                f"{act.actor!r} không được {act.type} cho chính mình.",
                f"{act.actor!r} may not {act.type} for their own evaluation.",
            )

    def _need_roster(self) -> None:
        if self.roster is None:
            raise wrong_phase("Kỳ đánh giá chưa có danh sách.", "The cycle has no roster yet.")

    def _rating(self, act: Act, role: str) -> Evaluation:
        """Who may propose or decide a level: the role, not for oneself, by the deadline."""
        self._require(act, role)
        ev = self._evaluation(act)
        self._not_own(act, ev)
        self._no_conflict(act, ev)
        self._before_deadline(act)
        return ev

    def _no_conflict(self, act: Act, ev: Evaluation) -> None:
        if act.actor in ev.conflicts:
            raise Rejected(
                CONFLICT_OF_INTEREST,
                f"{act.actor!r} đã khai báo xung đột lợi ích với {ev.subject.id!r}.",
                f"{act.actor!r} declared a conflict of interest with {ev.subject.id!r}.",
            )

    def _evaluation(self, act: Act) -> Evaluation:
        """The evaluation the act is about, ready to be changed."""
        self._need_roster()
        sid = act.body.id("cadre")
        self._own(sid)
        ev = self.evaluations.get(sid)
        if ev is None:
            raise unknown(
                f"{sid!r} không có trong danh sách kỳ {self.id}.",
                f"{sid!r} is not on the roster of {self.id}.",
                field="cadre",
            )
        return ev

    def _meeting(self, event: str) -> Meeting:
        self._own(event)
        meeting = self.meetings.get(event)
        if meeting is None:
            raise unknown("Không có hội nghị này.", "No such meeting.", field="meeting")
        return meeting

    def _complaint(self, act: Act) -> tuple[Evaluation, Complaint]:
        ev = self._evaluation(act)
        complaint = ev.complaints.get(act.body.event("complaint"))
        if complaint is None:
            raise unknown("Không có khiếu nại này.", "No such complaint.", field="complaint")
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
        raise Rejected(
            ROLES_APART,
            f"{', '.join(sorted(both))}: cấp có thẩm quyền không được đồng thời là cơ quan "
            "tham mưu, thẩm định.",
            f"{', '.join(sorted(both))}: the authority may not also be the advisory body.",
            people=sorted(both),
        )


def _not_authorised(act: Act, who: str) -> Rejected:
    return Rejected(
        NOT_AUTHORISED,
        f"{act.actor!r} không có vai trò để {act.type} (cần: {who}).",
        f"{act.actor!r} has no role to {act.type} (needs: {who}).",
        needed=who,
    )


def _minutes_adopted(meeting: Meeting) -> Rejected:
    assert meeting.minutes is not None
    return Rejected(
        MINUTES_ADOPTED,
        "Biên bản hội nghị đã được thông qua; không thể thêm hay sửa.",
        "The meeting's minutes are adopted; nothing can be added or changed.",
        minutes=meeting.minutes,
    )
