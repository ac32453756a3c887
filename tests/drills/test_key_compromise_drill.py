"""The key-compromise drill: a person's stolen key, and the log's own key rotated.

A statement signed with a revoked key is refused at intake (403
``/problems/key-revoked``); one an insider seals into the log anyway, resealing
everything so that V1–V7 pass, is named by V8 — as a revoked key's act after the
revocation, or as an act signed after the key was lost before it. The log key
rotated with ``cadreledger rotate-log-key`` leaves every older checkpoint and the
witness's cosignatures verifying, whichever key is pinned; the retired key cannot sign
a later checkpoint, and the chain does not survive losing its rotation record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.drills import compromise

pytestmark = pytest.mark.drill


def _show(figures: compromise.Figures) -> None:
    print(f"\nkey drill: {json.dumps(figures.__dict__, ensure_ascii=False, default=str)}")


def test_a_revoked_key_is_refused_and_a_slipped_in_act_named(db_url: str, tmp_path: Path) -> None:
    figures = compromise.Figures()
    compromise.revoked_key(db_url, tmp_path, figures)
    _show(figures)
    assert figures.problems == []
    assert figures.refused_at_intake["status"] == 403
    assert figures.refused_at_intake["type"] == "/problems/key-revoked"
    after = figures.slipped_in["after the revocation"]
    assert after["V1-V7"] == "pass" and after["first_bad"] == "V8"
    assert "key-revoked" in after["V8_reason"]
    before = figures.slipped_in["before it, signed after the loss"]
    assert before["V1-V7"] == "pass" and before["first_bad"] == "V8"
    assert "revocation-backdated" in before["V8_reason"]


def test_the_log_key_rotates_without_breaking_older_checkpoints(
    db_url: str, tmp_path: Path
) -> None:
    figures = compromise.Figures()
    compromise.rotation(db_url, tmp_path, figures)
    _show(figures)
    assert figures.problems == []
    rotation = figures.rotation
    assert rotation["old_key"] != rotation["new_key"]
    for pinned in ("old", "new"):
        assert rotation[f"verify, {pinned} key pinned"]["exit"] == 0
        assert rotation[f"verify, {pinned} key pinned"]["checks"]["V7"] == "pass"
    assert rotation["a later checkpoint signed by the retired key"] == {"exit": 1}
    assert rotation["rotation record deleted"]["exit"] == 1
