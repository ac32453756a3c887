"""Every stored value is untrusted input to the verifier, whatever its column's type says.

Text that is not UTF-8 (SQLite stores any bytes as TEXT), numbers far outside any log
(a tile level of 2**48, an index position of −2**62): each must come back as a finding
at the right check and position, with ``--json`` printing its report — never a
traceback, a MemoryError, or a finding at a position no log has.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.service import Ledger
from ledger.indexes import node_position
from ledger.verifier import Finding, printable
from tests.conftest import People
from tests.service.test_readmodel_tamper import CYCLE_DOC, built
from tests.service.test_tamper import build, first_bad, run_verify, state_of

NOT_UTF8 = "CAST(X'ff61' AS TEXT)"  # a lone 0xFF byte, then "a"


def sqlite_ledger(open_ledger: Callable[..., Ledger], tmp_path: Path) -> tuple[Ledger, str]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    return open_ledger(url), url


# (where the bytes go, the check owed, whether it names position 5)
NOT_UTF8_ROWS = {
    "event-stream": (
        "UPDATE stored_events SET originator_id = {bad} WHERE originator_id = ? "
        "AND originator_version = ?",
        "V1",
    ),
    "event-topic": (
        "UPDATE stored_events SET topic = {bad} WHERE originator_id = ? AND originator_version = ?",
        "V1",
    ),
    "leaf-stream": ("UPDATE ledger_leaves SET stream = {bad} WHERE idx = 5", "V4"),
    "nonce-actor": ("UPDATE ledger_nonces SET actor = {bad} WHERE idx = 5", "V4"),
    "nonce-nonce": ("UPDATE ledger_nonces SET nonce = {bad} WHERE idx = 5", "V4"),
}


@pytest.mark.parametrize("where", sorted(NOT_UTF8_ROWS))
def test_text_that_is_not_utf8_is_a_finding_at_its_position(
    where: str, open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    stream, version, _ = state_of(ledger, 5)
    sql, check = NOT_UTF8_ROWS[where]
    params = (stream, version) if "stored_events" in sql else ()
    ledger.store.execute(sql.format(bad=NOT_UTF8), params)
    code, report = run_verify(url)  # parses the printed JSON: it must be printed
    assert code == 1
    assert first_bad(report) == (check, 5)
    if where == "event-stream":
        assert report["first_bad"]["stream"] == "\\xffa"  # shown as the byte it was


def test_a_checkpoint_that_is_not_utf8_is_named(
    open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    size = ledger.store.query("SELECT MIN(size) AS s FROM ledger_checkpoints WHERE size > 0")[0]
    ledger.store.execute(
        f"UPDATE ledger_checkpoints SET note = {NOT_UTF8} WHERE size = ?", (size["s"],)
    )
    code, report = run_verify(url)
    assert code == 1
    v6 = next(c for c in report["checks"] if c["id"] == "V6")
    assert v6["status"] == "fail"
    assert v6["first_failure"]["checkpoint_size"] == size["s"]
    assert "not UTF-8" in v6["first_failure"]["reason_en"]


def test_a_rotation_note_that_is_not_utf8_fails_rather_than_crashes(
    open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    ledger.store.execute(f"INSERT INTO ledger_log_keys (size, note) VALUES (3, {NOT_UTF8})")
    code, report = run_verify(url)
    assert code == 1
    assert "ledger_log_keys" in str(report)


def test_genesis_metadata_that_is_not_utf8_refuses_to_run_naming_the_row(
    open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    ledger.store.execute(f"UPDATE ledger_meta SET value = {NOT_UTF8} WHERE key = 'origin'")
    result = CliRunner().invoke(main, ["--db", url, "verify", "--json", "--no-remember"])
    assert result.exit_code == 2
    assert "ledger_meta.'origin'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("column", "name"), [("doc", CYCLE_DOC), ("name", "registry")], ids=["doc", "name"]
)
def test_a_read_model_document_that_is_not_utf8_is_named_by_v9(
    column: str, name: str, open_ledger: Callable[..., Ledger], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = built(url, tmp_path, open_ledger)
    ledger.store.execute(
        f"UPDATE projection_docs SET {column} = {NOT_UTF8} WHERE name = ?", (name,)
    )
    code, report = run_verify(url)
    assert code == 1
    v9 = next(c for c in report["checks"] if c["id"] == "V9")
    assert v9["status"] == "fail"
    assert v9["first_failure"]["document"] == name


def test_a_tile_level_of_2_48_is_junk_at_the_log_size_in_bounded_memory(
    ledger: Ledger, people: People, db_url: str
) -> None:
    """(PostgreSQL's INTEGER column stops at 2**31 − 1: a 2**34-bit shift, as bad.)"""
    build(ledger, people)
    level = 2**48 if db_url.startswith("sqlite") else 2**31 - 1
    ledger.store.execute("INSERT INTO ledger_tiles VALUES (?, 0, ?)", (level, b"\0" * 32))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V4", 12)  # the first leaf such a node would need


@pytest.mark.parametrize("index", [-(2**62), -1, 2**62])
def test_a_tile_at_an_impossible_index_is_junk_at_the_log_size(
    index: int, ledger: Ledger, people: People, db_url: str
) -> None:
    build(ledger, people)
    ledger.store.execute("INSERT INTO ledger_tiles VALUES (0, ?, ?)", (index, b"\0" * 32))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V4", 12)


def test_an_index_row_flipped_to_a_huge_negative_position_is_placed_by_v4(
    ledger: Ledger, people: People, db_url: str
) -> None:
    """V8 used to replay the row's event at −2**62 and name that, ahead of V4."""
    build(ledger, people)
    ledger.store.execute("UPDATE ledger_leaves SET idx = ? WHERE idx = 7", (-(2**62),))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V4", 7)
    assert all((c["first_failure"] or {}).get("position", 0) >= 0 for c in report["checks"])


def test_a_junk_index_row_below_zero_is_a_v4_finding(
    ledger: Ledger, people: People, db_url: str
) -> None:
    build(ledger, people)
    stream, version, _ = state_of(ledger, 3)
    ledger.store.execute("INSERT INTO ledger_leaves VALUES (?, ?, ?)", (-(2**62), stream, version))
    code, report = run_verify(db_url)
    assert code == 1
    v4 = next(c for c in report["checks"] if c["id"] == "V4")
    assert v4["status"] == "fail"
    assert v4["first_failure"]["stream"] == stream
    assert str(-(2**62)) in v4["first_failure"]["reason_en"]


def test_node_positions_of_any_stored_key_are_cheap_and_inside_the_log() -> None:
    assert node_position(2**51, 0, 12) == (12, None)
    assert node_position(8, -(2**62) * 256, 12) == (12, None)
    assert node_position(0, 5, 12) == (5, None)
    assert node_position(8, 0, 300) == (0, 256)


def test_findings_show_undecodable_bytes_as_escapes() -> None:
    bad = b"stream-\xff".decode("utf-8", "surrogateescape")
    finding = Finding(f"stored as {bad}", "vi", stream=bad)
    assert finding.stream == "stream-\\xff"
    assert finding.reason_en == "stored as stream-\\xff"
    assert printable("Việt Nam") == "Việt Nam"
    assert printable("\ud800") == "\\ud800"


# SQLite keeps any value in any column: text where a number belongs, text where bytes do.
WRONG_TYPES = {
    "leaf-index": ("UPDATE ledger_leaves SET idx = 'abc' WHERE idx = 7", ("V4", 7)),
    "leaf-version": ("UPDATE ledger_leaves SET version = 'abc' WHERE idx = 7", ("V4", 7)),
    "event-version": (
        "UPDATE stored_events SET originator_version = 'abc' WHERE rowid = 8",
        ("V1", 7),
    ),
    "event-state": ("UPDATE stored_events SET state = 'abc' WHERE rowid = 8", ("V1", 7)),
    "leaf-tile-level": (
        "UPDATE ledger_tiles SET level = 'abc' WHERE level = 0 AND idx = 0",
        ("V4", 0),
    ),
    "leaf-tile-hashes": (
        "UPDATE ledger_tiles SET hashes = 'abc' WHERE level = 0 AND idx = 0",
        ("V4", 0),
    ),
    "nonce-index": ("UPDATE ledger_nonces SET idx = 'abc' WHERE idx = 5", ("V4", 5)),
    "nonce-digest": ("UPDATE ledger_nonces SET digest = 'abc' WHERE idx = 5", ("V4", 5)),
}


@pytest.mark.parametrize("where", sorted(WRONG_TYPES))
def test_a_value_of_the_wrong_type_is_a_finding_not_a_crash(
    where: str, open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    sql, owed = WRONG_TYPES[where]
    ledger.store.execute(sql)
    code, report = run_verify(url)
    assert code == 1
    assert first_bad(report) == owed


def test_a_checkpoint_size_of_the_wrong_type_fails_v5_and_v6(
    open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)
    ledger.store.execute(
        "UPDATE ledger_checkpoints SET size = 'abc' WHERE size = "
        "(SELECT MAX(size) FROM ledger_checkpoints)"
    )
    code, report = run_verify(url)
    assert code == 1
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["V5"] == "fail"


def test_verification_that_stops_still_prints_json_and_never_passes(
    open_ledger: Callable[..., Ledger], people: People, tmp_path: Path, monkeypatch: Any
) -> None:
    """The last guard: whatever a stored value makes the code trip on, ``--json``
    prints a report that is not ok, and the exit code is 2 (could not run)."""
    ledger, url = sqlite_ledger(open_ledger, tmp_path)
    build(ledger, people)

    def trip(*args: Any, **kwargs: Any) -> None:
        raise TypeError("'<' not supported between instances of 'str' and 'int'")

    monkeypatch.setattr(Ledger, "verify", trip)
    result = CliRunner().invoke(main, ["--db", url, "verify", "--json", "--no-remember"])
    assert result.exit_code == 2
    printed = json.loads(result.stdout)
    assert printed["ok"] is False and "TypeError" in printed["stopped"]
