"""The restore drill: pg_dump backups restored; an older one caught rolling history back.

The latest backup, restored, verifies against the auditor's checkpoints and the
witness's cosignature. An older backup restored fails V6 against both the checkpoint
the auditor kept and the verifier's memory, placing the lost events exactly; written
on anyway, the fork is refused by the witness (422, kept as evidence) and fails V7.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.drills import restore
from tests.conftest import IN_CI

pytestmark = [pytest.mark.drill, pytest.mark.postgres]


def test_backups_restore_and_an_old_one_is_caught(pg_url: str, tmp_path: Path) -> None:
    missing = restore.tools_missing()
    if missing:
        if IN_CI:
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    figures = restore.run(pg_url, tmp_path)
    print(f"\nrestore drill: {json.dumps(figures.__dict__, ensure_ascii=False, default=str)}")
    assert figures.problems == []
    b1, b2 = figures.backup_sizes["B1"], figures.backup_sizes["B2"]
    assert b1 < b2
    assert figures.verify["B2 restored"] == {"exit": 0, "first_bad": None}
    kept = figures.verify["B1 restored, auditor's checkpoints"]
    assert kept == {"exit": 1, "first_bad": {"check": "V6", "position": b1, "until": b2}}
    assert figures.verify["B1 restored, verifier's memory"]["first_bad"]["position"] == b1
    assert figures.witness["fork"].startswith("refused: HTTP 422")
    assert figures.verify["fork, witness policy"] == {"exit": 1, "V7": "fail"}
