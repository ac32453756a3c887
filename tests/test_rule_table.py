"""DOMAIN.md's checkable rules, case by case, under each regime that has them.

Each row: a regime, a case (a small story ending in one act), and what the rule says
about that act — admitted ("ok") or refused with a given problem type. The numbers in
the case names are the rules' numbers in DOMAIN.md §7.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

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


STATE = ("ND335", "ND90+48")
ALL_OK = dict.fromkeys(REGIMES, "ok")
PARTY_OK = {"QD366": "ok", "QD124": "ok"}
CRITERIA_OK = dict.fromkeys(CRITERIA, "ok")
NO_POINTS = dict.fromkeys(CRITERIA, "not-in-regime")
CASES: list[tuple[Callable[[str], None], dict[str, str]]] = [
    (r1_profile_hash_pinned, dict.fromkeys(REGIMES, "invalid-field")),
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
