"""Which level the rules allow a subject, and the rules across a group.

``allowed`` gives (forced level or None, the highest level allowed, why): thresholds on
the score (points regimes), the leave rules, and the evidence that forces KHT unless a
mitigation cites it. ``judged`` holds a proposed or decided level to it; ``group_rules``
adds the HTXS quota of the comparable group and the head-versus-collective cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from domain.acts import Act
from domain.evaluation import Evaluation, Outcome
from domain.fields import given
from domain.levels import Level
from domain.problems import (
    HEAD_ABOVE_COLLECTIVE,
    LEVEL_NOT_ALLOWED,
    QUOTA_EXCEEDED,
    REASON_REQUIRED,
    wrong_phase,
)
from ledger.errors import Rejected

if TYPE_CHECKING:
    from domain.cycle import Cycle


def allowed(
    cycle: Cycle, ev: Evaluation, corrected: dict[str, Any] | None = None
) -> tuple[Level | None, Level, list[dict[str, Any]]]:
    """What the regime lets this subject be rated: (forced level or None, highest, why)."""
    profile, subject = cycle.profile, ev.subject
    why: list[dict[str, Any]] = []
    highest = Level.HTXS
    if profile.points:
        scored = corrected or ev.corrected or ev.tally
        if scored is None:
            return None, Level.KHT, why
        highest, words = profile.threshold_level(scored["total"])
        why.append({"rule": "thresholds", "detail": words, "event": scored["event"]})
    if profile.setting("leave_rules"):
        worked = subject.months_worked
        if worked is not None and worked < 6 and not subject.maternity:
            why.append({"rule": "worked_under_6_months", "event": cycle.roster})
            return Level.NONE, Level.NONE, why
        if 3 <= subject.leave_months < 6 and highest.rank > Level.HT.rank:
            highest = Level.HT
            why.append({"rule": "leave_3_to_6_months", "event": cycle.roster})
    forced = _forcing(cycle, ev)
    if forced:
        return Level.KHT, Level.KHT, why + forced
    return None, highest, why


def _forcing(cycle: Cycle, ev: Evaluation) -> list[dict[str, Any]]:
    """The evidence that forces KHT, less what a recorded mitigation softens."""
    profile, subject = cycle.profile, ev.subject
    mitigated = {e.detail["evidence"] for e in ev.evidence if e.kind == "mitigation"}
    found: list[dict[str, Any]] = []

    def applies(condition: str) -> Mapping[str, Any] | None:
        rule = profile.forced(condition)
        if rule is None:
            return None
        who = rule["who"]
        if (who == "leaders" and not subject.leader) or (who == "staff" and subject.leader):
            return None
        return rule

    for e in ev.evidence:
        rule = applies(e.kind)
        if rule is None or e.event in mitigated:
            continue
        percent = e.detail.get("percent")
        hit = {
            "discipline": (not rule.get("duty_related") or e.detail["duty_related"])
            and e.year == cycle.year
            and "already_counted_in" not in e.detail,
            "tasks_failed": percent is not None and percent > rule.get("over_percent", 100),
            "subordinate_kht": percent is not None and percent > rule.get("over_percent", 100),
            "unit_completion": percent is not None and percent < rule.get("under_percent", 0),
            "criteria_failed": percent is not None and percent >= rule.get("at_least_percent", 101),
        }.get(e.kind, True)
        if hit:
            found.append({"rule": f"forced_kht:{e.kind}", "event": e.event})
    rule = applies("low_confidence")
    if rule is not None and ev.confidence is not None:
        votes, low = ev.confidence["votes"], ev.confidence["low"]
        if low * 100 > votes * int(rule["over_percent"]):
            found.append({"rule": "forced_kht:low_confidence", "event": ev.confidence["event"]})
    return found


def judged(
    cycle: Cycle,
    act: Act,
    ev: Evaluation,
    level: Level,
    corrected: dict[str, Any] | None = None,
    proposed: Outcome | None = None,
) -> Outcome:
    """Check ``level`` against the rules; a decision that follows a reasoned proposal
    inherits its reason."""
    forced, highest, why = allowed(cycle, ev, corrected)
    reason = act.body.text("reason", optional=True)
    if not given(reason) and proposed is not None and proposed.level == level:
        reason = proposed.reason
    if forced is not None and level != forced:
        raise Rejected(
            LEVEL_NOT_ALLOWED,
            f"Phải xếp loại {forced.value} ({forced.vi}) theo quy định: "
            f"{', '.join(w['rule'] for w in why)}.",
            f"The rules force {forced.value} ({forced.en}): {', '.join(w['rule'] for w in why)}.",
            required=forced.value,
            why=why,
        )
    if level.rank > highest.rank:
        raise Rejected(
            LEVEL_NOT_ALLOWED,
            f"{level.value} cao hơn mức tối đa {highest.value} mà kết quả cho phép.",
            f"{level.value} is above {highest.value}, the most the results allow.",
            highest=highest.value,
            why=why,
        )
    # Below what the score gives needs a reason; criteria regimes have no such mark.
    if level.rank < highest.rank and cycle.profile.points:
        if not given(reason):
            raise Rejected(
                REASON_REQUIRED,
                f"Xếp {level.value} thấp hơn mức {highest.value} theo điểm thì phải nêu lý do.",
                f"Rating {level.value} below the {highest.value} the score gives needs a reason.",
            )
        why = [*why, {"rule": "lowered_with_reason", "event": act.event}]
    return Outcome(level, act.event, why, reason)


def group_rules(cycle: Cycle, ev: Evaluation, level: Level) -> None:
    """The HTXS quota within the comparable group, and a head not above their collective."""
    subject = ev.subject
    if level == Level.HTXS:
        group = [e for e in cycle.evaluations.values() if e.subject.group == subject.group]
        others = [e for e in group if e is not ev]
        htxs = 1 + sum(1 for e in others if e.decision and e.decision.level == Level.HTXS)
        base = sum(1 for e in others if e.current == Level.HTT)
        exception = subject.group in cycle.quota_exceptions
        cap = cycle.profile.quota_cap(base, exception)
        share = cycle.profile.setting("party_htxs_share")
        if cap is None and share is not None:
            cap = int(Fraction(str(share)) * len(group))
        if cap is not None and htxs > cap:
            raise Rejected(
                QUOTA_EXCEEDED,
                f"Nhóm {subject.group}: {htxs} HTXS vượt mức tối đa {cap} "
                f"({'có' if exception else 'không có'} ngoại lệ; {base} HTT).",
                f"Group {subject.group}: {htxs} HTXS exceeds the cap of {cap} "
                f"({'with' if exception else 'without'} an exception; {base} HTT).",
                group=subject.group,
                cap=cap,
                htxs=htxs,
                htt=base,
            )
    if subject.head_of is not None:
        collective = cycle.evaluations[subject.head_of]
        if collective.decision is None:
            raise wrong_phase(
                "Phải xếp loại tập thể trước người đứng đầu.",
                "The collective must be rated before its head.",
                collective=subject.head_of,
            )
        cap_level = collective.decision.level
        if cycle.profile.setting("head_cap") and level.rank > cap_level.rank:
            raise Rejected(
                HEAD_ABOVE_COLLECTIVE,
                f"Người đứng đầu không được xếp {level.value} cao hơn tập thể ({cap_level.value}).",
                f"The head cannot be rated {level.value}, above their collective "
                f"({cap_level.value}).",
                collective=subject.head_of,
                collective_level=cap_level.value,
            )
