"""Which level the rules allow a subject, and the rules across a group.

``allowed`` gives (forced level or None, the highest level allowed, why): thresholds on
the score (points regimes), the leave rules, and the evidence that forces KHT unless a
mitigation cites it. ``judged`` holds a proposed or decided level to it; ``group_rules``
adds the HTXS quota of the comparable group and the head-versus-collective cap, and
``end_state`` checks both again over the whole group whenever a level changes and at
publication: later acts must not break what an earlier decision respected.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from domain.acts import Act
from domain.evaluation import Evaluation, Outcome
from domain.fields import given
from domain.levels import Level
from domain.messages import Term, refusal
from domain.problems import (
    CONFLICT_OF_INTEREST,
    HEAD_ABOVE_COLLECTIVE,
    LEVEL_NOT_ALLOWED,
    QUOTA_EXCEEDED,
    REASON_REQUIRED,
    TASK_CONDITIONS_UNMET,
    UNGROUNDED_LEVEL,
    UNKNOWN_REFERENCE,
    WRONG_PHASE,
)
from ledger.errors import Rejected

if TYPE_CHECKING:
    from domain.cycle.state import CycleState


def allowed(
    cycle: CycleState, ev: Evaluation, corrected: dict[str, Any] | None = None
) -> tuple[Level | None, Level, list[dict[str, Any]]]:
    """What the regime lets this subject be rated: (forced level or None, highest, why)."""
    profile, subject = cycle.profile, ev.subject
    why: list[dict[str, Any]] = []
    highest = Level.HTXS
    if profile.points:
        scored = corrected or ev.corrected or ev.tally
        if scored is None:
            return None, Level.KHT, why
        # Thresholds hold on the exact mean; the rounded total is for display only.
        highest, words = profile.threshold_level(scored.get("exact", scored["total"]))
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
    if profile.has_task_conditions and highest.rank >= Level.HT.rank:
        highest = _task_conditions(cycle, ev, highest, why)
    return None, highest, why


def _task_conditions(
    cycle: CycleState, ev: Evaluation, highest: Level, why: list[dict[str, Any]]
) -> Level:
    """The highest level the subject's latest task figures meet the conditions of (KHT if
    not even HT's); with no figures on record, ``highest`` stands and ``why`` says so."""
    figures = next((e for e in reversed(ev.evidence) if e.kind == "task_figures"), None)
    if figures is None:
        why.append(
            {"rule": "task_conditions_not_on_record", "detail": "task conditions not on record"}
        )
        return highest
    profile, capped = cycle.profile, highest
    while capped.rank >= Level.HT.rank and not profile.task_conditions_met(capped, figures.detail):
        why.append(
            {
                "rule": "task_conditions_unmet",
                "level": capped.value,
                "detail": f"the task figures do not meet {capped.value}'s conditions",
                "event": figures.event,
            }
        )
        capped = _BELOW[capped]
    return capped


_BELOW = {Level.HTXS: Level.HTT, Level.HTT: Level.HT, Level.HT: Level.KHT}


def _forcing(cycle: CycleState, ev: Evaluation) -> list[dict[str, Any]]:
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


# Findings a mitigation (the person found and fixed the fault) cannot soften: a Party
# conclusion of degradation, and corruption, are not faults one corrects oneself.
UNMITIGABLE = frozenset({"degradation", "corruption"})


def judged(
    cycle: CycleState,
    act: Act,
    ev: Evaluation,
    level: Level,
    corrected: dict[str, Any] | None = None,
    proposed: Outcome | None = None,
) -> Outcome:
    """Check ``level`` against the rules; a decision that follows a reasoned proposal
    inherits its reason and grounds."""
    forced, highest, why = allowed(cycle, ev, corrected)
    reason = act.body.text("reason", optional=True)
    if not given(reason) and proposed is not None and proposed.level == level:
        reason = proposed.reason
    if forced is not None and level != forced:
        raise refusal(
            LEVEL_NOT_ALLOWED,
            "level.forced",
            {"required": forced.value, "why": why},
            level=forced,
            why=[Term("rule", w["rule"]) for w in why],
        )
    unmet = [w for w in why if w["rule"] == "task_conditions_unmet" and w["level"] == level.value]
    if unmet:
        raise refusal(
            TASK_CONDITIONS_UNMET,
            "task_conditions_unmet",
            {"highest": highest.value, "figures": unmet[0]["event"]},
            level=level,
            highest=highest,
        )
    if level.rank > highest.rank:
        raise refusal(
            LEVEL_NOT_ALLOWED,
            "level.above",
            {"highest": highest.value, "why": why},
            level=level,
            highest=highest,
        )
    if level == Level.NONE and forced != Level.NONE:
        raise refusal(UNGROUNDED_LEVEL, "level.none", level=level, subject=ev.subject.id)
    # Below what the score gives needs a reason; criteria regimes have no such mark.
    lowered = level.rank < highest.rank and cycle.profile.points
    if lowered and not given(reason):
        raise refusal(REASON_REQUIRED, "level.lowered_reason", level=level, highest=highest)
    # A lowered level must also cite typed grounds: free text is not one.
    if lowered:
        why = [*why, *_grounds(cycle, act, ev, level, highest, proposed)]
    return Outcome(level, act.event, why, reason, act.actor)


def rejudged(cycle: CycleState, ev: Evaluation) -> Rejected | None:
    """Why ``ev``'s decision no longer follows from the record as it stands now (None if
    it does): the tally recounted after a conflict was declared, evidence recorded or
    mitigated since, a conflict its decider (or, for a decision on the proposal, its
    proposer) declared afterwards. Publication asks it of every subject: a decision
    judged on a record that later changed is decided again (a re-classification) first."""
    decision = ev.decision
    if decision is None:
        return None
    level = decision.level
    revised = bool(ev.superseded)
    deciders = [decision.actor]
    if not revised and ev.proposal is not None:
        deciders.append(ev.proposal.actor)
    for actor in deciders:
        if actor and actor in ev.conflicts:
            return refusal(
                CONFLICT_OF_INTEREST,
                "conflict_of_interest",
                actor=actor,
                subject=ev.subject.id,
            )
    forced, highest, why = allowed(cycle, ev)
    if forced is not None and level != forced:
        return refusal(
            LEVEL_NOT_ALLOWED,
            "level.forced",
            level=forced,
            why=[Term("rule", w["rule"]) for w in why],
        )
    if any(w["rule"] == "task_conditions_unmet" and w["level"] == level.value for w in why):
        return refusal(TASK_CONDITIONS_UNMET, "task_conditions_unmet", level=level, highest=highest)
    if level.rank > highest.rank:
        return refusal(LEVEL_NOT_ALLOWED, "level.above", level=level, highest=highest)
    if level == Level.NONE and forced != Level.NONE:
        return refusal(UNGROUNDED_LEVEL, "level.none", level=level, subject=ev.subject.id)
    if level.rank < highest.rank and cycle.profile.points:
        return _grounds_now(cycle, ev, decision, level, highest)
    return None


def _grounds_now(
    cycle: CycleState, ev: Evaluation, decision: Outcome, level: Level, highest: Level
) -> Rejected | None:
    """A lowered level's grounds still hold: it cites some, and no evidence it was
    lowered on has been mitigated since (quota and collective grounds: ``end_state``)."""
    grounds = [w for w in decision.why if w["rule"] in GROUNDS]
    if not grounds:
        return refusal(UNGROUNDED_LEVEL, "grounds.none", level=level, highest=highest)
    counted = set(cycle.profile.data["forced_kht"])
    mitigated = {e.detail["evidence"] for e in ev.evidence if e.kind == "mitigation"}
    for ground in grounds:
        if ground["rule"] == "lowered_on" and (
            ground["event"] in mitigated or ground["kind"] not in counted
        ):
            return refusal(
                UNGROUNDED_LEVEL,
                "grounds.mitigated",
                kind=Term("evidence", ground["kind"]),
            )
    return None


def _grounds(
    cycle: CycleState,
    act: Act,
    ev: Evaluation,
    level: Level,
    highest: Level,
    proposed: Outcome | None,
) -> list[dict[str, Any]]:
    """The typed grounds an act cites for a lowered level: evidence of a kind the regime
    counts (its ``forced_kht`` conditions), a low confidence tally, a full HTXS quota
    (``quota``), or the head's collective (``head_cap``). The last two depend on the
    group as a whole: publication checks them again on the final decisions."""
    body = act.body
    cited = body.events("evidence") if body.has("evidence") else []
    quota, head_cap = body.flag("quota"), body.flag("head_cap")
    if not (cited or quota or head_cap) and proposed is not None and proposed.level == level:
        inherited = [w for w in proposed.why if w["rule"] in GROUNDS]
        if inherited:
            return inherited
    counted = set(cycle.profile.data["forced_kht"])
    mitigated = {e.detail["evidence"] for e in ev.evidence if e.kind == "mitigation"}
    found: list[dict[str, Any]] = []
    for event in cited:
        record = next((e for e in ev.evidence if e.event == event), None)
        confidence = ev.confidence if ev.confidence and ev.confidence["event"] == event else None
        if record is None and confidence is None:
            raise refusal(UNKNOWN_REFERENCE, "grounds.unknown", {"field": "evidence"})
        kind = record.kind if record is not None else "low_confidence"
        if kind not in counted or event in mitigated:
            raise refusal(
                UNGROUNDED_LEVEL,
                "grounds.kind",
                {"evidence": event},
                kind=Term("evidence", kind),
                regime=cycle.profile.id,
            )
        found.append(
            {"rule": "lowered_on", "kind": kind, "detail": f"lowered on {kind}", "event": event}
        )
    if quota:
        if level != Level.HTT or highest != Level.HTXS:
            raise refusal(UNGROUNDED_LEVEL, "grounds.quota_level", high=Level.HTXS, low=Level.HTT)
        found.append(
            {"rule": "lowered_for_quota", "detail": "the group's HTXS quota", "event": act.event}
        )
    if head_cap:
        if ev.subject.head_of is None:
            raise refusal(UNGROUNDED_LEVEL, "grounds.not_head", subject=ev.subject.id)
        found.append(
            {
                "rule": "lowered_to_collective",
                "detail": "the collective's level",
                "event": act.event,
            }
        )
    if not found:
        raise refusal(
            UNGROUNDED_LEVEL,
            "grounds.none",
            {"highest": highest.value},
            level=level,
            highest=highest,
        )
    return found


GROUNDS = ("lowered_on", "lowered_for_quota", "lowered_to_collective")


def group_rules(cycle: CycleState, ev: Evaluation, level: Level) -> None:
    """A decision on ``ev`` at ``level``: a head only after their collective, then the end
    state of everything the change touches (its group's quota, head and collective)."""
    subject = ev.subject
    if subject.head_of is not None and cycle.evaluations[subject.head_of].decision is None:
        raise refusal(WRONG_PHASE, "head_first", {"collective": subject.head_of})
    end_state(cycle, {subject.id: level})


def end_state(cycle: CycleState, changed: Mapping[str, Level] | None = None) -> None:
    """The HTXS quota of each group and every head at most their collective, over the
    decisions as they stand (with ``changed`` applied). With no change: every group and
    every head, as publication requires."""
    groups = (
        {cycle.evaluations[sid].subject.group for sid in changed}
        if changed is not None
        else {ev.subject.group for ev in cycle.evaluations.values()}
    )
    breach = _quota_breach(cycle, changed or {}, groups)
    if breach is not None:
        group, cap, htxs, base, exception = breach
        raise refusal(
            QUOTA_EXCEEDED,
            "quota_exceeded",
            {"group": group, "cap": cap, "htxs": htxs, "htt": base},
            group=group,
            cap=cap,
            htxs=htxs,
            base=base,
            exception=exception,
        )
    if changed is None:
        _group_grounds(cycle)
    if not cycle.profile.setting("head_cap"):
        return
    for head, collective in _heads(cycle, changed):
        head_level = _decided(cycle, head, changed)
        cap_level = _decided(cycle, collective, changed)
        if head_level is None or cap_level is None or head_level.rank <= cap_level.rank:
            continue
        raise refusal(
            HEAD_ABOVE_COLLECTIVE,
            "head_above_collective",
            {"head": head, "collective": collective, "collective_level": cap_level.value},
            head=head,
            level=head_level,
            cap=cap_level,
        )


def _heads(cycle: CycleState, changed: Mapping[str, Level] | None) -> list[tuple[str, str]]:
    """(head, collective) pairs a change touches; every pair when nothing is named."""
    evaluations = cycle.evaluations
    if changed is None:
        return [
            (ev.subject.id, ev.subject.head_of)
            for ev in evaluations.values()
            if ev.subject.head_of is not None and ev.subject.head_of in evaluations
        ]
    pairs: list[tuple[str, str]] = []
    for sid in changed:
        subject = evaluations[sid].subject
        if subject.head_of is not None and subject.head_of in evaluations:
            pairs.append((sid, subject.head_of))
        if subject.kind == "collective" and (head := cycle.owner(sid)) is not None:
            pairs.append((head, sid))
    return pairs


def _group_grounds(cycle: CycleState) -> None:
    """On the final decisions: a level lowered for the quota would really break it at
    HTXS, and one lowered to the collective's is exactly the collective's."""
    for ev in cycle.evaluations.values():
        decision = ev.decision
        if decision is None:
            continue
        sid, rules = ev.subject.id, {w["rule"] for w in decision.why}
        quota_full = "lowered_for_quota" not in rules or (
            _quota_breach(cycle, {sid: Level.HTXS}, {ev.subject.group}) is not None
        )
        if not quota_full:
            raise refusal(
                UNGROUNDED_LEVEL,
                "grounds.quota_not_full",
                {"cadre": sid, "decision": decision.event},
                subject=sid,
                level=decision.level,
                group=ev.subject.group,
            )
        collective = ev.subject.head_of
        if "lowered_to_collective" in rules and collective in cycle.evaluations:
            cap = _decided(cycle, collective, None)
            if cap != decision.level:
                raise refusal(
                    UNGROUNDED_LEVEL,
                    "grounds.collective" if cap else "grounds.collective_unrated",
                    {"cadre": sid, "decision": decision.event},
                    subject=sid,
                    cap=cap,
                )


def _decided(cycle: CycleState, sid: str, changed: Mapping[str, Level] | None) -> Level | None:
    if changed and sid in changed:
        return changed[sid]
    decision = cycle.evaluations[sid].decision
    return decision.level if decision else None


class QuotaBreach(NamedTuple):
    """A group whose decided HTXS exceed the cap its HTT base allows."""

    group: str
    cap: int
    htxs: int  # decided HTXS in the group
    base: int  # its HTT: decided levels, else proposed ones
    exception: bool  # the cycle grants the group an exception to the quota


def _quota_breach(
    cycle: CycleState, changed: Mapping[str, Level], groups: set[str]
) -> QuotaBreach | None:
    """The first group (sorted) whose decided HTXS exceed its cap."""
    members: dict[str, list[Evaluation]] = {g: [] for g in groups}
    for ev in cycle.evaluations.values():
        if ev.subject.group in members:
            members[ev.subject.group].append(ev)
    share = cycle.profile.setting("party_htxs_share")
    for group in sorted(groups):
        evs = members[group]
        htxs = sum(1 for e in evs if _decided(cycle, e.subject.id, changed) == Level.HTXS)
        if htxs == 0:
            continue
        base = sum(1 for e in evs if changed.get(e.subject.id, e.current) == Level.HTT)
        exception = group in cycle.quota_exceptions
        cap = cycle.profile.quota_cap(base, exception)
        if cap is None and share is not None:
            cap = int(Fraction(str(share)) * len(evs))
        if cap is not None and htxs > cap:
            return QuotaBreach(group, cap, htxs, base, exception)
    return None
