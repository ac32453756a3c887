"""A seeded corpus of evaluation ledgers, honest and rigged, for the fairness findings.

Each ledger is one unit over one to three yearly cycles, built act by act through the
project's own rules (``tests.evaluation.World`` driving the pure domain ``Model``), so
every act a scenario holds is one the rules admit: the rigging is done *inside* the
rules, as an interested insider would — a scorer's ballots, the whole panel's scores
in the year after a complaint, a decision below the proposal that cites a typed ground
(evidence of a kind the regime counts) which forces nothing, a member added to the
panel after the meeting.

Honest people still disagree: each cadre has a true score that drifts from year to
year, each scorer a habit (marks everyone a little high or low) and noise on every
ballot, with an occasional ballot a few points off. Honest processes include the HTXS
quota lowering a cadre on its typed ground (``quota: true``, HTXS → HTT, the HTXS
decided last so the quota is full when each is decided and at publication), forced
KHT from a real discipline record, declared conflicts of interest (before scoring),
amendments with real reasons, complaints dismissed and complaints upheld with a
corrected total. Under QĐ 366 v2 every cadre's task figures are recorded, true to how
they worked: they cap some levels (the rules' doing), and an upheld complaint corrects
them with the total.

Riggings the rules now refuse (``REFUSED``: issue 15's typed grounds, whole-panel
ballots, conflicts, complaint law, the log's day) are not faked as findings: each is
tried once inside an otherwise honest cycle (``attempted``) and the test asserts the
problem type that refuses it, with nothing stored —

- a level below the score on a free-text reason alone ("theo chỉ đạo"): ``ungrounded-level``;
- a lowering citing evidence of a kind the regime does not count: ``ungrounded-level``;
- a tally closed before a panel member present at the meeting has scored
  (``panel-change`` / ``tally-incomplete`` can now show only where a cycle sets
  ``min_ballots`` to a number): ``ballots-missing``;
- a scorer who declared a conflict scoring anyway: ``conflict-of-interest``;
- a lower re-classification after an upheld complaint: ``against-complainant``;
- a publication back-dated to close the complaint window early: ``date-from-log``;
- (in ``tests/unit/test_fairness.py``) a quota lowering the group does not need in the end:
  admitted when decided, reported as ``decision-departure``, refused at publication
  (``ungrounded-level``).

A rigged ledger is one pattern, and says what a committee should be shown:
``Expected(kind, cadre, scorer)`` — a finding of that kind naming that cadre (and
that person, where the pattern has one).

    python -m tests.scenarios.corpus    # the figures, per pattern
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.acts import Act
from domain.fields import format_points
from domain.levels import Level
from domain.regimes import PROFILES, make_profile, profile_hash
from ledger.errors import Rejected
from projections.fairness import Fairness, FairnessSettings
from tests.evaluation import World

AUTHORITY, ADVISORY, CHAIR, INSPECTION = "tham-quyen", "tham-dinh", "chu-tri", "ubkt"
# Points regimes first (QĐ 366 v2 judges task conditions on recorded task figures).
REGIMES = (("QD366", 1), ("QD366", 2), ("ND335", 1), ("QD124", 1))
POINTS_REGIMES = REGIMES[:3]
GOOD_REASONS = (
    "Bổ sung điểm tiêu chí đổi mới theo báo cáo kết quả quý 3 đã được xác nhận.",
    "Chấm sót sản phẩm quy đổi tháng 10, đã đối chiếu với sổ theo dõi công việc.",
    "Tiêu chí tự phê bình chấm trùng với năm trước; đã đối chiếu lại biên bản.",
)


@dataclass(frozen=True)
class Expected:
    """What a rigged ledger should show: a finding of ``kind`` naming ``cadre`` (if
    given) and ``scorer`` (if given)."""

    kind: str
    cadre: str | None = None
    scorer: str | None = None


@dataclass
class Plan:
    """One cycle's rigging (empty: an honest cycle)."""

    bias: dict[tuple[str, str], int] = field(default_factory=dict)  # (scorer, cadre) → points
    shift: dict[str, int] = field(default_factory=dict)  # cadre → points, every scorer
    identical: bool = False  # every scorer gives every cadre the same ballot
    uniform: bool = False  # … and every cadre the same score
    silent: bool = False  # no comment at the meeting
    added: tuple[str, dict[str, int]] | None = None  # a scorer added after the meeting
    withdrawn: str | None = None  # scores the first cadre, is then withdrawn
    directed: tuple[str, str, int] | None = None  # (scorer, cadre, +points) "theo chỉ đạo"
    depart: str | None = None  # decided one level below the proposal, on evidence
    complaints: dict[str, str] = field(default_factory=dict)  # cadre → how it is handled
    publish_after_days: int = 0
    late_decision: str | None = None  # decided after the deadline, under an exception
    attempt: str | None = None  # a rigging the rules now refuse, tried once (``REFUSED``)


@dataclass
class Ledger:
    name: str
    pattern: str  # "honest" or the rigging's name
    seed: int
    report: dict[str, Any]
    cycles: list[str]
    expected: Expected | None = None
    # Every identifier the ledger holds (people, units, cycles, groups): data a finding
    # may name, not machine text (tests/unit/test_fairness_messages.py).
    names: frozenset[str] = frozenset()


class Unit:
    """One unit's people and their habits, and its cycles built through the rules."""

    def __init__(self, seed: int, cadres: int, panel: int, regime: tuple[str, int]) -> None:
        self.rng = random.Random(seed)
        self.w = World()
        self.watcher = Fairness(FairnessSettings())
        handle = self.w.model.handle

        def observed(act: Act) -> None:
            handle(act)
            self.watcher.observe(act, self.w.model)

        self.w.model.handle = observed  # type: ignore[method-assign]
        self.regime = regime
        self.points = PROFILES[regime]["scoring"]["kind"] == "points"
        self.cadres = [f"cb.{i:02d}" for i in range(1, cadres + 1)]
        self.panel = [f"cham.{i}" for i in range(1, panel + 1)]
        self.extra = ["cham.x", "cham.y"]
        self.true = {c: self.rng.uniform(62, 93) for c in self.cadres}
        self.habit = {s: self.rng.gauss(0, 1.2) for s in [*self.panel, *self.extra]}
        self.w.clock = datetime(2023, 1, 2, 1, 0, tzinfo=UTC)  # before every cycle
        self.w.enrol(AUTHORITY, ADVISORY, CHAIR, INSPECTION, *self.panel, *self.extra)
        self.w.enrol(*self.cadres)
        self.w.act("root", "role.granted", person=AUTHORITY, role="organiser")
        self.cycles: list[str] = []
        self.target = ""  # a cadre the rigging picked itself
        self.decisions: dict[tuple[str, str], str] = {}  # (cycle, cadre) → decision event
        self.refusals: dict[str, str] = {}  # attempt → the problem type that refused it
        self.figures: dict[str, dict[str, int]] = {}  # cadre → this year's task figures

    # -- one cycle --------------------------------------------------------------------

    def cycle(self, year: int, plan: Plan | None = None) -> str:
        plan = plan or Plan()
        w, rng = self.w, self.rng
        cid = f"unit-{year}"
        self.cycles.append(cid)
        w.clock = datetime(year, 11, 2, 1, 0, tzinfo=UTC)
        for c in self.cadres:  # the year's drift of each cadre's true score
            self.true[c] = min(98.0, max(45.0, self.true[c] + rng.gauss(0, 1.5)))
        regime, version = self.regime
        on = self._on(cid)
        w.act(
            AUTHORITY,
            "cycle.opened",
            cycle=cid,
            regime={"id": regime, "version": version, "hash": profile_hash(PROFILES[self.regime])},
            year=year,
            unit="unit",
            deadline=f"{year}-12-31",
            roles={
                "authority": [AUTHORITY],
                "advisory": [ADVISORY],
                "chair": [CHAIR],
                "panel": list(self.panel),
                "inspection": [INSPECTION],
            },
        )
        on(
            AUTHORITY,
            "cycle.roster",
            subjects=[{"id": c, "name": f"Cán bộ {c}", "group": "staff"} for c in self.cadres],
        )
        for c in self.cadres:
            on(c, "self_assessment.submitted", cadre=c, report="Báo cáo tự đánh giá năm.")
        meeting = on(
            CHAIR,
            "meeting.held",
            date=w.clock.date().isoformat(),
            attendees=[CHAIR, *self.panel, *self.cadres],
        )
        comments = []
        if not plan.silent:
            for c in self.cadres:
                if rng.random() < 0.7:
                    comments.append(
                        on(
                            rng.choice(self.panel),
                            "comment.made",
                            cadre=c,
                            meeting=meeting,
                            text=f"Góp ý cho {c}: cần chủ động hơn trong công việc được giao.",
                        )
                    )
        on(CHAIR, "minutes.adopted", meeting=meeting, comments=comments, text="Biên bản hội nghị.")
        conflicted: set[tuple[str, str]] = set()
        wanted = plan.attempt == "conflicted-scorer"
        if self.points and not plan.identical and (wanted or rng.random() < 0.3):
            planned = {c for _, c in plan.bias} | {plan.directed[1] if plan.directed else ""}
            pair = (
                rng.choice(self.panel),
                rng.choice([c for c in self.cadres if c not in planned]),
            )
            on(pair[0], "conflict.declared", cadre=pair[1], reason="Là người thân trong gia đình.")
            conflicted.add(pair)
        if plan.added:
            on(AUTHORITY, "cycle.role_assigned", role="panel", person=plan.added[0])
        scores = self._scores(cid, plan, conflicted) if self.points else {}
        if plan.withdrawn:
            on(AUTHORITY, "cycle.role_withdrawn", role="panel", person=plan.withdrawn)
        if self.points:
            self._tallies(cid, scores)
        self._decide(cid, year, scores, plan)
        self._after(cid, year, plan)
        return cid

    def _on(self, cid: str) -> Callable[..., str]:
        def on(actor: str, type_: str, /, **body: Any) -> str:
            return self.w.act(actor, type_, cycle=cid, **body)

        return on

    def _ballot(self, scorer: str, cadre: str, plan: Plan) -> float:
        if plan.identical:
            return 80.0 if plan.uniform else self.true[cadre]
        noise = self.rng.gauss(0, 1.0)
        if self.rng.random() < 0.05:  # an honest ballot a few points off
            noise += self.rng.choice((-1, 1)) * self.rng.uniform(2, 4)
        value = self.true[cadre] + self.habit[scorer] + noise
        return value + plan.bias.get((scorer, cadre), 0) + plan.shift.get(cadre, 0)

    def _scores(
        self, cid: str, plan: Plan, conflicted: set[tuple[str, str]]
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """Every panel member's ballot on every cadre: (general, tasks), whole points."""
        on = self._on(cid)
        ballots: dict[str, dict[str, tuple[int, int]]] = {c: {} for c in self.cadres}
        events: dict[tuple[str, str], str] = {}
        order = list(self.panel)
        for cadre in self.cadres:
            eligible = [s for s in order if (s, cadre) not in conflicted]
            for scorer in order:
                if (scorer, cadre) in conflicted:
                    if plan.attempt == "conflicted-scorer":
                        self._try(
                            plan, cid, scorer, "score.submitted", cadre=cadre, general=20, tasks=50
                        )
                    continue
                last = scorer == eligible[-1] and cadre == self.cadres[0]
                if plan.attempt == "tally-before-panel" and last and ballots[cadre]:
                    # Closed on the ballots cast so far, counted right: short one member.
                    cast = [(g + t) * 100 for g, t in ballots[cadre].values()]
                    self._try(
                        plan,
                        cid,
                        CHAIR,
                        "tally.recorded",
                        cadre=cadre,
                        ballots=len(cast),
                        total=format_points(mean(cast)),
                    )
                if plan.withdrawn == scorer and cadre != self.cadres[0]:
                    continue
                total = max(40, min(100, round(self._ballot(scorer, cadre, plan))))
                general = min(30, round(total * 0.3))
                ballots[cadre][scorer] = (general, total - general)
                events[(scorer, cadre)] = on(
                    scorer, "score.submitted", cadre=cadre, general=general, tasks=total - general
                )
        if plan.added:
            person, favoured = plan.added
            for cadre in self.cadres:
                lift = favoured.get(cadre)
                if lift is None:
                    continue
                total = max(40, min(100, round(self.true[cadre] + lift)))
                general = min(30, round(total * 0.3))
                ballots[cadre][person] = (general, total - general)
                on(person, "score.submitted", cadre=cadre, general=general, tasks=total - general)
        if plan.directed:
            scorer, cadre, lift = plan.directed
            g, t = ballots[cadre][scorer]
            new_t = min(70, t + lift)
            ballots[cadre][scorer] = (g, new_t)
            on(
                scorer,
                "score.amended",
                cadre=cadre,
                amends=events[(scorer, cadre)],
                general=g,
                tasks=new_t,
                reason="Theo chỉ đạo của lãnh đạo.",
            )
        # An honest amendment, with a real reason, now and then.
        if not plan.identical and self.rng.random() < 0.3:
            scorer, cadre = self.rng.choice(sorted(events))
            if scorer in ballots[cadre] and scorer != (plan.directed or ("",))[0]:
                g, t = ballots[cadre][scorer]
                new_t = max(0, min(70, t + self.rng.choice((-1, 1))))
                ballots[cadre][scorer] = (g, new_t)
                on(
                    scorer,
                    "score.amended",
                    cadre=cadre,
                    amends=events[(scorer, cadre)],
                    general=g,
                    tasks=new_t,
                    reason=self.rng.choice(GOOD_REASONS),
                )
        return ballots

    def _try(self, plan: Plan, cid: str, actor: str, type_: str, /, **body: Any) -> None:
        """Try the plan's refused rigging once: the problem type that refused it is kept
        (nothing is stored), or "admitted" if the rules let it through."""
        assert plan.attempt is not None
        try:
            self._on(cid)(actor, type_, **body)
        except Rejected as e:
            self.refusals.setdefault(plan.attempt, e.problem.slug)
        else:
            self.refusals.setdefault(plan.attempt, "admitted")

    def _tallies(self, cid: str, scores: dict[str, dict[str, tuple[int, int]]]) -> None:
        on = self._on(cid)
        for cadre, ballots in scores.items():
            totals = [(g + t) * 100 for g, t in ballots.values()]
            on(
                CHAIR,
                "tally.recorded",
                cadre=cadre,
                ballots=len(totals),
                total=format_points(mean(totals)),
            )

    def _decide(
        self, cid: str, year: int, scores: dict[str, dict[str, tuple[int, int]]], plan: Plan
    ) -> None:
        """Proposals for all, then decisions (HTXS last, within the quota)."""
        on, rng = self._on(cid), self.rng
        level: dict[str, str] = {}
        total: dict[str, int] = {}
        for cadre in self.cadres:
            if self.points:
                totals = [(g + t) * 100 for g, t in scores[cadre].values()]
                total[cadre] = mean(totals)
                level[cadre] = by_threshold(total[cadre])
            else:
                true = 80.0 if plan.uniform else self.true[cadre]
                level[cadre] = "HTXS" if true >= 90 else "HTT" if true >= 72 else "HT"
                total[cadre] = round(true * 100)
        reasons: dict[str, str] = {}
        if "task_conditions" in PROFILES[self.regime]:
            self._task_figures(cid, level)
        # A real discipline record forces KHT now and then (honest).
        if not plan.identical and rng.random() < 0.25:
            cadre = rng.choice(self.cadres)
            on(
                INSPECTION,
                "evidence.recorded",
                cadre=cadre,
                kind="discipline",
                form="khien_trach",
                duty_related=True,
                decided=f"{year}-06-10",
                text="Quyết định kỷ luật khiển trách do vi phạm quy chế làm việc.",
            )
            level[cadre] = "KHT"
        # The HTXS quota of the group: the best keep HTXS, the rest HTT with the reason.
        best = sorted((c for c in self.cadres if level[c] == "HTXS"), key=lambda c: -total[c])
        htt = sum(1 for c in self.cadres if level[c] == "HTT")
        keep = len(best)
        while keep and keep > (htt + len(best) - keep) // 5:
            keep -= 1
        for cadre in best[keep:]:
            level[cadre] = "HTT"
            reasons[cadre] = "Vượt tỷ lệ HTXS của nhóm (tối đa 20% số HTT): xếp HTT."
        if not self.points:
            reasons.clear()
        proposed = dict(level)
        if plan.depart == "?":  # lowering an HTT would shrink the HTXS quota's base
            fits = [c for c in self.cadres if level[c] == "HT"]
            fits = fits or [c for c in self.cadres if level[c] == "HTXS"]
            plan.depart = rng.choice(fits or self.cadres)
            self.target = plan.depart
        for cadre in self.cadres:
            # The quota is a typed ground (checked again at every decision and at
            # publication); the decision that follows the proposal inherits it.
            extra = {"reason": reasons[cadre], "quota": True} if cadre in reasons else {}
            on(ADVISORY, "appraisal.proposed", cadre=cadre, level=proposed[cadre], **extra)
        cited = ""
        if plan.depart:  # after the proposal: real evidence the decision then cites
            cited = self._departure_ground(plan.depart, year)
        if plan.late_decision:
            on(
                AUTHORITY,
                "exception.recorded",
                acts=["decision.issued"],
                until=f"{year + 1}-01-20",
                reason="Chờ kết luận của cấp trên.",
            )
        first = [c for c in self.cadres if proposed[c] != "HTXS" and c != plan.depart]
        if plan.attempt in ("free-text-lowering", "uncounted-evidence"):
            self._lowering(cid, plan, [c for c in first if proposed[c] != "KHT"], proposed)
        last = [c for c in self.cadres if c not in first]
        for cadre in [*first, *sorted(last, key=lambda c: c == plan.depart)]:
            decided, extra = proposed[cadre], {}
            if cadre == plan.depart:
                decided = LOWER[proposed[cadre]]
                extra = {
                    "reason": "Chưa hoàn thành một số nhiệm vụ được giao.",
                    "evidence": [cited],
                }
            if cadre == plan.late_decision:
                self.w.clock = datetime(year + 1, 1, 5, 1, 0, tzinfo=UTC)
            self.decisions[(cid, cadre)] = on(
                AUTHORITY, "decision.issued", cadre=cadre, level=decided, **extra
            )
            self.w.clock = max(self.w.clock, datetime(year, 11, 2, 1, 0, tzinfo=UTC))
        self.level = {c: proposed[c] for c in self.cadres}
        if plan.depart:
            self.level[plan.depart] = LOWER[proposed[plan.depart]]
        self.total = total

    def _task_figures(self, cid: str, level: dict[str, str]) -> None:
        """The year's task figures of every cadre (QĐ 366 v2), true to how they worked:
        they cap the level where the score alone would give more (an HTXS score with
        too few tasks beyond requirements is HTT), which is the rules' doing, not a sign."""
        profile, rng, on = make_profile(PROFILES[self.regime], {}), self.rng, self._on(cid)
        for cadre in self.cadres:
            worked = by_threshold(round(self.true[cadre] * 100))
            figures = {
                "HTXS": {"done": 100, "on_time": 100, "exceeded": rng.randint(10, 60), "late": 0},
                "HTT": {"done": 100, "on_time": 100, "exceeded": rng.randint(0, 25), "late": 0},
                "HT": {"done": 100, "on_time": rng.randint(80, 99), "exceeded": 0, "late": 10},
            }.get(worked, {"done": rng.randint(70, 95), "on_time": 60, "exceeded": 0, "late": 40})
            on(
                ADVISORY,
                "evidence.recorded",
                cadre=cadre,
                kind="task_figures",
                text="Số liệu thực hiện nhiệm vụ năm.",
                **figures,
            )
            self.figures[cadre] = figures
            while level[cadre] != "KHT" and not profile.task_conditions_met(
                Level(level[cadre]), figures
            ):
                level[cadre] = LOWER[level[cadre]]

    def _departure_ground(self, cadre: str, year: int) -> str:
        """Evidence a lowered decision may cite (its kind is one the regime counts) but
        that forces nothing: under QĐ 366 a share of tasks failed far below the 50 % that
        forces KHT; under NĐ 335, whose only staff ground is discipline, a reprimand
        decided the year before (it forces KHT only in its own year)."""
        on = self._on(self.cycles[-1])
        if "tasks_failed" in PROFILES[self.regime]["forced_kht"]:
            return on(
                ADVISORY,
                "evidence.recorded",
                cadre=cadre,
                kind="tasks_failed",
                percent=self.rng.randint(5, 30),
                text="Một số nhiệm vụ chưa hoàn thành đúng hạn.",
            )
        return on(
            ADVISORY,
            "evidence.recorded",
            cadre=cadre,
            kind="discipline",
            form="khien_trach",
            duty_related=True,
            decided=f"{year - 1}-09-15",
            text="Quyết định kỷ luật khiển trách năm trước.",
        )

    def _lowering(self, cid: str, plan: Plan, cadres: list[str], proposed: dict[str, str]) -> None:
        """A decision one level below the proposal (and the score) on a free-text reason
        alone, or citing evidence of a kind the regime does not count."""
        cadre = cadres[0]
        body: dict[str, Any] = {"reason": "Theo chỉ đạo của lãnh đạo đơn vị."}
        if plan.attempt == "uncounted-evidence":
            body["evidence"] = [
                self._on(cid)(
                    ADVISORY,
                    "evidence.recorded",
                    cadre=cadre,
                    kind="criteria_failed",  # a criteria regimes' kind: no ground here
                    percent=10,
                    text="Một tiêu chí chưa đạt.",
                )
            ]
        level = LOWER[proposed[cadre]]
        self._try(plan, cid, AUTHORITY, "decision.issued", cadre=cadre, level=level, **body)

    def against_complainant(self, year: int) -> None:
        """After an upheld complaint, the authority re-classifies the complainant one
        level lower, on a ground the regime counts."""
        cid, on, w = self.cycles[-1], self._on(self.cycles[-1]), self.w
        plan = Plan(attempt="lower-after-upheld")
        cadre = next(c for c in self.cadres if self.level[c] in ("HTT", "HT"))
        w.clock += timedelta(days=5)
        against = self.decisions[(cid, cadre)]
        filed = on(cadre, "complaint.filed", cadre=cadre, against=against, grounds="Chưa đúng.")
        w.clock += timedelta(days=3)
        on(INSPECTION, "complaint.accepted", cadre=cadre, complaint=filed)
        w.clock += timedelta(days=10)
        resolution = on(
            INSPECTION,
            "complaint.resolved",
            cadre=cadre,
            complaint=filed,
            upheld=True,
            finding="Khiếu nại có cơ sở.",
        )
        ground = self._departure_ground(cadre, year)
        self._try(
            plan,
            cid,
            AUTHORITY,
            "decision.revised",
            cadre=cadre,
            supersedes=against,
            cause=resolution,
            reason="Xếp loại lại.",
            level=LOWER[self.level[cadre]],
            evidence=[ground],
        )

    def _after(self, cid: str, year: int, plan: Plan) -> None:
        """Notices, publication, complaints."""
        on, w = self._on(cid), self.w
        for cadre in self.cadres:
            on(AUTHORITY, "notice.sent", cadre=cadre)
        w.clock += timedelta(days=2 + plan.publish_after_days)
        if plan.attempt == "back-dated-publication":  # to close the complaint window early
            self._try(plan, cid, AUTHORITY, "result.published", date=f"{year}-11-01")
        on(AUTHORITY, "result.published")
        for cadre, how in sorted(plan.complaints.items()):
            w.clock += timedelta(days=5)
            against = self.decisions[(cid, cadre)]
            filed = on(
                cadre,
                "complaint.filed",
                cadre=cadre,
                against=against,
                grounds="Tôi cho rằng kết quả xếp loại chưa phản ánh đúng.",
            )
            if how == "ignored":
                continue
            resolver = AUTHORITY if how == "self-resolved" else INSPECTION
            w.clock += timedelta(days=3)
            on(resolver, "complaint.accepted", cadre=cadre, complaint=filed)
            if how == "retaliate-evidence":
                on(
                    INSPECTION,
                    "evidence.recorded",
                    cadre=cadre,
                    kind="tasks_failed",
                    percent=self.rng.randint(10, 40),
                    text="Phát hiện một số nhiệm vụ chưa hoàn thành.",
                )
            w.clock += timedelta(days=10)
            # Upheld where a remedy fits (HT lifted to HTT); otherwise dismissed.
            upheld = how == "upheld" and self.level[cadre] == "HT"
            resolution = on(
                resolver,
                "complaint.resolved",
                cadre=cadre,
                complaint=filed,
                upheld=upheld,
                finding="Đã xem xét hồ sơ và các phiếu chấm.",
            )
            if upheld:  # the tally missed a criterion: the corrected total lifts the level
                corrected = max(self.total[cadre] + 300, 7000)
                if cadre in self.figures:  # … and the tasks counted late were on time
                    on(
                        INSPECTION,
                        "evidence.recorded",
                        cadre=cadre,
                        kind="task_figures",
                        text="Số liệu nhiệm vụ sau khi đối chiếu lại theo khiếu nại.",
                        **{**self.figures[cadre], "done": 100, "on_time": 100, "late": 0},
                    )
                on(
                    AUTHORITY,
                    "decision.revised",
                    cadre=cadre,
                    supersedes=against,
                    cause=resolution,
                    reason="Khiếu nại được chấp nhận: cộng điểm tiêu chí bị chấm sót.",
                    level="HTT",
                    **({"total": format_points(corrected)} if self.points else {}),
                )
        # The ignored complaint's time runs on as the cycle's other business goes on.
        if "ignored" in plan.complaints.values():
            w.clock += timedelta(days=25)
            on(INSPECTION, "finding.recorded", cadre=self.cadres[-1], text="Kiểm tra định kỳ.")

    def report(self) -> dict[str, Any]:
        return self.watcher.report(self.w.model)

    def names(self) -> frozenset[str]:
        model = self.w.model
        found = set(model.registry.people) | set(model.registry.units) | set(model.cycles)
        for cycle in model.cycles.values():
            for ev in cycle.evaluations.values():
                found |= {ev.subject.id, ev.subject.group}
        return frozenset(found)


LOWER = {"HTXS": "HTT", "HTT": "HT", "HT": "KHT", "KHT": "KHT"}


def mean(values: list[int]) -> int:
    """As the tally counts it: hundredths, rounded half away from zero."""
    total, count = sum(values), len(values)
    return (2 * total + count) // (2 * count)


def by_threshold(total: int) -> str:
    return "HTXS" if total >= 9000 else "HTT" if total >= 7000 else "HT" if total >= 5000 else "KHT"


# -- the ledgers ------------------------------------------------------------------------


def _shape(rng: random.Random, points_only: bool = False) -> tuple[int, int, tuple[str, int]]:
    regimes = POINTS_REGIMES if points_only else REGIMES
    return rng.randint(5, 30), rng.choice((3, 3, 4, 5, 7, 9)), rng.choice(regimes)


def honest(seed: int) -> Ledger:
    rng = random.Random(seed)
    cadres, panel, regime = _shape(rng)
    unit = Unit(seed, cadres, panel, regime)
    years = rng.randint(1, 3)
    for i, year in enumerate(range(2023, 2023 + years)):
        plan = Plan()
        if rng.random() < 0.5:  # an honest complaint, dismissed or upheld
            plan.complaints[rng.choice(unit.cadres)] = rng.choice(("dismissed", "upheld"))
        if i == 0 and rng.random() < 0.3:  # the same cadres, the same panel
            pass
        unit.cycle(year, plan)
    return Ledger(f"honest-{seed}", "honest", seed, unit.report(), unit.cycles, names=unit.names())


def _rigged(pattern: str, seed: int) -> Ledger:
    rng = random.Random(seed)
    cadres, panel, regime = _shape(rng, points_only=pattern not in CRITERIA_OK)
    unit = Unit(seed, cadres, panel, regime)
    target = rng.choice(unit.cadres)
    scorer = rng.choice(unit.panel)
    expected: Expected
    if pattern in ("favour", "suppress"):
        sign = 1 if pattern == "favour" else -1
        years = rng.randint(2, 3)
        for year in range(2023, 2023 + years):
            unit.cycle(year, Plan(bias={(scorer, target): sign * rng.randint(5, 12)}))
        expected = Expected("scorer-bias", target, scorer)
    elif pattern in ("favour-once", "suppress-once"):
        sign = 1 if pattern == "favour-once" else -1
        unit.cycle(2025, Plan(bias={(scorer, target): sign * rng.randint(6, 12)}))
        expected = Expected("ballot-deviation", target, scorer)
    elif pattern == "retaliation-next":
        unit.cycle(2024, Plan(complaints={target: rng.choice(("dismissed", "upheld"))}))
        unit.cycle(2025, Plan(shift={target: -rng.randint(6, 12)}))
        expected = Expected("retaliation", target)
    elif pattern == "retaliation-same":
        unit.cycle(2025, Plan(complaints={target: "retaliate-evidence"}))
        expected = Expected("retaliation", target)
    elif pattern == "departure":
        unit.cycle(2025, Plan(depart="?"))
        expected = Expected("decision-departure", unit.target)
    elif pattern == "panel-added":
        lift = {target: rng.randint(4, 10)}
        unit.cycle(2025, Plan(added=("cham.x", lift)))
        expected = Expected("panel-change", target, "cham.x")
    elif pattern == "panel-withdrawn":
        unit.cycle(2025, Plan(withdrawn=scorer))
        expected = Expected("panel-change", None, scorer)
    elif pattern == "formalism":
        signs = rng.choice(((True, True, True), (True, True, False), (True, False, True)))
        identical, silent, uniform = signs if unit.points else (False, True, True)
        unit.cycle(2025, Plan(identical=identical, silent=silent, uniform=uniform))
        expected = Expected("formalism")
    elif pattern == "complaint-ignored":
        unit.cycle(2025, Plan(complaints={target: "ignored"}))
        expected = Expected("complaint-unanswered", target)
    elif pattern == "conflict":
        unit.cycle(2025, Plan(complaints={target: "self-resolved"}))
        expected = Expected("undeclared-conflict", target, AUTHORITY)
    elif pattern == "late-publication":
        unit.cycle(2025, Plan(publish_after_days=rng.randint(35, 90)))
        expected = Expected("late-publication")
    elif pattern == "directed-amendment":
        unit.cycle(2025, Plan(directed=(scorer, target, rng.randint(2, 6))))
        expected = Expected("amendments", target, scorer)
    elif pattern == "late-decision":
        unit.cycle(2025, Plan(late_decision=target))
        expected = Expected("deadline")
    else:
        raise ValueError(pattern)
    return Ledger(
        f"{pattern}-{seed}", pattern, seed, unit.report(), unit.cycles, expected, unit.names()
    )


PATTERNS = (
    "favour",
    "suppress",
    "favour-once",
    "suppress-once",
    "retaliation-next",
    "retaliation-same",
    "departure",
    "panel-added",
    "panel-withdrawn",
    "formalism",
    "complaint-ignored",
    "conflict",
    "late-publication",
    "directed-amendment",
    "late-decision",
)
# Patterns that need no points, tried on criteria regimes too.
CRITERIA_OK = frozenset({"formalism", "complaint-ignored", "conflict", "late-publication"})


@dataclass(frozen=True)
class Refused:
    """A rigging the corpus of issue 16 could play that the rules now refuse: the problem
    type that refuses it, and the rule."""

    problem: str
    rule: str


REFUSED = {
    "free-text-lowering": Refused(
        "ungrounded-level",
        "a level below the score's cites typed grounds (evidence of a kind the regime "
        "counts, the confidence tally, the quota, the collective); a reason is not one",
    ),
    "uncounted-evidence": Refused(
        "ungrounded-level",
        "cited evidence must be of a kind the regime's forced-KHT list counts",
    ),
    "tally-before-panel": Refused(
        "ballots-missing",
        "a tally needs the ballot of every panel member present at the meeting (less the "
        "subject and the conflicted)",
    ),
    "conflicted-scorer": Refused(
        "conflict-of-interest", "a declared conflict bars the ballot, proposal and decision"
    ),
    "lower-after-upheld": Refused(
        "against-complainant", "a re-classification after an upheld complaint is not lower"
    ),
    "back-dated-publication": Refused(
        "date-from-log",
        "publication takes no date: its day, and so the complaint window, are the log's",
    ),
}


def attempted(name: str, seed: int) -> Unit:
    """A unit whose cycle tries the refused rigging ``name`` once, then goes on honestly
    (the refused act stored nothing); ``unit.refusals[name]`` is what refused it."""
    rng = random.Random(seed)
    cadres, panel, regime = _shape(rng, points_only=True)
    unit = Unit(seed, cadres, panel, regime)
    if name == "lower-after-upheld":
        unit.cycle(2025)
        unit.against_complainant(2025)
    else:
        unit.cycle(2025, Plan(attempt=name))
    return unit


def corpus(honest_count: int = 40, per_pattern: int = 8, base: int = 1000) -> Iterator[Ledger]:
    for i in range(honest_count):
        yield honest(base + i)
    for p, pattern in enumerate(PATTERNS):
        for i in range(per_pattern):
            yield _rigged(pattern, base + 100 * (p + 1) + i)


# -- measuring --------------------------------------------------------------------------


def detected(ledger: Ledger, at_least: str = "low") -> bool:
    rank = {"low": 0, "medium": 1, "high": 2}
    want = ledger.expected
    assert want is not None
    for f in ledger.report["findings"]:
        if f["kind"] != want.kind or rank[f["severity"]] < rank[at_least]:
            continue
        if want.cadre is not None and f["cadre"] not in (want.cadre, "*"):
            continue
        if want.cadre is not None and f["cadre"] == "*" and want.cadre not in str(f["detail"]):
            continue
        if want.scorer is not None and f["scorer"] != want.scorer:
            continue
        return True
    return False


def serious(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    """Per cycle, the findings of severity medium or high (cross-cycle ones under each
    cycle they cite)."""
    found: dict[str, list[dict[str, Any]]] = {c: [] for c in ledger.cycles}
    for f in ledger.report["findings"]:
        if f["severity"] == "low":
            continue
        cycles = f["detail"].get("cycles") if f["cycle"] == "*" else [f["cycle"]]
        for c in cycles or ledger.cycles:
            found.setdefault(c, []).append(f)
    return found


@dataclass
class Figures:
    recall: dict[str, tuple[int, int]]  # pattern → (flagged with the right kind, of)
    recall_medium: dict[str, tuple[int, int]]
    honest_cycles: int
    honest_cycles_flagged: int
    honest_ledgers: int
    honest_ledgers_flagged: int
    false_kinds: dict[str, int]
    missed: list[str]

    @property
    def overall_recall(self) -> float:
        hit = sum(h for h, _ in self.recall.values())
        return hit / max(1, sum(n for _, n in self.recall.values()))

    @property
    def false_positive_rate(self) -> float:
        return self.honest_cycles_flagged / max(1, self.honest_cycles)

    def table(self) -> str:
        lines = [f"{'pattern':<20} {'recall':>8} {'≥ medium':>9}"]
        for pattern, (hit, n) in self.recall.items():
            med = self.recall_medium[pattern][0]
            lines.append(f"{pattern:<20} {hit:>4}/{n:<3} {med:>5}/{n:<3}")
        lines.append(f"overall recall: {self.overall_recall:.1%}")
        lines.append(
            f"honest cycles with a finding ≥ medium: {self.honest_cycles_flagged}/"
            f"{self.honest_cycles} = {self.false_positive_rate:.1%} (ledgers: "
            f"{self.honest_ledgers_flagged}/{self.honest_ledgers}); kinds: {self.false_kinds}"
        )
        if self.missed:
            lines.append("missed: " + ", ".join(self.missed))
        return "\n".join(lines)


def measure(ledgers: list[Ledger]) -> Figures:
    recall: dict[str, list[int]] = {p: [0, 0] for p in PATTERNS}
    medium: dict[str, list[int]] = {p: [0, 0] for p in PATTERNS}
    cycles = flagged = ledgers_flagged = honest_n = 0
    kinds: dict[str, int] = {}
    missed = []
    for ledger in ledgers:
        if ledger.pattern == "honest":
            honest_n += 1
            per_cycle = serious(ledger)
            cycles += len(ledger.cycles)
            hits = [c for c in ledger.cycles if per_cycle.get(c)]
            flagged += len(hits)
            ledgers_flagged += bool(hits)
            for c in hits:
                for f in per_cycle[c]:
                    kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
            continue
        recall[ledger.pattern][1] += 1
        medium[ledger.pattern][1] += 1
        if detected(ledger):
            recall[ledger.pattern][0] += 1
        else:
            missed.append(ledger.name)
        if detected(ledger, "medium"):
            medium[ledger.pattern][0] += 1
    return Figures(
        {p: (h, n) for p, (h, n) in recall.items()},
        {p: (h, n) for p, (h, n) in medium.items()},
        cycles,
        flagged,
        honest_n,
        ledgers_flagged,
        kinds,
        missed,
    )


if __name__ == "__main__":
    print(measure(list(corpus())).table())
