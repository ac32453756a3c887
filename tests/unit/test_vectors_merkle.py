"""Public Merkle proof vectors (transparency-dev/merkle testdata) and one real CT proof.

The vectors are copied from ``../shared/testvectors`` into ``tests/data/testvectors``
(attribution in its README). A correct verifier accepts exactly the files with
``wantErr: false``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import HASH_SIZE, ProofError, verify_consistency, verify_inclusion
from tests.paths import DATA

VECTORS = DATA / "testvectors"
MERKLE = VECTORS / "merkle"
SIGNED_NOTE = VECTORS / "signed-note.json"
MISSING = f"test vectors not found at {VECTORS}"


def _files(kind: str) -> list[Path]:
    """Every vector of one kind; ``subtree*`` folders are siblings, so never included."""
    folder = MERKLE / kind
    if not folder.is_dir():
        return []
    return sorted(folder.rglob("*.json"))


def _params(kind: str) -> list[Any]:
    files = _files(kind)
    assert files, MISSING
    return [pytest.param(f, id=f.relative_to(MERKLE).as_posix()) for f in files]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _proof(value: list[str] | None) -> list[bytes]:
    return [base64.b64decode(h) for h in value or []]


def _accepts(check: Any) -> bool:
    try:
        check()
    except ProofError:
        return False
    return True


@pytest.mark.parametrize("path", _params("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    assert {"leafIdx", "treeSize", "root", "leafHash", "proof", "wantErr"} <= set(v)
    accepted = _accepts(
        lambda: verify_inclusion(
            v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), _proof(v["proof"]), _b64(v["root"])
        )
    )
    assert accepted is not v["wantErr"], v.get("desc")


@pytest.mark.parametrize("path", _params("consistency"))
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    assert {"size1", "size2", "root1", "root2", "proof", "wantErr"} <= set(v)
    accepted = _accepts(
        lambda: verify_consistency(
            v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), _proof(v["proof"])
        )
    )
    assert accepted is not v["wantErr"], v.get("desc")


def test_vector_set_is_complete() -> None:
    """Guard against a silently empty parametrisation: both kinds, both outcomes."""
    for kind in ("inclusion", "consistency"):
        files = _files(kind)
        assert files, kind
        assert not any(p.relative_to(MERKLE).parts[0].startswith("subtree") for p in files)
        outcomes = {json.loads(p.read_text())["wantErr"] for p in files}
        assert outcomes == {True, False}, kind


# --- A real Certificate Transparency inclusion proof -----------------------------------


@pytest.fixture(scope="module")
def ct_proof() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SIGNED_NOTE.read_text())["real_ct_inclusion_proof"]
    return data


def _ct_args(v: dict[str, Any]) -> tuple[int, int, bytes, list[bytes], bytes]:
    return (
        v["leaf_index"],
        v["tree_size"],
        bytes.fromhex(v["leaf_hash_hex"]),
        [bytes.fromhex(h) for h in v["proof_hex"]],
        bytes.fromhex(v["root_hex"]),
    )


def test_real_ct_inclusion_proof_verifies(ct_proof: dict[str, Any]) -> None:
    index, size, leaf, proof, root = _ct_args(ct_proof)
    assert len(proof) == 22
    verify_inclusion(index, size, leaf, proof, root)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("bit", [0, 7, 100, 255])
def test_real_ct_inclusion_proof_fails_with_one_flipped_bit(
    ct_proof: dict[str, Any], bit: int
) -> None:
    index, size, leaf, proof, root = _ct_args(ct_proof)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, _flip(leaf, bit), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, _flip(root, bit))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = _flip(bad[i], bit)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, bad, root)


def test_real_ct_inclusion_proof_fails_elsewhere(ct_proof: dict[str, Any]) -> None:
    index, size, leaf, proof, root = _ct_args(ct_proof)
    for other in (index - 1, index + 1, index ^ 1):
        with pytest.raises(ProofError):
            verify_inclusion(other, size, leaf, proof, root)
    for broken in (proof[:-1], [*proof, proof[-1]], proof[::-1], [h[:-1] for h in proof]):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, broken, root)
    assert all(len(h) == HASH_SIZE for h in proof)
