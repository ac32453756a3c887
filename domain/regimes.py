"""Regimes as data: versioned, content-hashed profiles of the evaluation rules.

A cycle pins one profile by id, version and hash; replaying an old cycle uses the
profile it pinned, even after a newer version exists. The rules in ``domain.cycle``
read everything regime-specific from here. Items DOMAIN.md marks UNCERTAIN are
``settings``: each has a default, and a cycle may override it when it opens (the
override is then part of the signed record).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from functools import cached_property
from typing import Any

from domain.levels import Level
from ledger.canonical import canonical_bytes

# Windows from Luật Khiếu nại 2011 (days).
COMPLAINTS_2011 = {
    "complaint_file_days": 90,
    "complaint_accept_days": 10,
    "complaint_resolve_days": 30,
    "complaint_resolve_days_complex": 45,
    "complaint_appeal_days": 30,
    # Art. 37: a second complaint is resolved within 45 days of acceptance, 60 if complex.
    "appeal_resolve_days": 45,
    "appeal_resolve_days_complex": 60,
}

# UNCERTAIN in DOMAIN.md, or a choice a unit makes: defaults every profile starts from.
DEFAULT_SETTINGS: dict[str, Any] = {
    "head_cap": True,  # head's level ≤ their collective's (QĐ 366 cap UNCERTAIN)
    "quota_rounding": "floor",  # of 20% × count(HTT): floor, round or ceil (UNCERTAIN)
    # Ballots needed before a tally: None = every panel member present at the review
    # meeting (less those who declared a conflict, and the subject); a number = that many.
    "min_ballots": None,
    "leave_rules": False,  # ND 48/2023: < 6 months worked ⇒ no level; 3–6 months leave ⇒ ≤ HT
    "party_htxs_share": None,  # ND 90+48: the Party-member HTXS share, "0.15" (UNCERTAIN)
    **COMPLAINTS_2011,
}
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "head_cap": (bool,),
    "quota_rounding": (str,),
    "min_ballots": (int, type(None)),
    "leave_rules": (bool,),
    "party_htxs_share": (str, type(None)),
    **{name: (int,) for name in COMPLAINTS_2011},
}

_QD366: dict[str, Any] = {
    "id": "QD366",
    "version": 1,
    "title_vi": "Quy định 366-QĐ/TW (30/8/2025) và Hướng dẫn 43-HD/BTCTW (31/10/2025)",
    "title_en": "Party regulation 366 (2025) with guidance 43: 100-point scale",
    "scoring": {"kind": "points", "general_max": 30, "tasks_max": 70},
    "thresholds": {"HTXS": 90, "HTT": 70, "HT": 50},
    # Conditions that force KHT; each is met by a typed evidence event.
    "forced_kht": {
        "discipline": {"who": "all", "duty_related": True},
        "degradation": {"who": "all"},
        "tasks_failed": {"who": "staff", "over_percent": 50},
        "unit_completion": {"who": "leaders", "under_percent": 70},
        "subordinate_kht": {"who": "leaders", "over_percent": 50},
        "low_confidence": {"who": "leaders", "over_percent": 50},
        "corruption": {"who": "leaders"},
    },
    "mitigation": True,  # the authority may soften faults the person found and fixed
    "quota": {"of": "HTT", "ratio": "0.20", "exception_ratio": "0.25"},
    "deadline": "12-31",
    "settings": {},
}
_ND335: dict[str, Any] = {
    "id": "ND335",
    "version": 1,
    "title_vi": "Nghị định 335/2025/NĐ-CP (hiệu lực 01/01/2026)",
    "title_en": "Decree 335 (2025) for civil servants: KPI scoring, 100 points",
    "scoring": {"kind": "points", "general_max": 30, "tasks_max": 70},
    "thresholds": {"HTXS": 90, "HTT": 70, "HT": 50},
    "forced_kht": {
        "discipline": {"who": "all", "duty_related": False},
        "degradation": {"who": "all"},
        "corruption": {"who": "leaders"},
    },
    "mitigation": False,
    "quota": {"of": "HTT", "ratio": "0.20", "exception_ratio": "0.25"},
    "deadline": "12-15",
    "settings": {},
}
_ND90_48: dict[str, Any] = {
    "id": "ND90+48",
    "version": 1,
    "title_vi": "Nghị định 90/2020/NĐ-CP, sửa đổi bởi Nghị định 48/2023/NĐ-CP",
    "title_en": "Decrees 90 (2020) and 48 (2023): criteria-based, no points",
    "scoring": {
        "kind": "criteria",
        "criteria": [
            "chinh_tri_tu_tuong",
            "dao_duc_loi_song",
            "tac_phong_le_loi",
            "y_thuc_ky_luat",
            "ket_qua_nhiem_vu",
        ],
    },
    "thresholds": {},
    "forced_kht": {
        "discipline": {"who": "all", "duty_related": False},
        "degradation": {"who": "all"},
        "criteria_failed": {"who": "all", "at_least_percent": 50},
    },
    "mitigation": False,
    "quota": {"of": "party_share"},
    "deadline": "12-15",
    "settings": {"leave_rules": True},
}
_QD124: dict[str, Any] = {
    "id": "QD124",
    "version": 1,
    "title_vi": "Quy định 124-QĐ/TW (04/10/2023) — để xem lại hồ sơ cũ",
    "title_en": "Party regulation 124 (2023), replaced by 366: legacy replay",
    "scoring": {"kind": "criteria", "criteria": ["pham_chat", "nang_luc", "ket_qua"]},
    "thresholds": {},
    "forced_kht": {
        "discipline": {"who": "all", "duty_related": True},
        "degradation": {"who": "all"},
    },
    "mitigation": False,
    "quota": {"of": "HTT", "ratio": "0.20", "exception_ratio": "0.20"},
    "deadline": "12-31",
    "settings": {},
}


# Version 2 adds the task conditions of each level (điều kiện về kết quả thực hiện nhiệm
# vụ), judged on the task figures recorded for a subject (evidence of kind
# ``task_figures``: percent of tasks done, on time, exceeding requirements, late). A level
# needs its own conditions and those of every level below it. Version 1 stays, unchanged,
# for the cycles that pinned it.
_QD366_V2: dict[str, Any] = {
    **_QD366,
    "version": 2,
    "task_conditions": {
        "HTXS": {"on_time_at_least": 100, "exceeded_at_least": 30},
        "HTT": {"on_time_at_least": 100},
        "HT": {"done_at_least": 100, "late_at_most": 20},
    },
}
_ND90_48_V2: dict[str, Any] = {
    **_ND90_48,
    "version": 2,
    "task_conditions": {
        "HTXS": {"done_at_least": 100, "exceeded_at_least": 50},
        "HT": {"late_at_most": 20},
    },
}
TASK_FIGURES = ("done", "on_time", "exceeded", "late")


@dataclass(frozen=True)
class Profile:
    """One version of a regime's rules, and the settings a cycle chose for it."""

    data: Mapping[str, Any]
    settings: Mapping[str, Any]

    def __deepcopy__(self, memo: dict[int, Any]) -> Profile:
        return self  # immutable: a cycle's copy shares it

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def version(self) -> int:
        return int(self.data["version"])

    @property
    def hash(self) -> str:
        return profile_hash(self.data)

    @property
    def points(self) -> bool:
        return bool(self.data["scoring"]["kind"] == "points")

    @property
    def general_max(self) -> int:
        return int(self.data["scoring"]["general_max"])

    @property
    def tasks_max(self) -> int:
        return int(self.data["scoring"]["tasks_max"])

    def setting(self, name: str) -> Any:
        return self.settings[name]

    def threshold_level(self, total: int) -> tuple[Level, str]:
        """The level a total (hundredths) earns by thresholds alone, and the rule's words."""
        for level, floor, words in self._thresholds:
            if total >= floor:
                return level, words
        return Level.KHT, f"KHT: total < {self.data['thresholds']['HT']}"

    @cached_property
    def _thresholds(self) -> tuple[tuple[Level, int, str], ...]:
        """(level, its floor in hundredths, the rule's words), best first: worked out once
        per cycle, not for every tally, proposal and decision."""
        floors = [(level, int(self.data["thresholds"][level.value])) for level in _EARNED]
        return tuple(
            (level, floor * 100, f"{level.value}: total ≥ {floor}") for level, floor in floors
        )

    def task_conditions_met(self, level: Level, figures: Mapping[str, int]) -> bool:
        """Whether ``figures`` meet the task conditions of ``level`` and of every level
        below it down to HT (a level with no conditions has nothing to meet)."""
        conditions = self.data.get("task_conditions", {})
        for lower in _EARNED[_EARNED.index(level) :] if level in _EARNED else ():
            for name, bound in conditions.get(lower.value, {}).items():
                figure, kind = name.rsplit("_at_", 1)
                value = figures[figure]
                if (value < bound) if kind == "least" else (value > bound):
                    return False
        return True

    @property
    def has_task_conditions(self) -> bool:
        return bool(self.data.get("task_conditions"))

    def forced(self, condition: str) -> Mapping[str, Any] | None:
        found = self.data["forced_kht"].get(condition)
        return found if isinstance(found, dict) else None  # dict, not Mapping: ABCs are slow

    def quota_cap(self, base: int, exception: bool) -> int | None:
        """Most HTXS allowed in a group with ``base`` HTT, or None if no such quota."""
        quota = self.data["quota"]
        if quota["of"] != "HTT":
            return None
        ratio = Fraction(quota["exception_ratio" if exception else "ratio"])
        exact = ratio * base
        rounding = self.settings["quota_rounding"]
        if rounding == "ceil":
            return -(-exact.numerator // exact.denominator)
        if rounding == "round":
            return int(exact + Fraction(1, 2))
        return exact.numerator // exact.denominator

    def default_deadline(self, year: int) -> date:
        month, day = self.data["deadline"].split("-")
        return date(year, int(month), int(day))


_EARNED = (Level.HTXS, Level.HTT, Level.HT)  # what a points total can earn, best first


def profile_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 over the profile's RFC 8785 bytes: what a cycle pins."""
    return hashlib.sha256(canonical_bytes(dict(data))).hexdigest()


PROFILES: dict[tuple[str, int], Mapping[str, Any]] = {
    (p["id"], p["version"]): p for p in (_QD366, _ND335, _ND90_48, _QD124, _QD366_V2, _ND90_48_V2)
}


@dataclass(frozen=True)
class Supersession:
    """A newer version replaces a profile for the cycles opened from ``since`` on (the
    log's time of the ``cycle.opened``). Kept beside the profiles, not in them: a
    profile's hash is what old cycles pinned and must not change."""

    by: int  # the version in force from then on
    since: datetime


# Version 2 models the task conditions QĐ 366 and ND 90 always had: cycles opened
# from 1 January 2026 (the first year evaluated with them on record) must pin it;
# cycles opened earlier keep replaying under version 1.
SUPERSEDED: dict[tuple[str, int], Supersession] = {
    ("QD366", 1): Supersession(2, datetime(2026, 1, 1, tzinfo=UTC)),
    ("ND90+48", 1): Supersession(2, datetime(2026, 1, 1, tzinfo=UTC)),
}


def superseded(regime: str, version: int, at: datetime) -> Supersession | None:
    """The supersession that makes ``regime`` ``version`` no longer in force at log time
    ``at`` (None: it is in force then, or a later version is not yet)."""
    found = SUPERSEDED.get((regime, version))
    return found if found is not None and at >= found.since else None


def latest(regime: str) -> Mapping[str, Any] | None:
    versions = [v for (r, v) in PROFILES if r == regime]
    return PROFILES[(regime, max(versions))] if versions else None


def make_profile(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> Profile:
    return Profile(data, {**DEFAULT_SETTINGS, **data["settings"], **overrides})
