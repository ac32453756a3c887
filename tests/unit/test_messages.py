"""The rules' messages: one catalogue per language, and Vietnamese that reads as
Vietnamese — its own terms, 70,00 and 01/12/2026, full level names, no machine codes."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import date

import pytest

from domain.levels import Level
from domain.messages import CATALOGUES, Points, Term, render, render_value
from ledger.errors import Rejected
from tests.unit.test_rule_table import CASES, REGIMES

# What must not reach a Vietnamese sentence: statement types and field codes, role
# codes, level abbreviations, decimal points and ISO dates.
MACHINE = [
    re.compile(r"\b[a-z_]+\.[a-z_]+\b"),  # score.submitted
    re.compile(r"\b[a-z]+_[a-z_]+\b"),  # forced_kht, min_ballots
    re.compile(r"\b(authority|advisory|chair|panel|inspection|general|tasks|thresholds)\b"),
    re.compile(r"\b(HTXS|HTT|HT|KHT|KXL)\b"),
    re.compile(r"\b\d+\.\d\d\b"),
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogues_have_the_same_messages_and_placeholders() -> None:
    vi, en = CATALOGUES["vi"][0], CATALOGUES["en"][0]
    assert set(vi) == set(en)
    for key in vi:
        assert _placeholders(vi[key]) == _placeholders(en[key]), key


def test_values_take_each_languages_form() -> None:
    assert render_value(Points(7000), "vi") == "70,00"
    assert render_value(Points(7000), "en") == "70.00"
    assert render_value(date(2026, 12, 1), "vi") == "01/12/2026"
    assert render_value(date(2026, 12, 1), "en") == "2026-12-01"
    assert render_value(Level.HTXS, "vi") == "Hoàn thành xuất sắc nhiệm vụ"
    assert render_value(Term("role", "authority"), "vi") == "cấp có thẩm quyền"
    assert render_value(Term("field", "general"), "vi") == "điểm tiêu chí chung"
    assert render_value(Term("field", "tasks"), "vi") == "điểm kết quả thực hiện nhiệm vụ"
    assert render("vi", "deadline_passed", {"deadline": date(2026, 12, 1)}).startswith(
        "Quá hạn 01/12/2026"
    )


@pytest.mark.parametrize(
    ("case", "regime"),
    [(case, regime) for case, _ in CASES for regime in REGIMES],
    ids=[f"{case.__name__}-{regime}" for case, _ in CASES for regime in REGIMES],
)
def test_every_refusal_of_the_rule_table_reads_as_vietnamese(
    case: Callable[[str], None], regime: str
) -> None:
    try:
        case(regime)
    except Rejected as e:
        text = e.detail_vi
        if e.problem.slug == "invalid-field":
            return  # names the values a field accepts, which are codes
        for pattern in MACHINE:
            assert not pattern.search(text), (pattern.pattern, text)


def test_each_new_problem_type_is_explained_in_both_languages() -> None:
    from api.problems import describe

    for slug in (
        "date-from-log",
        "ungrounded-level",
        "not-mitigable",
        "against-complainant",
        "roles-apart",
        "ballots-missing",
        "task-conditions-unmet",
        "appeal-not-open",
    ):
        described = describe(slug)
        assert described is not None
        assert described["title_vi"] and described["title_en"]
        assert described["explanation_vi"] and described["explanation_en"]
