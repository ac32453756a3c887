"""Play the attacker against the real database, then expect ``verify`` to say where.

Each test writes a small log through the sequencer, changes the stored rows (or the
SQLite file's bytes) behind the application's back, and runs ``cadreledger verify``
as a user would: exit 1, the failed check, and the first bad event's position.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint
from ledger.envelope import TOPIC, Event, wrap
from ledger.keys import SignerKey
from tests.conftest import People


def run_verify(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["--db", url, "verify", "--json", "--no-remember", *args])
    return result.exit_code, json.loads(result.output)


def build(ledger: Ledger, people: People, n: int = 12) -> list[Any]:
    """n statements over three cadres' streams, in several batches."""
    return [
        ledger.append(people.statement(cadre=f"cadre-{i % 3}", general=i % 30)) for i in range(n)
    ]


def events_table(ledger: Ledger) -> str:
    return ledger.store.events_table


def state_of(ledger: Ledger, index: int) -> tuple[str, int, bytes]:
    ((_, stream, version, raw),) = ledger.store.entries(index, 1)
    return stream, version, raw


def set_state(ledger: Ledger, stream: str, version: int, raw: bytes) -> None:
    ledger.store.execute(
        f"UPDATE {events_table(ledger)} SET state = ? WHERE originator_id = ? AND "
        "originator_version = ?",
        (raw, stream, version),
    )


def first_bad(report: dict[str, Any]) -> tuple[str, int | None]:
    bad = report["first_bad"]
    return bad["check"], bad.get("position")


def test_untouched_log_passes(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    code, report = run_verify(db_url)
    assert code == 0, report
    # V7 needs a witness policy: without one it is not applicable, never "pass".
    assert [c["status"] for c in report["checks"]] == ["pass"] * 6 + ["not_applicable", "pass"]
    assert report["events"] == 12


def test_one_changed_byte_in_a_statement(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    stream, version, raw = state_of(ledger, 5)
    set_state(ledger, stream, version, raw.replace(b'"tasks":60', b'"tasks":69'))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V2", 5)  # the signature no longer covers the statement


def test_a_lone_surrogate_written_into_a_statement(
    ledger: Ledger, people: People, db_url: str
) -> None:
    build(ledger, people)
    stream, version, raw = state_of(ledger, 4)
    # An escaped lone surrogate parses as JSON but has no UTF-8 form: not an envelope.
    set_state(ledger, stream, version, raw.replace(b'"type":', b'"x":"\\ud800","type":', 1))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V1", 4)


def test_one_changed_byte_in_the_envelope(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    stream, version, raw = state_of(ledger, 7)
    event = Event.parse(raw)
    assert event.prev is not None
    flipped = event.prev.hex()[:-1] + ("0" if event.prev.hex()[-1] != "0" else "1")
    set_state(ledger, stream, version, raw.replace(event.prev.hex().encode(), flipped.encode()))
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V3", 7)  # the chain link is broken right there


def test_deleted_event(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    stream, version, _ = state_of(ledger, 4)
    ledger.store.execute(
        f"DELETE FROM {events_table(ledger)} WHERE originator_id = ? AND originator_version = ?",
        (stream, version),
    )
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report)[1] == 4
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["V3"] == statuses["V4"] == statuses["V6"] == "fail"


def test_two_events_swapped(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    a, b = state_of(ledger, 3), state_of(ledger, 8)
    set_state(ledger, a[0], a[1], b[2])
    set_state(ledger, b[0], b[1], a[2])
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V1", 3)


def test_forged_event_appended(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    stream, version, raw = state_of(ledger, 11)
    forger = People()
    forged = wrap(stream, version + 1, Event.parse(raw).hash, forger.statement(cadre="cadre-2"))
    ledger.store.execute(
        f"INSERT INTO {events_table(ledger)} (originator_id, originator_version, topic, state)"
        " VALUES (?, ?, ?, ?)",
        (stream, version + 1, TOPIC, forged),
    )
    code, report = run_verify(db_url)
    assert code == 1
    assert first_bad(report) == ("V4", 12)  # in no index, under no checkpoint
    assert {c["id"]: c["status"] for c in report["checks"]}["V5"] == "fail"


def test_replaced_checkpoint(ledger: Ledger, people: People, db_url: str) -> None:
    build(ledger, people)
    sizes = [size for size, _ in ledger.store.iter_checkpoints()]
    target = sizes[len(sizes) // 2]
    impostor = SignerKey.generate(ledger.log_key.name)
    forged = Checkpoint(ledger.log_key.name, target, b"\x07" * 32).sign(impostor)
    ledger.store.execute("UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (forged, target))
    code, report = run_verify(db_url)
    assert code == 1
    v6 = next(c for c in report["checks"] if c["id"] == "V6")
    assert v6["status"] == "fail"
    assert v6["first_failure"]["checkpoint_size"] == target


def test_rollback_and_reextend_is_caught_by_old_checkpoints(
    db_url: str, people: People, open_ledger: Callable[..., Ledger], tmp_path: Path
) -> None:
    """The attacker cuts the log back to 8 events and writes 6 others in their place,
    deleting the old checkpoints too, so that the stored history is self-consistent
    again. Only a checkpoint somebody kept can tell: here, the verifier's memory of
    the heads it accepted on its last run. It tells, and places the first change.
    """
    ledger = open_ledger(db_url)
    receipts = build(ledger, people, 12)
    state = tmp_path / "state"
    runner = CliRunner()
    remembered = runner.invoke(main, ["--db", db_url, "verify", "--state-dir", str(state)])
    assert remembered.exit_code == 0, remembered.output
    ledger.close()

    cut = 8
    attacker = open_ledger(db_url, writer=False)
    for receipt in receipts[cut:]:
        attacker.store.execute(
            f"DELETE FROM {events_table(attacker)} WHERE originator_id = ? AND "
            "originator_version = ?",
            (receipt.stream, receipt.version),
        )
    attacker.store.execute("DELETE FROM ledger_leaves WHERE idx >= ?", (cut,))
    attacker.store.execute("DELETE FROM ledger_nonces WHERE idx >= ?", (cut,))
    attacker.store.execute("DELETE FROM ledger_checkpoints WHERE size > ?", (cut,))

    rewriter = open_ledger(db_url)
    for i in range(6):
        rewriter.append(people.statement(cadre=f"cadre-{i % 3}", note="sửa lịch sử"))
    rewriter.close()

    code, report = run_verify(db_url)
    assert code == 0, report  # the stored history alone is consistent again ...
    result = runner.invoke(main, ["--db", db_url, "verify", "--json", "--state-dir", str(state)])
    assert result.exit_code == 1  # ... but not with what the verifier saw before
    report = json.loads(result.output)
    assert first_bad(report) == ("V6", cut)
    assert report["first_bad"]["until"] == cut + 1


def test_flipped_byte_in_the_sqlite_file(
    tmp_path: Path, people: People, open_ledger: Callable[..., Ledger]
) -> None:
    """Not through SQL at all: one byte of the database file on disk."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    ledger = open_ledger(url)
    receipts = build(ledger, people)
    _, _, raw = state_of(ledger, 6)
    nonce = Event.parse(raw).statement["nonce"].encode()
    ledger.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    at = data.find(b'"nonce":"' + nonce) + len(b'"nonce":"')
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    path.write_bytes(bytes(data))
    code, report = run_verify(url)
    assert code == 1
    assert first_bad(report) == ("V2", 6)
    assert report["first_bad"]["event_hash"] != receipts[6].event_hash.hex()


def test_pinned_key_rejects_a_swapped_log_key(ledger: Ledger, people: People, db_url: str) -> None:
    """An attacker who re-signs every checkpoint with a key of their own and records it
    as the log's key fools a verifier that trusts the database, not one that pins."""
    build(ledger, people, 4)
    genuine = str(ledger.log_key)
    impostor = SignerKey.generate(ledger.log_key.name)
    for size, note in list(ledger.store.iter_checkpoints()):
        root = Checkpoint.parse_text(note[: note.rfind("\n\n") + 1]).root
        resigned = Checkpoint(ledger.log_key.name, size, root).sign(impostor)
        ledger.store.execute(
            "UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (resigned, size)
        )
    ledger.store.execute(
        "UPDATE ledger_meta SET value = ? WHERE key = 'log_key'", (str(impostor.verifier),)
    )
    code, _ = run_verify(db_url)
    assert code == 0  # the database vouches for itself ...
    code, report = run_verify(db_url, "--log-key", genuine)
    assert code == 1  # ... the pinned key does not
    assert report["log_key_source"] == "pinned"


@pytest.mark.parametrize("args", [["--log-key", "not-a-key"], ["--checkpoint", "/nonexistent"]])
def test_verify_cannot_run(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "verify", "--no-remember", *args]
    )
    assert result.exit_code == 2


def test_verify_unreachable_database() -> None:
    # Nothing listens there: the refusal is immediate, so the wait is all timeout
    # (10 s by default; 1 s is enough to show the exit status).
    result = CliRunner(env={"CADRELEDGER_CONNECT_TIMEOUT": "1"}).invoke(
        main, ["--db", "postgresql://nobody@127.0.0.1:1/none", "verify", "--no-remember"]
    )
    assert result.exit_code == 2
    # The half-built eventsourcing application (its pool still retrying in its own
    # threads) is kept alive by the traceback: let it go here, in this thread. Collected
    # later in one of those threads, its pool cannot join that thread (a warning in an
    # unrelated test; a process that exits, as the command line does, never sees it).
    del result
    gc.collect()
