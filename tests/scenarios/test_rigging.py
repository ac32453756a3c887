"""Issue 15 §2, played end to end: each way a person with a role in the cycle tried to
favour or suppress a cadre within the rules, sent as properly signed statements to
``POST /v1/statements``. Each attempt is refused with its own problem type, and nothing
is stored; where the act is written around the rules (an operator, or a log judged by
older rules), V8 fails and names it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    INSPECTION,
    PANEL,
    UNIT,
    World,
    pin,
)
from tests.scenarios.rigging import Played, played

__all__ = ["played"]  # the fixture, for pytest

EVERYONE = [UNIT, CHAIR, *CADRES]


def scored(p: Played, totals: dict[str, int], **settings: Any) -> World:
    """A QĐ 366 cycle, reviewed, every subject scored by the whole panel."""
    w = p.world
    w.open(**({"settings": settings} if settings else {}))
    w.roster()
    w.review()
    w.score_all(totals)
    return w


def all_htt(p: Played) -> World:
    w = scored(p, dict.fromkeys(EVERYONE, 80))
    for sid in EVERYONE:
        w.propose_and_decide(sid, "HTT")
    return w


def refused(p: Played, slug: str, actor: str, type_: str, **body: Any) -> dict[str, Any]:
    """The attempt is refused with ``slug``, in both languages, and nothing is stored."""
    size = p.size()
    p.world.refused_on(slug, actor, type_, **body)
    problem = p.problems[-1]
    assert problem["type"] == f"/problems/{slug}"
    assert problem["detail_vi"] and problem["detail_en"]
    assert p.client.get(f"/problems/{slug}").status_code == 200
    assert p.size() == size
    return problem


def v8_names(p: Played, position: int, event: str, slug: str) -> None:
    checks = p.verify()
    assert all(checks[v]["status"] == "pass" for v in ("V1", "V2", "V3", "V4", "V5", "V6"))
    first = checks["V8"]["first_failure"]
    assert checks["V8"]["status"] == "fail"
    assert (first["position"], first["event_hash"]) == (position, event)
    assert slug in first["reason_en"]


def decision_of(p: Played, sid: str) -> str:
    doc = p.client.get("/v1/cycles/2026-qd366-test").json()
    return str(doc["subjects"][sid]["decision"]["event"])


# -- the attempts ----------------------------------------------------------------------


def test_publication_back_dated_to_close_the_complaint_window(played: Played) -> None:
    all_htt(played)
    refused(played, "date-from-log", AUTHORITY, "result.published", date="2026-08-01")
    position, event = played.stored_around_the_rules(
        AUTHORITY, "result.published", date="2026-08-01"
    )
    v8_names(played, position, event, "date-from-log")


def test_quota_broken_by_decisions_after_the_htxs(played: Played) -> None:
    # 1 HTXS over 4 HTT is within the quota (rounded); lowering two of the HTT after the
    # HTXS is decided would leave 1 HTXS over 2 HTT.
    w = scored(played, {CADRES[0]: 92} | dict.fromkeys(CADRES[1:], 80), quota_rounding="round")
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTXS")
    for sid in CADRES[1:]:
        w.on(ADVISORY, "appraisal.proposed", cadre=sid, level="HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTXS")
    lowered = {"level": "HT", "reason": "Hạ mức."}
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[1], evidence=[w.ground(CADRES[1])], **lowered)
    grounds = [w.ground(CADRES[2])]
    refused(played, "quota-exceeded", AUTHORITY, "decision.issued", cadre=CADRES[2],
            evidence=grounds, **lowered)  # fmt: skip
    position, event = played.stored_around_the_rules(
        AUTHORITY, "decision.issued", cadre=CADRES[2], evidence=grounds, **lowered
    )
    v8_names(played, position, event, "quota-exceeded")


def test_collective_re_classified_below_its_head(played: Played) -> None:
    w = all_htt(played)
    unit = decision_of(played, UNIT)
    finding = w.on(INSPECTION, "finding.recorded", cadre=UNIT, result_wrong=True, text="Sai.")
    refused(played, "head-above-collective", AUTHORITY, "decision.revised", cadre=UNIT,
            level="HT", supersedes=unit, cause=finding, reason="Theo kết luận kiểm tra.",
            evidence=[w.ground(UNIT)])  # fmt: skip


def test_95_points_decided_kht_on_free_text(played: Played) -> None:
    w = scored(played, {CADRES[0]: 95})
    problem = refused(played, "ungrounded-level", ADVISORY, "appraisal.proposed",
                      cadre=CADRES[0], level="KHT", reason="Theo ý kiến của lãnh đạo")  # fmt: skip
    assert problem["highest"] == "HTXS"
    # Typed evidence of the regime's kind grounds it (and a share of tasks failed under
    # the forcing threshold does not force KHT): the lowering is then on the record.
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HT", reason="Chậm tiến độ.",
         evidence=[w.ground(CADRES[0], percent=40)])  # fmt: skip


def test_not_rated_for_a_full_year_cadre(played: Played) -> None:
    scored(played, {CADRES[0]: 80})
    refused(played, "ungrounded-level", ADVISORY, "appraisal.proposed", cadre=CADRES[0],
            level="KXL", reason="Không xếp loại.")  # fmt: skip


def test_mitigation_citing_a_degradation_conclusion(played: Played) -> None:
    w = scored(played, {CADRES[0]: 80})
    found = w.on(AUTHORITY, "evidence.recorded", cadre=CADRES[0], kind="degradation",
                 text="Kết luận suy thoái về tư tưởng chính trị.")  # fmt: skip
    refused(played, "not-mitigable", AUTHORITY, "evidence.recorded", cadre=CADRES[0],
            kind="mitigation", evidence=found, text="Đã tự khắc phục.")  # fmt: skip
    refused(played, "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[0],
            level="HTT")  # fmt: skip


def test_upheld_complaint_followed_by_a_lower_level(played: Played) -> None:
    w = all_htt(played)
    w.on(AUTHORITY, "result.published")
    against = decision_of(played, CADRES[0])
    complaint = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against,
                     grounds="Thiếu sản phẩm.")  # fmt: skip
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[0], complaint=complaint)
    upheld = w.on(INSPECTION, "complaint.resolved", cadre=CADRES[0], complaint=complaint,
                  upheld=True, finding="Có cơ sở.")  # fmt: skip
    refused(played, "against-complainant", AUTHORITY, "decision.revised", cadre=CADRES[0],
            level="HT", supersedes=against, cause=upheld, reason="Xếp loại lại.",
            evidence=[w.ground(CADRES[0])])  # fmt: skip


def test_a_conflict_bars_the_proposal_and_the_decision(played: Played) -> None:
    w = scored(played, {CADRES[0]: 80, CADRES[1]: 80})
    w.on(ADVISORY, "conflict.declared", cadre=CADRES[0], reason="Vợ chồng.")
    refused(played, "conflict-of-interest", ADVISORY, "appraisal.proposed", cadre=CADRES[0],
            level="HTT")  # fmt: skip
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT")
    w.on(AUTHORITY, "conflict.declared", cadre=CADRES[1], reason="Anh em ruột.")
    refused(played, "conflict-of-interest", AUTHORITY, "decision.issued", cadre=CADRES[1],
            level="HTT")  # fmt: skip


def test_a_conflict_declared_after_voting_takes_the_ballot_out(played: Played) -> None:
    w = played.world
    w.open()
    w.roster()
    w.review()
    for scorer, total in zip(PANEL, (100, 80, 80), strict=True):
        w.on(scorer, "score.submitted", cadre=CADRES[0], general=30, tasks=total - 30)
    w.on(PANEL[0], "conflict.declared", cadre=CADRES[0], reason="Họ hàng.")
    problem = refused(played, "tally-mismatch", CHAIR, "tally.recorded", cadre=CADRES[0],
                      ballots=3, total="86.67")  # fmt: skip
    assert problem["expected_ballots"] == 2 and problem["expected_total"] == "80.00"
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=2, total="80")


def test_a_leader_counts_the_confidence_vote_about_themselves(played: Played) -> None:
    w = played.world
    w.open()
    w.roster()
    refused(played, "self-evaluation", CHAIR, "confidence.tallied", cadre=CHAIR, votes=20, low=0)


def test_the_authority_joins_the_advisory_body(played: Played) -> None:
    w = played.world
    w.open()
    refused(played, "roles-apart", AUTHORITY, "cycle.role_assigned", role="advisory",
            person=AUTHORITY)  # fmt: skip


def test_the_chair_closes_the_tally_after_one_ballot_of_three(played: Played) -> None:
    w = played.world
    w.open()
    w.roster()
    w.review()
    w.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=30, tasks=70)
    problem = refused(played, "ballots-missing", CHAIR, "tally.recorded", cadre=CADRES[0],
                      ballots=1, total="100")  # fmt: skip
    assert problem["missing"] == PANEL[1:]


def test_a_mean_just_under_90_is_not_htxs(played: Played) -> None:
    w = played.world
    w.open()
    w.roster()
    w.review()
    for scorer, tasks in zip(PANEL, ("60", "60", "59.99"), strict=True):
        w.on(scorer, "score.submitted", cadre=CADRES[0], general=30, tasks=tasks)
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="90")  # shown 90.00
    refused(played, "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[0],
            level="HTXS")  # fmt: skip
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTT")


@pytest.fixture
def complained(played: Played) -> tuple[Played, str, str]:
    # The ledger's clock follows the world's (WorldClock): the windows below pass as
    # the world's calendar moves on.
    played.world.clock = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
    w = all_htt(played)
    w.on(AUTHORITY, "result.published")
    against = decision_of(played, CADRES[0])
    first = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against, grounds="…")
    return played, against, first


def test_an_appeal_waits_for_the_first_complaint_or_its_time_limit(
    complained: tuple[Played, str, str],
) -> None:
    p, against, first = complained
    w = p.world
    w.clock += timedelta(days=5)
    appeal = {"cadre": CADRES[0], "against": against, "appeal_of": first, "grounds": "…"}
    refused(p, "appeal-not-open", CADRES[0], "complaint.filed", **appeal)
    w.clock += timedelta(days=40)  # 10 days to accept and 30 to resolve, all passed
    w.on(CADRES[0], "complaint.filed", **appeal)


def test_an_appeal_has_45_days_to_be_resolved(complained: tuple[Played, str, str]) -> None:
    p, against, first = complained
    w = p.world
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[0], complaint=first)
    w.on(INSPECTION, "complaint.resolved", cadre=CADRES[0], complaint=first, upheld=False,
         finding="Không có cơ sở.")  # fmt: skip
    appeal = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against,
                  appeal_of=first, grounds="…")  # fmt: skip
    w.on(AUTHORITY, "complaint.accepted", cadre=CADRES[0], complaint=appeal)
    w.clock += timedelta(days=40)
    w.on(AUTHORITY, "complaint.resolved", cadre=CADRES[0], complaint=appeal, upheld=False,
         finding="Giữ nguyên.")  # fmt: skip
    assert p.verify()["V8"]["status"] == "pass"


def test_a_leader_with_60_percent_of_tasks_failed_as_htxs(played: Played) -> None:
    w = scored(played, {CHAIR: 92, CADRES[0]: 92})
    w.on(INSPECTION, "evidence.recorded", cadre=CHAIR, kind="task_figures", done=40,
         on_time=40, exceeded=0, late=60, text="Báo cáo kết quả nhiệm vụ.")  # fmt: skip
    problem = refused(played, "task-conditions-unmet", ADVISORY, "appraisal.proposed",
                      cadre=CHAIR, level="HTXS")  # fmt: skip
    assert problem["highest"] == "KHT"  # 40 % done meets not even HT's conditions
    w.on(ADVISORY, "appraisal.proposed", cadre=CHAIR, level="KHT")
    # Where no figures are on record the level stands on the score, and the cycle's
    # document says that the task conditions could not be judged.
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTXS")
    doc = played.client.get("/v1/cycles/2026-qd366-test").json()
    why = doc["subjects"][CADRES[0]]["rules_allow"]["why"]
    assert "task_conditions_not_on_record" in {w["rule"] for w in why}


def test_a_complaint_left_unhandled_past_its_limit_is_a_finding(
    complained: tuple[Played, str, str],
) -> None:
    p, _, first = complained  # filed on 1/9, never accepted: its limit was 11/10
    # The log's time, not the verifier's clock, says how long it waited: the cycle's
    # business goes on past the limit.
    p.world.clock += timedelta(days=45)
    p.world.on(INSPECTION, "finding.recorded", cadre=CADRES[1], text="Kiểm tra định kỳ.")
    report = p.ledger.verify().to_json()
    unanswered = [f for f in report["fairness"]["findings"] if f["kind"] == "complaint-unanswered"]
    assert [
        (f["cadre"], f["events"], f["detail"]["step"], f["statistic"]["threshold"])
        for f in unanswered
    ] == [(CADRES[0], [first], "accept", 10)]
    assert report["ok"]  # evidence for those entitled to look, not a failed check


def test_a_new_cycle_opened_under_a_superseded_profile(played: Played) -> None:
    """The organiser pins QD366 v1, before its task conditions, for this year's cycle."""
    w = played.world
    w.enrol(AUTHORITY, ADVISORY, INSPECTION, CHAIR, *PANEL, *CADRES)
    w.act("root", "role.granted", person=AUTHORITY, role="organiser")
    opened = {"regime": pin("QD366", 1), "year": 2026, "unit": UNIT,
              "roles": {"authority": [AUTHORITY], "chair": [CHAIR], "panel": PANEL}}  # fmt: skip
    problem = refused(played, "profile-superseded", AUTHORITY, "cycle.opened", **opened)
    assert problem["in_force"] == pin("QD366", 2)
    position, event = played.stored_around_the_rules(AUTHORITY, "cycle.opened", **opened)
    v8_names(played, position, event, "profile-superseded")


def test_publication_after_a_conflict_recounts_a_decided_tally(played: Played) -> None:
    """A relative's 90 carried can-bo.1 to HTT (73.33); declared after the decision, the
    recount is 65 (HT): the decided HTT no longer follows, and publication waits."""
    w = scored(played, dict.fromkeys([UNIT, CHAIR, *CADRES[1:]], 80))
    for scorer, total in zip(PANEL, (90, 65, 65), strict=True):
        w.on(scorer, "score.submitted", cadre=CADRES[0], general=25, tasks=total - 25)
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="73.33")
    for sid in EVERYONE:
        w.propose_and_decide(sid, "HTT")
    w.on(PANEL[0], "conflict.declared", cadre=CADRES[0], reason="Họ hàng.")
    problem = refused(played, "decision-outdated", AUTHORITY, "result.published")
    assert (problem["cadre"], problem["rule"]) == (CADRES[0], "level-not-allowed")
    assert problem["decision"] == decision_of(played, CADRES[0])
    position, event = played.stored_around_the_rules(AUTHORITY, "result.published")
    v8_names(played, position, event, "decision-outdated")
