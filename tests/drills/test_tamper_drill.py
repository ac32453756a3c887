"""The tamper drill: random tamperings of a real ledger, each caught and placed.

Every trial works on its own copy of one evaluation ledger (with a log key rotation in
its history). The verifier runs as an auditor would — log key pinned, the tree heads of
an earlier run remembered — and must fail, and name what the harness changed: the
first bad event (exactly, or a range holding it once history was resealed), or the
checkpoint, read-model document or metadata row.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.drills import CI, scaled, tamper
from bench.drills.base import Keys, Snapshot, build
from bench.drills.databases import Sql

pytestmark = pytest.mark.drill


def _base(url: str, tmp_path: Path) -> Snapshot:
    keys = Keys(tmp_path / "keys")
    build(url, keys, rotate=True)
    return Snapshot.take(url, keys)


def _assert_all_caught(figures: tamper.Figures, label: str) -> None:
    data = figures.to_json()
    print(f"\ntamper drill ({label}): {json.dumps(data['totals'])} in {data['seconds']} s")
    for name, row in data["by_kind"].items():
        print(f"  {name}: {dict(row)}")
    assert not data["failures"], json.dumps(data["failures"][:5], indent=1, ensure_ascii=False)
    totals = data["totals"]
    assert totals["detected"] == totals["tried"] == len(figures.trials)


def test_every_tampering_of_sqlite_is_caught_and_placed(tmp_path: Path, drill_scale: float) -> None:
    base = _base(f"sqlite:///{tmp_path / 'base.db'}", tmp_path)
    count = scaled(CI["tamper_sqlite"], drill_scale)
    figures = tamper.run(base, tmp_path, count, seed=1)
    _assert_all_caught(figures, f"sqlite, {count}")
    assert set(figures.by_kind()) == set(tamper.KINDS)  # every kind was tried


@pytest.mark.postgres
def test_tamperings_of_postgres_are_caught_and_placed(
    pg_url: str, tmp_path: Path, drill_scale: float
) -> None:
    base = _base(pg_url, tmp_path)
    count = scaled(CI["tamper_postgres"], drill_scale)
    figures = tamper.run(base, tmp_path, count, seed=2)
    _assert_all_caught(figures, f"postgres, {count}")
    possible = {k for k in tamper.KINDS if tamper.applicable(k, pg_url)}
    if count >= len(possible):
        assert set(figures.by_kind()) == possible  # every kind it can take was tried


def test_the_harness_counts_an_unnoticed_change_as_missed(tmp_path: Path) -> None:
    """The drill can fail: a change the verifier does not look at (a table of no
    consequence) is reported as undetected, not waved through."""

    def harmless(t: tamper.Target) -> tamper.Truth:
        t.sql.execute("CREATE TABLE scribble (x INTEGER)")
        return tamper.Truth("a table nobody reads added", position=0)

    base = _base(f"sqlite:///{tmp_path / 'base.db'}", tmp_path)
    tamper.KINDS["harmless"] = harmless
    try:
        trial = tamper.run_trial("harmless", base, tmp_path, random.Random(0))
    finally:
        del tamper.KINDS["harmless"]
    assert trial is not None
    assert (trial.detected, trial.placed) == (False, "missed")


def test_a_misplaced_finding_is_not_counted_as_pinpointed(tmp_path: Path) -> None:
    """If the harness claims another position than the one changed, the verifier's
    answer does not match it: pinpointing is checked, not assumed."""

    def lying(t: tamper.Target) -> tamper.Truth:
        truth = tamper.KINDS["event-byte"](t)
        assert truth.position is not None
        return tamper.Truth(truth.what, position=(truth.position + 1) % t.n)

    base = _base(f"sqlite:///{tmp_path / 'base.db'}", tmp_path)
    tamper.KINDS["lying"] = lying
    try:
        trial = tamper.run_trial("lying", base, tmp_path, random.Random(0))
    finally:
        del tamper.KINDS["lying"]
    assert trial is not None
    assert trial.detected and trial.placed == "missed"


def test_copies_leave_the_base_untouched(tmp_path: Path) -> None:
    base = _base(f"sqlite:///{tmp_path / 'base.db'}", tmp_path)
    tamper.run(base, tmp_path, 30, seed=3)
    with Sql(base.url) as sql:
        assert sql.query("SELECT COUNT(*) FROM stored_events")[0][0] == base.size
    report, error = tamper.verify_copy(base.url, base)
    assert error is None and report is not None and report["ok"]
