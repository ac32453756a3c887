"""Witnesses: C2SP tlog-cosignature and tlog-witness, the log gathering cosignatures,
``verify``'s witness policy (V7), and a log that shows two histories being caught."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.app import create_app
from api.witness import create_witness_app
from cadreledger.cli import main
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint
from ledger.cosignature import (
    AddCheckpoint,
    TreeHead,
    WitnessError,
    WitnessPolicy,
    cosign,
    cosigner_key,
    decide,
    open_cosigned,
    parse_cosigner_key,
    parse_lines,
    verify_cosignature,
    with_signatures,
)
from ledger.keys import KeyFormatError, SignerKey, VerifierKey
from ledger.merkle import NodeID, consistency_proof, leaf_hash, node_hash
from ledger.note import NoteSignature
from tests.conftest import People
from tests.paths import ROOT
from tests.streaming import serving
from witness.cosignatures import CosignatureStore
from witness.state import WitnessState
from witness.witness import Witness
from witness.witnessing import (
    Refused,
    WitnessEndpoint,
    Witnessing,
)

ORIGIN = "example.com/log"

# RFC 8032 §7.1, TEST 1: an Ed25519 key pair anyone can check by hand.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


# -- helpers -----------------------------------------------------------------------------


class Tree:
    """A Merkle tree in memory, for checkpoints the tests make up."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = [leaf_hash(x) for x in leaves]

    def _hash(self, begin: int, end: int) -> bytes:
        if end - begin == 1:
            return self.leaves[begin]
        split = 1 << ((end - begin - 1).bit_length() - 1)
        return node_hash(self._hash(begin, begin + split), self._hash(begin + split, end))

    def read(self, ids: Sequence[NodeID]) -> list[bytes]:
        return [self._hash(n.begin, n.end) for n in ids]

    def root(self, size: int) -> bytes:
        return self._hash(0, size)

    def proof(self, old: int, new: int) -> tuple[bytes, ...]:
        return tuple(consistency_proof(old, new, self.read))

    def note(self, size: int, key: SignerKey) -> str:
        return Checkpoint(key.name, size, self.root(size)).sign(key)


def entries(n: int, tag: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(4, "big")).digest() for i in range(n)]


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def log_key() -> SignerKey:
    return SignerKey.generate(ORIGIN)


@pytest.fixture
def witness_key() -> SignerKey:
    return SignerKey.generate("witness.example/w1")


@pytest.fixture
def make_witness(tmp_path: Path) -> Iterator[Callable[..., Witness]]:
    states: list[WitnessState] = []

    def factory(
        key: SignerKey, logs: Sequence[VerifierKey], path: Path | None = None, **kw: Any
    ) -> Witness:
        state = WitnessState(path or tmp_path / "witness.db")
        states.append(state)
        return Witness(key, [(k.name, k) for k in logs], state, **kw)

    yield factory
    for state in states:
        state.close()


# -- tlog-cosignature ----------------------------------------------------------------------


def test_cosignature_known_answer_from_the_spec_formula() -> None:
    """Key ID, vkey and signed bytes exactly as tlog-cosignature v1 spells them out."""
    key = SignerKey.from_seed("witness.example/w1", RFC8032_SEED)
    assert key.verifier.public == RFC8032_PUBLIC
    verifier = cosigner_key(key)
    expected_id = hashlib.sha256(b"witness.example/w1\n\x04" + RFC8032_PUBLIC).digest()[:4]
    assert verifier.key_id == expected_id
    assert verifier.key_id != key.verifier.key_id  # 0x04 is not 0x01
    blob = base64.b64encode(b"\x04" + RFC8032_PUBLIC).decode()
    assert str(verifier) == f"witness.example/w1+{expected_id.hex()}+{blob}"
    assert parse_cosigner_key(str(verifier)) == verifier

    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = cosign(key, text, 1679315147)
    raw = base64.b64decode(line.line().split(" ")[-1])
    assert line.line().startswith("\u2014 witness.example/w1 ")
    assert raw[:4] == expected_id
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    assert len(raw) == 4 + 8 + 64
    message = b"cosignature/v1\ntime 1679315147\n" + text.encode()
    Ed25519PublicKey.from_public_bytes(RFC8032_PUBLIC).verify(raw[12:], message)
    # Ed25519 is deterministic: the same inputs give the same line, byte for byte.
    assert cosign(key, text, 1679315147) == line
    assert verify_cosignature(verifier, text, line) == 1679315147


def test_the_spec_example_cosignature_line_has_the_v1_layout() -> None:
    """tlog-cosignature's own example: key ID, then the timestamp its message shows."""
    example = (
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
        "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    (sig,) = parse_lines(example)
    assert sig.name == "witness.example.com/w1"
    assert sig.key_id.hex() == "8d66cf3f"
    assert len(sig.signature) == 72
    assert int.from_bytes(sig.signature[:8], "big") == 1679315147


def test_cosignatures_do_not_verify_for_anything_else(
    log_key: SignerKey, witness_key: SignerKey
) -> None:
    witness = cosigner_key(witness_key)
    tree = Tree(entries(5))
    note = tree.note(5, log_key)
    text = Checkpoint(ORIGIN, 5, tree.root(5)).text()
    line = cosign(witness_key, text, 1_700_000_000)
    cosigned = open_cosigned(with_signatures(note, [line]), log_key.verifier, [witness])
    assert cosigned.valid == {witness: 1_700_000_000} and not cosigned.invalid

    other_text = Checkpoint(ORIGIN, 5, tree.root(4)).text()
    with pytest.raises(ValueError, match="does not verify"):
        verify_cosignature(witness, other_text, line)
    shifted = NoteSignature(line.name, line.key_id, (1).to_bytes(8, "big") + line.signature[8:])
    with pytest.raises(ValueError, match="does not verify"):
        verify_cosignature(witness, text, shifted)
    # A plain note signature by the witness's key is no cosignature, and vice versa.
    plain = VerifierKey(witness.name, witness.public)
    with pytest.raises(ValueError, match="not a cosigner key"):
        verify_cosignature(plain, text, line)
    # A line that claims a listed witness but fails is reported, not dropped.
    # (Flip a bit: setting the last byte to 0 left it unchanged one time in 256.)
    forged = NoteSignature(
        line.name, line.key_id, line.signature[:-1] + bytes([line.signature[-1] ^ 1])
    )
    bad = open_cosigned(with_signatures(note, [forged]), log_key.verifier, [witness])
    assert not bad.valid and witness in bad.invalid
    # Cosignatures by unknown keys are ignored.
    stranger = cosign(SignerKey.generate("stranger"), text, 1)
    quiet = open_cosigned(with_signatures(note, [stranger]), log_key.verifier, [witness])
    assert not quiet.valid and not quiet.invalid


def test_key_types_do_not_mix(log_key: SignerKey, witness_key: SignerKey) -> None:
    with pytest.raises(KeyFormatError):
        VerifierKey.parse(str(cosigner_key(witness_key)))
    with pytest.raises(KeyFormatError):
        parse_cosigner_key(str(log_key.verifier))
    with pytest.raises(ValueError):
        WitnessPolicy((cosigner_key(witness_key),), 2)
    with pytest.raises(ValueError):
        WitnessPolicy((witness_key.verifier,), 1)


# -- add-checkpoint: the request and the witness's decision -------------------------------


def test_request_round_trip_and_malformed_bodies(log_key: SignerKey) -> None:
    tree = Tree(entries(8))
    request = AddCheckpoint(3, tree.proof(3, 8), tree.note(8, log_key))
    body = request.body()
    assert body.startswith(b"old 3\n") and b"\n\n" + ORIGIN.encode() in body
    assert AddCheckpoint.parse(body) == request
    note = tree.note(8, log_key).encode()
    for bad in (
        b"old 03\n\n" + note,
        b"old -1\n\n" + note,
        b"new 3\n\n" + note,
        b"old 3\nnot base64!\n\n" + note,
        b"old 3\n" + base64.b64encode(b"short") + b"\n\n" + note,
        b"old 3\n" + b"\n".join([base64.b64encode(bytes(32))] * 64) + b"\n\n" + note,
        b"old 3\n",
        b"\xff\xfe",
    ):
        with pytest.raises(WitnessError) as e:
            AddCheckpoint.parse(bad)
        assert e.value.status == 400


def test_decide_follows_tlog_witness(log_key: SignerKey) -> None:
    tree = Tree(entries(10))
    keys = {ORIGIN: [log_key.verifier]}
    at = {ORIGIN: TreeHead(4, tree.root(4))}

    def status(request: AddCheckpoint, latest: dict[str, TreeHead] = at) -> int | str:
        try:
            decide(request, keys, latest)
        except WitnessError as e:
            if e.fork:
                return "409 fork"
            return e.status if e.known is None else f"409 {e.known}"
        return 200

    good = AddCheckpoint(4, tree.proof(4, 7), tree.note(7, log_key))
    assert status(good) == 200
    assert status(AddCheckpoint(0, (), tree.note(4, log_key)), {}) == 200  # first sight
    assert status(AddCheckpoint(0, tree.proof(4, 7), tree.note(7, log_key)), {}) == 422
    assert status(AddCheckpoint(4, (), tree.note(4, log_key))) == 200  # the same head again
    unknown = SignerKey.generate("other.example/log")
    assert status(AddCheckpoint(4, (), Tree(entries(4)).note(4, unknown))) == 404
    impostor = SignerKey.generate(ORIGIN)  # the right origin, another key
    assert status(AddCheckpoint(4, tree.proof(4, 7), tree.note(7, impostor))) == 403
    assert status(AddCheckpoint(8, (), tree.note(7, log_key))) == 400  # old > size
    assert status(AddCheckpoint(2, tree.proof(2, 7), tree.note(7, log_key))) == "409 4"
    assert status(AddCheckpoint(6, tree.proof(6, 7), tree.note(7, log_key))) == "409 4"
    broken = (*good.proof[:-1], bytes(32))
    assert status(AddCheckpoint(4, broken, good.checkpoint)) == 422
    # A second history: same first four leaves' count, other content.
    fork = Tree(entries(10, b"fork"))
    assert status(AddCheckpoint(4, (), fork.note(4, log_key))) == "409 fork"
    assert status(AddCheckpoint(4, fork.proof(4, 7), fork.note(7, log_key))) == 422


# -- the witness service ------------------------------------------------------------------


def post(url: str, request: AddCheckpoint) -> httpx.Response:
    return httpx.post(url + "/add-checkpoint", content=request.body(), timeout=10)


def test_witness_over_http_cosigns_a_consistent_sequence_and_refuses_the_rest(
    tmp_path: Path,
    log_key: SignerKey,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    tree = Tree(entries(20))
    fork = Tree(entries(20)[:6] + entries(14, b"fork"))
    witness = make_witness(witness_key, [log_key.verifier])
    verifier = cosigner_key(witness_key)
    with serving(create_witness_app(witness)) as url:
        old = 0
        for size in (1, 2, 6, 9, 9, 16):
            proof = () if old in (0, size) else tree.proof(old, size)
            response = post(url, AddCheckpoint(old, proof, tree.note(size, log_key)))
            assert response.status_code == 200, response.text
            (line,) = parse_lines(response.text)
            text = Checkpoint(ORIGIN, size, tree.root(size)).text()
            assert verify_cosignature(verifier, text, line) > 0
            old = size
        assert witness.state.head(ORIGIN) == TreeHead(16, tree.root(16))

        stale = post(url, AddCheckpoint(9, tree.proof(9, 18), tree.note(18, log_key)))
        assert stale.status_code == 409
        assert stale.headers["content-type"] == "text/x.tlog.size"
        assert stale.text == "16\n"
        # The fork agrees on six leaves, so its first checkpoints look fine to a newcomer,
        # but never to a witness that cosigned the other history.
        forked = post(url, AddCheckpoint(16, fork.proof(16, 18), fork.note(18, log_key)))
        assert forked.status_code == 422
        same_size = post(url, AddCheckpoint(16, (), fork.note(16, log_key)))
        # A fork is a conflict of histories, not of sizes: no size, no size content type.
        assert same_size.status_code == 409 and "fork" in same_size.text
        assert not same_size.headers["content-type"].startswith("text/x.tlog.size")
        assert post(url, AddCheckpoint(0, (), fork.note(6, log_key))).status_code == 409
        rollback = post(url, AddCheckpoint(16, (), tree.note(9, log_key)))
        assert rollback.status_code == 400
        unknown = SignerKey.generate("nobody.example/log")
        assert post(url, AddCheckpoint(0, (), Tree([b"x"]).note(1, unknown))).status_code == 404
        bad = SignerKey.generate(ORIGIN)
        assert post(url, AddCheckpoint(16, (), tree.note(16, bad))).status_code == 403
        garbage = httpx.post(url + "/add-checkpoint", content=b"hello", timeout=10)
        assert garbage.status_code == 400
        huge = httpx.post(url + "/add-checkpoint", content=b"x" * 70_000, timeout=10)
        assert huge.status_code == 413
        assert httpx.get(url + "/add-checkpoint", timeout=10).status_code == 405
    # Nothing it refused moved it; the misbehaviour is kept as evidence.
    assert witness.state.head(ORIGIN) == TreeHead(16, tree.root(16))
    evidence = witness.state.evidence(ORIGIN)
    assert [status for _, _, status, _, _ in evidence] == [422, 409]
    assert evidence[0][4] == AddCheckpoint(16, fork.proof(16, 18), fork.note(18, log_key)).body()


def raw_post(url: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """POST with the standard library's bare HTTP client: status, headers exactly as sent
    on the wire (no client normalising them), body."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/add-checkpoint", body=body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def test_a_stale_size_is_answered_with_exactly_the_size_content_type(
    log_key: SignerKey,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """transparency-dev's witness client (Tessera's) compares ``text/x.tlog.size``
    exactly and reads anything else as a fork: no charset may be appended."""
    tree = Tree(entries(12))
    fork = Tree(entries(12, b"fork"))
    witness = make_witness(witness_key, [log_key.verifier])
    with serving(create_witness_app(witness)) as url:
        first = raw_post(url, AddCheckpoint(0, (), tree.note(5, log_key)).body())
        assert first[0] == 200
        status, headers, body = raw_post(url, AddCheckpoint(0, (), tree.note(8, log_key)).body())
        assert (status, body) == (409, b"5\n")
        assert [v for k, v in headers if k.lower() == "content-type"] == ["text/x.tlog.size"]
        status, headers, body = raw_post(url, AddCheckpoint(5, (), fork.note(5, log_key)).body())
        assert status == 409 and b"fork" in body
        types = [v for k, v in headers if k.lower() == "content-type"]
        assert types == ["text/plain; charset=utf-8"]
    # The fork is kept as evidence, and said loudly; the stale size is not (nothing
    # wrong with the log).
    assert [e[2] for e in witness.state.evidence(ORIGIN)] == [409]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("fork" in message for message in warned), warned


def test_witness_state_survives_a_restart(
    tmp_path: Path,
    log_key: SignerKey,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    tree = Tree(entries(12))
    path = tmp_path / "w.db"
    first = make_witness(witness_key, [log_key.verifier], path)
    assert first.add_checkpoint(AddCheckpoint(0, (), tree.note(5, log_key)).body()).status == 200
    first.state.close()

    again = make_witness(witness_key, [log_key.verifier], path)
    assert again.state.head(ORIGIN) == TreeHead(5, tree.root(5))
    refused = again.add_checkpoint(AddCheckpoint(0, (), tree.note(8, log_key)).body())
    assert (refused.status, refused.body) == (409, "5\n")
    ok = again.add_checkpoint(AddCheckpoint(5, tree.proof(5, 8), tree.note(8, log_key)).body())
    assert ok.status == 200
    assert again.state.note(ORIGIN) == tree.note(8, log_key)


def test_concurrent_requests_from_one_old_size_never_both_win(
    tmp_path: Path,
    log_key: SignerKey,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    """Both pass the check, then race to record: exactly one is cosigned (the rollback
    race tlog-witness describes), over real HTTP."""
    tree = Tree(entries(40))
    witness = make_witness(witness_key, [log_key.verifier])
    assert witness.add_checkpoint(AddCheckpoint(0, (), tree.note(10, log_key)).body()).status == 200
    both_checked = threading.Barrier(2, timeout=10)
    witness.before_commit = both_checked.wait
    results: dict[int, httpx.Response] = {}
    with serving(create_witness_app(witness)) as url:

        def submit(size: int) -> None:
            results[size] = post(
                url, AddCheckpoint(10, tree.proof(10, size), tree.note(size, log_key))
            )

        threads = [threading.Thread(target=submit, args=(size,)) for size in (20, 30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 409]
    winner = next(size for size, r in results.items() if r.status_code == 200)
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.text == f"{winner}\n"
    assert witness.state.head(ORIGIN) == TreeHead(winner, tree.root(winner))


# -- the log gathers cosignatures ----------------------------------------------------------


def policy_options(
    ledger: Ledger, *witnesses: VerifierKey, threshold: int | None = None
) -> dict[str, Any]:
    return {
        "witness_policy": WitnessPolicy(tuple(witnesses), threshold or len(witnesses)),
        "cosignatures": CosignatureStore(ledger.store).lines,
    }


def v7(report: Any) -> dict[str, Any]:
    return next(c for c in report.to_json()["checks"] if c["id"] == "V7")


def fill(ledger: Ledger, people: People, n: int, tag: str = "") -> None:
    for i in range(n):
        ledger.append(people.statement(cadre=f"cadre-{i % 3}{tag}", general=i % 30))


def test_serve_gathers_cosignatures_and_verify_checks_the_policy(
    db_url: str,
    open_ledger: Callable[..., Ledger],
    people: People,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    ledger = open_ledger(db_url)
    second_key = SignerKey.generate("witness.example/w2")
    w1 = make_witness(witness_key, [ledger.log_key])
    w2 = make_witness(second_key, [ledger.log_key], Path(str(w1.state.path) + ".2"))
    k1, k2 = cosigner_key(witness_key), cosigner_key(second_key)
    store = CosignatureStore(ledger.store)
    assert not ledger.verify().checks["V7"].checked  # no policy: not applicable
    assert v7(ledger.verify())["status"] == "not_applicable"
    with (
        serving(create_witness_app(w1)) as url1,
        serving(create_witness_app(w2)) as url2,
        serving(create_app(ledger)) as log_url,
    ):
        endpoints = [WitnessEndpoint(url1, k1), WitnessEndpoint(url2, k2)]
        with Witnessing(ledger, endpoints):
            fill(ledger, people, 3)
            wait_for(lambda: store.latest_cosigned(2) == ledger.size(), what="cosignatures")
            fill(ledger, people, 4)
            size = ledger.size()
            wait_for(lambda: store.latest_cosigned(2) == size, what="cosignatures again")
            served = httpx.get(log_url + "/v1/log/checkpoint/cosigned?witnesses=2", timeout=10)
        missing = httpx.get(log_url + "/v1/log/checkpoint/cosigned?witnesses=3", timeout=10)
    assert served.status_code == 200, served.text
    cosigned = open_cosigned(served.text, ledger.log_key, [k1, k2])
    assert cosigned.checkpoint.size == size and set(cosigned.valid) == {k1, k2}
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert w1.state.head(ledger.log_key.name).size == size

    report = ledger.verify(**policy_options(ledger, k1, k2))
    assert report.ok and v7(report)["status"] == "pass" and v7(report)["checked"] == 2
    # A witness the log never asked: the quorum is not met, and the check says who is missing.
    absent = cosigner_key(SignerKey.generate("witness.example/w3"))
    short = ledger.verify(**policy_options(ledger, k1, absent))
    assert not short.ok and v7(short)["status"] == "fail"
    assert "witness.example/w3" in v7(short)["first_failure"]["reason_en"]
    assert ledger.verify(**policy_options(ledger, k1, absent, threshold=1)).ok

    # The log grows while no witness listens: the latest checkpoint is not cosigned.
    fill(ledger, people, 1)
    stale = ledger.verify(**policy_options(ledger, k1))
    assert v7(stale)["status"] == "fail"
    assert f"size {ledger.size()}" in v7(stale)["first_failure"]["reason_en"]


def test_a_409_teaches_the_log_the_witness_size(
    db_url: str,
    open_ledger: Callable[..., Ledger],
    people: People,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    ledger = open_ledger(db_url)
    witness = make_witness(witness_key, [ledger.log_key])
    key = cosigner_key(witness_key)
    with serving(create_witness_app(witness)) as url:
        endpoint = WitnessEndpoint(url, key)
        fill(ledger, people, 3)
        first = Witnessing(ledger, [endpoint])
        first.store.ensure()
        first.gather(endpoint, ledger.checkpoint())
        first.stop()
        # The log forgets what it gathered (a restore from backup, say).
        ledger.store.execute("DELETE FROM ledger_cosignatures")
        fill(ledger, people, 2)
        again = Witnessing(ledger, [endpoint])
        sent: list[int] = []
        real_post = again._client.post

        def recording(url: str, **kw: Any) -> httpx.Response:
            sent.append(AddCheckpoint.parse(kw["content"]).old)
            return real_post(url, **kw)

        again._client.post = recording  # type: ignore[method-assign]
        again.gather(endpoint, ledger.checkpoint())
        again.stop()
    assert sent == [0, 3]
    assert CosignatureStore(ledger.store).latest_cosigned() == ledger.size() == 5
    assert ledger.verify(**policy_options(ledger, key)).ok


# -- a log that shows two histories -------------------------------------------------------


def second_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fork.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_fork_shown_to_different_parties_is_caught(
    db_url: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
    people: People,
    witness_key: SignerKey,
    make_witness: Callable[..., Witness],
) -> None:
    """The operator holds the log key and runs two databases: party A is shown one
    history, party B another that agrees on the first events and then diverges. Both
    are validly signed by the log, and each verifies on its own (V1–V6). The witness
    cosigns whichever it sees first and refuses the other; with the witness policy,
    ``verify`` passes A's view and fails B's."""
    now = datetime.now(UTC)  # one clock for both: the operator forges one history
    a = open_ledger(db_url, clock=lambda: now)
    b = open_ledger(second_url(db_url, request, tmp_path), clock=lambda: now)  # same log key
    assert a.log_key == b.log_key
    shared = [people.statement(cadre=f"cadre-{i}") for i in range(4)]
    for s in shared:
        a.append(s)
        b.append(s)
    assert a.checkpoint() == b.checkpoint()  # one history so far, byte for byte
    a.append(people.statement(cadre="favoured", general=30))
    b.append(people.statement(cadre="suppressed", general=0))
    assert a.size() == b.size() == 5 and a.checkpoint() != b.checkpoint()

    witness = make_witness(witness_key, [a.log_key])
    key = cosigner_key(witness_key)
    with serving(create_witness_app(witness)) as url:
        endpoint = WitnessEndpoint(url, key)
        gather_a, gather_b = Witnessing(a, [endpoint]), Witnessing(b, [endpoint])
        for g in (gather_a, gather_b):
            g.store.ensure()
        gather_a.gather(endpoint, a.checkpoint())
        with pytest.raises(Refused, match="another root for size 5"):
            gather_b.gather(endpoint, b.checkpoint())
        b.append(people.statement(cadre="suppressed", general=1))  # B moves on
        with pytest.raises(Refused, match="422"):
            gather_b.gather(endpoint, b.checkpoint())
        for g in (gather_a, gather_b):
            g.stop()
    assert witness.state.head(a.log_key.name) == TreeHead(
        5, open_cosigned(a.checkpoint(), a.log_key, []).checkpoint.root
    )
    assert [e[2] for e in witness.state.evidence()] == [409, 422]

    # Each view is self-consistent: without witnesses, nothing tells them apart.
    assert a.verify().ok and b.verify().ok
    assert a.verify(**policy_options(a, key)).ok
    forked = b.verify(**policy_options(b, key))
    assert not forked.ok and v7(forked)["status"] == "fail"
    assert "missing: witness.example/w1" in v7(forked)["first_failure"]["reason_en"]

    # B's operator copies A's cosignature over B's latest checkpoint: it does not verify.
    (line,) = CosignatureStore(a.store).lines(5)
    b.store.execute(
        "INSERT INTO ledger_cosignatures (size, witness, line) VALUES (?, ?, ?)",
        (b.size(), str(key), line.rstrip("\n")),
    )
    copied = b.verify(**policy_options(b, key))
    assert v7(copied)["status"] == "fail"
    assert "does not verify" in v7(copied)["first_failure"]["reason_en"]

    # Party B, holding A's cosigned checkpoint, sees B's history contradict it (V6), and
    # ``verify --checkpoint`` takes the cosigned note as it is.
    note = CosignatureStore(a.store).cosigned_note(5)
    assert note is not None
    held = tmp_path / "a-cosigned.txt"
    held.write_text(note)
    runner = CliRunner()
    args = ["verify", "--json", "--no-remember", "--checkpoint", str(held), "--witness", str(key)]
    on_a = runner.invoke(main, ["--db", a.settings.db, *args])
    on_b = runner.invoke(main, ["--db", b.settings.db, *args])
    assert on_a.exit_code == 0, on_a.output
    assert on_b.exit_code == 1
    checks = {c["id"]: c["status"] for c in json.loads(on_b.output)["checks"]}
    assert checks["V6"] == "fail" and checks["V7"] == "fail"


def test_verify_options_for_the_witness_policy(
    tmp_path: Path, open_ledger: Callable[..., Ledger], witness_key: SignerKey
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    open_ledger(url).close()
    key = str(cosigner_key(witness_key))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--db", url, "verify", "--json", "--no-remember", *args])

    plain = run()
    assert plain.exit_code == 0, plain.output
    v7_plain = next(c for c in json.loads(plain.output)["checks"] if c["id"] == "V7")
    assert v7_plain["status"] == "not_applicable"
    assert run("--witness", key, "--witness-threshold", "2").exit_code == 2
    assert run("--witness-threshold", "1").exit_code == 2
    assert run("--witness", str(witness_key.verifier)).exit_code == 2  # a 0x01 key
    key_file = tmp_path / "w.pub"
    key_file.write_text(key + "\n")
    result = run("--witness", f"@{key_file}")
    assert result.exit_code == 1  # genesis is never cosigned
    v7_fail = next(c for c in json.loads(result.output)["checks"] if c["id"] == "V7")
    assert v7_fail["status"] == "fail"


# -- the commands, end to end --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cadreledger.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )


def test_witness_and_serve_commands_end_to_end(
    tmp_path: Path, open_ledger: Callable[..., Ledger], people: People
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(db)
    fill(ledger, people, 2)
    log_vkey = str(ledger.log_key)
    ledger.close()
    env = {"CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")}

    key_file = tmp_path / "witness.key"
    made = subprocess.run(
        [sys.executable, "-m", "cadreledger.cli", "keygen", "witness.test/w1", "-o", str(key_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert made.returncode == 0
    printed = subprocess.run(
        [sys.executable, "-m", "cadreledger.cli", "witness", "--key", str(key_file), "--print-key"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    wkey = printed.stdout.strip()
    assert parse_cosigner_key(wkey).name == "witness.test/w1"

    wport, lport = free_port(), free_port()
    state = tmp_path / "witness.db"
    witness = cli(
        "witness", "--key", str(key_file), "--log", log_vkey, "--state", str(state),
        "--port", str(wport), env={},
    )  # fmt: skip
    serve = cli(
        "--db", db, "serve", "--port", str(lport),
        "--witness", f"http://127.0.0.1:{wport}={wkey}", env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{lport}"
    try:

        def cosigned_size() -> int | None:
            try:
                r = httpx.get(base + "/v1/log/checkpoint/cosigned", timeout=2)
            except httpx.HTTPError:
                return None
            if r.status_code != 200:
                return None
            return open_cosigned(
                r.text, VerifierKey.parse(log_vkey), [parse_cosigner_key(wkey)]
            ).checkpoint.size

        assert wait_for(cosigned_size, 30, "the first cosigned checkpoint") == 2
        submission = people.statement(cadre="late").submission()
        answer = httpx.post(base + "/v1/statements", json=submission, timeout=10)
        assert answer.status_code == 201, answer.text
        wait_for(lambda: cosigned_size() == 3, 30, "a cosignature on the new checkpoint")
        (tmp_path / "cosigned.txt").write_text(
            httpx.get(base + "/v1/log/checkpoint/cosigned", timeout=5).text
        )
    finally:
        for proc in (serve, witness):
            proc.terminate()
        for proc in (serve, witness):
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()

    verify = subprocess.run(
        [
            sys.executable, "-m", "cadreledger.cli", "--db", db, "verify", "--no-remember",
            "--witness", wkey, "--checkpoint", str(tmp_path / "cosigned.txt"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "V7 witnesses" in verify.stdout


def test_witness_command_options(tmp_path: Path, log_key: SignerKey) -> None:
    runner = CliRunner()
    key_file = tmp_path / "w.key"
    key_file.write_text(str(SignerKey.generate("witness.test/w2")) + "\n")
    printed = runner.invoke(main, ["witness", "--key", str(key_file), "--print-key"])
    assert printed.exit_code == 0
    assert parse_cosigner_key(printed.output.strip()).name == "witness.test/w2"
    nothing = runner.invoke(main, ["witness", "--key", str(key_file), "--port", "1"])
    assert nothing.exit_code == 2 and "no log to witness" in nothing.output
    bad = runner.invoke(main, ["witness", "--key", str(key_file), "--log", "x=not-a-key"])
    assert bad.exit_code == 2
    wrong = tmp_path / "bad.key"
    wrong.write_text("PRIVATE+KEY+nonsense\n")
    assert runner.invoke(main, ["witness", "--key", str(wrong), "--print-key"]).exit_code == 2


def test_witness_config_parsing(log_key: SignerKey) -> None:
    from cadreledger.cli_witness import parse_log

    assert parse_log(str(log_key.verifier)) == (ORIGIN, log_key.verifier)
    assert parse_log(f"other.example/o={log_key.verifier}") == ("other.example/o", log_key.verifier)
    endpoint = WitnessEndpoint.parse(f"http://127.0.0.1:7380/w/={cosigner_key(log_key)}")
    assert endpoint.url == "http://127.0.0.1:7380/w" and endpoint.key.alg == 0x04
    with pytest.raises(ValueError):
        WitnessEndpoint.parse(f"127.0.0.1={cosigner_key(log_key)}")
    with pytest.raises(ValueError):
        WitnessEndpoint.parse(f"http://127.0.0.1={log_key.verifier}")  # a 0x01 key
