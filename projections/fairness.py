"""Fairness findings (dấu hiệu cần xem xét): signs of favour (thiên vị) or suppression
(trù dập) for the inspection committee to examine — never a verdict.

The watcher sees the acts the rules admitted, in log order. Some signs show as an act
arrives (a change after the tally, publication or a complaint; adverse acts against a
complainant; a tally closed before the panel at the meeting had scored); the rest are
worked out per cycle at the end (``projections.fairness_cycle``: ballots against the
rest of the panel, decisions against the proposal or the score, formalism, time
limits, panel changes, end-state breaches, conflicts). Two look across cycles and are
put together by ``Gathered``: a scorer who deviates the same way for the same cadre in
several cycles (``scorer-bias``, with a per-scorer profile), and a complainant whose
next cycle went worse than everyone else's (``retaliation``).

Every kind, its statistic, threshold and severity are listed in docs/verifier.md;
the thresholds are ``FairnessSettings``. A replay of the whole log can watch every act
with one ``Fairness``; a verifier that replays cycles apart (``projections.audit``)
gathers each one's ``Evidence`` and puts them together into the same report.
"""

from __future__ import annotations

import bisect
import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, NamedTuple

from domain.acts import Act
from domain.cycle import DEADLINED, Cycle
from domain.evaluation import Evaluation
from domain.fields import Body, format_points, parse_points, text_json
from domain.levels import Level
from domain.messages import Points, Term, finding_text
from domain.model import Model
from ledger.texts import SealedText
from projections.fairness_kinds import KINDS, Finding, finding, order, signed

SUBJECT_CHANGES = frozenset(
    {
        "score.submitted",
        "score.amended",
        "evidence.recorded",
        "appraisal.proposed",
        "decision.issued",
        "decision.revised",
        "confidence.tallied",
    }
)
# Acts bound by the cycle's deadline that settle a result: close to it, they are rushed.
SETTLING = frozenset({"score.amended", "tally.recorded", "appraisal.proposed", "decision.issued"})
# Acts that may go against a complainant.
ADVERSE = frozenset({"evidence.recorded", "score.amended", "decision.revised"})
# Acts whose day a check reads.
DATED = frozenset({"result.published", "decision.issued", "complaint.filed"})
# Reasons that say nothing (a mistake, a redo) or that the change was ordered.
VAGUE = ("nhầm", "sửa lại", "chấm lại", "điều chỉnh", "cập nhật", "bổ sung", "mistake", "typo")
DIRECTED = ("chỉ đạo", "theo đề nghị của", "as directed", "instructed")
NOT_JUDGED = "not judged: text sealed"


@dataclass(frozen=True)
class FairnessSettings:
    min_effect_points: float = 4.0  # a deviation smaller than this is never named
    spread_floor_points: float = 1.5  # the panel's spread is never taken as less
    robust_z: float = 3.0  # deviation ÷ spread to name one ballot
    strong_points: float = 8.0  # a deviation this big is medium on its own …
    ballot_alpha: float = 0.05  # … if chance over the cycle's ballots explains it no more
    repeat_z: float = 2.0  # per cycle, for a scorer's repeated bias
    repeat_cycles: int = 2  # … in this many cycles, the same cadre, the same way
    bias_alpha: float = 0.05  # … more often than chance: expected false pairs at most this
    retaliation_points: float = 5.0  # a complainant's next-cycle drop beyond the others'
    deadline_days: int = 3  # settling acts in the last days before the deadline
    publication_days: int = 30  # publication after the last decision
    formalism_share: float = 0.8  # share of cadres with identical ballots
    uniform_levels_from: int = 5  # cadres all at one level counts from this many
    thin_reason_chars: int = 15


class Ballot(NamedTuple):
    """A scorer's ballot for one subject, as it stands."""

    general: int  # the general criteria's points
    tasks: int  # the tasks' points
    event: str
    position: int


class PanelChange(NamedTuple):
    """A panel member added or removed in a cycle."""

    position: int
    event: str
    person: str
    added: bool


@dataclass
class Ballots:
    """One subject's ballots in a cycle, as they stand and as first cast."""

    current: dict[str, Ballot] = field(default_factory=dict)  # scorer → ballot
    original: dict[str, int] = field(default_factory=dict)  # scorer → total
    amendments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CycleLog:
    """What the end-of-cycle checks need that the model does not keep: positions, days,
    who did what."""

    first: int
    last_day: date | None = None
    meetings: list[int] = field(default_factory=list)  # positions
    panel: list[PanelChange] = field(default_factory=list)
    past: list[tuple[str, int]] = field(default_factory=list)  # acts after the deadline
    close: list[tuple[str, int]] = field(default_factory=list)  # settling acts near it
    issued: list[tuple[date, int]] = field(default_factory=list)  # decisions: day, position
    deciders: dict[str, str] = field(default_factory=dict)  # decision event → its actor
    published: tuple[date, str, int] | None = None
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)
    partial: list[tuple[str, int, str, list[str]]] = field(default_factory=list)  # tallies
    horizon: date | None = None  # acts logged before this day are far from the deadline
    quota_published: set[str] = field(default_factory=set)  # HTT, the quota full then


class Move(NamedTuple):
    """A ballot whose deviation counts for ``scorer-bias``."""

    scorer: str
    cadre: str
    cycle: str
    adjusted: int  # the deviation, adjusted for the scorer's habit, in hundredths
    event: str
    position: int
    z: float  # |robust z|


class PairMove(NamedTuple):
    """A ``Move`` as kept per (scorer, cadre) pair across cycles."""

    cycle: str
    adjusted: int
    event: str
    position: int
    z: float


@dataclass
class Evidence:
    """What one watcher found: findings, and what the cross-cycle checks need.

    ``moves``: per ballot whose deviation counts for ``scorer-bias``; ``profile``: per
    scorer (ballots, sum of adjusted deviations, cycles); ``scored`` and ``rostered``: the
    cycles each scorer scored in and each subject was on the roster of; ``outcomes``: per
    decided subject, see ``fairness_cycle.outcomes``."""

    findings: list[Finding] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    profile: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    scored: dict[str, set[str]] = field(default_factory=dict)  # scorer → cycles
    rostered: dict[str, set[str]] = field(default_factory=dict)  # subject → cycles


class Fairness:
    def __init__(self, settings: FairnessSettings | None = None) -> None:
        self.settings = settings or FairnessSettings()
        self.ballots: dict[tuple[str, str], Ballots] = {}
        self.found: list[Finding] = []
        self.marks: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        self.cycles: dict[str, CycleLog] = {}
        self.positions: dict[str, int] = {}  # event → position, for a cycle's acts

    def observe(self, act: Act, model: Model) -> None:
        """An act the rules admitted, with the model as it stands after it."""
        statement = act.statement
        cycle_id, cadre = statement.get("cycle"), statement.get("cadre")
        if not isinstance(cycle_id, str):
            return
        log = self.cycles.get(cycle_id)
        if log is None:
            log = self.cycles[cycle_id] = CycleLog(act.position)
        self.positions[act.event] = act.position
        kind = act.type
        cycle = model.cycles.get(cycle_id)
        # An act's day costs a parse of its time: only where a day is needed.
        day = None
        if cycle is not None and kind in DEADLINED and self._near_deadline(act, log, cycle):
            day = act.day
            if day > cycle.deadline:
                log.past.append((act.event, act.position))
            elif kind in SETTLING and (cycle.deadline - day).days < self.settings.deadline_days:
                log.close.append((act.event, act.position))
        if kind in DATED or log.complaints:
            day = day or act.day
            if log.complaints or kind == "complaint.filed":  # how long a complaint waited
                log.last_day = max(day, log.last_day or day)
        if kind == "result.published":
            log.published = (day or act.day, act.event, act.position)
            if cycle is not None:  # the quota as publication found it (a ground's check)
                log.quota_published = quota_full_subjects(cycle)
        elif kind == "meeting.held":
            log.meetings.append(act.position)
        elif kind.startswith("cycle.role_") and statement.get("role") == "panel":
            added = kind == "cycle.role_assigned"
            log.panel.append(PanelChange(act.position, act.event, str(statement["person"]), added))
        if not isinstance(cadre, str) or cycle is None:
            return
        key = (cycle_id, cadre)
        if kind in SUBJECT_CHANGES:
            self._late(act, key, model)
            self._against_complainant(act, key, model)
        if kind in ("score.submitted", "score.amended"):
            self._ballot(act, key)
        elif kind == "conflict.declared":
            self._conflict_after_scoring(act, key)
        elif kind == "tally.recorded":
            self.marks[key]["tally"] = act.position
            self._tally_panel(act, key, model)
        elif kind in ("decision.issued", "decision.revised"):
            log.deciders[act.event] = act.actor
            if kind == "decision.issued":
                log.issued.append((day or act.day, act.position))
        elif kind == "complaint.filed":
            self.marks[key].setdefault("complaint", (act.event, act.position))
            log.complaints[act.event] = {
                "cadre": cadre,
                "position": act.position,
                "day": day,
                "against": str(statement["against"]),
            }
        elif kind in ("complaint.accepted", "complaint.resolved"):
            filed = log.complaints.get(str(statement.get("complaint")))
            if filed is not None:
                step = "accepted" if kind == "complaint.accepted" else "resolved"
                filed[step] = (day, act.event, act.position, act.actor)
                if step == "resolved" and Body(statement).flag("upheld"):
                    self.marks[key]["upheld"] = (act.event, act.position)

    def _near_deadline(self, act: Act, log: CycleLog, cycle: Cycle) -> bool:
        """Whether an act may fall in the deadline's last days or after it, by the log's
        time (never the signer's ``issued_at``): its UTC date is at most a day from its day
        in Vietnam, so only acts from the horizon on need their day worked out."""
        if log.horizon is None:
            margin = timedelta(days=self.settings.deadline_days + 2)
            log.horizon = cycle.deadline - margin
        return act.time.date() >= log.horizon

    def _ballot(self, act: Act, key: tuple[str, str]) -> None:
        record = self.ballots.get(key)
        if record is None:
            record = self.ballots[key] = Ballots()
        s = act.statement
        general, tasks = parse_points(s["general"], "general"), parse_points(s["tasks"], "tasks")
        total = general + tasks
        before = record.current.get(act.actor)
        record.current[act.actor] = Ballot(general, tasks, act.event, act.position)
        if act.type == "score.submitted" or before is None:
            record.original[act.actor] = total
            return
        reason = Body(s).text("reason", optional=True)
        was = before[0] + before[1]
        entry = {
            "event": act.event,
            "position": act.position,
            "scorer": act.actor,
            "delta": format_points(abs(total - was)),
            "direction": "up" if total > was else "down" if total < was else "same",
            "reason": text_json(reason) or "",
        }
        plain = None if isinstance(reason, SealedText) else reason
        entry.update(judge_reason(plain, self.settings))
        record.amendments.append(entry)

    def _late(self, act: Act, key: tuple[str, str], model: Model) -> None:
        if act.type not in SUBJECT_CHANGES:
            return
        marks = self.marks.get(key, {})
        complaint = marks.get("complaint")
        published = self.cycles[key[0]].published
        after = [
            name
            for name, position in (
                ("tally", marks.get("tally")),
                ("publication", published[2] if published else None),
                ("complaint", complaint[1] if complaint else None),
            )
            if position is not None and position < act.position
        ]
        ballot = act.type in ("score.submitted", "score.amended")
        if not ballot:  # only ballots are late after the tally: the rest follows it
            after = [a for a in after if a != "tally"]
        if not after:
            return
        detail: dict[str, Any] = {"type": act.type, "actor": act.actor, "after": after}
        severity = "medium" if ballot and "tally" in after else "low"
        milestones = [Term("milestone", a) for a in after]
        words = finding_text(
            ("late", {"act": Term("act", act.type), "actor": act.actor, "after": milestones})
        )
        if act.type == "decision.revised":
            ev = model.cycles[key[0]].evaluations[key[1]]
            old, new = ev.superseded[-1].level, ev.decision.level if ev.decision else None
            if new is not None:
                way = "up" if new.rank > old.rank else "down" if new.rank < old.rank else "same"
                detail.update({"direction": way, "old_level": old.value, "new_level": new.value})
                severity = "low" if way == "up" else "medium"
                words = finding_text(
                    (
                        "late.revised",
                        {
                            "way": Term("moved", way),
                            "old": old,
                            "new": new,
                            "actor": act.actor,
                            "after": milestones,
                        },
                    )
                )
        self.found.append(
            finding(
                "late-change",
                severity,
                key[0],
                key[1],
                [(act.event, act.position)],
                words,
                scorer=act.actor if ballot else None,
                detail=detail,
            )
        )

    def _against_complainant(self, act: Act, key: tuple[str, str], model: Model) -> None:
        """Adverse acts after the subject complained in this cycle (trù dập)."""
        if act.type not in ADVERSE:
            return
        marks = self.marks.get(key, {})
        complaint = marks.get("complaint")
        if complaint is None:
            return
        ev = model.cycles[key[0]].evaluations[key[1]]
        upheld = marks.get("upheld")
        what: tuple[str, str] | None = None
        severity = "high"
        detail: dict[str, Any] = {"type": act.type, "actor": act.actor}
        kind = act.statement.get("kind")
        cycle = model.cycles[key[0]]
        if act.type == "evidence.recorded" and kind == "task_figures":
            met = _figures_levels(cycle, ev)
            if len(met) == 2 and met[1].rank < met[0].rank:  # harsher than the figures before
                detail.update(
                    {"evidence_kind": kind, "old_level": met[0].value, "new_level": met[1].value}
                )
                what = finding_text(("retaliation.figures", {"old": met[0], "new": met[1]}))
        elif act.type == "evidence.recorded" and kind != "mitigation":
            detail["evidence_kind"] = kind
            what = finding_text(("retaliation.evidence", {"evidence": Term("evidence", str(kind))}))
        elif act.type == "score.amended":
            current = self.ballots.get(key)
            before = current.current.get(act.actor) if current else None
            now = parse_points(act.statement["general"], "general") + parse_points(
                act.statement["tasks"], "tasks"
            )
            if before is not None and now < before[0] + before[1]:
                what = finding_text(("retaliation.lowered", {}))
        elif act.type == "decision.revised" and ev.decision is not None and ev.superseded:
            old, new = ev.superseded[-1].level, ev.decision.level
            detail.update({"old_level": old.value, "new_level": new.value})
            if new.rank < old.rank:
                what = finding_text(("retaliation.revised", {"old": old, "new": new}))
            elif upheld is not None and new.rank == old.rank:
                severity = "medium"
                what = finding_text(("retaliation.kept", {"level": old}))
        if what is None:
            return
        events = [(complaint[0], complaint[1]), (act.event, act.position)]
        if upheld is not None:
            events.append(upheld)
        self.found.append(
            finding(
                "retaliation",
                severity,
                key[0],
                key[1],
                events,
                what,
                scorer=act.actor,
                statistic={"name": "adverse act after a complaint", "value": 1, "threshold": 1},
                detail=detail,
            )
        )

    def _conflict_after_scoring(self, act: Act, key: tuple[str, str]) -> None:
        """A conflict declared after voting takes the ballot out of the tally (the rules
        recount it), so the panel is compared on the ballots that count; the member
        has in effect withdrawn from this subject's panel after scoring it, which is
        told (low: a conflict seen late is also what an honest member declares)."""
        record = self.ballots.get(key)
        cast = record.current.pop(act.actor, None) if record is not None else None
        if record is None or cast is None:
            return
        record.original.pop(act.actor, None)
        self.found.append(
            finding(
                "panel-change",
                "low",
                key[0],
                key[1],
                [(cast[2], cast[3]), (act.event, act.position)],
                finding_text(("panel.conflict", {"scorer": act.actor, "cadre": key[1]})),
                scorer=act.actor,
                statistic={"name": "ballots taken out", "value": 1, "threshold": 1},
                detail={
                    "pattern": "conflict-after-scoring",
                    "ballot_total": format_points(cast[0] + cast[1]),
                },
            )
        )

    def _tally_panel(self, act: Act, key: tuple[str, str], model: Model) -> None:
        """A tally closed before every panel member at the subject's meeting scored."""
        cycle = model.cycles[key[0]]
        ev = cycle.evaluations[key[1]]
        excused = ev.conflicts | {key[1], cycle.owner(key[1]) or key[1]}
        waiting = [p for p in cycle.roles["panel"] if p not in ev.ballots and p not in excused]
        if not waiting:
            return
        voted = set(ev.ballots)
        # Per panel member, not per attendee: a meeting may have hundreds of those.
        present = {p for p in waiting if any(p in cycle.meetings[m].attendees for m in ev.meetings)}
        missing = sorted(present)
        absent = sorted(set(waiting) - present)
        if absent and not missing:  # told once for the cycle, at its end
            self.cycles[key[0]].partial.append((act.event, act.position, key[1], absent))
        if not missing:
            return
        severity, who = "medium", missing
        self.found.append(
            finding(
                "panel-change",
                severity,
                key[0],
                key[1],
                [(act.event, act.position)],
                finding_text(("panel.tally", {"n": len(voted), "who": who})),
                statistic={"name": "panel members not scored", "value": len(who), "threshold": 1},
                detail={
                    "pattern": "tally-incomplete",
                    "not_scored": who,
                    "ballots": len(voted),
                },
            )
        )

    # -- at the end -------------------------------------------------------------------

    def report(self, model: Model) -> dict[str, Any]:
        gathered = Gathered(self.settings)
        gathered.add(self.evidence(model))
        return gathered.report()

    def evidence(self, model: Model) -> Evidence:
        """What the acts watched show, with ``model`` as it stands after them."""
        from projections.fairness_cycle import CycleCheck

        evidence = Evidence(list(self.found))
        by_cycle: dict[str, dict[str, Ballots]] = defaultdict(dict)
        for (cycle_id, cadre), record in self.ballots.items():
            by_cycle[cycle_id][cadre] = record
        for cycle_id in sorted(self.cycles):
            cycle = model.cycles.get(cycle_id)
            if cycle is not None:
                check = CycleCheck(self, cycle, self.cycles[cycle_id], by_cycle[cycle_id])
                check.relations = {
                    pid: person.relations
                    for pid, person in model.registry.people.items()
                    if person.relations
                }
                check.run(evidence)
        return evidence


class Gathered:
    """Fairness findings put together from watchers of parts of the log (cycles replayed
    apart), as one watcher of the whole log would report them; and the two checks that
    look across cycles. Each string the findings repeat is kept once."""

    def __init__(self, settings: FairnessSettings | None = None) -> None:
        self.settings = settings or FairnessSettings()
        self.findings: list[Finding] = []
        self.moves: dict[tuple[str, str], list[PairMove]] = defaultdict(list)
        self.profile: dict[str, tuple[int, int, int]] = {}
        self.scored: dict[str, set[str]] = defaultdict(set)
        self.rostered: dict[str, set[str]] = defaultdict(set)
        self.outcomes: list[tuple[Any, ...]] = []
        self.strings: dict[str, str] = {}

    def add(self, evidence: Evidence) -> None:
        for f in evidence.findings:
            self.findings.append(_shared(f, self.strings))
        for scorer, cadre, cycle, adjusted, event, position, z in evidence.moves:
            pair = (_shared(scorer, self.strings), _shared(cadre, self.strings))
            self.moves[pair].append(PairMove(cycle, adjusted, event, position, z))
        for scorer, (n, total, met) in evidence.profile.items():
            was = self.profile.get(scorer, (0, 0, 0))
            self.profile[scorer] = (was[0] + n, was[1] + total, was[2] + met)
        for scorer, seen in evidence.scored.items():
            self.scored[scorer] |= seen
        for cadre, seen in evidence.rostered.items():
            self.rostered[cadre] |= seen
        self.outcomes += evidence.outcomes

    def report(self) -> dict[str, Any]:
        from projections.fairness_cycle import later_cycles

        self.strings.clear()  # shared by now
        findings = self.findings + list(self._biased()) + list(later_cycles(self))
        findings.sort(key=order)
        counts: dict[str, int] = defaultdict(int)
        severities: dict[str, int] = defaultdict(int)
        for f in findings:
            counts[f["kind"]] += 1
            severities[f["severity"]] += 1
        return {
            "settings": self.settings.__dict__,
            "kinds": {k: v.to_json() for k, v in KINDS.items()},
            "counts": dict(sorted(counts.items())),
            "severities": dict(sorted(severities.items())),
            "findings": findings,
            "scorers": self._profiles(),
        }

    def _biased(self) -> Iterator[Finding]:
        """``scorer-bias``: a scorer who moved the same cadre the same way in several
        cycles, never the other way — more often than chance allows. Chance is the
        log's own: the share of all ballots that moved at least as far (in spread units)
        as the weakest of the pair's moves, halved for one direction; the chance of
        ``k`` or more such moves in the ``n`` cycles the two met is binomial, and
        multiplied by the number of scorer–cadre pairs that could have shown it
        (Bonferroni). Named when that expected count is at most ``bias_alpha``."""
        s = self.settings
        ballots = sum(n for n, _, _ in self.profile.values())
        strengths = sorted(m[4] for moves in self.moves.values() for m in moves)
        pairs = sum(n / max(1, len(self.scored[sc])) for sc, (n, _, _) in self.profile.items())
        for (scorer, cadre), moves in sorted(self.moves.items()):
            ups = [m for m in moves if m[1] > 0]
            downs = [m for m in moves if m[1] < 0]
            held = ups if len(ups) >= len(downs) else downs
            other = downs if held is ups else ups
            cycles = {m[0] for m in held}
            if len(cycles) < s.repeat_cycles or other:
                continue
            weakest = min(m[4] for m in held)
            as_far = len(strengths) - bisect.bisect_left(strengths, weakest)
            chance = (as_far + 1) / (ballots + 2) / 2
            met = len(self.scored.get(scorer, set()) & self.rostered.get(cadre, set()))
            expected = max(1.0, pairs) * _binomial_tail(max(met, len(cycles)), len(cycles), chance)
            if expected > s.bias_alpha:
                continue
            way = "up" if held is ups else "down"
            mean = round(sum(m[1] for m in held) / len(held))
            yield finding(
                "scorer-bias",
                "high" if expected <= s.bias_alpha / 5 else "medium",
                "*",
                cadre,
                [(m[2], m[3]) for m in held],
                finding_text(
                    (
                        "bias",
                        {
                            "scorer": scorer,
                            "way": Term("marked", way),
                            "cadre": cadre,
                            "cycles": len(cycles),
                            "met": met,
                            "points": Points(abs(mean)),
                        },
                    )
                ),
                scorer=scorer,
                statistic={
                    "name": "pairs expected to show this by chance",
                    "value": float(f"{expected:.3g}"),
                    "threshold": s.bias_alpha,
                    "cycles": len(cycles),
                    "cycles_met": met,
                    "chance_per_cycle": float(f"{chance:.3g}"),
                    "mean_deviation_points": signed(mean),
                },
                detail={"direction": way, "cycles": sorted(cycles)},
            )

    def _profiles(self) -> dict[str, Any]:
        """Per scorer: ballots, mean deviation from the panel (points), the cadres they
        marked up or down beyond the per-cycle threshold (times)."""
        favours: dict[str, dict[str, int]] = defaultdict(dict)
        downs: dict[str, dict[str, int]] = defaultdict(dict)
        for (scorer, cadre), moves in self.moves.items():
            for _, adjusted, _, _, _ in moves:
                side = favours if adjusted > 0 else downs
                side[scorer][cadre] = side[scorer].get(cadre, 0) + 1
        return {
            scorer: {
                "ballots": n,
                "mean_deviation": signed(round(total / n) if n else 0),
                "favours": dict(sorted(favours.get(scorer, {}).items())),
                "marks_down": dict(sorted(downs.get(scorer, {}).items())),
            }
            for scorer, (n, total, _) in sorted(self.profile.items())
        }


def _binomial_tail(n: int, k: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


def judge_reason(text: str | None, settings: FairnessSettings) -> dict[str, Any]:
    """Whether an amendment's reason is thin or says the change was ordered; a sealed
    one the verifier cannot read (``text`` None) is not judged, and says so."""
    if text is None:
        return {"thin_reason": None, "directed": None, "judged": NOT_JUDGED}
    words = unicodedata.normalize("NFC", text).casefold().strip()
    directed = any(p in words for p in DIRECTED)
    vague = any(p in words for p in VAGUE) and len(words.split()) <= 5
    return {
        "thin_reason": len(words) < settings.thin_reason_chars or vague,
        "directed": directed,
        "judged": "judged",
    }


def amendment_severity(detail: Mapping[str, Any]) -> str | None:
    """An ``amendments`` finding's severity; None when it carries no sign at all."""
    listed = detail["amendments"]
    thin = any(a["thin_reason"] for a in listed)
    if any(a["directed"] for a in listed) or (detail.get("changed_level") and thin):
        return "medium"
    if detail.get("changed_level") or thin or any(a["judged"] == NOT_JUDGED for a in listed):
        return "low"
    return None


def amendment_summary(detail: Mapping[str, Any]) -> tuple[str, str]:
    """An ``amendments`` finding's words (vi, en), from its detail."""
    listed = detail["amendments"]
    n, net = len(listed), detail["net_points"]
    before, after = detail["level_without_amendments"], detail["level_with_amendments"]
    directed = sum(1 for a in listed if a["directed"])
    thin = sum(1 for a in listed if a["thin_reason"])
    sealed = sum(1 for a in listed if a["judged"] == NOT_JUDGED)
    parts: list[tuple[str, dict[str, Any]]] = [
        ("amend", {"n": n, "points": Points(parse_points(net, "net_points"))})
    ]
    if before != after:
        parts.append(("amend.level", {"before": Level(before), "after": Level(after)}))
    counted = (("amend.directed", directed), ("amend.thin", thin), ("amend.sealed", sealed))
    for key, count in counted:
        if count:
            parts.append((key, {"n": count}))
    return finding_text(*parts)


def judge_sealed_reasons(
    report: dict[str, Any],
    reveal: Callable[[list[str]], Mapping[str, str | None]] | None,
    settings: FairnessSettings | None = None,
) -> None:
    """Judge the sealed amendment reasons of a fairness ``report`` that ``reveal`` (the
    texts' commitments → text, None if not available) can open; the rest stay "not
    judged: text sealed". An amendment finding left with no sign is dropped."""
    settings = settings or FairnessSettings()
    findings = report.get("findings", [])
    sealed = [
        a["reason"]["sealed"]
        for f in findings
        if f["kind"] == "amendments"
        for a in f["detail"]["amendments"]
        if isinstance(a["reason"], dict) and a["judged"] == NOT_JUDGED
    ]
    if not sealed or reveal is None:
        return
    texts = reveal(sealed)
    kept = []
    for f in findings:
        if f["kind"] == "amendments":
            for a in f["detail"]["amendments"]:
                if isinstance(a["reason"], dict) and a["judged"] == NOT_JUDGED:
                    a.update(judge_reason(texts.get(a["reason"]["sealed"]), settings))
            severity = amendment_severity(f["detail"])
            if severity is None:
                report["counts"]["amendments"] -= 1
                report["severities"][f["severity"]] -= 1
                continue
            report["severities"][f["severity"]] -= 1
            report["severities"][severity] = report["severities"].get(severity, 0) + 1
            f["severity"] = severity
            f["summary_vi"], f["summary_en"] = amendment_summary(f["detail"])
        kept.append(f)
    report["findings"] = kept
    report["counts"] = {k: n for k, n in report["counts"].items() if n}
    report["severities"] = {k: n for k, n in report["severities"].items() if n}


def _figures_levels(cycle: Cycle, ev: Evaluation) -> list[Level]:
    """The levels a subject's task figures allowed before and after its latest record
    (before: HTXS if none were on record); only under a regime with task conditions."""
    if not cycle.profile.has_task_conditions:
        return []
    records = [e for e in ev.evidence if e.kind == "task_figures"]
    allowed = []
    for figures in (records[-2] if len(records) > 1 else None, records[-1] if records else None):
        level = Level.HTXS
        while figures is not None and level != Level.KHT:
            if cycle.profile.task_conditions_met(level, figures.detail):
                break
            level = _BELOW[level]
        allowed.append(level)
    return allowed


_BELOW = {Level.HTXS: Level.HTT, Level.HTT: Level.HT, Level.HT: Level.KHT}


def quota_full_subjects(cycle: Cycle) -> set[str]:
    """The subjects now HTT whose HTXS would break their group's quota (``quota_full``
    for all of them, counting each group once)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # HTXS, HTT, size
    for ev in cycle.evaluations.values():
        count = counts[ev.subject.group]
        count[2] += 1
        level = ev.current
        if level == Level.HTXS:
            count[0] += 1
        elif level == Level.HTT:
            count[1] += 1
    found = set()
    for sid, ev in cycle.evaluations.items():
        if ev.current != Level.HTT:
            continue
        htxs, htt, size = counts[ev.subject.group]
        cap = quota_cap(cycle, ev.subject.group, htt - 1, size)
        if cap is not None and htxs + 1 > cap:
            found.add(sid)
    return found


def quota_full(cycle: Cycle, ev: Evaluation) -> bool:
    """Whether rating ``ev`` HTXS would break its group's quota as the group stands (the
    end state publication checks a quota ground against)."""
    group = ev.subject.group
    others = [e for e in cycle.evaluations.values() if e.subject.group == group and e is not ev]
    htxs = 1 + sum(1 for e in others if e.current == Level.HTXS)
    base = sum(1 for e in others if e.current == Level.HTT)
    cap = quota_cap(cycle, group, base, len(others) + 1)
    return cap is not None and htxs > cap


def quota_cap(cycle: Cycle, group: str, base: int, size: int) -> int | None:
    """The most HTXS the group may have with ``base`` HTT (as ``group_rules`` counts)."""
    profile = cycle.profile
    cap = profile.quota_cap(base, group in cycle.quota_exceptions)
    share = profile.setting("party_htxs_share")
    if cap is None and share is not None:
        cap = int(Fraction(str(share)) * size)
    return cap


def median(values: list[int] | list[float]) -> float:
    """The median (``statistics.median`` without its checks: this runs per ballot)."""
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[half])
    return (ordered[half - 1] + ordered[half]) / 2


def _shared(value: Any, strings: dict[str, str]) -> Any:
    """``value`` with each string in it replaced by the first copy ``strings`` holds."""
    if isinstance(value, str):
        return strings.setdefault(value, value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _shared(item, strings)
    elif isinstance(value, list):
        value[:] = [_shared(item, strings) for item in value]
    return value
