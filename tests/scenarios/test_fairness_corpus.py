"""The fairness findings measured on the seeded corpus (``tests/scenarios/corpus.py``).

Targets (issue 16): at least 95 % of rigged ledgers flagged with the right kind naming
the right person, and at most 5 % of honest cycles with any finding of severity
medium or high. Two corpora with unrelated seeds: the figures must hold on both, not
on one the rules were written against. The figures are printed (``pytest -s``) and
recorded in docs/verifier.md.
"""

from __future__ import annotations

import pytest

from tests.scenarios.corpus import PATTERNS, corpus, measure

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
