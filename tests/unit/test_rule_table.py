"""DOMAIN.md's checkable rules, case by case, under each regime that has them.

Each row: a regime, a case (a small story ending in one act), and what the rule says
about that act — admitted ("ok") or refused with a given problem type. The numbers in
the case names are the rules' numbers in DOMAIN.md §7.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ledger.errors import Rejected
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

POINTS = ("QD366", "ND335")
CRITERIA = ("ND90+48", "QD124")
REGIMES = POINTS + CRITERIA


def reviewed(regime: str, **settings: object) -> World:
    w = World()
    w.open(regime=pin(regime), **({"settings": settings} if settings else {}))
    w.roster()
    w.review()
    return w


def rated(regime: str, totals: dict[str, int], **settings: object) -> World:
    """Reviewed, and — in points regimes — scored and tallied."""
    w = reviewed(regime, **settings)
    if regime in POINTS:
        w.score_all(totals)
    return w


def level(w: World, sid: str, lv: str, reason: str = "") -> None:
    w.on(
        ADVISORY,
        "appraisal.proposed",
        cadre=sid,
        level=lv,
        **({"reason": reason} if reason else {}),
    )


def discipline(w: World, sid: str, *, duty: bool, year: int = 2026) -> None:
    w.on(
        AUTHORITY, "evidence.recorded", cadre=sid, kind="discipline", form="khien_trach",
        duty_related=duty, decided=f"{year}-05-04", text="Quyết định kỷ luật.",
    )  # fmt: skip


# -- the cases: each returns nothing if its last act is admitted, else raises Rejected --


def r1_profile_hash_pinned(regime: str) -> None:
    w = World()
    w.open(regime={**pin(regime), "hash": "0" * 64})


def r1_superseded_profile(regime: str) -> None:
    """The organiser pins version 1, before the task conditions, for a new cycle."""
    World().open(regime=pin(regime, 1))


def r1_superseded_profile_before_it_was(regime: str) -> None:
    """A cycle opened (by the log's time) before version 2 replaced version 1 keeps it."""
    w = World()
    w.clock = datetime(2025, 11, 2, 1, 0, tzinfo=UTC)
    w.open(regime=pin(regime, 1))


def r2_unknown_level(regime: str) -> None:
    level(rated(regime, {CADRES[0]: 80}), CADRES[0], "XUAT-SAC")


def r3_general_over_30(regime: str) -> None:
    w = reviewed(regime)
    w.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=31, tasks=60)


def r3_level_above_thresholds(regime: str) -> None:
    level(rated(regime, {CADRES[0]: 89}), CADRES[0], "HTXS")


def r3_thresholds_give_htt(regime: str) -> None:
    level(rated(regime, {CADRES[0]: 70}), CADRES[0], "HTT")


def r5_duty_discipline_forces_kht(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 85})
    discipline(w, CADRES[0], duty=True)
    level(w, CADRES[0], "HTT")


def r5_other_discipline(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 85})
    discipline(w, CADRES[0], duty=False)
    level(w, CADRES[0], "HTT")


def r5_last_years_discipline(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 85})
    discipline(w, CADRES[0], duty=True, year=2025)
    level(w, CADRES[0], "HTT")


def r6_leader_low_confidence(regime: str) -> None:
    w = rated(regime, {CHAIR: 85})
    # The chair is the leader here: another chair counts the vote about them.
    w.on(AUTHORITY, "cycle.role_assigned", role="chair", person=INSPECTION)
    w.on(INSPECTION, "confidence.tallied", cadre=CHAIR, votes=20, low=11)
    level(w, CHAIR, "HTT")


def r7_htxs_over_quota(regime: str) -> None:
    w = rated(regime, dict.fromkeys(CADRES[:4], 92) | {CADRES[4]: 80})
    for sid in CADRES[:4]:
        level(w, sid, "HTXS")
    level(w, CADRES[4], "HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTXS")


def r7_htxs_within_quota(regime: str) -> None:
    # 20% of 4 HTT is 0.8: within the quota only where it rounds to 1 (a setting).
    w = rated(regime, {CADRES[0]: 92} | dict.fromkeys(CADRES[1:], 80), quota_rounding="round")
    level(w, CADRES[0], "HTXS")
    for sid in CADRES[1:]:
        level(w, sid, "HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTXS")


def r8_head_above_collective(regime: str) -> None:
    w = rated(regime, {UNIT: 65, CHAIR: 85})
    level(w, UNIT, "HT")
    w.on(AUTHORITY, "decision.issued", cadre=UNIT, level="HT")
    level(w, CHAIR, "HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CHAIR, level="HTT")


def r9_head_before_collective(regime: str) -> None:
    w = rated(regime, {UNIT: 75, CHAIR: 85})
    level(w, CHAIR, "HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CHAIR, level="HTT")


def r9_self_assessment_after_meeting(regime: str) -> None:
    w = reviewed(regime)
    w.on(CADRES[1], "self_assessment.submitted", cadre=CADRES[1], report="Muộn.")


def r9_minutes_edited(regime: str) -> None:
    w = World()
    w.open(regime=pin(regime))
    w.roster()
    meeting = w.review()
    w.on(CHAIR, "minutes.adopted", meeting=meeting, comments=[], text="Sửa.")


def r10_self_scoring(regime: str) -> None:
    w = World()
    w.open(regime=pin(regime))
    w.on(AUTHORITY, "cycle.roster", subjects=[{"id": p, "name": p} for p in [*PANEL, *CADRES]])
    w.review()
    w.on(PANEL[0], "score.submitted", cadre=PANEL[0], general=30, tasks=70)


def r10_self_appraisal(regime: str) -> None:
    w = rated(regime, {UNIT: 85})
    w.model.cycles["2026-qd366-test"].roles["advisory"].add(CHAIR)
    w.on(CHAIR, "appraisal.proposed", cadre=UNIT, level="HTT")


def r11_decision_without_authority(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    level(w, CADRES[0], "HTT")
    w.on(INSPECTION, "decision.issued", cadre=CADRES[0], level="HTT")


def r12_after_state_deadline(regime: str) -> None:
    w = reviewed(regime)
    w.clock = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)  # after 15/12, before 31/12
    w.on(CADRES[0], "conflict.declared", cadre=CADRES[1], reason="Họ hàng.")  # not deadlined
    if regime in POINTS:
        w.on(PANEL[0], "score.submitted", cadre=CADRES[1], general=20, tasks=50)
    else:
        level(w, CADRES[1], "HTT")


def r13_publication_before_decisions(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    w.on(AUTHORITY, "result.published")


def r14_revision_without_cause(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    level(w, CADRES[0], "HTT")
    decision = w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTT")
    w.on(
        AUTHORITY, "decision.revised", cadre=CADRES[0], level="HT", supersedes=decision,
        cause=decision, reason="Theo chỉ đạo.",
    )  # fmt: skip


def r16_worked_under_six_months(regime: str) -> None:
    w = World()
    w.open(regime=pin(regime))
    w.on(AUTHORITY, "cycle.roster", subjects=[{"id": CADRES[0], "name": "A", "months_worked": 4}])
    w.review()
    if regime in POINTS:
        w.score_all({CADRES[0]: 80})
    level(w, CADRES[0], "HTT")


# -- issue 15 §2: rigging within the rules, each refused with its own problem type -----


def decided(regime: str, **settings: object) -> World:
    """Every subject rated and decided HTT (80 points where there are points)."""
    w = rated(regime, dict.fromkeys([*CADRES, UNIT, CHAIR], 80), **settings)
    for sid in (UNIT, CHAIR, *CADRES):
        w.propose_and_decide(sid, "HTT")
    return w


def grounds(w: World, regime: str, sid: str) -> dict[str, object]:
    """What a lowered level cites: typed evidence where the regime counts some."""
    if regime == "QD366":
        return {"evidence": [w.ground(sid)]}
    # ND 335 counts discipline, degradation and corruption (KHT for leaders): a
    # corruption finding about someone who leads nothing lowers without forcing.
    return {"evidence": [w.on(INSPECTION, "evidence.recorded", cadre=sid, kind="corruption",
                              text="Kết luận về tham nhũng.")]}  # fmt: skip


def h1_publication_back_dated(regime: str) -> None:
    w = decided(regime)
    w.on(AUTHORITY, "result.published", date="2026-08-01")


def h2_quota_broken_by_a_later_decision(regime: str) -> None:
    # 1 HTXS among 4 HTT is within the quota (rounded); lowering two HTT after the HTXS
    # decision leaves 1 HTXS over 2 HTT.
    w = rated(regime, {CADRES[0]: 92} | dict.fromkeys(CADRES[1:], 80), quota_rounding="round")
    level(w, CADRES[0], "HTXS")
    for sid in CADRES[1:]:
        level(w, sid, "HTT")
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTXS")
    for sid in CADRES[1:3]:
        w.on(AUTHORITY, "decision.issued", cadre=sid, level="HT", reason="Hạ mức.",
             **(grounds(w, regime, sid) if regime in POINTS else {}))  # fmt: skip


def h2_collective_re_classified_under_its_head(regime: str) -> None:
    w = rated(regime, {UNIT: 80, CHAIR: 80})
    unit = w.propose_and_decide(UNIT, "HTT")
    w.propose_and_decide(CHAIR, "HTT")
    finding = w.on(INSPECTION, "finding.recorded", cadre=UNIT, result_wrong=True, text="Sai.")
    cited = grounds(w, regime, UNIT) if regime in POINTS else {}
    w.on(AUTHORITY, "decision.revised", cadre=UNIT, level="HT", supersedes=unit, cause=finding,
         reason="Theo kết luận kiểm tra.", **cited)  # fmt: skip


def h3_lowered_on_free_text(regime: str) -> None:
    level(rated(regime, {CADRES[0]: 95}), CADRES[0], "KHT", "Theo ý kiến của lãnh đạo.")


def h3_not_rated_without_ground(regime: str) -> None:
    level(rated(regime, {CADRES[0]: 80}), CADRES[0], "KXL", "Không xếp loại.")


def h3_mitigating_a_degradation_finding(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    found = w.on(AUTHORITY, "evidence.recorded", cadre=CADRES[0], kind="degradation",
                 text="Kết luận suy thoái.")  # fmt: skip
    w.on(AUTHORITY, "evidence.recorded", cadre=CADRES[0], kind="mitigation", evidence=found,
         text="Đã khắc phục.")  # fmt: skip


def h4_upheld_complaint_then_lower(regime: str) -> None:
    w = decided(regime)
    w.on(AUTHORITY, "result.published")
    ev = w.model.cycles["2026-qd366-test"].evaluations[CADRES[0]]
    assert ev.decision is not None
    against = ev.decision.event
    complaint = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against, grounds="…")
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[0], complaint=complaint)
    upheld = w.on(INSPECTION, "complaint.resolved", cadre=CADRES[0], complaint=complaint,
                  upheld=True, finding="Có cơ sở.")  # fmt: skip
    cited = grounds(w, regime, CADRES[0]) if regime in POINTS else {}
    w.on(AUTHORITY, "decision.revised", cadre=CADRES[0], level="HT", supersedes=against,
         cause=upheld, reason="Xếp lại.", **cited)  # fmt: skip


def h5_conflicted_advisory_proposes(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    w.on(ADVISORY, "conflict.declared", cadre=CADRES[0], reason="Vợ chồng.")
    level(w, CADRES[0], "HTT")


def h5_conflicted_authority_decides(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 80})
    level(w, CADRES[0], "HTT")
    w.on(AUTHORITY, "conflict.declared", cadre=CADRES[0], reason="Anh em ruột.")
    w.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTT")


def h5_conflict_after_voting_leaves_the_tally(regime: str) -> None:
    w = reviewed(regime)
    for scorer, total in zip(PANEL, (100, 80, 80), strict=True):
        w.on(scorer, "score.submitted", cadre=CADRES[0], general=30, tasks=total - 30)
    w.on(PANEL[0], "conflict.declared", cadre=CADRES[0], reason="Họ hàng.")
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="86.67")


def h5_leader_counts_own_confidence_vote(regime: str) -> None:
    w = reviewed(regime)
    w.on(CHAIR, "confidence.tallied", cadre=CHAIR, votes=20, low=0)


def h5_authority_joins_the_advisory_body(regime: str) -> None:
    w = reviewed(regime)
    w.on(AUTHORITY, "cycle.role_assigned", role="advisory", person=AUTHORITY)


def h6_tally_after_one_ballot_of_three(regime: str) -> None:
    w = reviewed(regime)
    w.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=30, tasks=70)
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=1, total="100")


def _complained(regime: str) -> tuple[World, str, str]:
    w = decided(regime)
    w.on(AUTHORITY, "result.published")
    ev = w.model.cycles["2026-qd366-test"].evaluations[CADRES[0]]
    assert ev.decision is not None
    complaint = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=ev.decision.event,
                     grounds="…")  # fmt: skip
    return w, ev.decision.event, complaint


def h7_appeal_resolved_in_45_days(regime: str) -> None:
    w, against, first = _complained(regime)
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[0], complaint=first)
    w.on(INSPECTION, "complaint.resolved", cadre=CADRES[0], complaint=first, upheld=False,
         finding="Không có cơ sở.")  # fmt: skip
    appeal = w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against,
                  appeal_of=first, grounds="…")  # fmt: skip
    w.on(AUTHORITY, "complaint.accepted", cadre=CADRES[0], complaint=appeal)
    w.clock += timedelta(days=40)
    w.on(AUTHORITY, "complaint.resolved", cadre=CADRES[0], complaint=appeal, upheld=False,
         finding="Giữ nguyên.")  # fmt: skip


def h7_appeal_when_the_first_is_left_unhandled(regime: str) -> None:
    w, against, first = _complained(regime)
    w.clock += timedelta(days=45)  # 10 days to accept, then 30 to resolve: both passed
    w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against, appeal_of=first,
         grounds="Khiếu nại lần đầu không được giải quyết.")  # fmt: skip


def h7_appeal_before_the_first_limit(regime: str) -> None:
    w, against, first = _complained(regime)
    w.clock += timedelta(days=5)
    w.on(CADRES[0], "complaint.filed", cadre=CADRES[0], against=against, appeal_of=first,
         grounds="…")  # fmt: skip


def figures(w: World, sid: str, **percents: int) -> str:
    shares = {"done": 100, "on_time": 100, "exceeded": 0, "late": 0, **percents}
    return w.on(INSPECTION, "evidence.recorded", cadre=sid, kind="task_figures",
                text="Kết quả thực hiện nhiệm vụ.", **shares)  # fmt: skip


def h8_htxs_with_60_percent_of_tasks_failed(regime: str) -> None:
    w = rated(regime, {CHAIR: 92})
    figures(w, CHAIR, done=40, on_time=40, late=60)
    level(w, CHAIR, "HTXS")


def h8_task_conditions_met(regime: str) -> None:
    w = rated(regime, {CADRES[0]: 92})
    figures(w, CADRES[0], exceeded=60)
    level(w, CADRES[0], "HTXS")


def h9_threshold_on_the_exact_mean(regime: str) -> None:
    w = reviewed(regime)
    for scorer, tasks in zip(PANEL, ("60", "60", "59.99"), strict=True):
        w.on(scorer, "score.submitted", cadre=CADRES[0], general=30, tasks=tasks)
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="90")  # 89.9967, shown 90.00
    level(w, CADRES[0], "HTXS")


# -- publication judges every decision again, on the final record ----------------------


def _decided_on_ballots(regime: str) -> World:
    """Every subject decided HTT; can-bo.1 on ballots 90, 65, 65 (73.33: HTT)."""
    w = rated(regime, dict.fromkeys([*CADRES[1:], UNIT, CHAIR], 80))
    if regime in POINTS:
        for scorer, total in zip(PANEL, (90, 65, 65), strict=True):
            w.on(scorer, "score.submitted", cadre=CADRES[0], general=25, tasks=total - 25)
        w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="73.33")
    for sid in (UNIT, CHAIR, *CADRES):
        w.propose_and_decide(sid, "HTT")
    return w


def p1_conflict_declared_after_the_decision_recounts_below(regime: str) -> None:
    """The 90 came from a relative: declared after the decision, the recount is 65 (HT),
    yet the decided HTT would stand at publication."""
    w = _decided_on_ballots(regime)
    if regime in POINTS:
        w.on(PANEL[0], "conflict.declared", cadre=CADRES[0], reason="Họ hàng.")
    w.on(AUTHORITY, "result.published")


def p1_re_decided_after_the_recount(regime: str) -> None:
    """The way out: a finding that the result is wrong, and a re-classification at what
    the final record gives (HT), then publication."""
    w = _decided_on_ballots(regime)
    w.on(PANEL[0], "conflict.declared", cadre=CADRES[0], reason="Họ hàng.")
    ev = w.model.cycles["2026-qd366-test"].evaluations[CADRES[0]]
    assert ev.decision is not None
    finding = w.on(INSPECTION, "finding.recorded", cadre=CADRES[0], result_wrong=True,
                   text="Phiếu của người có xung đột lợi ích.")  # fmt: skip
    w.on(AUTHORITY, "decision.revised", cadre=CADRES[0], level="HT", supersedes=ev.decision.event,
         cause=finding, reason="Kiểm phiếu lại.")  # fmt: skip
    w.on(AUTHORITY, "result.published")


def p2_decider_declares_a_conflict_after_deciding(regime: str) -> None:
    w = _decided_on_ballots(regime)
    w.on(AUTHORITY, "conflict.declared", cadre=CADRES[1], reason="Anh em ruột.")
    w.on(AUTHORITY, "result.published")


def p2_proposer_declares_a_conflict_after_proposing(regime: str) -> None:
    w = _decided_on_ballots(regime)
    w.on(ADVISORY, "conflict.declared", cadre=CADRES[1], reason="Vợ chồng.")
    w.on(AUTHORITY, "result.published")


def p3_forcing_evidence_recorded_after_the_decision(regime: str) -> None:
    w = _decided_on_ballots(regime)
    discipline(w, CADRES[1], duty=True)
    w.on(AUTHORITY, "result.published")


def p3_mitigation_after_a_lowered_decision(regime: str) -> None:
    """Lowered to HT on tasks failed, then that fault mitigated (QĐ 366): the ground the
    lowered level stood on no longer counts, and the score gives HTT."""
    w = rated(regime, dict.fromkeys([*CADRES, UNIT, CHAIR], 80))
    for sid in (UNIT, CHAIR, *CADRES[1:]):
        w.propose_and_decide(sid, "HTT")
    fault = w.ground(CADRES[0], "tasks_failed", 30)
    w.propose_and_decide(CADRES[0], "HT", evidence=[fault], reason="Nhiệm vụ chưa đạt.")
    w.on(AUTHORITY, "evidence.recorded", cadre=CADRES[0], kind="mitigation", evidence=fault,
         text="Đã tự khắc phục.")  # fmt: skip
    w.on(AUTHORITY, "result.published")


def p4_nothing_changed(regime: str) -> None:
    _decided_on_ballots(regime).on(AUTHORITY, "result.published")


STATE = ("ND335", "ND90+48")
ALL_OK = dict.fromkeys(REGIMES, "ok")
PARTY_OK = {"QD366": "ok", "QD124": "ok"}
CRITERIA_OK = dict.fromkeys(CRITERIA, "ok")
NO_POINTS = dict.fromkeys(CRITERIA, "not-in-regime")
CASES: list[tuple[Callable[[str], None], dict[str, str]]] = [
    (r1_profile_hash_pinned, dict.fromkeys(REGIMES, "invalid-field")),
    # Only the version in force at the log's time opens a new cycle (QĐ 366 and ND 90
    # have a version 2 with their task conditions).
    (r1_superseded_profile,
     {**ALL_OK, "QD366": "profile-superseded", "ND90+48": "profile-superseded"}),
    (r1_superseded_profile_before_it_was, ALL_OK),
    (r2_unknown_level, dict.fromkeys(REGIMES, "invalid-field")),
    (r3_general_over_30, {**dict.fromkeys(POINTS, "score-out-of-range"), **NO_POINTS}),
    (r3_level_above_thresholds, {**dict.fromkeys(POINTS, "level-not-allowed"), **CRITERIA_OK}),
    (r3_thresholds_give_htt, dict.fromkeys(REGIMES, "ok")),
    (r5_duty_discipline_forces_kht, dict.fromkeys(REGIMES, "level-not-allowed")),
    # QĐ 366 (and QĐ 124) count only discipline for a duty-related violation.
    (r5_other_discipline, {**PARTY_OK, **dict.fromkeys(STATE, "level-not-allowed")}),
    (r5_last_years_discipline, dict.fromkeys(REGIMES, "ok")),
    (r6_leader_low_confidence, {**ALL_OK, "QD366": "level-not-allowed"}),
    # ND 90+48 has no HTT-based quota (its Party-share rule needs a setting).
    (r7_htxs_over_quota, {**dict.fromkeys(REGIMES, "quota-exceeded"), "ND90+48": "ok"}),
    (r7_htxs_within_quota, dict.fromkeys(REGIMES, "ok")),
    (r8_head_above_collective, dict.fromkeys(REGIMES, "head-above-collective")),
    (r9_head_before_collective, dict.fromkeys(REGIMES, "wrong-phase")),
    (r9_self_assessment_after_meeting, dict.fromkeys(REGIMES, "wrong-phase")),
    (r9_minutes_edited, dict.fromkeys(REGIMES, "minutes-adopted")),
    (r10_self_scoring, {**dict.fromkeys(POINTS, "self-evaluation"), **NO_POINTS}),
    (r10_self_appraisal, dict.fromkeys(REGIMES, "self-evaluation")),
    (r11_decision_without_authority, dict.fromkeys(REGIMES, "not-authorised")),
    # State decrees close on 15/12, Party regulations on 31/12.
    (r12_after_state_deadline, {**PARTY_OK, **dict.fromkeys(STATE, "deadline-passed")}),
    (r13_publication_before_decisions, dict.fromkeys(REGIMES, "wrong-phase")),
    (r14_revision_without_cause, dict.fromkeys(REGIMES, "unknown-reference")),
    (r16_worked_under_six_months, {**ALL_OK, "ND90+48": "level-not-allowed"}),
    # Issue 15 §2: each would be admitted by the rules before it (all "ok").
    (h1_publication_back_dated, dict.fromkeys(REGIMES, "date-from-log")),
    (h2_quota_broken_by_a_later_decision,
     {**dict.fromkeys(REGIMES, "quota-exceeded"), "ND90+48": "ok"}),
    (h2_collective_re_classified_under_its_head, dict.fromkeys(REGIMES, "head-above-collective")),
    (h3_lowered_on_free_text, {**dict.fromkeys(POINTS, "ungrounded-level"), **CRITERIA_OK}),
    (h3_not_rated_without_ground, dict.fromkeys(REGIMES, "ungrounded-level")),
    (h3_mitigating_a_degradation_finding,
     {**dict.fromkeys(REGIMES, "not-in-regime"), "QD366": "not-mitigable"}),
    (h4_upheld_complaint_then_lower, dict.fromkeys(REGIMES, "against-complainant")),
    (h5_conflicted_advisory_proposes, dict.fromkeys(REGIMES, "conflict-of-interest")),
    (h5_conflicted_authority_decides, dict.fromkeys(REGIMES, "conflict-of-interest")),
    (h5_conflict_after_voting_leaves_the_tally,
     {**dict.fromkeys(POINTS, "tally-mismatch"), **NO_POINTS}),
    (h5_leader_counts_own_confidence_vote, dict.fromkeys(REGIMES, "self-evaluation")),
    (h5_authority_joins_the_advisory_body, dict.fromkeys(REGIMES, "roles-apart")),
    (h6_tally_after_one_ballot_of_three, {**dict.fromkeys(POINTS, "ballots-missing"), **NO_POINTS}),
    (h7_appeal_resolved_in_45_days, ALL_OK),
    (h7_appeal_when_the_first_is_left_unhandled, ALL_OK),
    (h7_appeal_before_the_first_limit, dict.fromkeys(REGIMES, "appeal-not-open")),
    # Task conditions are QĐ 366's and ND 90's (version 2 of their profiles).
    (h8_htxs_with_60_percent_of_tasks_failed,
     {**ALL_OK, "QD366": "task-conditions-unmet", "ND90+48": "task-conditions-unmet"}),
    (h8_task_conditions_met, ALL_OK),
    (h9_threshold_on_the_exact_mean, {**dict.fromkeys(POINTS, "level-not-allowed"), **NO_POINTS}),
    # Publication judges each decision again on the final record (decision-outdated).
    (p1_conflict_declared_after_the_decision_recounts_below,
     {**dict.fromkeys(POINTS, "decision-outdated"), **CRITERIA_OK}),
    (p1_re_decided_after_the_recount, ALL_OK),
    (p2_decider_declares_a_conflict_after_deciding, dict.fromkeys(REGIMES, "decision-outdated")),
    (p2_proposer_declares_a_conflict_after_proposing,
     dict.fromkeys(REGIMES, "decision-outdated")),
    (p3_forcing_evidence_recorded_after_the_decision,
     dict.fromkeys(REGIMES, "decision-outdated")),
    # Only QĐ 366 counts tasks_failed (lowering on it) and has mitigation.
    (p3_mitigation_after_a_lowered_decision,
     {"QD366": "decision-outdated", "ND335": "ungrounded-level", **NO_POINTS}),
    (p4_nothing_changed, ALL_OK),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "regime", "expected"),
    [(case, regime, expected[regime]) for case, expected in CASES for regime in REGIMES],
    ids=[f"{case.__name__}-{regime}" for case, _ in CASES for regime in REGIMES],
)
def test_rule(case: Callable[[str], None], regime: str, expected: str) -> None:
    try:
        case(regime)
    except Rejected as e:
        outcome = e.problem.slug
        assert e.detail_vi and e.detail_en
    else:
        outcome = "ok"
    assert outcome == expected
