"""The rules' messages, one catalogue per language (``vi``, ``en``), as the UI keeps its.

A rule refuses with a message key and typed values, never with inline prose:
``refusal(QUOTA_EXCEEDED, "quota_exceeded", group="staff", cap=1)``. Each language
renders the values its own way — a score as ``70,00`` or ``70.00``, a day as
``01/12/2026`` or ``2026-12-01``, a level by its full name, a role, statement type, field
or evidence kind by its term (``Term``) — so that no machine code reaches a Vietnamese
sentence. ``tests/unit/test_messages.py`` holds the two catalogues to the same keys and
placeholders.

The fairness findings (signs to examine, ``projections.fairness``) have their own
catalogues beside these, ``fairness_vi`` and ``fairness_en``: each kind's title and
explanation and the findings' summaries, rendered by ``finding_text`` the same way.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.levels import Level
from domain.messages import en, fairness_en, fairness_vi, vi
from ledger.errors import Problem, Rejected

CATALOGUES: dict[str, tuple[Mapping[str, str], Mapping[str, Mapping[str, str]]]] = {
    "vi": (vi.MESSAGES, {**vi.TERMS, **fairness_vi.TERMS}),
    "en": (en.MESSAGES, {**en.TERMS, **fairness_en.TERMS}),
}
FINDINGS: dict[str, Mapping[str, str]] = {"vi": fairness_vi.MESSAGES, "en": fairness_en.MESSAGES}
FINDING_KINDS: dict[str, Mapping[str, tuple[str, str]]] = {
    "vi": fairness_vi.KINDS,
    "en": fairness_en.KINDS,
}


@dataclass(frozen=True)
class Term:
    """A code with a name in each language: ``Term("role", "authority")``."""

    kind: str
    code: str


@dataclass(frozen=True)
class Points:
    """A score in hundredths of a point."""

    hundredths: int


def role(code: str) -> Term:
    return Term("role", code)


def act_type(code: str) -> Term:
    return Term("act", code)


def field_name(code: str) -> Term:
    return Term("field", code)


def evidence_kind(code: str) -> Term:
    return Term("evidence", code)


def render_value(value: Any, lang: str) -> str:
    terms = CATALOGUES[lang][1]
    if isinstance(value, Term):
        return terms.get(value.kind, {}).get(value.code, value.code)
    if isinstance(value, Level):
        return value.vi if lang == "vi" else f"{value.value} ({value.en})"
    if isinstance(value, Points):
        h = value.hundredths
        whole, cents = divmod(abs(h), 100)
        text = f"{whole},{cents:02d}" if lang == "vi" else f"{whole}.{cents:02d}"
        return f"-{text}" if h < 0 else text
    if isinstance(value, datetime):  # before date: a datetime is a date too
        if lang == "vi":
            return f"{value:%H:%M:%S} ngày {value:%d/%m/%Y} (UTC)"
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}" if lang == "vi" else value.isoformat()
    if isinstance(value, bool):
        return {"vi": ("không", "có"), "en": ("no", "yes")}[lang][value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(render_value(item, lang) for item in value)
    return str(value)


def render(lang: str, key: str, values: Mapping[str, Any]) -> str:
    template = CATALOGUES[lang][0][key]
    return template.format(**{name: render_value(v, lang) for name, v in values.items()})


def sentence(text: str) -> str:
    """A message as a sentence: its first letter a capital (a term may start it)."""
    return text[:1].upper() + text[1:]


def refusal(
    problem: Problem,
    key: str,
    extensions: Mapping[str, Any] | None = None,
    **values: Any,
) -> Rejected:
    """The refusal ``problem`` with message ``key`` in both languages."""
    return Rejected(
        problem,
        sentence(render("vi", key, values)),
        sentence(render("en", key, values)),
        **(extensions or {}),
    )


def existing(what: str, extensions: Mapping[str, Any] | None = None, **values: Any) -> Rejected:
    """``already-exists``: the thing message ``what`` names is on record already."""
    from domain.problems import ALREADY_EXISTS

    vi_what, en_what = render("vi", what, values), render("en", what, values)
    return Rejected(
        ALREADY_EXISTS,
        render("vi", "exists", {"what": vi_what}),
        render("en", "exists", {"what": en_what[:1].upper() + en_what[1:]}),
        **(extensions or {}),
    )


def finding_text(*parts: tuple[str, Mapping[str, Any]]) -> tuple[str, str]:
    """A fairness finding's summary (vi, en) from the fairness catalogues: ``parts`` are
    (key, values) rendered one after the other, as a sentence."""
    texts = []
    key, values = parts[0]
    # A sentence starts with a capital, unless it starts with an identifier (cham.1).
    lead = string.Formatter().parse(FINDINGS["vi"][key])
    literal, name, _, _ = next(iter(lead), ("", None, None, None))
    capital = bool(literal) or not isinstance(values.get(name or ""), str)
    for lang in ("vi", "en"):
        catalogue = FINDINGS[lang]
        rendered = "".join(
            catalogue[k].format(**{n: render_value(v, lang) for n, v in vs.items()})
            for k, vs in parts
        )
        texts.append(sentence(rendered) if capital else rendered)
    return texts[0], texts[1]
