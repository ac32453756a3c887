"""Reliability drills: crash, tamper, restore, key compromise and load (docs/reliability.md).

The harness lives here; the drills CI runs are in ``tests/drills`` (marked ``drill``);
``python -m bench.drills`` runs them at any size and prints their figures.
"""

from __future__ import annotations

# What CI runs; ``--drill-scale`` / ``--scale`` / CADRELEDGER_DRILL_SCALE multiplies it.
CI = {
    "tamper_sqlite": 1000,
    "tamper_postgres": 60,  # every kind PostgreSQL can take, once at least
    "kills": 4,
    "terminations": 3,
    "load_seconds": 45,
}


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))
