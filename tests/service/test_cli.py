"""The ``cadreledger`` command as a user runs it: demo, verify, keygen, sign, serve."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from ledger.checkpoint import open_checkpoint
from ledger.keys import KeyFormatError, SignerKey, VerifierKey
from ledger.statement import parse_submission, sign_statement
from tests.paths import ROOT


def test_demo_builds_a_cycle_that_verifies(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner(
        env={
            "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
            "CADRELEDGER_ROOT_KEY_FILE": str(tmp_path / "root.key"),
        }
    )
    result = runner.invoke(main, ["--db", db_url, "demo", "--cadres", "40"])
    assert result.exit_code == 0, result.output
    assert "ĐẠT / PASS" in result.output
    head = result.output.split("head: ")[1].split(";")[0]
    assert len(head.split()) == 3 and not head.isascii()  # a Vietnamese name ...
    assert unicodedata.is_normalized("NFC", result.output)  # ... in NFC
    levels = dict(
        part.split() for part in result.output.split("levels: ")[1].splitlines()[0].split(", ")
    )
    assert int(levels["HTXS"]) <= 0.2 * int(levels["HTT"])  # QĐ 366 quota
    assert all(int(levels[lv]) > 0 for lv in ("HTXS", "HTT", "HT", "KHT"))

    verified = runner.invoke(main, ["--db", db_url, "verify", "--json", "--no-remember"])
    assert verified.exit_code == 0
    report = json.loads(verified.output)
    assert report["ok"] and report["events"] > 300
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses.pop("V7") == "not_applicable"  # no witness policy given
    assert set(statuses.values()) == {"pass"} and {"V8", "V9"} <= set(statuses)

    # The read model rebuilt from zero: every cadre rated, the same digest every time.
    rebuilt = [runner.invoke(main, ["--db", db_url, "rebuild"]) for _ in range(2)]
    assert all(r.exit_code == 0 for r in rebuilt), rebuilt[0].output
    digests = {r.output.split("digest ")[1].strip() for r in rebuilt}
    assert len(digests) == 1 and len(digests.pop()) == 64
    assert "0 vi phạm khi phát lại / refused on replay" in rebuilt[0].output


def test_keygen_and_sign_make_an_acceptable_submission(tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "an.key"
    made = runner.invoke(main, ["keygen", "nguyen.van.an", "-o", str(key_file)])
    assert made.exit_code == 0
    verifier = VerifierKey.parse(made.stdout.strip().splitlines()[-1])
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    statement = {
        "v": 1,
        "type": "comment.made",
        "actor": "nguyen.van.an",
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": "a-nonce-of-sixteen-chars",
        "cycle": "2025-x",
        "cadre": "b",
        "text": "Cần chủ động hơn trong tham mưu.",
    }
    statement_file = tmp_path / "s.json"
    statement_file.write_text(json.dumps(statement, ensure_ascii=False))
    signed = runner.invoke(main, ["sign", "--key", str(key_file), str(statement_file)])
    assert signed.exit_code == 0, signed.output
    checked = parse_submission(signed.stdout.encode())
    assert checked.signer == verifier and checked.statement == statement


def test_a_new_evaluation_ledger_needs_the_root_ceremony(tmp_path: Path) -> None:
    """The service never writes the root's private key beside the database: a writer on
    a new database without a root key file refuses; ``init`` makes the pair, writes the
    private key where it is told and keeps only the verifier key; a second init refuses."""
    env = {"CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")}
    db = f"sqlite:///{tmp_path / 'new.db'}"
    runner = CliRunner(env=env)
    auditor = tmp_path / "auditor.key"
    auditor.write_text(str(SignerKey.generate("kiem-toan")) + "\n")
    refused = runner.invoke(main, ["--db", db, "audit", "--key", str(auditor)])
    assert refused.exit_code == 2 and "cadreledger init" in refused.output, refused.output
    assert not (tmp_path / "new.db.rootkey").exists()
    neither = runner.invoke(main, ["--db", db, "init"])
    assert neither.exit_code == 2 and "--root-key-out" in neither.output
    made = runner.invoke(main, ["--db", db, "init", "--root-key-out", str(tmp_path / "r.key")])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE((tmp_path / "r.key").stat().st_mode) == 0o600
    with pytest.raises(KeyFormatError):
        SignerKey.parse((tmp_path / "new.db.rootkey").read_text())  # the verifier only
    roots = [
        p
        for p in tmp_path.iterdir()
        if p.is_file() and p.read_bytes().startswith(b"PRIVATE+KEY+root+")
    ]
    assert roots == [tmp_path / "r.key"]  # nowhere beside the database
    again = runner.invoke(main, ["--db", db, "init", "--root-key-out", str(tmp_path / "s.key")])
    assert again.exit_code == 2 and "already holds a ledger" in again.output


def test_keygen_refuses_a_bad_name() -> None:
    assert CliRunner().invoke(main, ["keygen", "has space"]).exit_code == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_over_real_http(tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'served.db'}"
    # The root of trust's ceremony first: its private key where the operator says.
    offline = tmp_path / "offline" / "root.key"
    offline.parent.mkdir()
    env = {"CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")}
    made = CliRunner(env=env).invoke(main, ["--db", db, "init", "--root-key-out", str(offline)])
    assert made.exit_code == 0, made.output
    kept = (tmp_path / "served.db.rootkey").read_text().strip()
    assert VerifierKey.parse(kept) == SignerKey.parse(offline.read_text()).verifier
    server = subprocess.Popen(
        [sys.executable, "-m", "cadreledger.cli", "--db", db, "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                key = VerifierKey.parse(httpx.get(f"{base}/v1/log/key").text.strip())
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not come up")
        from tests.conftest import People

        # A new database is an evaluation ledger: a stranger's statement is refused,
        # the root of trust (its private key kept apart, offline) is heard.
        stranger = People().statement()
        response = httpx.post(f"{base}/v1/statements", json=stranger.submission())
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/unknown-key"
        root = SignerKey.parse(offline.read_text())
        unit = {
            "v": 1,
            "type": "unit.registered",
            "actor": "root",
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": "a-nonce-of-sixteen-chars",
            "unit": "ban-to-chuc",
            "name": "Ban Tổ chức",
        }
        response = httpx.post(f"{base}/v1/statements", json=sign_statement(unit, root).submission())
        assert response.status_code == 201
        checkpoint = open_checkpoint(httpx.get(f"{base}/v1/log/checkpoint").text, key)
        assert checkpoint.size == 1
        # Reads need a token: the root signs in with its own key.
        assert httpx.get(f"{base}/v1/cycles").status_code == 401
        login = {**unit, "type": "auth.token", "nonce": "another-nonce-of-16", "audience": key.name}
        del login["unit"], login["name"]
        response = httpx.post(
            f"{base}/v1/auth/tokens", json=sign_statement(login, root).submission()
        )
        assert response.status_code == 201, response.text
        signed_in = {"authorization": f"Bearer {response.json()['token']}"}
        assert httpx.get(f"{base}/v1/cycles", headers=signed_in).json()["cycles"] == []
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "cadreledger"
    finally:
        server.terminate()
        server.wait(10)
