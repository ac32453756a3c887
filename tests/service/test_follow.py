"""``cadreledger follow``: verifies what it receives, resumes exactly, stops loudly."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.feed import StreamSettings
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.envelope import Event, envelope_bytes
from ledger.keys import SignerKey
from streams.follow import Follower
from tests.conftest import People
from tests.streaming import cli, free_port, serving, wait_http


def fill(ledger: Ledger, people: People, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ledger.append(people.statement(cadre=f"c{i % 5}", general=i % 30))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def served(ledger: Ledger) -> Iterator[str]:
    with serving(create_app(ledger, streams=StreamSettings(heartbeat=0.5))) as url:
        yield url


@pytest.mark.parametrize("transport", ["sse", "poll"])
def test_follows_verifies_and_resumes_exactly(
    served: str, ledger: Ledger, people: People, tmp_path: Path, transport: str
) -> None:
    fill(ledger, people, 20)
    state, out = tmp_path / "state.json", tmp_path / "out.jsonl"

    def follow(until: int) -> Follower:
        f = Follower(served, ledger.log_key, state, output=out, transport=transport)
        f.run(until=until)
        f.close()
        return f

    assert follow(20).done == 20
    fill(ledger, people, 13, start=20)
    second = follow(33)
    assert second.done == 13
    assert second.checkpoint is not None and second.checkpoint.size == 33
    events = lines(out)
    assert [e["data"]["index"] for e in events] == list(range(33))
    stored = [e["event_hash"] for e in ledger.entries(0, 100)]
    assert [e["id"] for e in events] == stored


def test_filtered_follow_checks_inclusion_proofs(
    served: str, ledger: Ledger, people: People, tmp_path: Path
) -> None:
    fill(ledger, people, 15)
    out = tmp_path / "out.jsonl"
    f = Follower(
        served,
        ledger.log_key,
        tmp_path / "s.json",
        output=out,
        filters={"cycle": "2025-qd366-test"},
        transport="poll",
    )
    f.run(once=True)
    assert [e["data"]["index"] for e in lines(out)] == list(range(15))


def test_a_restart_drops_output_written_after_the_last_saved_state(
    served: str, ledger: Ledger, people: People, tmp_path: Path
) -> None:
    fill(ledger, people, 5)
    state, out = tmp_path / "state.json", tmp_path / "out.jsonl"
    f = Follower(served, ledger.log_key, state, output=out, transport="poll")
    f.run(until=5)
    f.close()
    with out.open("a") as o:  # as if killed after writing, before saving the state
        o.write('{"half": "written"}\n')
    fill(ledger, people, 2, start=5)
    f = Follower(served, ledger.log_key, state, output=out, transport="poll")
    f.run(until=7)
    f.close()
    assert [e["data"]["index"] for e in lines(out)] == list(range(7))


# -- discrepancies, through the command, against a real database the test tampers with --


def run_follow(url: str, ledger: Ledger, tmp_path: Path, *extra: str) -> tuple[int, str]:
    proc = cli(
        "follow",
        url,
        "--log-key",
        str(ledger.log_key),
        "--state",
        str(tmp_path / "follow.json"),
        "--transport",
        "poll",
        "--once",
        *extra,
    )
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def tamper(ledger: Ledger, index: int, change: Callable[[dict[str, Any]], bytes]) -> str:
    """Overwrite the stored envelope at log position ``index``; its old hash."""
    [(_, stream, version, raw)] = ledger.store.entries(index, 1)
    ledger.store.execute(
        f"UPDATE {ledger.store.events_table} SET state = ?"
        " WHERE originator_id = ? AND originator_version = ?",
        (change(json.loads(raw)), stream, version),
    )
    return hashlib.sha256(raw).hexdigest()


def relay(envelope: dict[str, Any]) -> bytes:
    return envelope_bytes(
        envelope["stream"],
        envelope["version"],
        envelope["prev"],
        json.dumps(
            envelope["statement"], ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode(),
        envelope["signer"],
        envelope["signature"],
    )


def test_a_changed_score_fails_the_signature_check(
    served: str, ledger: Ledger, people: People, tmp_path: Path
) -> None:
    fill(ledger, people, 8)

    def raise_score(envelope: dict[str, Any]) -> bytes:
        envelope["statement"]["general"] = 30
        return relay(envelope)

    tamper(ledger, 5, raise_score)
    code, err = run_follow(served, ledger, tmp_path)
    assert code == 1, err
    assert "check 'signature' at position 5" in err
    assert "KHÔNG ĐẠT / FAIL" in err


def test_a_replaced_event_fails_the_inclusion_check(
    served: str, ledger: Ledger, people: People, tmp_path: Path
) -> None:
    """Validly signed by someone else: only the Merkle tree can tell."""
    fill(ledger, people, 8)
    forger = SignerKey.generate("nguyen.van.an")

    def replace(envelope: dict[str, Any]) -> bytes:
        envelope["statement"]["general"] = 30
        statement = json.dumps(
            envelope["statement"], ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode()
        envelope["signer"] = str(forger.verifier)
        envelope["signature"] = base64.b64encode(forger.sign(statement)).decode()
        return relay(envelope)

    tamper(ledger, 3, replace)
    forged = Event.parse(ledger.store.entries(3, 1)[0][3]).hash.hex()
    code, err = run_follow(served, ledger, tmp_path)
    assert code == 1, err
    assert f"check 'inclusion' at position 3 event {forged}" in err


@pytest.mark.parametrize("grown", [0, 4], ids=["same-size", "larger"])
def test_a_forked_checkpoint_fails_the_consistency_check(
    db_url: str,
    open_ledger: Callable[..., Ledger],
    people: People,
    tmp_path: Path,
    grown: int,
) -> None:
    writer = open_ledger(db_url)
    fill(writer, people, 10)
    reader = open_ledger(db_url, writer=False)  # serves what the database says
    with serving(create_app(reader)) as url:
        code, err = run_follow(url, reader, tmp_path)
        assert code == 0, err
        fill(writer, people, grown, start=10)
        # The log's key signs a second tree head that no honest log could produce.
        log_key = SignerKey.parse((tmp_path / "log.key").read_text())
        size = 10 + grown
        fork = Checkpoint(log_key.name, size, hashlib.sha256(b"fork").digest()).sign(log_key)
        writer.store.execute("UPDATE ledger_checkpoints SET note = ? WHERE size = ?", (fork, size))
        assert open_checkpoint(reader.checkpoint(), reader.log_key).size == size
        code, err = run_follow(url, reader, tmp_path)
    assert code == 1, err
    assert "check 'consistency'" in err and "Checkpoint" in err


def test_the_wrong_log_key_cannot_run_or_fails(
    served: str, ledger: Ledger, people: People, tmp_path: Path
) -> None:
    fill(ledger, people, 2)
    other = SignerKey.generate(ledger.log_key.name).verifier
    proc = cli("follow", served, "--log-key", str(other), "--state", str(tmp_path / "s"), "--once")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "check 'checkpoint'" in err
    proc = cli("follow", served, "--log-key", "garbage", "--once")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2


# -- killed at random points under load --------------------------------------------------


def test_server_and_follower_killed_at_random_under_load(
    db_url: str, open_ledger: Callable[..., Ledger], people: People, tmp_path: Path
) -> None:
    """SSE end to end: statements posted at a steady rate, the service and the follower
    SIGKILLed at random and restarted; the follower's output ends with every event
    exactly once, in order, each one verified."""
    total = 400
    open_ledger(db_url).close()  # a bare log: the service takes it up as it is
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")}
    log_key = str(open_ledger(db_url, writer=False).log_key)
    # The service asks for a token; this follower is an auditor's (a bare log has no
    # registry, so the operator names the role).
    issued = cli("--db", db_url, "token", "issue", "--person", "auditor", "--role", "auditor")
    token, _ = issued.communicate(timeout=60)
    env["CADRELEDGER_TOKEN"] = token.strip()

    def start_server() -> Any:
        proc = cli("--db", db_url, "serve", "--port", str(port), "--heartbeat", "0.5", env=env)
        wait_http(url + "/v1/log/key")
        return proc

    server = start_server()
    statements = [people.statement(cadre=f"c{i % 7}", general=i % 30) for i in range(total)]
    posted = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=5) as client:
            for s in statements:
                while True:
                    try:
                        r = client.post(url + "/v1/statements", json=s.submission())
                        if r.status_code in (200, 201):
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)  # the service is down: retry the same statement
                time.sleep(1 / 200)
        posted.set()

    loader = threading.Thread(target=load)
    loader.start()
    out, state = tmp_path / "out.jsonl", tmp_path / "follow.json"
    args = ["follow", url, "--log-key", log_key, "--state", str(state), "--output", str(out)]
    rng = random.Random(6)
    kills = 0
    try:
        while not posted.is_set():
            follower = cli(*args, "--until", str(total), env=env)
            time.sleep(rng.uniform(0.2, 1.2))
            follower.send_signal(signal.SIGKILL)
            follower.communicate()
            kills += 1
            if kills % 3 == 0:
                server.send_signal(signal.SIGKILL)
                server.communicate()
                time.sleep(rng.uniform(0, 0.3))
                server = start_server()
        loader.join()
        final = cli(*args, "--until", str(total), env=env)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert kills >= 2
    events = lines(out)
    assert [e["data"]["index"] for e in events] == list(range(total))
    check = open_ledger(db_url, writer=False)
    assert [e["id"] for e in events] == [e["event_hash"] for e in check.entries(0, total)]
