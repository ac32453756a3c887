"""The fairness checks worked out once a cycle's acts are all seen (``CycleCheck``), and
the one that compares a complainant's cycle with their next (``later_cycles``).

Statistics are robust and say their threshold. A ballot is compared with the median
of the *rest* of its panel (leave-one-out: a rigged ballot never makes up its own
yardstick), after removing the scorer's own habit over the cycle (their median gap
over every subject they scored), and against a spread that is never taken below a
floor (``spread_floor_points``): the larger of the rest's median absolute deviation,
scaled to a standard deviation, the cycle's pooled spread of such gaps, and the floor.
A deviation is named only if it is at least ``min_effect_points`` as well.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from domain.cycle import Cycle
from domain.evaluation import Evaluation
from domain.evaluation import Evidence as EvidenceRecord
from domain.fields import format_points, text_json
from domain.judgement import GROUNDS, allowed
from domain.levels import Level
from domain.messages import Points, Term, finding_text
from projections.fairness import (
    Ballots,
    CycleLog,
    Evidence,
    Fairness,
    Move,
    amendment_severity,
    amendment_summary,
    median,
    quota_cap,
    quota_full,
)
from projections.fairness_kinds import Finding, finding, signed

if TYPE_CHECKING:
    from projections.fairness import Gathered

MAD_TO_SD = 1.4826  # the median absolute deviation of a normal sample, as its deviation
MEAN_TO_SD = 1.2533  # the mean absolute deviation, likewise (√(π/2))
Q80_TO_SD = 1.2816  # the 80th percentile of |x| for a normal sample, in deviations
NORMAL_Q95_OVER_Q80 = 1.96 / 1.2816  # … and its 95th over its 80th
MAX_EVENTS = 40  # events listed per cycle-wide finding


class CycleCheck:
    def __init__(
        self, watcher: Fairness, cycle: Cycle, log: CycleLog, ballots: dict[str, Ballots]
    ) -> None:
        self.settings = watcher.settings
        self.positions = watcher.positions
        self.cycle, self.log, self.ballots = cycle, log, ballots
        self.deviating: set[str] = set()  # scorers with a named ballot
        self.z_cycle = 0.0  # the robust z a ballot needs for more than low
        # The registry's relations (person → other → kind), where it records them.
        self.relations: dict[str, dict[str, str]] = {}

    def at(self, event: str) -> tuple[str, int]:
        return event, self.positions.get(event, -1)

    def run(self, evidence: Evidence) -> None:
        out = evidence.findings
        if self.cycle.profile.points:
            self._deviations(evidence)
            out += self._amendments()
        out += self._decisions()
        out += self._group_rules()
        out += self._formalism()
        out += self._time()
        out += self._panel()
        out += self._partial()
        out += self._conflicts()
        out += self._related()
        evidence.outcomes += self._outcomes()

    # -- ballots ----------------------------------------------------------------------

    def _deviations(self, evidence: Evidence) -> None:
        """Each ballot against the rest of its panel. Per subject the ballot furthest
        out (in spread units) is judged first; once named it leaves the yardstick of
        the others, so that on a small panel the rigged ballot does not make the honest
        ones look deviant, and the next furthest is judged — until one is not named."""
        s = self.settings
        floor, least = s.spread_floor_points * 100, s.min_effect_points * 100
        totals = {
            cadre: {sc: g + t for sc, (g, t, _, _) in r.current.items()}
            for cadre, r in self.ballots.items()
            if len(r.current) >= 3
        }
        gaps: dict[str, dict[str, float]] = defaultdict(dict)  # scorer → cadre → gap
        for cadre, by in totals.items():
            for scorer, mine in by.items():
                gaps[scorer][cadre] = mine - median([v for o, v in by.items() if o != scorer])
        habit: dict[tuple[str, str], float] = {}  # the scorer's own level over the cycle
        for scorer, of in gaps.items():
            values = list(of.values())
            for cadre in of:
                if len(values) >= 5:
                    habit[(scorer, cadre)] = median(values)
                elif len(values) >= 3:
                    habit[(scorer, cadre)] = median([v for c, v in of.items() if c != cadre])
                else:
                    habit[(scorer, cadre)] = 0.0
        first = [g - habit[(sc, c)] for sc, of in gaps.items() for c, g in of.items()]
        pooled = 0.0
        if len(first) >= 10:
            # The larger of two estimates of the deviation's spread: the median absolute
            # deviation resists outliers, the mean one is not fooled by whole-point
            # ballots (a median of integers sits low).
            absolute = sorted(abs(v) for v in first)
            pooled = max(
                MAD_TO_SD * median(absolute),
                MEAN_TO_SD * sum(absolute) / len(absolute),
                # … and the 80th percentile, which honest ballots with heavy tails raise
                # while one rigged ballot among ten or more hardly moves it.
                absolute[int(0.8 * (len(absolute) - 1))] / Q80_TO_SD,
            )
        # More than low only if no honest ballot of the cycle's would be that far out by
        # chance: the robust z, Bonferroni over the ballots judged.
        # Honest ballots with heavier tails than a normal's (the cycle's 95th percentile
        # further beyond its 80th than a normal's) raise it in proportion.
        self.z_cycle = NormalDist().inv_cdf(1 - s.ballot_alpha / (2 * max(1, len(first))))
        if len(first) >= 20:
            absolute = sorted(abs(v) for v in first)
            q80, q95 = (absolute[int(q * (len(absolute) - 1))] for q in (0.8, 0.95))
            if q80 > 0:
                self.z_cycle *= max(1.0, (q95 / q80) / NORMAL_Q95_OVER_Q80)
        for scorer, of in gaps.items():
            n, total, cycles = evidence.profile.get(scorer, (0, 0, 0))
            adjusted = sum(g - habit[(scorer, c)] for c, g in of.items())
            evidence.profile[scorer] = (n + len(of), total + round(adjusted), cycles + 1)
            evidence.scored.setdefault(scorer, set()).add(self.cycle.id)
        for cadre in self.cycle.evaluations:
            evidence.rostered.setdefault(cadre, set()).add(self.cycle.id)
        for cadre, by in sorted(totals.items()):
            active = dict(by)
            while len(active) >= 3:
                judged = []
                for scorer, mine in active.items():
                    rest = [v for o, v in active.items() if o != scorer]
                    mid = median(rest)
                    local = (
                        MAD_TO_SD * median([abs(v - mid) for v in rest]) if len(rest) >= 4 else 0
                    )
                    spread = max(local, pooled, floor)
                    adj = mine - mid - habit[(scorer, cadre)]
                    judged.append((abs(adj) / spread, scorer, adj, mid, spread))
                z, scorer, adj, mid, spread = max(judged)
                if abs(adj) < least or z < s.repeat_z:
                    break
                del active[scorer]
                _, _, event, position = self.ballots[cadre].current[scorer]
                evidence.moves.append(
                    Move(scorer, cadre, self.cycle.id, round(adj), event, position, round(z, 2))
                )
                if z >= s.robust_z:
                    evidence.findings.append(
                        self._deviation(cadre, scorer, adj, z, spread, mid, list(active))
                    )

    def _deviation(
        self,
        cadre: str,
        scorer: str,
        adj: float,
        z: float,
        spread: float,
        mid: float,
        rest: list[str],
    ) -> Finding:
        s = self.settings
        record = self.ballots[cadre]
        general, tasks, event, position = record.current[scorer]
        pivotal = self._pivotal(cadre, adj)
        # One ballot a few points off happens honestly; only a big one, further out
        # than chance over the whole cycle, is more than low.
        strong = abs(adj) >= s.strong_points * 100 and z >= self.z_cycle
        severity = "high" if strong and pivotal else "medium" if strong else "low"
        self.deviating.add(scorer)
        way = "up" if adj > 0 else "down"
        g_gap = general - median([record.current[o][0] for o in rest])
        t_gap = tasks - median([record.current[o][1] for o in rest])
        words: list[tuple[str, dict[str, Any]]] = [
            (
                "ballot.deviation",
                {
                    "scorer": scorer,
                    "cadre": cadre,
                    "way": Term("marked", way),
                    "points": Points(round(abs(adj))),
                },
            )
        ]
        if pivotal:
            words.append(("ballot.pivotal", {}))
        return finding(
            "ballot-deviation",
            severity,
            self.cycle.id,
            cadre,
            [(event, position)],
            finding_text(*words),
            scorer=scorer,
            statistic={
                "name": "robust z: deviation from the rest of the panel ÷ spread",
                "value": round(z if adj > 0 else -z, 2),
                "threshold": s.robust_z,
                "threshold_medium": round(self.z_cycle, 2),
                "deviation_points": signed(round(adj)),
                "min_effect_points": s.min_effect_points,
                "spread_points": format_points(round(spread)),
            },
            detail={
                "direction": way,
                "rest_median_points": format_points(round(mid)),
                "scorer_habit_points": signed(round(general + tasks - mid - adj)),
                "general_vs_rest": signed(round(g_gap)),
                "tasks_vs_rest": signed(round(t_gap)),
                "every_criterion": (g_gap > 0 and t_gap > 0) or (g_gap < 0 and t_gap < 0),
                "changed_level": pivotal,
                "rest": sorted(rest),
            },
        )

    def _pivotal(self, cadre: str, adjusted: float) -> bool:
        """Whether the ballot, brought back to the rest of the panel, would give
        another level from the thresholds — the way it deviates."""
        ev = self.cycle.evaluations.get(cadre)
        record = self.ballots[cadre]
        n = len(record.current)
        if ev is not None and ev.tally is not None:
            actual = int(ev.tally["total"])
        else:
            actual = round(sum(g + t for g, t, _, _ in record.current.values()) / n)
        instead = round(actual - adjusted / n)
        profile = self.cycle.profile
        now, then = profile.threshold_level(actual)[0], profile.threshold_level(instead)[0]
        return (now.rank - then.rank) * adjusted > 0

    def _amendments(self) -> Iterator[Finding]:
        profile = self.cycle.profile
        for cadre, record in sorted(self.ballots.items()):
            if not record.amendments:
                continue
            original = _mean(list(record.original.values()))
            current = _mean([g + t for g, t, _, _ in record.current.values()])
            before = profile.threshold_level(original)[0].value
            after = profile.threshold_level(current)[0].value
            detail: dict[str, Any] = {
                "net_points": format_points(abs(current - original)),
                "direction": _way(current - original),
                "amendments": record.amendments,
                "level_without_amendments": before,
                "level_with_amendments": after,
                "changed_level": before != after,
            }
            severity = amendment_severity(detail)
            if severity is None:
                continue
            # The person singled out: the one scorer whose amendments carry the sign.
            signs = [
                a
                for a in record.amendments
                if a["directed"] or a["thin_reason"] or a["judged"] != "judged"
            ]
            scorers = {a["scorer"] for a in signs or record.amendments}
            events = [(a["event"], a["position"]) for a in record.amendments]
            yield finding(
                "amendments",
                severity,
                self.cycle.id,
                cadre,
                events,
                amendment_summary(detail),
                scorer=next(iter(scorers)) if len(scorers) == 1 else None,
                statistic={
                    "name": "level the score gives, before and after",
                    "value": f"{before} → {after}",
                    "threshold": "any change, or a thin / directed reason",
                },
                detail=detail,
            )

    # -- decisions --------------------------------------------------------------------

    def _decisions(self) -> Iterator[Finding]:
        cycle = self.cycle
        for sid, ev in sorted(cycle.evaluations.items()):
            decision = ev.decision
            if decision is None:
                continue
            forced, highest, _ = allowed(cycle, ev)
            level = decision.level
            if forced is not None and level == forced:
                continue  # the rules forced it
            proposal = ev.proposal.level if ev.proposal else None
            # The proposal is compared with the first decision: a re-classification
            # answers a complaint or a finding (late-change and retaliation judge it).
            issued = (ev.superseded[0] if ev.superseded else decision).level
            below = cycle.profile.points and level.rank < highest.rank
            severity, what = None, ("", "")
            shown = {"level": issued, "proposal": proposal}
            # Below the proposal for the group's rules (the quota, the collective) is what
            # the rules required, not a departure to examine.
            required = cycle.profile.points and self._explained(ev, issued, highest)
            explained = below and self._explained(ev, level, highest)
            if proposal is not None and issued.rank < proposal.rank and not required:
                level = issued
                severity = "high"
                what = finding_text(("decision.below_proposal", shown))
            elif proposal is not None and issued.rank > proposal.rank:
                level = issued
                severity = "medium"
                what = finding_text(("decision.above_proposal", shown))
            elif below and not explained:
                severity = "medium"
                what = finding_text(("decision.below_score", {"level": level, "highest": highest}))
            if severity is None:
                continue
            departed = proposal is not None and issued.rank != proposal.rank
            yardstick = proposal if departed and proposal is not None else highest
            cited = [e for e in ev.evidence if e.kind != "mitigation"]
            # The typed grounds the decision cites (the rules admit no lowering without
            # one): evidence that forces nothing is stated, not taken as an explanation.
            grounds = [
                {k: w[k] for k in ("rule", "kind", "event") if k in w}
                for w in decision.why
                if w["rule"] in GROUNDS
            ]
            events = [self.at(decision.event), *(self.at(e.event) for e in cited)]
            if ev.proposal is not None:
                events.append(self.at(ev.proposal.event))
            if ev.tally is not None:
                events.append(self.at(str(ev.tally["event"])))
            yield finding(
                "decision-departure",
                severity,
                cycle.id,
                sid,
                events,
                what,
                scorer=self.log.deciders.get(decision.event),
                statistic={
                    "name": "levels between the decision and the proposal / the score",
                    "value": abs(yardstick.rank - level.rank),
                    "threshold": "≠ 0 (any departure); below the score: not forced, "
                    "not the quota, not the collective's level",
                },
                detail={
                    "level": level.value,
                    "proposal": proposal.value if proposal else None,
                    "score_gives": highest.value if cycle.profile.points else None,
                    "direction": "down" if level.rank < yardstick.rank else "up",
                    "reason": text_json(decision.reason) or "",
                    "evidence": [{"kind": e.kind, "event": e.event} for e in cited],
                    "grounds": grounds,
                },
            )

    def _explained(self, ev: Evaluation, level: Level, highest: Level) -> bool:
        """A level below the score's that the HTXS quota or the collective's level (head
        cap) required. The quota is judged as the rules judge a quota ground: on the
        group at publication (a re-classification after it may leave room later: the
        lowering was still the quota's), or as it stands before publication. Full when
        it was decided but not at publication, it explains nothing."""
        cycle, subject = self.cycle, ev.subject
        lowered = highest == Level.HTXS and level == Level.HTT
        if lowered and (subject.id in self.log.quota_published or quota_full(cycle, ev)):
            return True
        if subject.head_of is not None and cycle.profile.setting("head_cap"):
            collective = cycle.evaluations.get(subject.head_of)
            cap = collective.decision.level if collective and collective.decision else None
            return cap is not None and cap.rank < highest.rank and level.rank >= cap.rank
        return False

    def _group_rules(self) -> Iterator[Finding]:
        """End-state breaches: the HTXS quota and a head above their collective."""
        cycle = self.cycle
        groups: dict[str, list[Evaluation]] = defaultdict(list)
        for ev in cycle.evaluations.values():
            groups[ev.subject.group].append(ev)
        for group, members in sorted(groups.items()):
            htxs = [e for e in members if e.decision and e.decision.level == Level.HTXS]
            base = sum(1 for e in members if e.current == Level.HTT)
            cap = quota_cap(cycle, group, base, len(members))
            if cap is None or len(htxs) <= cap:
                continue
            yield finding(
                "quota-breach",
                "high",
                cycle.id,
                "*",
                [self.at(e.decision.event) for e in htxs if e.decision],
                finding_text(("quota", {"group": group, "n": len(htxs), "cap": cap, "base": base})),
                statistic={"name": "HTXS decided", "value": len(htxs), "threshold": cap},
                detail={"group": group, "htt": base},
            )
        if not cycle.profile.setting("head_cap"):
            return
        for sid, ev in sorted(cycle.evaluations.items()):
            head_of = ev.subject.head_of
            collective = cycle.evaluations.get(head_of) if head_of else None
            if ev.decision is None or collective is None or collective.decision is None:
                continue
            if ev.decision.level.rank > collective.decision.level.rank:
                yield finding(
                    "head-above-collective",
                    "high",
                    cycle.id,
                    sid,
                    [self.at(ev.decision.event), self.at(collective.decision.event)],
                    finding_text(
                        (
                            "head",
                            {"level": ev.decision.level, "collective": collective.decision.level},
                        )
                    ),
                    statistic={
                        "name": "levels above the collective",
                        "value": ev.decision.level.rank - collective.decision.level.rank,
                        "threshold": 1,
                    },
                    detail={"collective": head_of},
                )

    # -- the cycle as a whole ---------------------------------------------------------

    def _formalism(self) -> Iterator[Finding]:
        """Hình thức, nể nang: identical ballots, silent meetings, one level for all."""
        s, cycle = self.settings, self.cycle
        scored = [r for r in self.ballots.values() if len(r.current) >= 2]
        same = [r for r in scored if len({(g, t) for g, t, _, _ in r.current.values()}) == 1]
        identical = len(scored) >= 3 and len(same) >= s.formalism_share * len(scored)
        meetings = list(cycle.meetings.values())
        silent = bool(meetings) and all(not m.comments for m in meetings)
        people = [
            ev.decision.level
            for ev in cycle.evaluations.values()
            if ev.decision is not None and ev.subject.kind == "person"
        ]
        uniform = len(people) >= s.uniform_levels_from and len(set(people)) == 1
        weight = 2 * identical + silent + uniform
        if not weight:
            return
        severity = "high" if weight >= 3 else "medium" if weight == 2 else "low"
        signs = [
            name
            for name, on in (
                ("identical-ballots", identical),
                ("silent-meetings", silent),
                ("uniform-levels", uniform),
            )
            if on
        ]
        events = [self.at(m.event) for m in meetings]
        events += [self.at(m.minutes) for m in meetings if m.minutes]
        if identical:
            events += [self.at(r.current[min(r.current)][2]) for r in same]
        yield finding(
            "formalism",
            severity,
            cycle.id,
            "*",
            sorted(set(events), key=lambda e: e[1])[:MAX_EVENTS],
            finding_text(("formalism", {"signs": [Term("sign", x) for x in signs]})),
            statistic={
                "name": "signs (identical ballots count twice)",
                "value": weight,
                "threshold": "1 low, 2 medium, 3+ high",
                "identical_share": round(len(same) / len(scored), 2) if scored else None,
            },
            detail={
                "signs": signs,
                "cadres_scored": len(scored),
                "identical": len(same),
                "comments": sum(len(m.comments) for m in meetings),
                "levels": sorted({lv.value for lv in people}),
            },
        )

    def _time(self) -> Iterator[Finding]:
        s, cycle, log = self.settings, self.cycle, self.log
        setting = cycle.profile.setting
        last = log.last_day
        for event, c in log.complaints.items():
            ev = cycle.evaluations.get(c["cadre"])
            known = ev.complaints.get(event) if ev else None
            if last is None or known is None:
                continue
            step, since, days = None, None, 0
            if "accepted" not in c:
                step, since, days = "accept", c["day"], int(setting("complaint_accept_days"))
            elif "resolved" not in c:
                # An appeal has its own, longer limit (Luật Khiếu nại 2011): the rules'.
                step, since = "resolve", c["accepted"][0]
                days = (cycle.resolve_limit(known) - since).days
            if step is None or since is None or (last - since).days <= days:
                continue
            yield finding(
                "complaint-unanswered",
                "high",
                cycle.id,
                c["cadre"],
                [(event, c["position"])],
                finding_text(
                    (
                        "complaint.late",
                        {"step": Term("step", step), "days": (last - since).days, "limit": days},
                    )
                ),
                statistic={
                    "name": f"days without an answer ({step})",
                    "value": (last - since).days,
                    "threshold": days,
                },
                detail={
                    "step": step,
                    "since": since.isoformat(),
                    "step_limit": (since + timedelta(days=days)).isoformat(),
                    # The last day to resolve it, as the rules count (an unaccepted
                    # complaint as accepted on its last day to be).
                    "limit": cycle.resolve_limit(known).isoformat(),
                    "log_last_day": last.isoformat(),
                },
            )
        if log.published is not None:
            before = [d for d, p in log.issued if p < log.published[2]]
            if before:
                gap = (log.published[0] - max(before)).days
                if gap > s.publication_days:
                    yield finding(
                        "late-publication",
                        "medium",
                        cycle.id,
                        "*",
                        [(log.published[1], log.published[2])],
                        finding_text(("publication.late", {"days": gap})),
                        statistic={
                            "name": "days from the last decision to publication",
                            "value": gap,
                            "threshold": s.publication_days,
                        },
                    )
        if log.past or log.close:
            yield finding(
                "deadline",
                "low",
                cycle.id,
                "*",
                (log.past + log.close)[:MAX_EVENTS],
                finding_text(
                    (
                        "deadline",
                        {
                            "past": len(log.past),
                            "deadline": cycle.deadline,
                            "close": len(log.close),
                            "days": s.deadline_days,
                        },
                    )
                ),
                statistic={
                    "name": "acts past or close to the deadline",
                    "value": len(log.past) + len(log.close),
                    "threshold": 1,
                },
                detail={"past": len(log.past), "close": len(log.close)},
            )
        decided = [ev for ev in cycle.evaluations.values() if ev.decision is not None]
        for ev in sorted(decided, key=lambda e: e.subject.id):
            if ev.notice is None and ev.decision is not None:
                yield finding(
                    "not-notified",
                    "low",
                    cycle.id,
                    ev.subject.id,
                    [self.at(ev.decision.event)],
                    finding_text(("not_notified", {})),
                    detail={"level": ev.decision.level.value},
                )
        if decided and len(decided) == len(cycle.evaluations) and not cycle.published:
            first = min(decided, key=lambda e: self.at(e.decision.event)[1] if e.decision else 0)
            assert first.decision is not None
            yield finding(
                "not-published",
                "medium",
                cycle.id,
                "*",
                [self.at(first.decision.event)],
                finding_text(("not_published", {})),
                detail={"decided": len(decided)},
            )

    def _panel(self) -> Iterator[Finding]:
        """Members added after the meeting who then scored; members withdrawn after
        scoring."""
        log = self.log
        if not log.meetings:
            return
        meeting = min(log.meetings)
        for position, event, person, added in log.panel:
            scored = [
                (cadre, r.current[person][2], r.current[person][3])
                for cadre, r in sorted(self.ballots.items())
                if person in r.current
            ]
            if added and position > meeting and scored:
                pattern = "added-after-meeting"
                severity = "high" if person in self.deviating else "medium"
                what = finding_text(("panel.added", {"scorer": person, "n": len(scored)}))
            elif not added and any(p < position for _, _, p in scored):
                pattern = "withdrawn-after-scoring"
                severity = "medium"
                what = finding_text(("panel.withdrawn", {"scorer": person, "n": len(scored)}))
            else:
                continue
            yield finding(
                "panel-change",
                severity,
                self.cycle.id,
                scored[0][0] if len(scored) == 1 else "*",
                [(event, position), *((e, p) for _, e, p in scored)][:MAX_EVENTS],
                what,
                scorer=person,
                statistic={"name": "ballots by the member", "value": len(scored), "threshold": 1},
                detail={"pattern": pattern, "cadres": [c for c, _, _ in scored]},
            )

    def _partial(self) -> Iterator[Finding]:
        """Tallies without some panel members who were not at the meeting: one finding."""
        partial = self.log.partial
        if not partial:
            return
        members = sorted({m for *_, absent in partial for m in absent})
        yield finding(
            "panel-change",
            "low",
            self.cycle.id,
            partial[0][2] if len(partial) == 1 else "*",
            [(e, p) for e, p, _, _ in partial][:MAX_EVENTS],
            finding_text(("panel.partial", {"n": len(partial), "who": members})),
            statistic={"name": "tallies on a partial panel", "value": len(partial), "threshold": 1},
            detail={
                "pattern": "partial-panel",
                "members": members,
                "cadres": [c for _, _, c, _ in partial][:MAX_EVENTS],
            },
        )

    def _conflicts(self) -> Iterator[Finding]:
        """The same person on both sides of a complaint: whoever accepts or resolves it
        made the decision complained against, or scored the complainant."""
        log = self.log
        for event, c in log.complaints.items():
            decider = log.deciders.get(c["against"])
            record = self.ballots.get(c["cadre"])
            scorers = record.current if record else {}
            for step in ("accepted", "resolved"):
                done = c.get(step)
                if done is None:
                    continue
                who = done[3]
                if who == decider:
                    own = [self.at(c["against"])]
                    what = finding_text(
                        ("conflict.decider", {"who": who, "step": Term("step", step)})
                    )
                elif who in scorers:
                    own = [(scorers[who][2], scorers[who][3])]
                    what = finding_text(
                        ("conflict.scorer", {"who": who, "step": Term("step", step)})
                    )
                else:
                    continue
                yield finding(
                    "undeclared-conflict",
                    "high",
                    self.cycle.id,
                    c["cadre"],
                    [*own, (event, c["position"]), (done[1], done[2])],
                    what,
                    scorer=who,
                    statistic={"name": "same person on both sides", "value": 1, "threshold": 1},
                    detail={"step": step, "side": "decider" if who == decider else "scorer"},
                )
                break

    def _related(self) -> Iterator[Finding]:
        """A scorer the registry relates to the subject (their direct manager or
        subordinate, spouse, relative), or a proposer or decider who is their spouse or
        relative, who declared no conflict. (A direct manager proposing or deciding is
        how the law has it done, not a conflict.)"""
        if not self.relations:
            return
        for sid, ev in self.cycle.evaluations.items():
            owner = self.cycle.owner(sid) or sid
            related = self.relations.get(owner, {})
            if not related:
                continue
            acts: list[tuple[str, str, str]] = []  # (person, side, event)
            record = self.ballots.get(sid)
            for scorer, ballot in (record.current if record else {}).items():
                acts.append((scorer, "scorer", ballot[2]))
            for side, outcome in (("proposer", ev.proposal), ("decider", ev.decision)):
                if outcome is not None and outcome.actor:
                    acts.append((outcome.actor, side, outcome.event))
            for who, side, event in acts:
                kind = related.get(who)
                if kind is None or who in ev.conflicts:
                    continue
                if kind in ("manager", "subordinate") and side != "scorer":
                    continue  # a superior proposes and decides by law; a ballot is apart
                yield finding(
                    "undeclared-conflict",
                    "high",
                    self.cycle.id,
                    sid,
                    [self.at(event)],
                    finding_text(
                        (
                            "conflict.related",
                            {
                                "who": who,
                                "relation": Term("relation", kind),
                                "owner": owner,
                                "side": Term("side", side),
                            },
                        )
                    ),
                    scorer=who,
                    statistic={"name": "related and undeclared", "value": 1, "threshold": 1},
                    detail={"relation": kind, "side": side, "registry": True},
                )

    def _outcomes(self) -> list[tuple[Any, ...]]:
        """Per decided subject, what ``later_cycles`` compares: (cycle, its first
        position, subject, total or None, level rank, decision (event, position),
        first complaint (event, position) or None, upheld, adverse evidence)."""
        found = []
        for sid, ev in self.cycle.evaluations.items():
            if ev.decision is None:
                continue
            scored = ev.tally  # the panel's, not a correction: next year's panel is compared
            complaint = next(iter(ev.complaints.values()), None)
            found.append(
                (
                    self.cycle.id,
                    self.log.first,
                    sid,
                    int(scored["total"]) if scored else None,
                    ev.decision.level.rank,
                    self.at(ev.decision.event),
                    self.at(complaint.event) if complaint else None,
                    bool(complaint and any(c.upheld for c in ev.complaints.values())),
                    [self.at(e.event) for e in ev.evidence if self._adverse(e, scored)],
                )
            )
        return found

    def _adverse(self, e: EvidenceRecord, scored: dict[str, Any] | None) -> bool:
        """Evidence against the subject: not a mitigation, and task figures only where
        they fall short of the conditions of the level the score gives (every subject
        has figures under a regime with task conditions: by themselves they are routine)."""
        if e.kind == "mitigation":
            return False
        if e.kind != "task_figures":
            return True
        profile = self.cycle.profile
        level = Level.HTXS
        if profile.points and scored is not None:
            level = profile.threshold_level(scored.get("exact", scored["total"]))[0]
        return level in (Level.HTXS, Level.HTT, Level.HT) and not profile.task_conditions_met(
            level, e.detail
        )


def later_cycles(gathered: Gathered) -> Iterator[Finding]:
    """``retaliation`` in the next cycle: a complainant whose total fell by
    ``retaliation_points`` more than the median change of everyone else in both
    cycles (the whole panel can do it), or whose level fell with a smaller such drop or
    new adverse evidence."""
    s = gathered.settings
    by_cycle: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)
    by_cadre: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for o in gathered.outcomes:
        by_cycle[o[0]][o[2]] = o
        by_cadre[o[2]].append(o)
    for cadre, seen in sorted(by_cadre.items()):
        seen.sort(key=lambda o: o[1])
        for a, b in itertools.pairwise(seen):
            if a[6] is None:
                continue
            relative = None
            if a[3] is not None and b[3] is not None:
                changes = [
                    other[3] - by_cycle[a[0]][c][3]
                    for c, other in by_cycle[b[0]].items()
                    if c != cadre and c in by_cycle[a[0]]
                    and other[3] is not None and by_cycle[a[0]][c][3] is not None
                ]  # fmt: skip
                others = median(changes) if len(changes) >= 2 else 0.0
                relative = (b[3] - a[3]) - others
            fell = b[4] < a[4]
            limit = s.retaliation_points * 100
            if relative is not None and relative <= -limit:
                severity = "high"
            elif fell and b[8]:  # harsher evidence as well as a lower level
                severity = "medium"
            elif fell and relative is not None and relative <= -limit / 2:
                severity = "low"
            else:
                continue
            cycles = {"before": a[0], "after": b[0]}
            if relative is None:
                words = finding_text(("retaliation.next", cycles))
            elif relative < 0:
                drop = Points(round(abs(relative)))
                words = finding_text(("retaliation.next.points", {**cycles, "points": drop}))
            else:  # the level fell on new adverse evidence though the total did not
                levels = {"old": _rank_level(a[4]), "new": _rank_level(b[4])}
                words = finding_text(("retaliation.next.level", {**cycles, **levels}))
            yield finding(
                "retaliation",
                severity,
                b[0],
                cadre,
                [a[6], b[5], *b[8]],
                words,
                statistic={
                    "name": "change of the total beyond the others' median change (points)",
                    "value": signed(round(relative)) if relative is not None else None,
                    "threshold": f"-{s.retaliation_points}",
                },
                detail={
                    "complaint_cycle": a[0],
                    "level_before": _level(a[4]),
                    "level_after": _level(b[4]),
                    "upheld": a[7],
                },
            )


def _rank_level(rank: int) -> Level:
    return next(level for level in Level if level.rank == rank)


def _level(rank: int) -> str:
    return _rank_level(rank).value


def _way(change: int) -> str:
    return "up" if change > 0 else "down" if change < 0 else "none"


def _mean(values: list[int]) -> int:
    return round(sum(values) / len(values)) if values else 0
