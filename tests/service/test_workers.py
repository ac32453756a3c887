"""``cadreledger serve --workers 2``: the HTTP workers check, the one writer sequences.

Against a real service in a subprocess (the workers are processes, as in production):
receipts verify with the log's key alone, an insider's forgeries sent to a worker are
refused with the very problem the single process gives, a retry gets its receipt once,
and the rate limit is one limit for all the workers together.
(Kill -9 of a worker and of the writer: tests/drills/test_crash_drill.py.)
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from cadreledger.config import Settings
from cadreledger.service import Ledger
from ledger.errors import BAD_SIGNATURE, NONCE_REUSED, SIGNER_MISMATCH
from ledger.receipt import Receipt
from ledger.statement import SignedStatement, sign_statement
from tests.conftest import People
from tests.paths import ROOT


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def service(url: str, tmp: Path, workers: int, **env: str) -> Iterator[str]:
    """``serve --open --workers N`` on a bare log at ``url``; its base URL."""
    settings = Settings(db=url, log_key_file=str(tmp / "log.key"), rules=False)
    Ledger(settings).close()  # the bare log, made before the service opens it
    port = free_port()
    command = [sys.executable, "-m", "cadreledger.cli", "--db", url, "serve", "--open"]
    command += ["--port", str(port), "--workers", str(workers)]
    environment = {**os.environ, "CADRELEDGER_LOG_KEY_FILE": settings.log_key_file or "", **env}
    log = tmp / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=out, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(base: str, data: bytes) -> httpx.Response:
    # A new connection each time: the workers take turns at the shared socket.
    return httpx.post(base + "/v1/statements", content=data, timeout=30)


def submission(signed: SignedStatement) -> bytes:
    return json.dumps(signed.submission(), ensure_ascii=False).encode()


def forgeries(people: People) -> dict[str, bytes]:
    good = people.statement()
    other = people.statement(actor="le.van.cuong")
    signature = good.submission()["signature"]

    def sent(statement: dict[str, object], signer: object, sig: str) -> bytes:
        return json.dumps(
            {"statement": statement, "signer": str(signer), "signature": sig}
        ).encode()

    return {
        "tampered": sent(dict(good.statement, general=30), good.signer, signature),
        "borrowed key": sent(good.statement, other.signer, other.submission()["signature"]),
        "unsigned": sent(good.statement, good.signer, base64.b64encode(b"\0" * 64).decode()),
        "malformed": b'{"statement": {"v": 1.5}',
    }


def receipt(data: dict[str, Any]) -> Receipt:
    """A receipt as a client reads it from the answer's JSON."""
    return Receipt(
        data["stream"],
        data["version"],
        bytes.fromhex(data["event_hash"]),
        data["index"],
        data["tree_size"],
        tuple(base64.b64decode(h) for h in data["inclusion_proof"]),
        data["checkpoint"],
        data["duplicate"],
    )


def test_receipts_refusals_and_retries_through_workers(
    db_url: str, tmp_path: Path, people: People
) -> None:
    url = db_url
    single_url = f"sqlite:///{tmp_path / 'single.db'}"  # refused before anything is stored
    signed = [people.statement(cadre=f"c{i}") for i in range(24)]
    forged = forgeries(people)
    (tmp_path / "w").mkdir()
    (tmp_path / "s").mkdir()
    with service(single_url, tmp_path / "s", 0) as single:
        expected = {name: post(single, data) for name, data in forged.items()}
    with service(url, tmp_path / "w", 2) as base:
        log_key = httpx.get(base + "/v1/log/key").text.strip()
        answers = [post(base, submission(s)) for s in signed]
        assert [a.status_code for a in answers] == [201] * 24
        # Forgeries, as an insider would send them: refused by the workers' check,
        # with the single process's very status and problem; nothing stored.
        for name, data in forged.items():
            got = post(base, data)
            assert got.status_code == expected[name].status_code, name
            problem, want = got.json(), expected[name].json()
            assert {k: v for k, v in problem.items() if k != "instance"} == {
                k: v for k, v in want.items() if k != "instance"
            }, name
        assert expected["tampered"].json()["type"].endswith(BAD_SIGNATURE.slug)
        assert expected["borrowed key"].json()["type"].endswith(SIGNER_MISMATCH.slug)
        # A retry: 200 and the same receipt; a nonce reused for another statement: refused.
        again = post(base, submission(signed[3]))
        assert again.status_code == 200 and again.json()["index"] == answers[3].json()["index"]
        reused = sign_statement(dict(signed[3].statement, general=21), people.key(signed[3].actor))
        assert post(base, submission(reused)).json()["type"].endswith(NONCE_REUSED.slug)
        entries = httpx.get(base + "/v1/log/entries", params={"start": 0, "limit": 100}).json()
    with Ledger(
        Settings(db=url, log_key_file=str(tmp_path / "w" / "log.key")), writer=False
    ) as ledger:
        assert str(ledger.log_key) == log_key
        assert ledger.size() == 24
        stored = [e["event_hash"] for e in ledger.entries(0, 24)]
        for answer in answers:
            body = answer.json()
            assert stored[body["index"]] == body["event_hash"]
            receipt(body).verify(ledger.log_key)  # with nothing but the log's public key
        assert ledger.verify().ok
    assert entries  # the workers serve reads too


def test_the_rate_limit_is_one_limit_for_all_workers(db_url: str, tmp_path: Path) -> None:
    """A burst of 6 and no refill to speak of: 6 answers in all, however many workers
    the requests (each on a new connection) reach; the 7th on is refused, 429."""
    env = {"CADRELEDGER_RATE_LIMIT": "0.001", "CADRELEDGER_RATE_BURST": "6"}
    with service(db_url, tmp_path, 2, **env) as base:
        statuses = [httpx.get(base + "/v1/log/checkpoint").status_code for _ in range(20)]
    assert statuses.count(200) == 6
    assert statuses[6:] == [429] * 14


def test_statements_count_against_the_one_limit_as_in_one_process(
    db_url: str, tmp_path: Path, people: People
) -> None:
    """A worker sends a statement and its bucket's key to the writer together (one trip):
    the answers are the single process's, status for status: the first 6 requests (good
    statements and a malformed one alike) answered as always, with the rate fields, every
    one after that 429 with ``Retry-After``, and only the good statements among the
    first 6 stored."""
    env = {"CADRELEDGER_RATE_LIMIT": "0.001", "CADRELEDGER_RATE_BURST": "6"}
    signed = [people.statement(cadre=f"c{i}") for i in range(12)]
    bodies = [submission(s) for s in signed]
    bodies[2] = bodies[9] = b'{"statement": {"v": 1.5}'  # refused by the worker itself
    stored: dict[int, int] = {}
    statuses: dict[int, list[int]] = {}
    for workers, url in ((0, f"sqlite:///{tmp_path / 'single.db'}"), (2, db_url)):
        (tmp_path / str(workers)).mkdir()
        with service(url, tmp_path / str(workers), workers, **env) as base:
            answers = [post(base, body) for body in bodies]
        statuses[workers] = [a.status_code for a in answers]
        for a in answers:
            assert "ratelimit" in a.headers, a.status_code
        for a in answers[6:]:
            assert a.headers["retry-after"] and a.json()["type"].endswith("/rate-limited")
        with Ledger(
            Settings(db=url, log_key_file=str(tmp_path / str(workers) / "log.key")), writer=False
        ) as ledger:
            stored[workers] = ledger.size()
    assert statuses[0] == [201, 201, 400, 201, 201, 201] + [429] * 6
    assert statuses[2] == statuses[0]
    assert stored == {0: 5, 2: 5}


def test_a_worker_started_as_its_writer_dies_leaves(tmp_path: Path) -> None:
    """A worker respawned just as its writer is killed finds its parent already gone
    when it starts: it must still leave (and free the port), not serve 503s for good."""
    import multiprocessing
    import secrets

    from cadreledger.workers import WorkerOptions, listen, run_worker

    url = f"sqlite:///{tmp_path / 'o.db'}"
    settings = Settings(db=url, log_key_file=str(tmp_path / "log.key"), rules=False)
    Ledger(settings).close()
    sock = listen("127.0.0.1", free_port())
    options = WorkerOptions(heartbeat=15.0, sse_buffer=100, open_access=True)
    gone = 2**22 + 12345  # the writer's id, as it gave it: not this worker's parent
    context = multiprocessing.get_context("spawn")
    worker = context.Process(
        target=run_worker,
        args=(settings, sock, str(tmp_path / "no.sock"), secrets.token_bytes(32), options, gone),
    )
    worker.start()
    try:
        worker.join(60)
        assert not worker.is_alive()
    finally:
        if worker.is_alive():
            worker.kill()
            worker.join()
        sock.close()
