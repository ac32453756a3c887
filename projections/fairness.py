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
  fully decided cycle whose results were not made public (DOMAIN.md rule 13).

Thresholds are settings.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from domain.acts import Act
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


@dataclass
class _Ballots:
    original: dict[str, tuple[int, str]] = field(default_factory=dict)  # scorer → total, event
    current: dict[str, tuple[int, str]] = field(default_factory=dict)
    criteria: dict[str, tuple[int, int]] = field(default_factory=dict)  # scorer → gen, tasks
    amendments: list[dict[str, Any]] = field(default_factory=list)


class Fairness:
    def __init__(self, settings: FairnessSettings | None = None) -> None:
        self.settings = settings or FairnessSettings()
        self.ballots: dict[tuple[str, str], _Ballots] = defaultdict(_Ballots)
        self.findings: list[dict[str, Any]] = []
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
        record = self.ballots[key]
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
            self._find(
                "late-change",
                key,
                [act.event],
                {"type": act.type, "actor": act.actor, "after": after},
                f"{act.type} sau {', '.join(after)}",
                f"{act.type} after {', '.join(after)}",
            )

    # -- at the end -------------------------------------------------------------------

    def report(self, model: Model) -> dict[str, Any]:
        for key, record in sorted(self.ballots.items()):
            self._amendments(model, key, record)
            self._outliers(key, record)
            self._across_criteria(key, record)
        self._movers()
        self._unexplained(model)
        self._unannounced(model)
        counts: dict[str, int] = defaultdict(int)
        for f in self.findings:
            counts[f["kind"]] += 1
        return {
            "settings": self.settings.__dict__,
            "counts": dict(sorted(counts.items())),
            "findings": self.findings,
        }

    def _amendments(self, model: Model, key: tuple[str, str], record: _Ballots) -> None:
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
        self._find(
            "amendments",
            key,
            events,
            detail,
            f"{len(events)} lần sửa điểm, tổng ảnh hưởng {detail['net_points']} điểm"
            + (" — đổi mức xếp loại theo điểm" if detail.get("changed_level") else ""),
            f"{len(events)} ballot amendments, net effect {detail['net_points']} points"
            + (" — they changed the level the score gives" if detail.get("changed_level") else ""),
        )

    def _outliers(self, key: tuple[str, str], record: _Ballots) -> None:
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
                self._find(
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

    def _across_criteria(self, key: tuple[str, str], record: _Ballots) -> None:
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
                    self._find(
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

    def _movers(self) -> None:
        moves: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for (_, cadre), record in self.ballots.items():
            totals = {s: t for s, (t, _) in record.current.items()}
            for scorer, total in totals.items():
                others = [t for s, t in totals.items() if s != scorer]
                if len(others) >= 2:
                    moves[(scorer, cadre)].append(
                        (total - int(statistics.median(others)), record.current[scorer][1])
                    )
            for amendment in record.amendments:
                if amendment["direction"] != "same":
                    sign = 1 if amendment["direction"] == "up" else -1
                    moves[(amendment["scorer"], cadre)].append(
                        (sign * self.settings.mover_points * 100, amendment["event"])
                    )
        for (scorer, cadre), found in sorted(moves.items()):
            big = [(d, e) for d, e in found if abs(d) >= self.settings.mover_points * 100]
            ups = [e for d, e in big if d > 0]
            downs = [e for d, e in big if d < 0]
            for direction, events in (("up", ups), ("down", downs)):
                opposite = downs if direction == "up" else ups
                if len(events) >= self.settings.mover_times and not opposite:
                    self._find(
                        "consistent-mover",
                        ("*", cadre),
                        events,
                        {"scorer": scorer, "direction": direction, "times": len(events)},
                        f"{scorer} nhiều lần đẩy điểm của {cadre} "
                        f"{'lên' if direction == 'up' else 'xuống'}",
                        f"{scorer} moved {cadre} {direction} {len(events)} times",
                    )

    def _unexplained(self, model: Model) -> None:
        for cycle_id, cycle in sorted(model.cycles.items()):
            for sid, ev in sorted(cycle.evaluations.items()):
                if ev.decision is None:
                    continue
                forced, highest, _ = allowed(cycle, ev)
                level = ev.decision.level
                if level in (forced, highest) or ev.evidence:
                    continue
                self._find(
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
                )

    def _unannounced(self, model: Model) -> None:
        """Decisions not yet notified to the person, or a cycle decided but not published."""
        for cycle_id, cycle in sorted(model.cycles.items()):
            decided = [ev for ev in cycle.evaluations.values() if ev.decision is not None]
            for ev in decided:
                if ev.notice is None and ev.decision is not None:
                    self._find(
                        "not-notified",
                        (cycle_id, ev.subject.id),
                        [ev.decision.event],
                        {"level": ev.decision.level.value},
                        "Có quyết định nhưng chưa thông báo cho người được đánh giá",
                        "Decided, but the person has not been notified",
                    )
            if decided and len(decided) == len(cycle.evaluations) and not cycle.published:
                self._find(
                    "not-published",
                    (cycle_id, "*"),
                    [ev.decision.event for ev in decided if ev.decision][:1],
                    {"decided": len(decided)},
                    "Mọi người đã có quyết định nhưng kết quả chưa được công khai",
                    "Everyone is decided but the results are not published",
                )

    def _find(
        self,
        kind: str,
        key: tuple[str, str],
        events: list[str],
        detail: dict[str, Any],
        vi: str,
        en: str,
    ) -> None:
        self.findings.append(
            {
                "kind": kind,
                "cycle": key[0],
                "cadre": key[1],
                "events": events,
                "detail": detail,
                "summary_vi": vi,
                "summary_en": en,
            }
        )


def _mean(values: list[int]) -> int:
    return round(sum(values) / len(values)) if values else 0
