"""The kinds of fairness finding (dấu hiệu cần xem xét): stable ids, titles, explanations.

A finding is a sign for the inspection committee (ủy ban kiểm tra) to examine, never a
verdict. Each has a kind (an id that does not change between versions), a severity
(``low``, ``medium``, ``high``), the person whose behaviour it is about where there is
one (``scorer``), the events behind it by hash and by log position, and the statistic
it rests on with its threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from domain.messages import FINDING_KINDS

SEVERITIES = ("low", "medium", "high")
Finding = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    id: str
    title_vi: str
    title_en: str
    explanation_vi: str
    explanation_en: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


# The titles and explanations are the fairness catalogues' (domain/messages/fairness_*.py).
_KINDS = tuple(
    Kind(kind, title_vi, FINDING_KINDS["en"][kind][0], explanation_vi, FINDING_KINDS["en"][kind][1])
    for kind, (title_vi, explanation_vi) in FINDING_KINDS["vi"].items()
)
KINDS: dict[str, Kind] = {k.id: k for k in _KINDS}


def finding(
    kind: str,
    severity: str,
    cycle: str,
    cadre: str,
    events: list[tuple[str, int]],
    summary: tuple[str, str],
    *,
    scorer: str | None = None,
    statistic: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> Finding:
    """A finding: ``events`` as (hash, position), in log order; ``summary`` (vi, en)."""
    assert kind in KINDS and severity in SEVERITIES, (kind, severity)
    events = sorted(set(events), key=lambda e: e[1])
    named = KINDS[kind]
    ident = hashlib.sha256(
        "|".join([kind, cycle, cadre, scorer or "", *(e for e, _ in events)]).encode()
    ).hexdigest()[:16]
    return {
        "id": ident,
        "kind": kind,
        "severity": severity,
        "title_vi": named.title_vi,
        "title_en": named.title_en,
        "cycle": cycle,
        "cadre": cadre,
        "scorer": scorer,
        "events": [e for e, _ in events],
        "positions": [p for _, p in events],
        "statistic": statistic,
        "detail": detail or {},
        "summary_vi": summary[0],
        "summary_en": summary[1],
    }


def signed(hundredths: int) -> str:
    """Points with their sign (``format_points`` is for amounts ≥ 0)."""
    sign = "-" if hundredths < 0 else "+"
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


def order(f: Finding) -> tuple[int, str, str, str]:
    """Findings in the order of their first event in the log."""
    first = f["positions"][0] if f["positions"] else -1
    return first, f["kind"], f["cadre"], f["scorer"] or ""
