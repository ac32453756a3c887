"""Fairness evidence (thiên vị, trù dập): what moved a cadre's result, and who moved it.

It watches the acts the rules admitted, in log order, and reports evidence with the
events behind it — never an accusation:

- ``amendments``: per cadre, the net effect of all ballot amendments on the total and
  on the level the score gives; amendments whose reason is thin;
- ``late-change``: acts that changed a cadre's record after their tally, after
  publication, or after they complained;
- ``outlier``: a ballot far from the rest of its panel (modified z-score over the
  median absolute deviation, or a fixed gap when the panel agrees exactly);
- ``consistent-mover``: a scorer who moves the same cadre the same way again and
  again (ballots against the panel's median, or amendments);
- ``marked-down`` / ``marked-up``: a ballot below (above) the rest of the panel on
  every criterion at once;
- ``unexplained-level``: a decided level other than the one the score gives, with no
  evidence event on the cadre's record;
- ``not-notified`` / ``not-published``: decisions the person was not told of, and a
  fully decided cycle whose results were not made public (DOMAIN.md rule 13);
- ``complaint-overdue``: a complaint still unresolved after its time limit (acceptance
  then resolution, Luật Khiếu nại 2011), as of the day the report is made.

Thresholds are settings. A replay of the whole log can watch every act with one
``Fairness``; a verifier that replays cycles apart (``projections.audit``) gathers each
one's ``Evidence`` and puts them together (``Gathered``) into the same report.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from domain.acts import VIETNAM, Act
from domain.fields import Body, format_points, parse_points, text_json
from domain.judgement import allowed
from domain.model import Model
from ledger.texts import SealedText

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


@dataclass(frozen=True)
class FairnessSettings:
    outlier_z: float = 3.5  # modified z-score (Iglewicz and Hoaglin)
    outlier_gap_points: int = 10  # when the rest of the panel agrees exactly (MAD = 0)
    criterion_points: int = 3  # below (above) the panel's median on every criterion
    mover_points: int = 5  # a ballot this far from the panel's median moves the cadre
    mover_times: int = 2  # … this many times, all the same way
    thin_reason_chars: int = 15


Finding = dict[str, Any]


@dataclass
class _Ballots:
    first: int  # position of the first ballot: the order a whole-log replay meets the subject
    original: dict[str, tuple[int, str]] = field(default_factory=dict)  # scorer → total, event
    current: dict[str, tuple[int, str]] = field(default_factory=dict)
    criteria: dict[str, tuple[int, int]] = field(default_factory=dict)  # scorer → gen, tasks
    amendments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Evidence:
    """What one watcher found, each finding with the key that orders it in the report.

    ``moves``: for ``consistent-mover``, which looks across cycles — per subject's ballots
    (the position of its first ballot, scorer, cadre), the moves big enough to count."""

    late: list[tuple[int, Finding]] = field(default_factory=list)  # by the act's position
    ballots: list[tuple[tuple[str, str], Finding]] = field(default_factory=list)  # by subject
    unexplained: list[tuple[str, Finding]] = field(default_factory=list)  # by cycle
    unannounced: list[tuple[str, Finding]] = field(default_factory=list)  # by cycle
    moves: list[tuple[int, str, str, list[tuple[int, str]]]] = field(default_factory=list)


class Fairness:
    def __init__(self, settings: FairnessSettings | None = None) -> None:
        self.settings = settings or FairnessSettings()
        self.ballots: dict[tuple[str, str], _Ballots] = {}
        self.late: list[tuple[int, Finding]] = []
        self.milestones: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        self.published: dict[str, int] = {}  # cycle → position

    def observe(self, act: Act, model: Model) -> None:
        """An act the rules admitted, with the model as it stands after it."""
        statement = act.statement
        cycle, cadre = statement.get("cycle"), statement.get("cadre")
        if not isinstance(cycle, str):
            return
        if act.type == "result.published":
            self.published[cycle] = act.position
        if not isinstance(cadre, str):
            return
        key = (cycle, cadre)
        self._late(act, key)
        if act.type in ("score.submitted", "score.amended"):
            self._ballot(act, key)
        elif act.type == "tally.recorded":
            self.milestones[key]["tally"] = act.position
        elif act.type == "complaint.filed":
            self.milestones[key].setdefault("complaint", act.position)

    def _ballot(self, act: Act, key: tuple[str, str]) -> None:
        record = self.ballots.get(key)
        if record is None:
            record = self.ballots[key] = _Ballots(act.position)
        s = act.statement
        general, tasks = parse_points(s["general"], "general"), parse_points(s["tasks"], "tasks")
        total = general + tasks
        record.criteria[act.actor] = (general, tasks)
        if act.type == "score.submitted":
            record.original[act.actor] = record.current[act.actor] = (total, act.event)
            return
        before = record.current[act.actor][0]
        record.current[act.actor] = (total, act.event)
        reason = Body(s).text("reason", optional=True)
        record.amendments.append(
            {
                "event": act.event,
                "scorer": act.actor,
                "delta": format_points(abs(total - before)),
                "direction": "up" if total > before else "down" if total < before else "same",
                "reason": text_json(reason) or "",
                # A sealed reason's words are not in the ledger: thin or not, unknown.
                "thin_reason": None
                if isinstance(reason, SealedText)
                else len(reason.strip()) < self.settings.thin_reason_chars,
            }
        )

    def _late(self, act: Act, key: tuple[str, str]) -> None:
        if act.type not in SUBJECT_CHANGES:
            return
        marks = self.milestones.get(key, {})
        after = [
            name
            for name, position in (
                ("tally", marks.get("tally")),
                ("publication", self.published.get(key[0])),
                ("complaint", marks.get("complaint")),
            )
            if position is not None and position < act.position
        ]
        # Only ballots are late after the tally: the rest of the process follows it.
        if act.type not in ("score.submitted", "score.amended"):
            after = [a for a in after if a != "tally"]
        if after:
            self.late.append(
                (
                    act.position,
                    _finding(
                        "late-change",
                        key,
                        [act.event],
                        {"type": act.type, "actor": act.actor, "after": after},
                        f"{act.type} sau {', '.join(after)}",
                        f"{act.type} after {', '.join(after)}",
                    ),
                )
            )

    # -- at the end -------------------------------------------------------------------

    def report(self, model: Model) -> dict[str, Any]:
        gathered = Gathered(self.settings)
        gathered.add(self.evidence(model))
        return gathered.report()

    def evidence(self, model: Model) -> Evidence:
        """What the acts watched show, with ``model`` as it stands after them."""
        ballots = [
            (key, finding)
            for key, record in sorted(self.ballots.items())
            for finding in (
                *self._amendments(model, key, record),
                *self._outliers(key, record),
                *self._across_criteria(key, record),
            )
        ]
        return Evidence(
            self.late,
            ballots,
            list(_unexplained(model)),
            [*_unannounced(model), *_overdue(model)],
            self._moves(),
        )

    def _amendments(
        self, model: Model, key: tuple[str, str], record: _Ballots
    ) -> Iterator[Finding]:
        if not record.amendments:
            return
        cycle = model.cycles.get(key[0])
        original = _mean([t for t, _ in record.original.values()])
        current = _mean([t for t, _ in record.current.values()])
        detail: dict[str, Any] = {
            "net_points": format_points(abs(current - original)),
            "direction": "up" if current > original else "down" if current < original else "none",
            "amendments": record.amendments,
        }
        if cycle is not None and cycle.profile.points:
            before = cycle.profile.threshold_level(original)[0].value
            after = cycle.profile.threshold_level(current)[0].value
            detail["level_without_amendments"], detail["level_with_amendments"] = before, after
            detail["changed_level"] = before != after
        events = [a["event"] for a in record.amendments]
        yield _finding(
            "amendments",
            key,
            events,
            detail,
            f"{len(events)} lần sửa điểm, tổng ảnh hưởng {detail['net_points']} điểm"
            + (" — đổi mức xếp loại theo điểm" if detail.get("changed_level") else ""),
            f"{len(events)} ballot amendments, net effect {detail['net_points']} points"
            + (" — they changed the level the score gives" if detail.get("changed_level") else ""),
        )

    def _outliers(self, key: tuple[str, str], record: _Ballots) -> Iterator[Finding]:
        totals = {scorer: total for scorer, (total, _) in record.current.items()}
        if len(totals) < 3:
            return
        values = list(totals.values())
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        for scorer, total in sorted(totals.items()):
            gap = total - median
            if mad:
                z = 0.6745 * gap / mad
                far = abs(z) > self.settings.outlier_z
            else:
                z = None
                far = abs(gap) >= self.settings.outlier_gap_points * 100
            if far:
                yield _finding(
                    "outlier",
                    key,
                    [record.current[scorer][1]],
                    {
                        "scorer": scorer,
                        "total": format_points(total),
                        "panel_median": format_points(int(median)),
                        "mad": format_points(int(mad)),
                        "modified_z": round(z, 2) if z is not None else None,
                    },
                    f"Phiếu của {scorer} lệch xa trung vị hội đồng",
                    f"{scorer}'s ballot stands far from the panel's median",
                )

    def _across_criteria(self, key: tuple[str, str], record: _Ballots) -> Iterator[Finding]:
        """A ballot below (or above) the rest of the panel on every criterion at once."""
        gap = self.settings.criterion_points * 100
        for scorer, mine in sorted(record.criteria.items()):
            others = [c for s, c in record.criteria.items() if s != scorer]
            if len(others) < 2:
                continue
            medians = [statistics.median(c[i] for c in others) for i in range(len(mine))]
            gaps = [m - med for m, med in zip(mine, medians, strict=True)]
            for direction, way in (("down", -1), ("up", 1)):
                if all(way * g >= gap for g in gaps):
                    yield _finding(
                        f"marked-{direction}",
                        key,
                        [record.current[scorer][1]],
                        {
                            "scorer": scorer,
                            "general_vs_panel": format_points(abs(int(gaps[0]))),
                            "tasks_vs_panel": format_points(abs(int(gaps[1]))),
                            "direction": direction,
                        },
                        f"{scorer} chấm {'thấp' if way < 0 else 'cao'} hơn hội đồng ở mọi tiêu chí",
                        f"{scorer} marked {direction} against the panel on every criterion",
                    )

    def _moves(self) -> list[tuple[int, str, str, list[tuple[int, str]]]]:
        """Per subject's ballots and scorer, the moves of ``mover_points`` or more: a
        ballot that far from the median of the rest of the panel, or an amendment (any
        amendment that changes the total counts as one such move)."""
        big = self.settings.mover_points * 100
        found: list[tuple[int, str, str, list[tuple[int, str]]]] = []
        for (_, cadre), record in self.ballots.items():
            moves: dict[str, list[tuple[int, str]]] = defaultdict(list)
            totals = {s: t for s, (t, _) in record.current.items()}
            for scorer, total in totals.items():
                others = [t for s, t in totals.items() if s != scorer]
                if len(others) >= 2:
                    moves[scorer].append(
                        (total - int(statistics.median(others)), record.current[scorer][1])
                    )
            for amendment in record.amendments:
                if amendment["direction"] != "same":
                    sign = 1 if amendment["direction"] == "up" else -1
                    moves[amendment["scorer"]].append((sign * big, amendment["event"]))
            for scorer, listed in moves.items():
                counted = [(d, e) for d, e in listed if abs(d) >= big]
                if counted:
                    found.append((record.first, scorer, cadre, counted))
        return found


class Gathered:
    """Fairness evidence put together from watchers of parts of the log (cycles replayed
    apart), in the order one watcher of the whole log would report it. Only findings
    and, for ``consistent-mover``, the moves that may still make one are kept — each
    string they repeat (names, levels, events) once."""

    def __init__(self, settings: FairnessSettings | None = None) -> None:
        self.settings = settings or FairnessSettings()
        self.late: list[tuple[int, Finding]] = []
        self.ballots: list[tuple[tuple[str, str], Finding]] = []
        self.unexplained: list[tuple[str, Finding]] = []
        self.unannounced: list[tuple[str, Finding]] = []
        # (scorer, cadre) → the way its moves go, and per subject's ballots (the first
        # ballot's position, *events); a pair moved both ways is no consistent mover.
        self.moves: dict[tuple[str, str], tuple[str, list[tuple[Any, ...]]]] = {}
        self.mixed: set[tuple[str, str]] = set()
        self.strings: dict[str, str] = {}

    def add(self, evidence: Evidence) -> None:
        for found in (evidence.late, evidence.ballots, evidence.unexplained, evidence.unannounced):
            for _, finding in found:
                _shared(finding, self.strings)
        self.late += evidence.late
        self.ballots += evidence.ballots
        self.unexplained += evidence.unexplained
        self.unannounced += evidence.unannounced
        for first, scorer, cadre, moves in evidence.moves:
            pair = (scorer, cadre)
            ups = tuple(_shared(e, self.strings) for d, e in moves if d > 0)
            downs = tuple(_shared(e, self.strings) for d, e in moves if d < 0)
            way, held = ("up", ups) if ups else ("down", downs)
            if pair in self.mixed or not held:
                continue
            if (downs and ups) or self.moves.get(pair, (way,))[0] != way:
                self.moves.pop(pair, None)
                self.mixed.add(pair)
                continue
            shared = (_shared(scorer, self.strings), _shared(cadre, self.strings))
            self.moves.setdefault(shared, (way, []))[1].append((first, *held))

    def report(self) -> dict[str, Any]:
        self.strings.clear()  # shared by now
        findings = [f for _, f in sorted(self.late, key=itemgetter(0))]
        findings += [f for _, f in sorted(self.ballots, key=itemgetter(0))]
        findings += self._movers()
        findings += [f for _, f in sorted(self.unexplained, key=itemgetter(0))]
        findings += [f for _, f in sorted(self.unannounced, key=itemgetter(0))]
        counts: dict[str, int] = defaultdict(int)
        for f in findings:
            counts[f["kind"]] += 1
        return {
            "settings": self.settings.__dict__,
            "counts": dict(sorted(counts.items())),
            "findings": findings,
        }

    def _movers(self) -> Iterator[Finding]:
        for (scorer, cadre), (direction, chunks) in sorted(self.moves.items()):
            events = [e for _, *found in sorted(chunks, key=itemgetter(0)) for e in found]
            if len(events) >= self.settings.mover_times:
                yield _finding(
                    "consistent-mover",
                    ("*", cadre),
                    events,
                    {"scorer": scorer, "direction": direction, "times": len(events)},
                    f"{scorer} nhiều lần đẩy điểm của {cadre} "
                    f"{'lên' if direction == 'up' else 'xuống'}",
                    f"{scorer} moved {cadre} {direction} {len(events)} times",
                )


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


def _unexplained(model: Model) -> Iterator[tuple[str, Finding]]:
    for cycle_id, cycle in sorted(model.cycles.items()):
        for sid, ev in sorted(cycle.evaluations.items()):
            if ev.decision is None:
                continue
            forced, highest, _ = allowed(cycle, ev)
            level = ev.decision.level
            if level in (forced, highest) or ev.evidence:
                continue
            yield (
                cycle_id,
                _finding(
                    "unexplained-level",
                    (cycle_id, sid),
                    [ev.decision.event],
                    {
                        "level": level.value,
                        "score_gives": highest.value,
                        "reason": text_json(ev.decision.reason) or "",
                    },
                    f"Xếp {level.value} khác mức {highest.value} theo điểm, không có chứng cứ",
                    f"Rated {level.value}, not the {highest.value} of the score, no evidence",
                ),
            )


def _unannounced(model: Model) -> Iterator[tuple[str, Finding]]:
    """Decisions not yet notified to the person, or a cycle decided but not published."""
    for cycle_id, cycle in sorted(model.cycles.items()):
        decided = [ev for ev in cycle.evaluations.values() if ev.decision is not None]
        for ev in decided:
            if ev.notice is None and ev.decision is not None:
                yield (
                    cycle_id,
                    _finding(
                        "not-notified",
                        (cycle_id, ev.subject.id),
                        [ev.decision.event],
                        {"level": ev.decision.level.value},
                        "Có quyết định nhưng chưa thông báo cho người được đánh giá",
                        "Decided, but the person has not been notified",
                    ),
                )
        if decided and len(decided) == len(cycle.evaluations) and not cycle.published:
            yield (
                cycle_id,
                _finding(
                    "not-published",
                    (cycle_id, "*"),
                    [ev.decision.event for ev in decided if ev.decision][:1],
                    {"decided": len(decided)},
                    "Mọi người đã có quyết định nhưng kết quả chưa được công khai",
                    "Everyone is decided but the results are not published",
                ),
            )


def _today() -> date:
    """The report's day in Vietnam: an overdue complaint is overdue as of now."""
    return datetime.now(VIETNAM).date()


def _overdue(model: Model) -> Iterator[tuple[str, Finding]]:
    """Complaints left unresolved past their time limit."""
    today = _today()
    for cycle_id, cycle in sorted(model.cycles.items()):
        for ev in cycle.evaluations.values():
            for complaint in ev.complaints.values():
                if complaint.resolved is not None:
                    continue
                limit = cycle.resolve_limit(complaint)
                if today <= limit:
                    continue
                yield (
                    cycle_id,
                    _finding(
                        "complaint-overdue",
                        (cycle_id, ev.subject.id),
                        [complaint.event],
                        {"limit": limit.isoformat(), "days_over": (today - limit).days},
                        f"Khiếu nại quá thời hạn giải quyết ({limit:%d/%m/%Y}) mà chưa được "
                        "giải quyết",
                        f"A complaint left unresolved past its time limit ({limit.isoformat()})",
                    ),
                )


def _finding(
    kind: str,
    key: tuple[str, str],
    events: list[str],
    detail: dict[str, Any],
    vi: str,
    en: str,
) -> Finding:
    return {
        "kind": kind,
        "cycle": key[0],
        "cadre": key[1],
        "events": events,
        "detail": detail,
        "summary_vi": vi,
        "summary_en": en,
    }


def _mean(values: list[int]) -> int:
    return round(sum(values) / len(values)) if values else 0
