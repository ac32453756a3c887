"""The fairness findings as ``verify`` prints them: signs to examine (dấu hiệu cần xem
xét), grouped by the person evaluated and by the scorer or decider, in Vietnamese and
English — for the inspection committee (ủy ban kiểm tra), never a verdict."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import click

from domain.levels import Level
from domain.messages.fairness_vi import STATISTICS

RANK = {"low": 0, "medium": 1, "high": 2}
SEVERITY = {"high": "CAO / HIGH", "medium": "VỪA / MEDIUM", "low": "THẤP / LOW"}
HEADING = "Dấu hiệu cần xem xét / Signs to examine"


def print_findings(fairness: dict[str, Any] | None, min_severity: str = "low") -> None:
    """Print ``fairness`` (the report's annex) grouped by person, by scorer and by cycle;
    only findings of ``min_severity`` or worse, with a count of the rest."""
    if fairness is None:
        click.echo(f"{HEADING}: không áp dụng (sổ cái không có quy tắc đánh giá) / not applicable")
        return
    floor = RANK[min_severity]
    found = fairness.get("findings", [])
    shown = [f for f in found if RANK[f["severity"]] >= floor]
    counts = fairness.get("severities", {})
    click.echo(
        f"{HEADING}: "
        + ", ".join(f"{SEVERITY[s]} {counts.get(s, 0)}" for s in ("high", "medium", "low"))
    )
    click.echo(
        "  Đây là dấu hiệu để xem xét, không phải kết luận / These are signs to examine, "
        "not verdicts."
    )
    if len(shown) < len(found):
        click.echo(
            f"  ({len(found) - len(shown)} dấu hiệu mức thấp hơn không in ra: xem "
            f"verify --findings-only hoặc --json / {len(found) - len(shown)} of lower "
            "severity not printed: see verify --findings-only or --json)"
        )
    if not shown:
        return
    kinds = fairness.get("kinds", {})
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_scorer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    whole: list[dict[str, Any]] = []
    for f in shown:
        (whole if f["cadre"] == "*" else by_person[f["cadre"]]).append(f)
        if f.get("scorer"):
            by_scorer[f["scorer"]].append(f)
    if by_person:
        click.echo("\n  Theo người được đánh giá / By person evaluated")
        for person in sorted(by_person, key=lambda p: _worst(by_person[p])):
            click.echo(f"  ● {person}")
            for f in _ordered(by_person[person]):
                _finding(f, kinds)
    if by_scorer:
        click.echo("\n  Theo người chấm, người quyết định / By scorer or decider")
        profiles = fairness.get("scorers", {})
        for scorer in sorted(by_scorer, key=lambda s: _worst(by_scorer[s])):
            click.echo(f"  ● {scorer}{_profile(profiles.get(scorer))}")
            for f in _ordered(by_scorer[scorer]):
                click.echo(
                    f"      [{SEVERITY[f['severity']]}] {f.get('title_vi', '')} / "
                    f"{f.get('title_en', '')} — {f['cadre']} ({f['cycle']})  #{f['id']}"
                )
                click.echo(f"        {f['summary_vi']}")
                click.echo(f"        {f['summary_en']}")
    if whole:
        click.echo("\n  Cả kỳ đánh giá / Whole cycle")
        for f in _ordered(whole):
            _finding(f, kinds)


def _finding(f: dict[str, Any], kinds: dict[str, Any]) -> None:
    kind = kinds.get(f["kind"], {})
    click.echo(
        f"      [{SEVERITY[f['severity']]}] {f['kind']}: {f.get('title_vi', '')} / "
        f"{f.get('title_en', '')} — {f['cycle']}  #{f['id']}"
    )
    click.echo(f"        {f['summary_vi']}")
    click.echo(f"        {f['summary_en']}")
    statistic = f.get("statistic")
    if statistic:
        name, value, limit = statistic["name"], statistic["value"], statistic["threshold"]
        # In Vietnamese where the catalogue names it; a threshold in words stays English.
        if name in STATISTICS:
            said = f"        {STATISTICS[name]}: {_vi(value)}"
            numeric = isinstance(limit, int | float) or bool(_NUMBER.fullmatch(str(limit)))
            click.echo(said + (f" (ngưỡng {_vi(limit)})" if numeric else ""))
        click.echo(f"        {name}: {value} (threshold {limit})")
    events = ", ".join(f"{p}:{e[:12]}" for e, p in zip(f["events"], f["positions"], strict=True))
    click.echo(f"        sự kiện / events (vị trí:hash / position:hash): {events}")
    if kind and f["severity"] != "low":
        click.echo(f"        {kind.get('explanation_vi', '')}")
        click.echo(f"        {kind.get('explanation_en', '')}")


_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_LEVEL = re.compile(r"\b(HTXS|HTT|HT|KHT|KXL)\b")


def _vi(value: Any) -> str:
    """A statistic's number as Vietnamese writes it (1,20), a level by its full name."""
    text = str(value)
    if _NUMBER.fullmatch(text):
        return text.replace(".", ",")
    return _LEVEL.sub(lambda m: Level(m.group(1)).vi, text)


def _profile(profile: dict[str, Any] | None) -> str:
    if not profile:
        return ""
    mean = profile["mean_deviation"]
    parts = [
        f"{profile['ballots']} phiếu / ballots, lệch trung bình so với hội đồng {_vi(mean)} "
        f"điểm / mean deviation from the panel {mean} points"
    ]
    if profile.get("favours"):
        parts.append("chấm cao / up: " + ", ".join(profile["favours"]))
    if profile.get("marks_down"):
        parts.append("chấm thấp / down: " + ", ".join(profile["marks_down"]))
    return " — " + "; ".join(parts)


def _ordered(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(found, key=lambda f: (-RANK[f["severity"]], f["positions"][:1], f["kind"]))


def _worst(found: list[dict[str, Any]]) -> tuple[int, int]:
    return -max(RANK[f["severity"]] for f in found), min(
        (f["positions"][0] for f in found if f["positions"]), default=0
    )
