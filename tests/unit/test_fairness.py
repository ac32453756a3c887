"""The fairness findings, one rule at a time, on small ledgers built through the rules.

Each test is the case an interested insider or an honest panel would make: the
favouring scorer named and the honest ones not, a quota lowering left alone, a
lowering on evidence that forces nothing reported, a sealed reason said to be not
judged, a retaliation by the whole panel in the next year found.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.acts import Act
from domain.fields import format_points
from domain.regimes import PROFILES, profile_hash
from ledger.errors import Rejected
from projections.fairness import (
    NOT_JUDGED,
    Fairness,
    judge_reason,
    judge_sealed_reasons,
    quota_full,
)
from projections.fairness_kinds import KINDS
from tests.evaluation import World
from tests.scenarios.corpus import mean

AUTH, ADV, CHAIR, UBKT = "tham-quyen", "tham-dinh", "chu-tri", "ubkt"
PANEL = ["cham.1", "cham.2", "cham.3"]
CADRES = ["cb.1", "cb.2", "cb.3", "cb.4", "cb.5"]
MORE = ["cb.6", "cb.7", "cb.8"]


class Unit:
    """A unit with a watcher, its cycles acted out by hand (every number chosen)."""

    def __init__(self, *, seal: bool = False) -> None:
        self.w = World(seal=seal)
        self.watcher = Fairness()
        handle = self.w.model.handle

        def observed(act: Act) -> None:
            handle(act)
            self.watcher.observe(act, self.w.model)

        self.w.model.handle = observed  # type: ignore[method-assign]
        self.w.clock = datetime(2023, 1, 2, tzinfo=UTC)
        self.w.enrol(AUTH, ADV, CHAIR, UBKT, *PANEL, "cham.x", *CADRES, *MORE)
        self.w.act("root", "role.granted", person=AUTH, role="organiser")
        self.ballots: dict[tuple[str, str], str] = {}
        self.decisions: dict[str, str] = {}

    def on(self, cycle: str, actor: str, type_: str, /, **body: Any) -> str:
        return self.w.act(actor, type_, cycle=cycle, **body)

    def open(
        self, year: int, *, comments: bool = True, roster: list[str] = CADRES, version: int = 1
    ) -> tuple[str, str]:
        cycle = f"c-{year}"
        self.w.clock = datetime(year, 11, 2, 1, tzinfo=UTC)
        profile = PROFILES[("QD366", version)]
        pinned = {"id": "QD366", "version": version, "hash": profile_hash(profile)}
        roles = {"authority": [AUTH], "advisory": [ADV], "chair": [CHAIR], "panel": PANEL}
        self.on(
            cycle,
            AUTH,
            "cycle.opened",
            regime=pinned,
            year=year,
            unit="u",
            roles={**roles, "inspection": [UBKT]},
        )
        subjects = [{"id": c, "name": c, "group": "staff"} for c in roster]
        self.on(cycle, AUTH, "cycle.roster", subjects=subjects)
        for c in roster:
            self.on(cycle, c, "self_assessment.submitted", cadre=c, report="Báo cáo.")
        meeting = self.on(
            cycle, CHAIR, "meeting.held", date=f"{year}-11-02", attendees=[CHAIR, *PANEL, *roster]
        )
        said = []
        if comments:
            for c in roster:
                said.append(
                    self.on(
                        cycle,
                        PANEL[0],
                        "comment.made",
                        cadre=c,
                        meeting=meeting,
                        text="Cần cố gắng hơn nữa.",
                    )
                )
        self.on(cycle, CHAIR, "minutes.adopted", meeting=meeting, comments=said, text="Biên bản.")
        return cycle, meeting

    def score(self, cycle: str, cadre: str, totals: dict[str, int]) -> None:
        for scorer, total in totals.items():
            general = min(30, total * 3 // 10)
            self.ballots[(scorer, cadre)] = self.on(
                cycle,
                scorer,
                "score.submitted",
                cadre=cadre,
                general=general,
                tasks=total - general,
            )

    def tally(self, cycle: str, cadre: str) -> None:
        ev = self.w.model.cycles[cycle].evaluations[cadre]
        totals = [b.total for b in ev.ballots.values()]
        self.on(
            cycle,
            CHAIR,
            "tally.recorded",
            cadre=cadre,
            ballots=len(totals),
            total=format_points(mean(totals)),
        )

    def decide(
        self,
        cycle: str,
        cadre: str,
        level: str,
        *,
        decided: str | None = None,
        reason: str | None = None,
        quota: bool = False,
    ) -> None:
        extra: dict[str, Any] = {"reason": reason} if reason else {}
        if quota:  # the typed ground of a lowering for the group's HTXS quota
            extra["quota"] = True
        self.on(cycle, ADV, "appraisal.proposed", cadre=cadre, level=level, **extra)
        if decided and decided != level:
            extra = {"reason": "Chưa hoàn thành một số nhiệm vụ."}
        self.decisions[cadre] = self.on(
            cycle, AUTH, "decision.issued", cadre=cadre, level=decided or level, **extra
        )

    def honest_cycle(self, year: int, scores: dict[str, dict[str, int]]) -> str:
        cycle, _ = self.open(year)
        for cadre in CADRES:
            self.score(cycle, cadre, scores[cadre])
            self.tally(cycle, cadre)
        for cadre in CADRES:
            total = mean([t * 100 for t in scores[cadre].values()])
            self.decide(cycle, cadre, _level(total))
        for cadre in CADRES:
            self.on(cycle, AUTH, "notice.sent", cadre=cadre)
        self.on(cycle, AUTH, "result.published")
        return cycle

    def report(self) -> dict[str, Any]:
        return self.watcher.report(self.w.model)


def _level(total: int) -> str:
    return "HTXS" if total >= 9000 else "HTT" if total >= 7000 else "HT"


def _plain(base: dict[str, int]) -> dict[str, dict[str, int]]:
    """Every cadre scored ``base[cadre]`` by the panel, ±1 by scorer (honest noise)."""
    return {c: {s: base[c] + (i % 3) - 1 for i, s in enumerate(PANEL)} for c in CADRES}


BASE = {"cb.1": 75, "cb.2": 80, "cb.3": 66, "cb.4": 85, "cb.5": 78}


def kinds(report: dict[str, Any], severity: str = "low") -> set[tuple[str, str, str | None]]:
    rank = {"low": 0, "medium": 1, "high": 2}
    return {
        (f["kind"], f["cadre"], f["scorer"])
        for f in report["findings"]
        if rank[f["severity"]] >= rank[severity]
    }


def test_an_honest_unit_has_no_finding_to_examine() -> None:
    unit = Unit()
    unit.honest_cycle(2024, _plain(BASE))
    unit.honest_cycle(2025, _plain({c: v + 1 for c, v in BASE.items()}))
    report = unit.report()
    assert report["findings"] == [], report["findings"]
    assert set(report["kinds"]) == set(KINDS)  # the catalogue travels with the report
    assert report["scorers"]["cham.1"]["ballots"] == 10


def test_a_favouring_scorer_on_a_panel_of_three_is_named_and_the_honest_two_are_not() -> None:
    """75/75/90 in two cycles: the one who deviates is singled out, with the statistic
    and its threshold; the two honest members are not "down" beside them."""
    unit = Unit()
    for year in (2024, 2025):
        scores = _plain(BASE)
        scores["cb.1"] = {"cham.1": 75, "cham.2": 75, "cham.3": 90}
        unit.honest_cycle(year, scores)
    report = unit.report()
    named = {(f["kind"], f["scorer"]) for f in report["findings"] if f["cadre"] == "cb.1"}
    assert ("scorer-bias", "cham.3") in named
    assert ("ballot-deviation", "cham.3") in named
    assert not {s for k, s in named if s in ("cham.1", "cham.2")}, named
    bias = next(f for f in report["findings"] if f["kind"] == "scorer-bias")
    assert bias["severity"] in ("medium", "high")
    assert bias["statistic"]["value"] <= bias["statistic"]["threshold"]
    # 15 points from the rest, less cham.3's own habit (+1.5 on every other cadre).
    assert bias["statistic"]["mean_deviation_points"] == "+13.50"
    assert len(bias["events"]) == len(bias["positions"]) == 2
    assert bias["positions"] == sorted(bias["positions"])
    deviation = next(f for f in report["findings"] if f["kind"] == "ballot-deviation")
    assert deviation["statistic"]["threshold"] == 3.0
    assert deviation["statistic"]["deviation_points"] == "+13.50"
    assert report["scorers"]["cham.3"]["favours"] == {"cb.1": 2}
    assert report["scorers"]["cham.1"]["marks_down"] == {}


def test_a_ballot_a_few_points_off_a_tight_panel_is_not_named() -> None:
    """The spread never counts as less than its floor, and a deviation is named only
    from the minimum effect: 3 points from a panel that agrees to the point is honest."""
    unit = Unit()
    scores = {c: {s: BASE[c] for s in PANEL} for c in CADRES}
    scores["cb.2"] = {"cham.1": 80, "cham.2": 80, "cham.3": 83}
    unit.honest_cycle(2025, scores)
    assert not [f for f in unit.report()["findings"] if f["kind"] == "ballot-deviation"]


def test_a_quota_lowering_is_not_reported_but_a_lowering_on_evidence_that_forces_nothing_is() -> (
    None
):
    unit = Unit()
    cycle, _ = unit.open(2025)
    scores = {"cb.1": 95, "cb.2": 94, "cb.3": 80, "cb.4": 81, "cb.5": 79}
    for cadre, total in scores.items():
        unit.score(cycle, cadre, {s: total for s in PANEL})
        unit.tally(cycle, cadre)
    # Four HTT would allow no HTXS (20 %): cb.1 and cb.2 are lowered for the quota, on
    # its typed ground. cb.3 is proposed HTT, then the decision says HT citing a record of
    # a kind the regime counts (tasks failed) but that forces nothing: 5 %, not over 50 %.
    unit.on(cycle, ADV, "appraisal.proposed", cadre="cb.3", level="HTT")
    late = unit.on(
        cycle,
        ADV,
        "evidence.recorded",
        cadre="cb.3",
        kind="tasks_failed",
        percent=5,
        text="Một nhiệm vụ trễ hạn.",
    )
    unit.on(
        cycle, AUTH, "decision.issued", cadre="cb.3", level="HT", reason="Trễ hạn.", evidence=[late]
    )
    for cadre in ("cb.4", "cb.5"):
        unit.decide(cycle, cadre, "HTT")
    unit.decide(cycle, "cb.2", "HTT", reason="Vượt tỷ lệ HTXS của nhóm.", quota=True)
    unit.decide(cycle, "cb.1", "HTT", reason="Vượt tỷ lệ HTXS của nhóm.", quota=True)
    for cadre in CADRES:
        unit.on(cycle, AUTH, "notice.sent", cadre=cadre)
    unit.on(cycle, AUTH, "result.published")  # the rules find the quota full in the end too
    found = kinds(unit.report())
    assert ("decision-departure", "cb.3", AUTH) in found  # below the proposal, 5 % forces nothing
    assert not [k for k in found if k[1] in ("cb.1", "cb.2")], found
    departure = next(f for f in unit.report()["findings"] if f["kind"] == "decision-departure")
    assert departure["severity"] == "high" and departure["detail"]["direction"] == "down"
    assert departure["detail"]["evidence"][0]["kind"] == "tasks_failed"
    assert departure["detail"]["grounds"] == [
        {"rule": "lowered_on", "kind": "tasks_failed", "event": late}
    ]
    assert departure["detail"]["reason"] == "Trễ hạn."


def test_a_lowering_on_evidence_that_forces_nothing_is_reported_even_as_proposed() -> None:
    """The advisory body proposes the lowering itself, citing a 10 % task record: the
    decision follows the proposal, so only the score is its yardstick — and the record
    forces nothing, so the level below the score's is still a sign."""
    unit = Unit()
    cycle, _ = unit.open(2025)
    for cadre, total in {"cb.1": 80, "cb.2": 82, "cb.3": 78, "cb.4": 81, "cb.5": 79}.items():
        unit.score(cycle, cadre, {s: total for s in PANEL})
        unit.tally(cycle, cadre)
    record = unit.on(
        cycle, ADV, "evidence.recorded", cadre="cb.3", kind="tasks_failed", percent=10, text="Trễ."
    )
    unit.on(
        cycle,
        ADV,
        "appraisal.proposed",
        cadre="cb.3",
        level="HT",
        reason="Chưa hoàn thành nhiệm vụ.",
        evidence=[record],
    )
    unit.on(cycle, AUTH, "decision.issued", cadre="cb.3", level="HT")
    (found,) = [f for f in unit.report()["findings"] if f["kind"] == "decision-departure"]
    assert found["cadre"] == "cb.3" and found["severity"] == "medium"
    assert (found["detail"]["score_gives"], found["detail"]["level"]) == ("HTT", "HT")
    assert found["detail"]["grounds"][0]["event"] == record


def test_a_quota_lowering_the_group_no_longer_needs_is_reported() -> None:
    """Lowered for the quota first, when no HTT was decided yet; seven HTT decided
    afterwards leave room for its HTXS after all. The rules refuse to publish that, and
    the finding says it before anyone tries: the quota explains nothing in the end."""
    unit = Unit()
    roster = [*CADRES, *MORE]
    cycle, _ = unit.open(2025, roster=roster)
    for cadre in roster:
        unit.score(cycle, cadre, {s: 95 if cadre == "cb.1" else 80 for s in PANEL})
        unit.tally(cycle, cadre)
    unit.decide(cycle, "cb.1", "HTT", reason="Vượt tỷ lệ HTXS của nhóm.", quota=True)
    for cadre in roster[1:]:
        unit.decide(cycle, cadre, "HTT")
    found = kinds(unit.report(), "medium")
    assert ("decision-departure", "cb.1", AUTH) in found
    for cadre in roster:
        unit.on(cycle, AUTH, "notice.sent", cadre=cadre)
    with pytest.raises(Rejected) as refused:
        unit.on(cycle, AUTH, "result.published")
    assert refused.value.problem.slug == "ungrounded-level"


def test_reasons_are_judged_where_readable_and_said_to_be_sealed_where_not() -> None:
    settings = Fairness().settings
    assert judge_reason("nhầm", settings)["thin_reason"] is True
    assert judge_reason("Sửa lại cho đúng", settings)["thin_reason"] is True
    assert judge_reason("Theo chỉ đạo của đồng chí Bí thư.", settings)["directed"] is True
    real = "Chấm sót sản phẩm quy đổi tháng 10, đã đối chiếu sổ theo dõi."
    assert judge_reason(real, settings) == {
        "thin_reason": False,
        "directed": False,
        "judged": "judged",
    }
    assert judge_reason(None, settings)["judged"] == NOT_JUDGED

    unit = Unit(seal=True)
    cycle, _ = unit.open(2025)
    for cadre, by in _plain(BASE).items():
        unit.score(cycle, cadre, by)
    unit.on(
        cycle,
        "cham.2",
        "score.amended",
        cadre="cb.1",
        amends=unit.ballots[("cham.2", "cb.1")],
        general=22,
        tasks=55,
        reason="theo chỉ đạo",
    )
    report = unit.report()
    (sealed,) = [f for f in report["findings"] if f["kind"] == "amendments"]
    assert sealed["severity"] == "low" and "not judged: text sealed" in sealed["summary_en"]
    assert sealed["detail"]["amendments"][0]["judged"] == NOT_JUDGED
    texts = {c: d.text for c, d in unit.w.sealed.items()}
    judge_sealed_reasons(report, lambda wanted: {c: texts.get(c) for c in wanted})
    (judged,) = [f for f in report["findings"] if f["kind"] == "amendments"]
    assert judged["detail"]["amendments"][0]["directed"] is True
    assert judged["severity"] == "medium" and judged["scorer"] == "cham.2"
    assert report["severities"] == {"medium": 1}


def test_a_plain_amendment_with_a_real_reason_is_no_finding() -> None:
    unit = Unit()
    cycle, _ = unit.open(2025)
    unit.score(cycle, "cb.1", {s: 75 for s in PANEL})
    unit.on(
        cycle,
        "cham.1",
        "score.amended",
        cadre="cb.1",
        amends=unit.ballots[("cham.1", "cb.1")],
        general=22,
        tasks=54,
        reason="Chấm sót sản phẩm quy đổi tháng 10, đã đối chiếu.",
    )
    assert unit.report()["findings"] == []


def test_retaliation_by_the_whole_panel_in_the_next_year_is_found() -> None:
    unit = Unit()
    unit.honest_cycle(2024, _plain(BASE))
    cycle = "c-2024"
    unit.w.clock += timedelta(days=5)
    filed = unit.on(
        cycle,
        "cb.3",
        "complaint.filed",
        cadre="cb.3",
        against=unit.decisions["cb.3"],
        grounds="Kết quả chưa đúng.",
    )
    unit.on(cycle, UBKT, "complaint.accepted", cadre="cb.3", complaint=filed)
    unit.on(
        cycle,
        UBKT,
        "complaint.resolved",
        cadre="cb.3",
        complaint=filed,
        upheld=False,
        finding="Không có căn cứ.",
    )
    later = {c: v + 1 for c, v in BASE.items()}
    later["cb.3"] = 57  # everyone else up a point; the complainant down 9, from every scorer
    unit.honest_cycle(2025, _plain(later))
    report = unit.report()
    (found,) = [f for f in report["findings"] if f["kind"] == "retaliation"]
    assert found["cadre"] == "cb.3" and found["cycle"] == "c-2025" and found["severity"] == "high"
    assert found["statistic"]["value"] == "-10.00"
    assert filed in found["events"]
    # No single scorer did it: nobody is named for a ballot.
    assert not [f for f in report["findings"] if f["kind"] == "ballot-deviation"]


def test_adverse_evidence_after_a_complaint_and_the_direction_of_a_revision() -> None:
    unit = Unit()
    cycle = unit.honest_cycle(2025, _plain(BASE))
    unit.w.clock += timedelta(days=5)
    filed = unit.on(
        cycle,
        "cb.3",
        "complaint.filed",
        cadre="cb.3",
        against=unit.decisions["cb.3"],
        grounds="Kết quả chưa đúng.",
    )
    unit.on(cycle, UBKT, "complaint.accepted", cadre="cb.3", complaint=filed)
    unit.on(
        cycle,
        UBKT,
        "evidence.recorded",
        cadre="cb.3",
        kind="tasks_failed",
        percent=30,
        text="Phát hiện nhiệm vụ chưa hoàn thành.",
    )
    resolved = unit.on(
        cycle,
        UBKT,
        "complaint.resolved",
        cadre="cb.3",
        complaint=filed,
        upheld=True,
        finding="Chấm sót tiêu chí.",
    )
    unit.on(
        cycle,
        AUTH,
        "decision.revised",
        cadre="cb.3",
        supersedes=unit.decisions["cb.3"],
        cause=resolved,
        reason="Cộng điểm chấm sót.",
        level="HTT",
        total="71.00",
    )
    report = unit.report()
    retaliation = [f for f in report["findings"] if f["kind"] == "retaliation"]
    assert [f["detail"]["evidence_kind"] for f in retaliation] == ["tasks_failed"]
    assert retaliation[0]["scorer"] == UBKT and retaliation[0]["severity"] == "high"
    revision = next(
        f
        for f in report["findings"]
        if f["kind"] == "late-change" and f["detail"]["type"] == "decision.revised"
    )
    assert revision["detail"]["direction"] == "up" and revision["severity"] == "low"
    assert (revision["detail"]["old_level"], revision["detail"]["new_level"]) == ("HT", "HTT")


def test_panel_changes_after_the_meeting_and_a_silent_identical_cycle() -> None:
    unit = Unit()
    cycle, _ = unit.open(2025, comments=False)
    unit.on(cycle, AUTH, "cycle.role_assigned", role="panel", person="cham.x")
    for cadre in CADRES:
        unit.score(cycle, cadre, {s: 80 for s in PANEL})
    unit.score(cycle, "cb.4", {"cham.x": 92})
    for cadre in CADRES:
        unit.tally(cycle, cadre)
    report = unit.report()
    added = [f for f in report["findings"] if f["kind"] == "panel-change"]
    patterns = {f["detail"]["pattern"]: f for f in added}
    assert patterns["added-after-meeting"]["scorer"] == "cham.x"
    assert patterns["added-after-meeting"]["cadre"] == "cb.4"
    assert patterns["partial-panel"]["severity"] == "low"  # the others' tallies lack cham.x
    (formal,) = [f for f in report["findings"] if f["kind"] == "formalism"]
    assert formal["cycle"] == cycle and formal["cadre"] == "*"
    assert set(formal["detail"]["signs"]) == {"identical-ballots", "silent-meetings"}
    assert formal["severity"] == "high"


def test_an_unanswered_complaint_and_a_decider_judging_their_own_decision() -> None:
    unit = Unit()
    cycle = unit.honest_cycle(2025, _plain(BASE))
    unit.w.clock += timedelta(days=5)
    ignored = unit.on(
        cycle,
        "cb.1",
        "complaint.filed",
        cadre="cb.1",
        against=unit.decisions["cb.1"],
        grounds="Chưa đúng.",
    )
    own = unit.on(
        cycle,
        "cb.2",
        "complaint.filed",
        cadre="cb.2",
        against=unit.decisions["cb.2"],
        grounds="Chưa đúng.",
    )
    unit.w.clock += timedelta(days=3)
    unit.on(cycle, AUTH, "complaint.accepted", cadre="cb.2", complaint=own)
    unit.w.clock += timedelta(days=20)
    unit.on(
        cycle,
        AUTH,
        "complaint.resolved",
        cadre="cb.2",
        complaint=own,
        upheld=False,
        finding="Không có căn cứ.",
    )
    found = kinds(unit.report(), "high")
    assert ("complaint-unanswered", "cb.1", None) in found
    assert ("undeclared-conflict", "cb.2", AUTH) in found
    unanswered = next(f for f in unit.report()["findings"] if f["kind"] == "complaint-unanswered")
    assert unanswered["events"] == [ignored]
    assert unanswered["statistic"]["value"] > unanswered["statistic"]["threshold"] == 10


def test_a_quota_lowering_decided_before_the_htxs_is_not_reported() -> None:
    """Decided one by one, HTT first: when the lowered cadre is decided the group has no
    HTXS yet, so the quota only binds in the end — still the quota's doing, not a sign."""
    unit = Unit()
    roster = [*CADRES, *MORE]
    cycle, _ = unit.open(2025, roster=roster)
    scores = {c: 80 for c in roster} | {"cb.1": 95, "cb.2": 94}
    for cadre, total in scores.items():
        unit.score(cycle, cadre, {s: total for s in PANEL})
        unit.tally(cycle, cadre)
    for cadre in roster[2:]:
        unit.decide(cycle, cadre, "HTT")
    unit.decide(cycle, "cb.2", "HTT", reason="Vượt tỷ lệ HTXS của nhóm.", quota=True)
    unit.decide(cycle, "cb.1", "HTXS")
    assert not [f for f in unit.report()["findings"] if f["kind"] == "decision-departure"]


def test_a_scorer_who_resolves_the_complaint_about_their_own_ballot_is_named() -> None:
    unit = Unit()
    cycle = unit.honest_cycle(2025, _plain(BASE))
    unit.on(cycle, AUTH, "cycle.role_assigned", role="inspection", person="cham.1")
    unit.w.clock += timedelta(days=5)
    filed = unit.on(
        cycle,
        "cb.4",
        "complaint.filed",
        cadre="cb.4",
        against=unit.decisions["cb.4"],
        grounds="Chấm chưa đúng.",
    )
    unit.on(cycle, "cham.1", "complaint.accepted", cadre="cb.4", complaint=filed)
    (found,) = [f for f in unit.report()["findings"] if f["kind"] == "undeclared-conflict"]
    assert found["scorer"] == "cham.1" and found["detail"]["side"] == "scorer"
    assert unit.ballots[("cham.1", "cb.4")] in found["events"]


def test_a_relation_in_the_registry_names_the_scorer_and_the_decider_who_did_not_declare() -> None:
    """The registry records that cham.2 is cb.1's spouse, the authority cb.4's relative,
    and cham.3 cb.2's direct manager, as the authority is cb.5's: scoring cb.1 and cb.2,
    and deciding on cb.4, without declaring a conflict are signs to examine; the
    authority deciding on cb.5, whom they manage, is how the law has it, not a sign."""
    unit = Unit()
    unit.w.act("root", "relation.recorded", person="cb.1", related="cham.2", kind="spouse")
    unit.w.act("root", "relation.recorded", person="cb.4", related=AUTH, kind="relative")
    unit.w.act("root", "relation.recorded", person="cb.2", related="cham.3", kind="manager")
    unit.w.act("root", "relation.recorded", person="cb.5", related=AUTH, kind="manager")
    unit.honest_cycle(2025, _plain(BASE))
    related = {
        (f["cadre"], f["scorer"], f["detail"]["relation"], f["detail"]["side"])
        for f in unit.report()["findings"]
        if f["kind"] == "undeclared-conflict"
    }
    assert related == {
        ("cb.1", "cham.2", "spouse", "scorer"),
        ("cb.2", "cham.3", "manager", "scorer"),
        ("cb.4", AUTH, "relative", "decider"),
    }
    found = next(f for f in unit.report()["findings"] if f["scorer"] == "cham.2")
    assert found["severity"] == "high" and "vợ/chồng" in found["summary_vi"]


def test_a_declared_conflict_is_no_sign() -> None:
    unit = Unit()
    unit.w.act("root", "relation.recorded", person="cb.1", related="cham.2", kind="relative")
    cycle, _ = unit.open(2025)
    unit.on(cycle, "cham.2", "conflict.declared", cadre="cb.1", reason="Anh em ruột.")
    unit.score(cycle, "cb.1", {"cham.1": 75, "cham.3": 76})
    unit.tally(cycle, "cb.1")
    unit.decide(cycle, "cb.1", "HTT")
    assert not [f for f in unit.report()["findings"] if f["kind"] == "undeclared-conflict"]


def test_a_relation_is_the_registrars_to_record_once_and_between_two_people() -> None:
    w = Unit().w
    w.enrol("nguoi-ngoai")
    w.refused("not-authorised", "nguoi-ngoai", "relation.recorded", person="cb.1",
              related="cham.2", kind="spouse")  # fmt: skip
    w.refused("invalid-field", "root", "relation.recorded", person="cb.1", related="cb.1",
              kind="spouse")  # fmt: skip
    w.refused("invalid-field", "root", "relation.recorded", person="cb.1", related="cham.2",
              kind="friend")  # fmt: skip
    w.act("root", "relation.recorded", person="cb.1", related="cham.2", kind="spouse")
    w.refused("already-exists", "root", "relation.recorded", person="cb.1", related="cham.2",
              kind="relative")  # fmt: skip
    w.refused("unknown-reference", "root", "relation.recorded", person="cb.1", related="nobody",
              kind="relative")  # fmt: skip


def test_a_conflict_declared_after_voting_takes_the_ballot_out_of_the_comparison() -> None:
    """cham.3 gives cb.1 60 against the panel's 80, then declares a conflict: the rules
    take the ballot out of the tally, so it is no ballot apart from the panel any more —
    but having scored and then stepped out is told (low), with both events."""
    unit = Unit()
    cycle, _ = unit.open(2025)
    unit.score(cycle, "cb.1", {"cham.1": 80, "cham.2": 80, "cham.3": 60})
    declared = unit.on(cycle, "cham.3", "conflict.declared", cadre="cb.1", reason="Vợ chồng.")
    unit.tally(cycle, "cb.1")  # two ballots: every member present less the conflicted
    found = unit.report()["findings"]
    assert not [f for f in found if f["kind"] == "ballot-deviation"], found
    (step,) = [f for f in found if f["kind"] == "panel-change"]
    assert step["detail"] == {"pattern": "conflict-after-scoring", "ballot_total": "60.00"}
    assert step["scorer"] == "cham.3" and step["severity"] == "low"
    assert step["events"] == [unit.ballots[("cham.3", "cb.1")], declared]


def test_an_act_back_dated_by_its_signer_is_judged_by_the_log_s_day() -> None:
    """A ballot the log admitted after the deadline (under an exception) whose signer
    wrote a November issued_at: the deadline finding reads the log's time, so the
    back-dated stamp does not hide it."""
    unit = Unit()
    cycle, _ = unit.open(2025)
    unit.on(
        cycle,
        AUTH,
        "exception.recorded",
        acts=["score.submitted"],
        until="2026-01-20",
        reason="Người chấm đi công tác.",
    )
    unit.w.clock = datetime(2026, 1, 5, 3, tzinfo=UTC)
    statement = unit.w.statement(
        "cham.1", "score.submitted", {"cycle": cycle, "cadre": "cb.1", "general": 24, "tasks": 56}
    )
    statement["issued_at"] = "2025-11-10T03:00:00Z"  # what the signer wrote
    key = str(unit.w.key("cham.1").verifier)
    unit.w.model.handle(Act(statement, key, "ab" * 32, 10_000, unit.w.clock))
    (late,) = [f for f in unit.report()["findings"] if f["kind"] == "deadline"]
    assert "ab" * 32 in late["events"]


def figures(unit: Unit, cycle: str, cadre: str, actor: str = ADV, **given: int) -> str:
    """The year's task figures of ``cadre`` (QĐ 366 v2): all on time unless ``given``."""
    values = {"done": 100, "on_time": 100, "exceeded": 40, "late": 0} | given
    return unit.on(
        cycle,
        actor,
        "evidence.recorded",
        cadre=cadre,
        kind="task_figures",
        text="Số liệu.",
        **values,
    )


def test_task_figures_after_a_complaint_are_adverse_only_if_they_lower_what_they_allow() -> None:
    """Under QĐ 366 v2 every subject has task figures: recorded after a complaint they
    are retaliation only when they allow a lower level than the figures before (HTT's
    100 % on time now 80 %); figures corrected in the complainant's favour are not."""
    unit = Unit()
    cycle, _ = unit.open(2025, version=2)
    for cadre in CADRES:
        unit.score(cycle, cadre, {s: BASE[cadre] for s in PANEL})
        unit.tally(cycle, cadre)
        figures(unit, cycle, cadre, on_time=90 if cadre == "cb.3" else 100, late=10)
    for cadre in CADRES:
        level = _level(BASE[cadre] * 100)
        unit.decide(cycle, cadre, "HT" if cadre == "cb.3" else level)
    for cadre in CADRES:
        unit.on(cycle, AUTH, "notice.sent", cadre=cadre)
    unit.on(cycle, AUTH, "result.published")
    unit.w.clock += timedelta(days=5)
    for cadre in ("cb.2", "cb.3"):
        filed = unit.on(
            cycle, cadre, "complaint.filed", cadre=cadre, against=unit.decisions[cadre], grounds="."
        )
        unit.on(cycle, UBKT, "complaint.accepted", cadre=cadre, complaint=filed)
    harsher = figures(unit, cycle, "cb.2", UBKT, on_time=80, late=10)  # HTT's conditions unmet
    figures(unit, cycle, "cb.3", UBKT, late=0)  # corrected: all on time after all
    found = [f for f in unit.report()["findings"] if f["kind"] == "retaliation"]
    assert [(f["cadre"], f["severity"]) for f in found] == [("cb.2", "high")], found
    assert harsher in found[0]["events"]
    assert (found[0]["detail"]["old_level"], found[0]["detail"]["new_level"]) == ("HTXS", "HT")


def test_routine_task_figures_are_not_harsher_evidence_in_the_next_cycle() -> None:
    """A complainant rated one level lower the next year, with that year's task figures
    meeting every condition of the level the score gives: the figures are routine, not
    new adverse evidence, so a small drop is no sign at medium."""
    unit = Unit()
    unit.honest_cycle(2024, _plain(BASE | {"cb.5": 71}))
    unit.w.clock += timedelta(days=5)
    filed = unit.on(
        "c-2024",
        "cb.5",
        "complaint.filed",
        cadre="cb.5",
        against=unit.decisions["cb.5"],
        grounds=".",
    )
    unit.on("c-2024", UBKT, "complaint.accepted", cadre="cb.5", complaint=filed)
    cycle, _ = unit.open(2025, version=2)
    later = {c: v + 1 for c, v in BASE.items()} | {"cb.5": 69}  # 71 → 69: HTT → HT, 3 points
    for cadre, by in _plain(later).items():
        unit.score(cycle, cadre, by)
        unit.tally(cycle, cadre)
        figures(unit, cycle, cadre)
    for cadre in CADRES:
        total = mean([t * 100 for t in _plain(later)[cadre].values()])
        unit.decide(cycle, cadre, _level(total))
    (found,) = [f for f in unit.report()["findings"] if f["kind"] == "retaliation"]
    assert found["severity"] == "low" and found["statistic"]["value"] == "-3.00", found
    assert len(found["events"]) == 2  # the complaint and the decision, no evidence


def test_a_quota_lowering_stays_the_quota_s_after_a_later_re_classification() -> None:
    """Lowered for the quota, full at publication (the rules checked it then); an upheld
    complaint later lifts an HT to HTT, and with ten other HTT the group now has room
    for a second HTXS. The lowering was still the quota's when it counted: no sign."""
    unit = Unit()
    roster = [f"cb.{i}" for i in range(1, 13)]
    unit.w.enrol(*roster[8:])
    cycle, _ = unit.open(2025, roster=roster)
    scores = {c: 80 for c in roster} | {"cb.1": 95, "cb.2": 94, "cb.12": 65}
    for cadre, total in scores.items():
        unit.score(cycle, cadre, {s: total for s in PANEL})
        unit.tally(cycle, cadre)
    for cadre in roster[2:]:
        unit.decide(cycle, cadre, _level(scores[cadre] * 100))
    unit.decide(cycle, "cb.2", "HTT", reason="Vượt tỷ lệ HTXS của nhóm.", quota=True)
    unit.decide(cycle, "cb.1", "HTXS")
    for cadre in roster:
        unit.on(cycle, AUTH, "notice.sent", cadre=cadre)
    unit.on(cycle, AUTH, "result.published")
    unit.w.clock += timedelta(days=5)
    filed = unit.on(
        cycle,
        "cb.12",
        "complaint.filed",
        cadre="cb.12",
        against=unit.decisions["cb.12"],
        grounds=".",
    )
    unit.on(cycle, UBKT, "complaint.accepted", cadre="cb.12", complaint=filed)
    upheld = unit.on(
        cycle,
        UBKT,
        "complaint.resolved",
        cadre="cb.12",
        complaint=filed,
        upheld=True,
        finding="Sót.",
    )
    unit.on(
        cycle,
        AUTH,
        "decision.revised",
        cadre="cb.12",
        supersedes=unit.decisions["cb.12"],
        cause=upheld,
        reason="Cộng điểm chấm sót.",
        level="HTT",
        total="71.00",
    )
    cb2 = unit.w.model.cycles[cycle].evaluations["cb.2"]
    assert not quota_full(unit.w.model.cycles[cycle], cb2)  # room for it now
    assert not [f for f in unit.report()["findings"] if f["kind"] == "decision-departure"]
