"""The evaluation rules, one by one: each refusal has its own problem type and words.

These drive the pure model (no database); ``test_domain_ledger.py`` shows the same
rules enforced by a real ledger.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from domain.levels import Level
from domain.regimes import PROFILES, make_profile
from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    INSPECTION,
    PANEL,
    UNIT,
    World,
    pin,
)


@pytest.fixture(params=[False, True], ids=["plain", "sealed"])
def world(request: pytest.FixtureRequest) -> World:
    """Every rule judged twice: with free texts plain, and sealed (only commitments)."""
    w = World(seal=request.param)
    w.open()
    w.roster()
    return w


@pytest.fixture
def scored(world: World) -> World:
    world.review()
    world.score_all({CADRES[0]: 92, CADRES[1]: 80, CADRES[2]: 75, CADRES[3]: 60, CADRES[4]: 40})
    world.score_all({UNIT: 85, CHAIR: 88})
    return world


# -- keys and the registry -------------------------------------------------------------


def test_an_unregistered_key_is_refused() -> None:
    w = World()
    w.refused("unknown-key", "nobody", "unit.registered", unit="x", name="X")


def test_only_the_root_or_a_registrar_registers_people() -> None:
    w = World()
    w.enrol("a")
    w.refused(
        "not-authorised",
        "a",
        "person.registered",
        person="b",
        name="B",
        key=str(w.key("b").verifier),
    )
    w.act("root", "role.granted", person="a", role="registrar")
    w.act("a", "person.registered", person="b", name="B", key=str(w.key("b").verifier))
    # Registrars grant standing roles, but only the root makes registrars.
    w.act("a", "role.granted", person="b", role="auditor")
    w.refused("not-authorised", "a", "role.granted", person="b", role="registrar")


def test_a_key_must_be_named_for_its_person() -> None:
    w = World()
    w.refused(
        "invalid-field",
        "root",
        "person.registered",
        person="a",
        name="A",
        key=str(w.key("z").verifier),
    )
    w.refused("invalid-field", "root", "person.registered", person="a", name="A", key="a+00+xx")


def test_a_registered_key_is_read_as_the_ledger_reads_it() -> None:
    """One parser (``VerifierKey.parse``): a key whose ID does not match, or spelt other
    than the ledger spells it, is refused at the door rather than registered to no use."""
    w = World()
    good = str(w.key("a").verifier)
    name, key_id, blob = good.split("+", 2)
    wrong_id = f"{int(key_id, 16) ^ 1:08x}"
    for bad in (f"{name}+{wrong_id}+{blob}", f"{name}+{key_id.upper()}+{blob}"):
        if bad == good:
            continue
        w.refused("invalid-field", "root", "person.registered", person="a", name="A", key=bad)
    w.act("root", "person.registered", person="a", name="A", key=good)


def test_a_revoked_key_signs_nothing_more_and_its_rotation_does() -> None:
    w = World()
    w.enrol("a")
    old = w.keys.pop("a")
    new = w.key("a")
    w.act("root", "key.registered", person="a", key=str(new.verifier))
    w.act("a", "key.revoked", signer=old, person="a", key=str(old.verifier), reason="Mất máy.")
    w.refused("key-revoked", "a", "unit.registered", signer=old, unit="x", name="X")
    # The person may revoke their own key; a reason is required.
    w.refused("reason-required", "a", "key.revoked", person="a", key=str(new.verifier), reason=" ")
    assert w.model.registry.people["a"].keys[str(new.verifier)].revoked_by is None


def test_a_key_is_not_valid_before_its_start() -> None:
    w = World()
    later = (w.clock + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    w.act(
        "root",
        "person.registered",
        person="a",
        name="A",
        key=str(w.key("a").verifier),
        valid_from=later,
    )
    w.act("root", "role.granted", person="a", role="organiser")
    w.refused("key-not-yet-valid", "a", "unit.registered", unit="x", name="X")


def test_unknown_statement_types_are_refused() -> None:
    w = World()
    w.refused("unknown-statement-type", "root", "score.deleted")


# -- opening a cycle -------------------------------------------------------------------


def test_a_cycle_pins_a_profile_by_hash() -> None:
    w = World()
    w.enrol(AUTHORITY, CHAIR)
    w.act("root", "role.granted", person=AUTHORITY, role="organiser")
    roles = {"authority": [AUTHORITY], "chair": [CHAIR]}
    wrong = {**pin(), "hash": "0" * 64}
    w.refused_on(
        "invalid-field", AUTHORITY, "cycle.opened", regime=wrong, year=2026, unit=UNIT, roles=roles
    )
    unknown = {"id": "QD999", "version": 1, "hash": "0" * 64}
    w.refused_on(
        "invalid-field",
        AUTHORITY,
        "cycle.opened",
        regime=unknown,
        year=2026,
        unit=UNIT,
        roles=roles,
    )
    bad_setting = {"head_cap": "yes"}
    w.refused_on(
        "invalid-field",
        AUTHORITY,
        "cycle.opened",
        regime=pin(),
        year=2026,
        unit=UNIT,
        roles=roles,
        settings=bad_setting,
    )
    w.on(AUTHORITY, "cycle.opened", regime=pin(), year=2026, unit=UNIT, roles=roles)
    cycle = w.model.cycles[CYCLE]
    assert cycle.profile.hash == pin()["hash"]
    assert cycle.deadline.isoformat() == "2026-12-31"


def test_only_an_organiser_opens_a_cycle() -> None:
    w = World()
    w.enrol(AUTHORITY)
    w.refused_on(
        "not-authorised",
        AUTHORITY,
        "cycle.opened",
        regime=pin(),
        year=2026,
        unit=UNIT,
        roles={"authority": [AUTHORITY], "chair": [AUTHORITY]},
    )


def test_every_regime_profile_has_a_stable_hash() -> None:
    hashes = {key: make_profile(data, {}).hash for key, data in PROFILES.items()}
    assert len(set(hashes.values())) == len(PROFILES) == 6
    # Version 2 (task conditions) left every version 1 exactly as cycles pinned it.
    assert hashes[("QD366", 1)].startswith("9bd66d9c")
    assert hashes[("ND90+48", 1)].startswith("3710c056")
    assert {r for r, _ in PROFILES} == {"QD366", "ND335", "ND90+48", "QD124"}


# -- process order ---------------------------------------------------------------------


def test_the_meeting_waits_for_every_self_assessment(world: World) -> None:
    world.on(CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…")
    problem = world.refused_on(
        "wrong-phase", CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR]
    )
    assert CADRES[1] in problem.extensions["subjects"]


def test_self_assessment_comes_before_the_meeting(world: World) -> None:
    world.review()
    world.refused_on(
        "wrong-phase", CADRES[1], "self_assessment.submitted", cadre=CADRES[1], report="…"
    )


def test_only_the_person_self_assesses(world: World) -> None:
    world.refused_on(
        "not-authorised", CADRES[1], "self_assessment.submitted", cadre=CADRES[0], report="…"
    )


def test_minutes_list_every_comment_and_are_never_edited(world: World) -> None:
    for sid in world.subjects():
        owner = CHAIR if sid == UNIT else sid
        world.on(owner, "self_assessment.submitted", cadre=sid, report="…")
    meeting = world.on(CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR, *PANEL])
    first = world.on(PANEL[0], "comment.made", cadre=CADRES[0], meeting=meeting, text="Một.")
    second = world.on(PANEL[1], "comment.made", cadre=CADRES[1], meeting=meeting, text="Hai.")
    # A comment dropped from the minutes is refused, and a stranger may not comment.
    problem = world.refused_on(
        "wrong-phase", CHAIR, "minutes.adopted", meeting=meeting, comments=[first], text="…"
    )
    assert problem.extensions["missing"] == [second]
    world.refused_on(
        "not-authorised", CADRES[2], "comment.made", cadre=CADRES[0], meeting=meeting, text="…"
    )
    world.on(CHAIR, "minutes.adopted", meeting=meeting, comments=[first, second], text="…")
    world.refused_on(
        "minutes-adopted",
        CHAIR,
        "minutes.adopted",
        meeting=meeting,
        comments=[first, second],
        text="…",
    )
    world.refused_on(
        "minutes-adopted", PANEL[2], "comment.made", cadre=CADRES[0], meeting=meeting, text="Muộn."
    )
    # Never edited, only superseded: with the same comments, a reason, the original named.
    minutes = world.model.cycles[CYCLE].meetings[meeting].minutes
    assert minutes is not None
    again = {"meeting": meeting, "comments": [first, second], "text": "Bản sửa."}
    superseded = "minutes.superseded"
    world.refused_on("reason-required", CHAIR, superseded, supersedes=minutes, reason="", **again)
    partial = {**again, "comments": [first]}
    world.refused_on("wrong-phase", CHAIR, superseded, supersedes=minutes, reason="x", **partial)
    newer = world.on(CHAIR, superseded, supersedes=minutes, reason="Sai chính tả.", **again)
    world.refused_on(
        "unknown-reference", CHAIR, superseded, supersedes=minutes, reason="x", **again
    )
    assert world.model.cycles[CYCLE].meetings[meeting].superseded == [minutes]
    assert world.model.cycles[CYCLE].meetings[meeting].minutes == newer


def test_scoring_starts_after_the_minutes(world: World) -> None:
    world.refused_on(
        "wrong-phase", PANEL[0], "score.submitted", cadre=CADRES[0], general=20, tasks=50
    )


# -- ballots ---------------------------------------------------------------------------


def test_scores_stay_within_the_regime_frame(world: World) -> None:
    world.review()
    problem = world.refused_on(
        "score-out-of-range", PANEL[0], "score.submitted", cadre=CADRES[0], general=31, tasks=50
    )
    assert problem.extensions["maximum"] == 30
    world.refused_on(
        "score-out-of-range",
        PANEL[0],
        "score.submitted",
        cadre=CADRES[0],
        general=20,
        tasks="70.01",
    )
    world.refused_on(
        "invalid-field", PANEL[0], "score.submitted", cadre=CADRES[0], general="20.123", tasks=50
    )
    world.on(PANEL[0], "score.submitted", cadre=CADRES[0], general="29.5", tasks=70)


def test_nobody_scores_themselves_and_conflicts_bar(world: World) -> None:
    w = World()
    w.open()
    w.on(AUTHORITY, "cycle.roster", subjects=[{"id": p, "name": p} for p in [*PANEL, *CADRES]])
    w.review()
    w.refused_on(
        "self-evaluation", PANEL[0], "score.submitted", cadre=PANEL[0], general=30, tasks=70
    )
    w.on(PANEL[1], "conflict.declared", cadre=CADRES[2], reason="Vợ chồng.")
    w.refused_on(
        "conflict-of-interest", PANEL[1], "score.submitted", cadre=CADRES[2], general=20, tasks=50
    )
    w.refused_on(
        "not-authorised", CADRES[0], "score.submitted", cadre=CADRES[1], general=20, tasks=50
    )


def test_an_amendment_names_the_ballot_and_gives_a_reason(world: World) -> None:
    world.review()
    ballot = world.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=20, tasks=50)
    world.refused_on(
        "already-exists", PANEL[0], "score.submitted", cadre=CADRES[0], general=21, tasks=50
    )
    amend = {"cadre": CADRES[0], "general": 22, "tasks": 50}
    world.refused_on(
        "reason-required", PANEL[0], "score.amended", amends=ballot, reason="  ", **amend
    )
    world.refused_on(
        "unknown-reference", PANEL[1], "score.amended", amends=ballot, reason="x", **amend
    )
    fixed = world.on(PANEL[0], "score.amended", amends=ballot, reason="Đối chiếu lại.", **amend)
    # The next amendment must build on the latest one, not the original.
    world.refused_on(
        "unknown-reference", PANEL[0], "score.amended", amends=ballot, reason="x", **amend
    )
    world.on(PANEL[0], "score.amended", amends=fixed, reason="Sửa lần hai.", **amend)
    ballots = world.model.cycles[CYCLE].evaluations[CADRES[0]].ballots
    assert len(ballots[PANEL[0]].amendments) == 2


def test_the_tally_must_equal_the_ballots(world: World) -> None:
    world.review()
    for scorer, total in zip(PANEL, (80, 81, 83), strict=True):
        world.on(scorer, "score.submitted", cadre=CADRES[0], general=25, tasks=total - 25)
    problem = world.refused_on(
        "tally-mismatch", CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="81"
    )
    assert problem.extensions["expected_total"] == "81.33"
    world.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="81.33")
    world.refused_on(
        "wrong-phase",
        PANEL[0],
        "score.amended",
        cadre=CADRES[0],
        general=30,
        tasks=70,
        amends="0" * 64,
        reason="Quá muộn.",
    )


# -- levels, quotas, heads -------------------------------------------------------------


def test_a_level_above_the_score_is_refused_and_below_it_needs_a_reason(scored: World) -> None:
    scored.refused_on(
        "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTXS"
    )
    scored.refused_on(
        "reason-required", ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HT"
    )
    # A free-text reason is not a ground: lowering cites typed evidence.
    lowered = {"cadre": CADRES[1], "level": "HT", "reason": "Chậm tiến độ."}
    scored.refused_on("ungrounded-level", ADVISORY, "appraisal.proposed", **lowered)
    grounds = scored.ground(CADRES[1])
    scored.on(ADVISORY, "appraisal.proposed", evidence=[grounds], **lowered)
    scored.refused_on("reason-required", AUTHORITY, "decision.issued", cadre=CADRES[1], level="HTT")
    scored.on(AUTHORITY, "decision.issued", cadre=CADRES[1], level="HT")


def test_discipline_forces_kht_unless_mitigated(scored: World) -> None:
    evidence = scored.on(
        AUTHORITY,
        "evidence.recorded",
        cadre=CADRES[1],
        kind="discipline",
        form="khien_trach",
        duty_related=True,
        decided="2026-05-04",
        text="Kỷ luật khiển trách.",
    )
    problem = scored.refused_on(
        "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT"
    )
    assert problem.extensions["required"] == "KHT"
    assert {"rule": "forced_kht:discipline", "event": evidence} in problem.extensions["why"]
    scored.on(
        AUTHORITY,
        "evidence.recorded",
        cadre=CADRES[1],
        kind="mitigation",
        evidence=evidence,
        text="Tự phát hiện và khắc phục.",
    )
    scored.on(ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT")


def test_discipline_not_related_to_duty_does_not_force_under_qd366(scored: World) -> None:
    scored.on(
        AUTHORITY,
        "evidence.recorded",
        cadre=CADRES[2],
        kind="discipline",
        form="canh_cao",
        duty_related=False,
        decided="2026-05-04",
        text="Vi phạm ngoài công vụ.",
    )
    scored.on(ADVISORY, "appraisal.proposed", cadre=CADRES[2], level="HTT")


def test_the_htxs_quota_per_group(scored: World) -> None:
    # staff: one HTXS candidate (92), HTT 80 and 75 → cap floor(0.2 × 2) = 0.
    for sid, level in ((CADRES[1], "HTT"), (CADRES[2], "HTT")):
        scored.propose_and_decide(sid, level)
    scored.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTXS")
    problem = scored.refused_on(
        "quota-exceeded", AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTXS"
    )
    assert problem.extensions["cap"] == 0
    assert problem.extensions["htt"] == 2


def test_a_quota_exception_and_rounding_are_settings() -> None:
    profile = make_profile(PROFILES[("QD366", 1)], {})
    assert profile.quota_cap(9, exception=False) == 1
    assert profile.quota_cap(9, exception=True) == 2
    assert (
        make_profile(PROFILES[("QD366", 1)], {"quota_rounding": "round"}).quota_cap(8, False) == 2
    )
    assert make_profile(PROFILES[("QD366", 1)], {"quota_rounding": "ceil"}).quota_cap(1, False) == 1
    assert make_profile(PROFILES[("ND90+48", 1)], {}).quota_cap(9, False) is None


def test_the_collective_comes_before_its_head_who_is_not_rated_above_it(scored: World) -> None:
    scored.on(ADVISORY, "appraisal.proposed", cadre=CHAIR, level="HTT")
    scored.refused_on("wrong-phase", AUTHORITY, "decision.issued", cadre=CHAIR, level="HTT")
    scored.on(
        ADVISORY,
        "appraisal.proposed",
        cadre=UNIT,
        level="HT",
        reason="Đơn vị chưa đạt chỉ tiêu.",
        evidence=[scored.ground(UNIT)],
    )
    scored.on(AUTHORITY, "decision.issued", cadre=UNIT, level="HT")
    problem = scored.refused_on(
        "head-above-collective", AUTHORITY, "decision.issued", cadre=CHAIR, level="HTT"
    )
    assert problem.extensions["collective_level"] == "HT"


def test_the_head_cap_can_be_turned_off() -> None:
    w = World()
    w.open(settings={"head_cap": False})
    w.roster()
    w.review()
    w.score_all({UNIT: 85, CHAIR: 88})
    w.propose_and_decide(UNIT, "HT", reason="Đơn vị chưa đạt chỉ tiêu.", evidence=[w.ground(UNIT)])
    w.propose_and_decide(CHAIR, "HTT")


def test_the_chair_does_not_decide_their_own_collective() -> None:
    w = World()
    w.open()
    w.roster()
    w.model.cycles[CYCLE].roles["advisory"].add(CHAIR)
    w.review()
    w.score_all({UNIT: 85})
    w.refused_on("self-evaluation", CHAIR, "appraisal.proposed", cadre=UNIT, level="HTT")


# -- deadlines -------------------------------------------------------------------------


def test_late_acts_need_a_recorded_exception(world: World) -> None:
    world.clock = datetime(2027, 1, 3, 1, 0, tzinfo=UTC)
    problem = world.refused_on(
        "deadline-passed", CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…"
    )
    assert problem.extensions["deadline"] == "2026-12-31"
    world.refused_on(
        "reason-required", AUTHORITY, "exception.recorded", until="2027-01-15", reason=""
    )
    world.on(
        AUTHORITY,
        "exception.recorded",
        acts=["self_assessment.submitted"],
        until="2027-01-15",
        reason="Đơn vị sáp nhập, lùi thời hạn.",
    )
    world.on(CADRES[0], "self_assessment.submitted", cadre=CADRES[0], report="…")
    world.refused_on("deadline-passed", CHAIR, "meeting.held", date="2027-01-03", attendees=[CHAIR])


# -- decisions, publication, complaints, re-classification -----------------------------


@pytest.fixture
def published(scored: World) -> World:
    return publish(scored)


def publish(scored: World) -> World:
    """Every subject proposed and decided within the quota, and the result published."""
    scored.propose_and_decide(UNIT, "HTT")
    scored.propose_and_decide(CHAIR, "HTT")
    scored.propose_and_decide(CADRES[0], "HTT", reason="Vượt tỷ lệ.", quota=True)
    for sid, level in (
        (CADRES[1], "HTT"),
        (CADRES[2], "HTT"),
        (CADRES[3], "HT"),
        (CADRES[4], "KHT"),
    ):
        scored.propose_and_decide(sid, level)
    scored.on(AUTHORITY, "result.published")
    return scored


def test_publication_waits_for_every_decision(scored: World) -> None:
    scored.propose_and_decide(CADRES[1], "HTT")
    problem = scored.refused_on("wrong-phase", AUTHORITY, "result.published")
    assert CADRES[0] in problem.extensions["undecided"]


def test_a_decision_is_changed_only_by_a_reasoned_re_classification(published: World) -> None:
    w = published
    decision = w.model.cycles[CYCLE].evaluations[CADRES[3]].decision
    assert decision is not None
    w.refused_on("already-exists", AUTHORITY, "decision.issued", cadre=CADRES[3], level="HTT")
    complaint = w.on(
        CADRES[3], "complaint.filed", cadre=CADRES[3], against=decision.event, grounds="Thiếu điểm."
    )
    w.refused_on(
        "not-authorised",
        CADRES[2],
        "complaint.filed",
        cadre=CADRES[3],
        against=decision.event,
        grounds="…",
    )
    w.refused_on(
        "wrong-phase",
        INSPECTION,
        "complaint.resolved",
        cadre=CADRES[3],
        complaint=complaint,
        upheld=True,
        finding="…",
    )
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[3], complaint=complaint)
    revise = {
        "cadre": CADRES[3],
        "level": "HTT",
        "supersedes": decision.event,
        "total": "72",
        "reason": "Theo kết luận giải quyết khiếu nại.",
    }
    # Without an upheld resolution there is no cause to re-classify.
    w.refused_on("unknown-reference", AUTHORITY, "decision.revised", cause=complaint, **revise)
    resolved = w.on(
        INSPECTION,
        "complaint.resolved",
        cadre=CADRES[3],
        complaint=complaint,
        upheld=True,
        finding="Bỏ sót sản phẩm.",
    )
    w.refused_on(
        "reason-required", AUTHORITY, "decision.revised", cause=resolved, **{**revise, "reason": ""}
    )
    w.refused_on(
        "level-not-allowed",
        AUTHORITY,
        "decision.revised",
        cause=resolved,
        **{**revise, "total": "65"},
    )
    w.on(AUTHORITY, "decision.revised", cause=resolved, **revise)
    ev = w.model.cycles[CYCLE].evaluations[CADRES[3]]
    assert ev.decision is not None and ev.decision.level == Level.HTT
    assert [o.event for o in ev.superseded] == [decision.event]  # the original stays
    assert ev.complaints[complaint].status == "upheld"


def test_complaint_windows(published: World) -> None:
    w = published
    decision = w.model.cycles[CYCLE].evaluations[CADRES[4]].decision
    assert decision is not None
    w.clock = datetime(2027, 2, 10, 1, 0, tzinfo=UTC)  # 99 days after publication
    problem = w.refused_on(
        "deadline-passed",
        CADRES[4],
        "complaint.filed",
        cadre=CADRES[4],
        against=decision.event,
        grounds="…",
    )
    assert problem.extensions["window_days"] == 90
    w.clock = datetime(2027, 1, 20, 1, 0, tzinfo=UTC)
    complaint = w.on(
        CADRES[4], "complaint.filed", cadre=CADRES[4], against=decision.event, grounds="…"
    )
    w.clock += timedelta(days=11)
    w.refused_on(
        "deadline-passed", INSPECTION, "complaint.accepted", cadre=CADRES[4], complaint=complaint
    )


def test_an_inspection_finding_also_opens_re_classification(published: World) -> None:
    w = published
    decision = w.model.cycles[CYCLE].evaluations[CADRES[1]].decision
    assert decision is not None
    finding = w.on(
        INSPECTION,
        "finding.recorded",
        cadre=CADRES[1],
        result_wrong=True,
        text="Kết quả không trung thực.",
    )
    w.on(
        AUTHORITY,
        "decision.revised",
        cadre=CADRES[1],
        level="HT",
        supersedes=decision.event,
        cause=finding,
        reason="Theo kết luận kiểm tra.",
        evidence=[w.ground(CADRES[1])],
    )


# -- other regimes ---------------------------------------------------------------------


def test_criteria_regimes_have_no_ballots_and_apply_leave_rules() -> None:
    w = World()
    w.open(regime=pin("ND90+48"))
    w.on(
        AUTHORITY,
        "cycle.roster",
        subjects=[
            {"id": CADRES[0], "name": "A", "months_worked": 4},
            {"id": CADRES[1], "name": "B", "leave_months": 4},
            {"id": CADRES[2], "name": "C", "months_worked": 4, "maternity": True},
        ],
    )
    w.review()
    w.refused_on(
        "not-in-regime", PANEL[0], "score.submitted", cadre=CADRES[1], general=20, tasks=50
    )
    w.refused_on("level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HT")
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="KXL")
    w.refused_on("level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT")
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HT")
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[2], level="HTXS")


def test_low_confidence_forces_kht_for_leaders_under_qd366(scored: World) -> None:
    scored.on(AUTHORITY, "cycle.role_assigned", role="chair", person=INSPECTION)
    scored.on(INSPECTION, "confidence.tallied", cadre=CHAIR, votes=20, low=11)
    problem = scored.refused_on(
        "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CHAIR, level="HTT"
    )
    assert problem.extensions["why"][-1]["rule"] == "forced_kht:low_confidence"


# -- the model's own guarantees --------------------------------------------------------


def test_a_refused_act_changes_nothing_and_a_draft_is_kept_only_on_commit(scored: World) -> None:
    from projections.views import digest, documents

    before = digest(documents(scored.model))
    scored.refused_on(
        "level-not-allowed", ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTXS"
    )
    assert digest(documents(scored.model)) == before

    base = scored.model
    draft = base.begin()
    scored.model = draft
    scored.on(ADVISORY, "appraisal.proposed", cadre=CADRES[1], level="HTT")
    assert base.cycles[CYCLE].evaluations[CADRES[1]].proposal is None  # not yet
    draft.commit()
    proposal = base.cycles[CYCLE].evaluations[CADRES[1]].proposal
    assert proposal is not None and proposal.level == Level.HTT


def _changeable(value: object, found: dict[int, object] | None = None) -> dict[int, object]:
    """Every list, dict, set and (unfrozen) dataclass reachable from ``value``, by id."""
    found = {} if found is None else found
    if id(value) in found:
        return found
    if isinstance(value, (list, tuple, set, frozenset)):
        children: list[object] = list(value)
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return found
    if not isinstance(value, (tuple, frozenset)) and not (
        dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
    ):
        found[id(value)] = value
    for child in children:
        _changeable(child, found)
    return found


def test_a_drafts_copy_of_an_evaluation_is_deep_and_shares_nothing(scored: World) -> None:
    """A batch copies an evaluation on its first write to it with ``Evaluation``'s own
    ``__deepcopy__`` (cheaper than the generic one): field by field the same, and
    nothing the copy could change is the original's."""
    import copy

    discipline = {"kind": "discipline", "form": "khien_trach", "duty_related": True}
    scored.on(
        AUTHORITY,
        "evidence.recorded",
        cadre=CADRES[4],
        decided="2026-05-04",
        text="…",
        **discipline,
    )
    scored.on(INSPECTION, "conflict.declared", cadre=CADRES[2], reason="Người thân.")
    publish(scored)
    decision = scored.model.cycles[CYCLE].evaluations[CADRES[3]].decision
    assert decision is not None
    complaint = {"against": decision.event, "grounds": "Thiếu điểm."}
    scored.on(CADRES[3], "complaint.filed", cadre=CADRES[3], **complaint)
    evaluations = scored.model.cycles[CYCLE].evaluations.values()
    assert any(ev.evidence for ev in evaluations) and any(ev.complaints for ev in evaluations)
    assert any(ev.conflicts for ev in evaluations) and any(ev.comments for ev in evaluations)
    for ev in evaluations:
        twin = copy.deepcopy(ev)
        assert type(twin) is type(ev) and twin == ev
        assert dataclasses.asdict(twin) == dataclasses.asdict(ev)
        assert not _changeable(twin).keys() & _changeable(ev).keys()
        assert twin.subject is not ev.subject and twin.subject == ev.subject


def test_replay_records_what_the_rules_refuse_instead_of_raising() -> None:
    from domain.acts import Act

    w = World()
    statement = w.statement("nobody", "unit.registered", {"unit": "x", "name": "X"})
    violation = w.model.replay(Act(statement, str(w.key("nobody").verifier), "ab" * 32, 0))
    assert violation is not None and violation.problem == "unknown-key"
    assert w.model.refused == [violation] and w.model.position == 1


def test_publication_checks_the_end_state_a_log_of_older_rules_may_have_broken(
    scored: World,
) -> None:
    """Decisions admitted under older rules (here: set in the model, as a replay of such
    a log leaves them) can together break the quota: publication refuses, so V8 names
    the publication of a cycle that breaks it."""
    from domain.evaluation import Outcome

    levels = {UNIT: "HTT", CHAIR: "HTT", CADRES[1]: "HTT", CADRES[2]: "HTT", CADRES[3]: "HT"}
    for sid, level in (levels | {CADRES[4]: "KHT"}).items():
        scored.propose_and_decide(sid, level)
    scored.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTT", quota=True,
              reason="Vượt tỷ lệ.")  # fmt: skip
    scored.on(AUTHORITY, "decision.issued", cadre=CADRES[0], level="HTT")
    cycle = scored.model.cycles[CYCLE]
    ev = cycle.evaluations[CADRES[0]]
    assert ev.decision is not None
    ev.decision = Outcome(Level.HTXS, ev.decision.event, [])
    problem = scored.refused_on("quota-exceeded", AUTHORITY, "result.published")
    assert problem.extensions["group"] == "staff"
    # Lowered "for the quota" where the quota had room: 4 HTT with an exception allow 1.
    ev.decision = Outcome(Level.HTT, ev.decision.event, [{"rule": "lowered_for_quota"}])
    for sid in CADRES[3:]:
        cycle.evaluations[sid].decision = Outcome(Level.HTT, "e" * 64, [])
    cycle.quota_exceptions["staff"] = "f" * 64
    scored.refused_on("ungrounded-level", AUTHORITY, "result.published")
