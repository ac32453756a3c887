"""The four levels (mức xếp loại) every regime uses, and "no level" for short service."""

from __future__ import annotations

from enum import Enum


class Level(Enum):
    HTXS = "HTXS"  # Hoàn thành xuất sắc nhiệm vụ
    HTT = "HTT"  # Hoàn thành tốt nhiệm vụ
    HT = "HT"  # Hoàn thành nhiệm vụ
    KHT = "KHT"  # Không hoàn thành nhiệm vụ
    NONE = "KXL"  # Không xếp loại: worked under six months (ND 48/2023)

    @property
    def rank(self) -> int:
        """Higher is better; "no level" ranks below every level."""
        return _RANK[self]

    @property
    def vi(self) -> str:
        return _NAMES[self][0]

    @property
    def en(self) -> str:
        return _NAMES[self][1]


_RANK = {Level.HTXS: 4, Level.HTT: 3, Level.HT: 2, Level.KHT: 1, Level.NONE: 0}
_NAMES = {
    Level.HTXS: ("Hoàn thành xuất sắc nhiệm vụ", "Excellent"),
    Level.HTT: ("Hoàn thành tốt nhiệm vụ", "Good"),
    Level.HT: ("Hoàn thành nhiệm vụ", "Satisfactory"),
    Level.KHT: ("Không hoàn thành nhiệm vụ", "Unsatisfactory"),
    Level.NONE: ("Không xếp loại", "Not rated"),
}
