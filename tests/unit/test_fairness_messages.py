"""The fairness findings read as Vietnamese: every kind's title, explanation and every
summary come from the fairness catalogues (domain/messages/fairness_vi.py, _en.py), with
70,00 and 01/12/2026, full level names and terms — no statement type, field or level
code, no English word, no decimal point, no ISO date. Identifiers (people, units,
cycles, groups) are data a finding names, and are left out of the check."""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any

import pytest

from domain.levels import Level
from domain.messages import FINDING_KINDS, FINDINGS, Points, Term, finding_text
from projections.fairness_kinds import KINDS
from tests.scenarios.corpus import PATTERNS, Ledger, corpus
from tests.unit.test_messages import MACHINE

ENGLISH = re.compile(
    r"\b(after|before|the|and|of|by|up|down|points?|ballots?|scored|marked|complaint|"
    r"level|panel|tally|publication|cycles?|decided|not|same|directed|sealed|judged)\b",
    re.IGNORECASE,
)

# One sample of every summary, with values of the types the findings pass: ids as data.
IDS = ["cham.1", "cham.x", "cb.01", "tham-quyen", "unit-2024", "unit-2025", "staff"]
SAMPLES: dict[str, dict[str, Any]] = {
    "ballot.deviation": {
        "scorer": "cham.1",
        "cadre": "cb.01",
        "way": Term("marked", "down"),
        "points": Points(1050),
    },
    "ballot.pivotal": {},
    "bias": {
        "scorer": "cham.1",
        "way": Term("marked", "up"),
        "cadre": "cb.01",
        "cycles": 2,
        "met": 3,
        "points": Points(717),
    },
    "amend": {"n": 2, "points": Points(120)},
    "amend.level": {"before": Level.HTT, "after": Level.HTXS},
    "amend.directed": {"n": 1},
    "amend.thin": {"n": 1},
    "amend.sealed": {"n": 1},
    "late": {
        "act": Term("act", "evidence.recorded"),
        "actor": "tham-quyen",
        "after": [Term("milestone", m) for m in ("tally", "publication", "complaint")],
    },
    "late.revised": {
        "way": Term("moved", "down"),
        "old": Level.HTT,
        "new": Level.HT,
        "actor": "tham-quyen",
        "after": [Term("milestone", "complaint")],
    },
    "retaliation.figures": {"old": Level.HTXS, "new": Level.HT},
    "retaliation.evidence": {"evidence": Term("evidence", "tasks_failed")},
    "retaliation.lowered": {},
    "retaliation.revised": {"old": Level.HTT, "new": Level.KHT},
    "retaliation.kept": {"level": Level.HT},
    "retaliation.next": {"before": "unit-2024", "after": "unit-2025"},
    "retaliation.next.points": {"before": "unit-2024", "after": "unit-2025", "points": Points(600)},
    "retaliation.next.level": {
        "before": "unit-2024",
        "after": "unit-2025",
        "old": Level.HTT,
        "new": Level.HT,
    },
    "panel.conflict": {"scorer": "cham.1", "cadre": "cb.01"},
    "panel.tally": {"n": 3, "who": ["cham.1", "cham.x"]},
    "panel.added": {"scorer": "cham.x", "n": 4},
    "panel.withdrawn": {"scorer": "cham.1", "n": 1},
    "panel.partial": {"n": 7, "who": ["cham.x"]},
    "decision.below_proposal": {"level": Level.KHT, "proposal": Level.HT},
    "decision.above_proposal": {"level": Level.HTXS, "proposal": Level.HTT},
    "decision.below_score": {"level": Level.HT, "highest": Level.HTT},
    "quota": {"group": "staff", "n": 3, "cap": 2, "base": 8},
    "head": {"level": Level.HTXS, "collective": Level.HTT},
    "formalism": {
        "signs": [
            Term("sign", s) for s in ("identical-ballots", "silent-meetings", "uniform-levels")
        ]
    },
    "complaint.late": {"step": Term("step", "resolve"), "days": 40, "limit": 30},
    "publication.late": {"days": 77},
    "deadline": {"past": 2, "deadline": date(2025, 12, 31), "close": 1, "days": 3},
    "not_notified": {},
    "not_published": {},
    "conflict.decider": {"who": "tham-quyen", "step": Term("step", "accepted")},
    "conflict.scorer": {"who": "cham.1", "step": Term("step", "resolved")},
    "conflict.related": {
        "who": "cham.1",
        "relation": Term("relation", "spouse"),
        "owner": "cb.01",
        "side": Term("side", "scorer"),
    },
}


def machine_text(text: str, names: frozenset[str] | list[str]) -> list[str]:
    """What in a Vietnamese ``text`` reads as code or English, its identifiers left out."""
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", "⟨id⟩", text)
    found = [m.group(0) for pattern in MACHINE for m in pattern.finditer(text)]
    return found + [m.group(0) for m in ENGLISH.finditer(text)]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_fairness_catalogues_have_every_kind_and_the_same_messages() -> None:
    assert set(FINDING_KINDS["vi"]) == set(FINDING_KINDS["en"]) == set(KINDS)
    assert set(FINDINGS["vi"]) == set(FINDINGS["en"]) == set(SAMPLES)
    for key, template in FINDINGS["vi"].items():
        assert _placeholders(template) == _placeholders(FINDINGS["en"][key]), key
        assert _placeholders(template) == set(SAMPLES[key]), key


def test_every_kind_s_title_and_explanation_reads_as_vietnamese() -> None:
    for kind, (title, explanation) in FINDING_KINDS["vi"].items():
        assert not machine_text(f"{title}. {explanation}", []), kind


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_summary_reads_as_vietnamese(key: str) -> None:
    vi, en = finding_text((key, SAMPLES[key]))
    assert not machine_text(vi, IDS), (key, vi)
    assert en and en != vi


def test_values_take_their_vietnamese_form_in_a_summary() -> None:
    vi, en = finding_text(("ballot.deviation", SAMPLES["ballot.deviation"]), ("ballot.pivotal", {}))
    assert vi == (
        "cham.1 chấm cb.01 thấp hơn phần còn lại của hội đồng 10,50 điểm — đổi mức xếp loại"
    )
    assert "10.50 points" in en
    vi, en = finding_text(("deadline", SAMPLES["deadline"]))
    assert "31/12/2025" in vi and "2025-12-31" in en
    vi, _ = finding_text(("decision.below_score", SAMPLES["decision.below_score"]))
    assert vi == (
        "Xếp mức Hoàn thành nhiệm vụ, thấp hơn mức Hoàn thành tốt nhiệm vụ theo điểm, "
        "không có chứng cứ buộc phải hạ"
    )


@pytest.fixture(scope="module")
def ledgers() -> list[Ledger]:
    return list(corpus(honest_count=8, per_pattern=2, base=1000))


def test_every_finding_the_corpus_makes_reads_as_vietnamese(ledgers: list[Ledger]) -> None:
    """Every finding of a small corpus (each pattern twice, honest units): its title,
    summary and its kind's explanation — and the corpus makes every kind its patterns
    expect, so no kind goes unread."""
    kinds: set[str] = set()
    for ledger in ledgers:
        report = ledger.report
        for f in report["findings"]:
            kinds.add(f["kind"])
            explanation = report["kinds"][f["kind"]]["explanation_vi"]
            for text in (f["title_vi"], f["summary_vi"], explanation):
                assert not machine_text(text, ledger.names), (ledger.name, f["kind"], text)
            assert f["summary_en"] and f["summary_en"] != f["summary_vi"]
    expected = {ledger.expected.kind for ledger in ledgers if ledger.expected is not None}
    assert expected <= kinds and len({ledger.pattern for ledger in ledgers}) == len(PATTERNS) + 1


def test_the_check_catches_machine_text() -> None:
    """The check itself fails on what it is for: a code, an English word, a decimal
    point, an ISO date, a level's abbreviation — but not on an identifier."""
    for bad in (
        "evidence.recorded (ubkt) sau tally",
        "cham.1 chấm cb.01 cao hơn 1.20 điểm",
        "hạn 2025-12-31",
        "Quyết định KHT thấp hơn đề xuất HT",
        "sau publication",
    ):
        assert machine_text(bad, [*IDS, "ubkt"]), bad
    assert not machine_text("cham.x chấm cb.01 cao hơn 1,20 điểm", IDS)
