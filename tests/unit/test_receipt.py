"""Receipts: what a person keeps, checked with nothing but the log's public key."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Sequence

import pytest

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.envelope import event_hash, wrap
from ledger.keys import SignerKey
from ledger.merkle import (
    CompactRange,
    HashReader,
    NodeID,
    ProofError,
    inclusion_proof,
    leaf_hash,
    node_hash,
)
from ledger.note import EM_DASH
from ledger.receipt import TLOG_PROOF_HEADER, Receipt
from ledger.statement import sign_statement

LOG = SignerKey.from_seed("example.org/cadreledger", hashlib.sha256(b"log key").digest())
SIZE = 13


def event_hashes(n: int) -> list[bytes]:
    return [hashlib.sha256(f"envelope {i}".encode()).digest() for i in range(n)]


def reader(leaves: Sequence[bytes]) -> HashReader:
    """Each node computed from the leaves directly (complete subtrees only)."""

    def mth(begin: int, end: int) -> bytes:
        if end - begin == 1:
            return leaves[begin]
        mid = (begin + end) // 2
        return node_hash(mth(begin, mid), mth(mid, end))

    def read(nodes: Sequence[NodeID]) -> list[bytes]:
        return [mth(n.begin, n.end) for n in nodes]

    return read


def make_receipt(index: int, size: int = SIZE, key: SignerKey = LOG) -> Receipt:
    hashes = event_hashes(size)
    leaves = [leaf_hash(h) for h in hashes]
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    proof = inclusion_proof(index, size, reader(leaves))
    checkpoint = Checkpoint(LOG.name, size, compact.root()).sign(key)
    return Receipt("actor/alice", 1, hashes[index], index, size, tuple(proof), checkpoint)


@pytest.mark.parametrize("index", [0, 1, 6, 11, 12])
def test_receipt_verifies(index: int) -> None:
    make_receipt(index).verify(LOG.verifier)


def test_single_event_log() -> None:
    receipt = make_receipt(0, size=1)
    assert receipt.proof == ()
    receipt.verify(LOG.verifier)


def test_receipt_for_a_real_envelope() -> None:
    alice = SignerKey.from_seed("alice", bytes(32))
    signed = sign_statement(
        {
            "v": 1,
            "type": "note",
            "actor": "alice",
            "issued_at": "2025-01-01T00:00:00Z",
            "nonce": "0123456789abcdef",
        },
        alice,
    )
    raw = wrap("actor/alice", 1, None, signed)
    leaves = [leaf_hash(event_hash(raw)), leaf_hash(b"\x00" * 32)]
    root = node_hash(leaves[0], leaves[1])
    receipt = Receipt(
        "actor/alice",
        1,
        hashlib.sha256(raw).digest(),
        0,
        2,
        (leaves[1],),
        Checkpoint(LOG.name, 2, root).sign(LOG),
    )
    receipt.verify(LOG.verifier)


def test_changed_event_hash() -> None:
    receipt = make_receipt(5)
    for other in (event_hashes(SIZE)[4], hashlib.sha256(b"forged").digest()):
        with pytest.raises(ProofError):
            dataclasses.replace(receipt, event_hash=other).verify(LOG.verifier)
    flipped = bytes([receipt.event_hash[0] ^ 1]) + receipt.event_hash[1:]
    with pytest.raises(ProofError):
        dataclasses.replace(receipt, event_hash=flipped).verify(LOG.verifier)


@pytest.mark.parametrize("index", [4, 6, 12, SIZE, -1])
def test_changed_index(index: int) -> None:
    with pytest.raises(ProofError):
        dataclasses.replace(make_receipt(5), index=index).verify(LOG.verifier)


def test_changed_proof() -> None:
    receipt = make_receipt(5)
    for i in range(len(receipt.proof)):
        proof = list(receipt.proof)
        proof[i] = bytes([proof[i][0] ^ 0x80]) + proof[i][1:]
        with pytest.raises(ProofError):
            dataclasses.replace(receipt, proof=tuple(proof)).verify(LOG.verifier)
    with pytest.raises(ProofError):
        dataclasses.replace(receipt, proof=receipt.proof[:-1]).verify(LOG.verifier)


def test_changed_checkpoint() -> None:
    receipt = make_receipt(5)
    # A genuine checkpoint of the same log, but for a larger tree.
    later = make_receipt(5, size=SIZE + 3)
    with pytest.raises(ValueError, match="tree size"):
        dataclasses.replace(receipt, checkpoint=later.checkpoint).verify(LOG.verifier)
    # ... and with the size claimed to match, the proof does not lead to its root.
    with pytest.raises(ProofError):
        dataclasses.replace(receipt, checkpoint=later.checkpoint, tree_size=SIZE + 3).verify(
            LOG.verifier
        )
    # A size that differs from what the checkpoint states (the proof alone might pass).
    with pytest.raises(ValueError, match="tree size"):
        dataclasses.replace(receipt, tree_size=SIZE + 1).verify(LOG.verifier)
    # The checkpoint text altered after signing: another root.
    text = receipt.checkpoint
    root_line = text.split("\n")[2]
    other_root = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    forged = text.replace(root_line, other_root, 1)
    assert forged != text
    with pytest.raises(CheckpointError):
        dataclasses.replace(receipt, checkpoint=forged).verify(LOG.verifier)
    # Signed by someone else, even under the log's name.
    impostor = SignerKey.from_seed(LOG.name, bytes(32))
    with pytest.raises(CheckpointError):
        dataclasses.replace(receipt, checkpoint=make_receipt(5, key=impostor).checkpoint).verify(
            LOG.verifier
        )
    # A genuine receipt checked against another log's key.
    with pytest.raises(CheckpointError):
        receipt.verify(impostor.verifier)
    # Not a signed note at all.
    with pytest.raises(CheckpointError):
        dataclasses.replace(receipt, checkpoint="garbage\n").verify(LOG.verifier)


@pytest.mark.parametrize(("index", "size"), [(5, SIZE), (0, 1), (12, SIZE)])
def test_tlog_proof_layout(index: int, size: int) -> None:
    receipt = make_receipt(index, size)
    text = receipt.tlog_proof()
    lines = text.split("\n")
    assert lines[0] == TLOG_PROOF_HEADER == "c2sp.org/tlog-proof@v1"
    assert lines[1] == f"index {index}"
    n = len(receipt.proof)
    assert [base64.b64decode(line, validate=True) for line in lines[2 : 2 + n]] == list(
        receipt.proof
    )
    assert lines[2 + n] == ""
    assert "\n".join(lines[3 + n :]) == receipt.checkpoint
    assert lines[3 + n] == LOG.name and lines[4 + n] == str(size)
    assert text.endswith("\n") and f"\n{EM_DASH} {LOG.name} " in text
    # Read back, it verifies like the receipt does.
    head, _, note = text.partition("\n\n")
    _, index_line, *hashes = head.split("\n")
    parsed = Receipt(
        receipt.stream,
        receipt.version,
        receipt.event_hash,
        int(index_line.removeprefix("index ")),
        Checkpoint.parse_text(note[: note.index("\n\n") + 1]).size,
        tuple(base64.b64decode(h) for h in hashes),
        note,
    )
    assert parsed == receipt
    parsed.verify(LOG.verifier)


def test_to_json() -> None:
    receipt = make_receipt(5)
    body = receipt.to_json()
    assert body["event_hash"] == receipt.event_hash.hex()
    assert (body["index"], body["tree_size"], body["version"]) == (5, SIZE, 1)
    assert [base64.b64decode(h) for h in body["inclusion_proof"]] == list(receipt.proof)
    assert body["checkpoint"] == receipt.checkpoint
    assert body["tlog_proof"] == receipt.tlog_proof()
    assert body["duplicate"] is False
