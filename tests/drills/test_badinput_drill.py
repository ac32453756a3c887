"""The bad-input drill: hostile input at every entry point, and coverage-guided fuzzing.

Each hostile input must get exactly the refusal the catalogue names (status and problem
type), never a 5xx, and leave every table as it was; the parsers, fuzzed by atheris,
raise nothing but their documented errors (docs/reliability.md, section 5).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.drills import badinput

pytestmark = pytest.mark.drill


def test_hostile_inputs_get_their_specific_refusals(db_url: str, tmp_path: Path) -> None:
    figures = badinput.run(db_url, tmp_path)
    data = figures.to_json()
    badinput.print_figures(data)
    assert figures.ok, figures.problems
    entries = figures.entries
    assert set(entries) == {
        "POST /v1/statements",
        "POST /v1/auth/tokens",
        "GET query parameters",
        "witness add-checkpoint",
        "webhook registrations",
        "verify BUNDLE",
    }
    for name, tally in entries.items():
        assert tally.tried >= 10, name
        assert tally.server_errors == 0 and tally.stored == 0, name
    assert entries["POST /v1/statements"].as_specified == entries["POST /v1/statements"].tried


def test_the_drill_counts_a_wrong_answer_and_a_stored_row(tmp_path: Path) -> None:
    """The checks can fail: a refusal of the wrong type, a 5xx, and a row left behind."""

    class Fake:
        class http:  # stands in for the TestClient
            @staticmethod
            def get(_: str) -> object:
                return type("A", (), {"status_code": 200})()

        rows = iter([{"t": 2}])

        def tables(self) -> dict[str, int]:
            return next(self.rows)

    figures = badinput.Figures()
    tally = figures.tally("x")
    w = Fake()
    owed = (400, "/problems/bad-signature")
    badinput._judge(w, figures, tally, "x", "wrong type", (400, "/problems/x"), owed, None)  # type: ignore[arg-type]
    badinput._judge(w, figures, tally, "x", "5xx", (500, None), owed, None)  # type: ignore[arg-type]
    badinput._judge(w, figures, tally, "x", "stored", owed, owed, {"t": 1})  # type: ignore[arg-type]
    assert (tally.tried, tally.as_specified, tally.server_errors, tally.stored) == (3, 1, 1, 1)
    assert len(figures.problems) == 3 and not figures.ok


def test_fuzzing_finds_no_crash(tmp_path: Path, drill_scale: float) -> None:
    """A bounded atheris run of each target (20 s each at CI's scale)."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("atheris")
    from bench.drills import fuzz

    runs = fuzz.run_all(round(40 * drill_scale), tmp_path)
    print("\nfuzz: " + json.dumps([r.to_json() for r in runs], ensure_ascii=False))
    for r in runs:
        assert r.crashes == 0, r.output_tail
        assert r.executions > 100 and r.edges > 50, r.to_json()
