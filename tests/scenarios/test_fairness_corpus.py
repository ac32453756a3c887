"""The fairness findings measured on the seeded corpus (``tests/scenarios/corpus.py``).

Targets (issue 16): at least 95 % of rigged ledgers flagged with the right kind naming
the right person, and at most 5 % of honest cycles with any finding of severity
medium or high. Two corpora with unrelated seeds: the figures must hold on both, not
on one the rules were written against. The figures are printed (``pytest -s``) and
recorded in docs/verifier.md.
"""

from __future__ import annotations

import pytest

from tests.scenarios.corpus import PATTERNS, REFUSED, attempted, corpus, measure

RECALL, FALSE_POSITIVES = 0.95, 0.05


@pytest.mark.parametrize(("honest", "per_pattern", "base"), [(40, 8, 1000), (100, 12, 7000)])
def test_rigged_ledgers_are_found_and_honest_cycles_are_left_alone(
    honest: int, per_pattern: int, base: int
) -> None:
    figures = measure(list(corpus(honest, per_pattern, base)))
    print(f"\ncorpus seeds from {base}:\n{figures.table()}")
    assert figures.overall_recall >= RECALL, figures.table()
    assert figures.false_positive_rate <= FALSE_POSITIVES, figures.table()
    # No pattern is left to the others to carry: each is found more often than not.
    for pattern in PATTERNS:
        hit, n = figures.recall[pattern]
        assert hit / n >= 0.75, (pattern, figures.table())


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_riggings_the_rules_now_refuse_are_refused_and_leave_nothing(name: str) -> None:
    """Patterns issue 16's corpus could play that the tightened rules refuse: each
    attempt, made inside an otherwise honest cycle of the corpus, is refused with its
    problem type, and the cycle goes on to publication with nothing of it stored."""
    for seed in (501, 502):  # one NĐ 335 unit, one QĐ 366 unit
        unit = attempted(name, seed)
        assert unit.refusals == {name: REFUSED[name].problem}, (seed, unit.refusals)
        cycle = unit.w.model.cycles[unit.cycles[-1]]
        assert cycle.published is not None
        if name == "free-text-lowering":  # no trace: no decision below its proposal
            assert not [f for f in unit.report()["findings"] if f["kind"] == "decision-departure"]
