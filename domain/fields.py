"""Reading a statement's body: each field by its kind, refused by name when it is wrong.

Scores are hundredths of a point: a statement gives an integer (``27``) or a decimal
string with at most two places (``"27.5"``), never a float (docs/SPEC.md §1).

A free text may be sealed (``ledger.texts``): the statement holds only its commitment,
``{"sealed": hex}``, and the ledger has checked at intake that the text behind it is
not blank. The rules never need the words, so a sealed text counts as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, NoReturn

from domain.levels import Level
from domain.messages import Points, field_name, refusal, render
from domain.problems import INVALID_FIELD, SCORE_OUT_OF_RANGE
from ledger.errors import Rejected
from ledger.texts import SealedText, sealed_value

IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
EVENT_HASH = re.compile(r"[0-9a-f]{64}")
DECIMAL = re.compile(r"(\d{1,6})(?:\.(\d{1,2}))?")
MAX_TEXT = 20_000

Text = str | SealedText  # a free text, plain or sealed


def given(text: Text) -> bool:
    """Whether a text says something: a sealed one always does (intake refuses blanks)."""
    return isinstance(text, SealedText) or bool(text.strip())


def text_json(text: Text) -> str | dict[str, str] | None:
    """A text as read models hold it: the words if plain, only the commitment if sealed."""
    if isinstance(text, SealedText):
        return text.to_json()
    return text or None


class Body:
    """A statement's fields, read with their kinds checked."""

    def __init__(self, statement: Mapping[str, Any]) -> None:
        self.statement = statement

    def has(self, name: str) -> bool:
        return self.statement.get(name) is not None

    def raw(self, name: str) -> Any:
        value = self.statement.get(name)
        if value is None:
            refuse_field(name, "field.missing")
        return value

    def id(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not _is_identifier(value):
            refuse_field(name, "field.code")
        return value

    def ids(self, name: str, *, allow_empty: bool = False) -> list[str]:
        value = self.raw(name)
        if not isinstance(value, list) or (not value and not allow_empty):
            refuse_field(name, "field.codes")
        for item in value:
            if not isinstance(item, str) or not _is_identifier(item):
                refuse_field(name, "field.bad_code", code=repr(item))
        if len(set(value)) != len(value):
            refuse_field(name, "field.repeated_code")
        return list(value)

    def text(self, name: str, *, optional: bool = False) -> Text:
        """A free text: a string, or a sealed value standing for one."""
        if optional and not self.has(name):
            return ""
        value = self.raw(name)
        if isinstance(value, dict):
            try:
                sealed = sealed_value(value)
            except Rejected:
                sealed = None
            if sealed is None:
                refuse_field(name, "field.text")
            return sealed
        return self.label(name)

    def label(self, name: str) -> str:
        """A name or title: plain text only (it says who, and is never sealed)."""
        value = self.raw(name)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            refuse_field(name, "field.text_length", maximum=MAX_TEXT)
        return value

    def event(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not EVENT_HASH.fullmatch(value):
            refuse_field(name, "field.event")
        return value

    def events(self, name: str) -> list[str]:
        value = self.raw(name)
        if not isinstance(value, list):
            refuse_field(name, "field.events")
        for item in value:
            if not isinstance(item, str) or not EVENT_HASH.fullmatch(item):
                refuse_field(name, "field.bad_event")
        if len(set(value)) != len(value):
            refuse_field(name, "field.repeated_event")
        return list(value)

    def points(self, name: str, maximum: int) -> int:
        """A score in hundredths, 0 ≤ score ≤ ``maximum`` points."""
        hundredths = parse_points(self.raw(name), name)
        if not 0 <= hundredths <= maximum * 100:
            raise refusal(
                SCORE_OUT_OF_RANGE,
                "score_out_of_range",
                {"field": name, "maximum": maximum},
                field=field_name(name),
                score=Points(hundredths),
                maximum=maximum,
            )
        return hundredths

    def integer(self, name: str, low: int = 0, high: int = 10**9) -> int:
        value = self.raw(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            refuse_field(name, "field.integer", low=low, high=high)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        if not self.has(name):
            return default
        value = self.raw(name)
        if not isinstance(value, bool):
            refuse_field(name, "field.flag")
        return value

    def day(self, name: str) -> date:
        value = self.raw(name)
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            refuse_field(name, "field.day")

    def level(self, name: str) -> Level:
        value = self.raw(name)
        try:
            return Level(value)
        except ValueError:
            refuse_field(name, "field.level", levels=[level.value for level in Level])

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self.raw(name)
        if value not in options:
            refuse_field(name, "field.choice", options=list(options))
        return str(value)

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw(name)
        if not isinstance(value, dict):
            refuse_field(name, "field.object")
        return value


@lru_cache(maxsize=4096)
def _is_identifier(value: str) -> bool:
    # Remembered: a cycle's id comes back in each of its hundreds of acts, a cadre's in
    # each of theirs, and a hit costs a third of matching the pattern again.
    return IDENTIFIER.fullmatch(value) is not None


def parse_points(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 100
    match = DECIMAL.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        refuse_field(name, "field.points")
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def format_points(hundredths: int) -> str:
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def refuse(name: str, vi: str, en: str) -> NoReturn:
    """An invalid field, with what is wrong in each language (prefer ``refuse_field``)."""
    raise Rejected(
        INVALID_FIELD,
        render("vi", "field", {"field": field_name(name), "problem": vi}),
        render("en", "field", {"field": field_name(name), "problem": en}),
        field=name,
    )


def refuse_field(name: str, key: str, **values: Any) -> NoReturn:
    """An invalid field, what is wrong being message ``key`` of the catalogues."""
    refuse(name, render("vi", key, values), render("en", key, values))
