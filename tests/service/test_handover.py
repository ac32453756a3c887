"""The hand-over socket between HTTP workers and the writer (cadreledger/handover.py).

The writer trusts the signature checks of whoever is on the other end, so only its own
workers may be: a connection without the secret it gave them gets nothing stored, and
is hung up on."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from cadreledger.handover import HEADER, HandoverClient, HandoverServer, parts
from cadreledger.service import Ledger
from ledger.errors import BAD_SIGNATURE, Rejected
from tests.conftest import People

SECRET = os.urandom(32)


@pytest.fixture
def writer(tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Iterator[tuple[Ledger, str]]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'h.db'}")
    private = tempfile.mkdtemp(prefix="cadreledger-handover-")
    path = os.path.join(private, "sequencer.sock")
    server = HandoverServer(path, SECRET, ledger.submit_checked, None)
    yield ledger, path
    server.close()
    os.unlink(path)
    os.rmdir(private)


def frame(payload: object) -> bytes:
    data = pickle.dumps(payload)
    return HEADER.pack(len(data)) + data


def read_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None  # closed, perhaps within a frame
        data += chunk
    return data


def read_frame(sock: socket.socket) -> list[tuple[int, Any]] | None:
    """The next frame of answers; ``None`` once the writer has hung up."""
    head = read_exact(sock, HEADER.size)
    data = None if head is None else read_exact(sock, HEADER.unpack(head)[0])
    return None if data is None else list(pickle.loads(data))


def test_only_the_service_user_reaches_the_socket(writer: tuple[Ledger, str]) -> None:
    _, path = writer
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_without_the_secret_nothing_is_stored(writer: tuple[Ledger, str], people: People) -> None:
    """An insider on the machine connects and hands over a statement nobody signed, as
    if a worker had checked it: hung up on, nothing stored."""
    ledger, path = writer
    signed = people.statement()
    forged = dict(signed.statement, general=30)  # its signature no longer matches
    request = (1, "submit", (forged, signed.canonical, str(signed.signer), signed.signature, {}))
    for offered in (b"\0" * 32, SECRET[:31] + bytes([SECRET[31] ^ 1])):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as intruder:
            intruder.connect(path)
            intruder.settimeout(10)
            intruder.sendall(offered + frame([request]))
            with suppress(ConnectionResetError):  # reset: closed with the frame unread
                assert intruder.recv(1024) == b""  # closed without an answer
    assert ledger.size() == 0
    # The same bytes with the secret are taken (so the refusal above is the secret's):
    # the writer does not check again what its workers checked.
    honest = (2, "submit", parts(signed))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as worker:
        worker.connect(path)
        worker.settimeout(30)
        worker.sendall(SECRET + frame([honest]))
        [(request_id, (kind, receipt))] = read_frame(worker) or []
    assert (request_id, kind) == (2, "ok") and receipt.index == 0
    assert ledger.size() == 1


def test_a_worker_checks_then_the_writer_sequences(
    writer: tuple[Ledger, str], people: People
) -> None:
    ledger, path = writer

    async def run() -> None:
        client = HandoverClient(path, SECRET)
        good = people.statement()
        receipt = await client.submit(json.dumps(good.submission()).encode())
        receipt.verify(ledger.log_key)
        again = await client.submit(json.dumps(good.submission()).encode())
        assert again.duplicate and again.index == receipt.index
        tampered = good.submission()
        tampered["statement"] = dict(good.statement, general=30)
        with pytest.raises(Rejected) as refused:  # refused in the worker, never sent
            await client.submit(json.dumps(tampered).encode())
        assert refused.value.problem == BAD_SIGNATURE
        # What the writer gets from a worker is the checked parts of the statement.
        assert parts(good)[1] == good.canonical

    asyncio.run(run())
    assert ledger.size() == 1


def test_a_statement_counted_is_sequenced_only_with_its_token(
    tmp_path: Path, open_ledger: Callable[..., Ledger], people: People
) -> None:
    """``counted``: the statement and its bucket's key in one request. With the token,
    sequenced and answered with the decision; without it, the decision alone, and
    nothing stored. A refusal before the writer is counted on its own (``take``)."""
    from api.rate_limit import RatePolicy

    ledger = open_ledger(f"sqlite:///{tmp_path / 'c.db'}")
    private = tempfile.mkdtemp(prefix="cadreledger-handover-")
    path = os.path.join(private, "sequencer.sock")
    server = HandoverServer(path, SECRET, ledger.submit_checked, RatePolicy(0.001, 2))

    async def run() -> None:
        client = HandoverClient(path, SECRET)
        first, second = people.statement(cadre="c1"), people.statement(cadre="c2")
        decision, outcome = await client.submit_counted(
            json.dumps(first.submission()).encode(), "person:a"
        )
        assert decision.allowed and decision.remaining == 1 and outcome is not None
        outcome().verify(ledger.log_key)
        with pytest.raises(Rejected) as refused:  # refused in the worker: nothing counted
            await client.submit_counted(b'{"statement": 1}', "person:a")
        assert refused.value.problem.status == 400
        assert (await client.take("person:a")).remaining == 0  # the last token
        decision, outcome = await client.submit_counted(
            json.dumps(second.submission()).encode(), "person:a"
        )
        assert not decision.allowed and decision.retry_after > 0 and outcome is None
        decision, outcome = await client.submit_counted(  # another bucket
            json.dumps(second.submission()).encode(), "person:b"
        )
        assert decision.allowed and outcome is not None and outcome().index == 1

    try:
        asyncio.run(run())
    finally:
        server.close()
        os.unlink(path)
        os.rmdir(private)
    assert ledger.size() == 2


def test_a_worker_that_stops_reading_is_let_go_and_stalls_nobody(
    writer: tuple[Ledger, str],
    people: People,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker hands over hundreds of statements and never reads its answers (a
    stopped process). The threads that send answers must not wait for it for ever:
    it is hung up on, another worker's statement is answered, and its clients'
    retries land each statement once."""
    from cadreledger import handover

    monkeypatch.setattr(handover, "SEND_TIMEOUT", 0.3)
    ledger, path = writer
    signed = [people.statement(cadre=f"c{i % 50}") for i in range(400)]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(path)
        # One frame per statement: one answer frame each, more than the socket holds.
        silent.sendall(
            SECRET + b"".join(frame([(i, "submit", parts(s))]) for i, s in enumerate(signed))
        )
        for _ in range(600):
            if "letting it go" in caplog.text:
                break
            threading.Event().wait(0.05)
        assert "letting it go" in caplog.text  # the old code waited for it for ever
        other = people.statement(cadre="c-other")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as worker:
            worker.connect(path)
            worker.settimeout(15)
            worker.sendall(SECRET + frame([(1, "submit", parts(other))]))
            [(request_id, (kind, _))] = read_frame(worker) or []
        assert (request_id, kind) == (1, "ok")
        silent.settimeout(15)
        answered: set[int] = set()
        with suppress(ConnectionResetError):
            while (answers := read_frame(silent)) is not None:  # until hung up on
                answered.update(request_id for request_id, _ in answers)
        assert len(answered) < 400  # what was not sent is not owed: it was let go
    # Its clients retry: what it was answered was stored, and everything lands once.
    retried = [ledger.submit(json.dumps(s.submission()).encode()) for s in signed]
    assert all(retried[i].duplicate for i in answered)
    assert ledger.size() == 401 and ledger.verify().ok
