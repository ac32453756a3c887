"""RFC 6962 / RFC 9162 Merkle trees: hashing, compact ranges, proofs.

Proof *verification* follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step. Proof
*construction* works on node IDs, after transparency-dev/merkle: ``inclusion_plan``
and ``consistency_plan`` say which complete subtrees to read (so a proof costs
O(log n) reads from wherever hashes are stored) and how to fold the few that stand
for an incomplete right edge. No I/O here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class NodeID(NamedTuple):
    """The root of the complete subtree covering leaves [index·2^level, (index+1)·2^level)."""

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here uses

    @property
    def begin(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level

    def parent(self) -> NodeID:
        return NodeID(self.level + 1, self.index >> 1)

    def sibling(self) -> NodeID:
        return NodeID(self.level, self.index ^ 1)


def _decompose(begin: int, end: int) -> tuple[int, int]:
    """Bit masks of the left and right borders of the compact range [begin, end)."""
    if begin == 0:
        return 0, end
    xbegin = begin - 1
    mask = (1 << ((xbegin ^ end).bit_length() - 1)) - 1
    return ~xbegin & mask, end & mask


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """The complete subtrees covering [begin, end), left to right."""
    left, right = _decompose(begin, end)
    nodes = []
    pos = begin
    while left:
        level = (left & -left).bit_length() - 1
        nodes.append(NodeID(level, pos >> level))
        pos += 1 << level
        left ^= 1 << level
    while right:
        level = right.bit_length() - 1
        nodes.append(NodeID(level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return nodes


def _range_size(begin: int, end: int) -> int:
    left, right = _decompose(begin, end)
    return left.bit_count() + right.bit_count()


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """The root over a left-to-right list of compact-range hashes."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


@dataclass(frozen=True)
class ProofPlan:
    """Which node hashes to read for a proof, and which run of them to fold into one.

    The nodes in ``ids[begin:end]`` cover the incomplete ("ephemeral") subtree on the
    right edge; they are folded, lower levels first, into a single proof hash.
    """

    ids: tuple[NodeID, ...]
    begin: int = 0
    end: int = 0

    def rehash(self, hashes: Sequence[bytes]) -> list[bytes]:
        if len(hashes) != len(self.ids):
            raise ValueError("need one hash per node")
        proof: list[bytes] = []
        i = 0
        while i < len(hashes):
            h = hashes[i]
            if self.begin <= i < self.end:
                for j in range(i + 1, self.end):
                    h = node_hash(hashes[j], h)
                i = self.end
            else:
                i += 1
            proof.append(h)
        return proof

    def skip_first(self) -> ProofPlan:
        if self.begin < self.end:
            return ProofPlan(self.ids[1:], self.begin - 1, self.end - 1)
        return ProofPlan(self.ids[1:])


def _plan(index: int, level: int, size: int) -> ProofPlan:
    inner = (index ^ (size >> level)).bit_length() - 1
    fork = NodeID(level + inner, index >> inner)
    left_size = _range_size(0, fork.begin)
    right_size = _range_size(fork.end, size)

    node = NodeID(level, index)
    ids = [node]
    while node.level < fork.level:
        ids.append(node.sibling())
        node = node.parent()
    len1 = len(ids)
    right = range_nodes(fork.end, size)
    ids.extend(reversed(right))
    len2 = len(ids)
    left = range_nodes(0, fork.begin)
    ids.extend(reversed(left))
    assert len(right) == right_size and len(left) == left_size

    begin, end = len1, len2
    if end - begin == 1:
        begin = end = 0
    return ProofPlan(tuple(ids), begin, end)


def inclusion_plan(index: int, size: int) -> ProofPlan:
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    return _plan(index, 0, size).skip_first()


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to {size2}")
    if size1 == size2 or size1 == 0:
        return ProofPlan(())
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    plan = _plan(index, level, size2)
    return plan.skip_first() if index == 0 else plan


HashReader = Callable[[Sequence[NodeID]], list[bytes]]


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    plan = inclusion_plan(index, size)
    return plan.rehash(read(plan.ids))


def inclusion_proofs(indices: Sequence[int], size: int, read: HashReader) -> list[list[bytes]]:
    """``inclusion_proof`` of each of ``indices`` in one tree of ``size`` (a batch's
    receipts): the same hashes, but each node read and each right-edge fold hashed once
    for them all, in one call to ``read``.

    Bottom-up, leaf ``m``'s path has at each level below the root the sibling of the
    node holding it: a complete subtree, the hash of the incomplete subtree
    [begin, size) on the right edge (folded from its compact range), or nothing when
    that sibling lies wholly past ``size``."""
    # A step is the integer ``sibling << 6 | level`` (levels stay below 64): an int keys
    # the dictionaries below for less than a tuple would, and it is made for every node
    # a batch's paths cross.
    steps: list[list[int]] = []
    wanted: dict[int, list[NodeID]] = {}  # per step: the nodes it folds
    # Where a path already walked from a node up (leaves close together share the
    # upper part of their paths): that path, and the position of the node's step.
    walked: dict[int, tuple[list[int], int]] = {}
    top = size - 1
    for m in indices:
        if not 0 <= m < size:
            raise ProofError(f"index {m} is not in a tree of size {size}")
        path: list[int] = []
        level = 0
        while top >> level:
            node = m >> level
            shared = walked.get(node << 6 | level)
            if shared is not None:
                path += shared[0][shared[1] :]
                break
            walked[node << 6 | level] = (path, len(path))
            sibling = node ^ 1
            begin = sibling << level
            if begin < size:
                key = sibling << 6 | level
                if key not in wanted:
                    end = begin + (1 << level)
                    wanted[key] = (
                        [NodeID(level, sibling)] if end <= size else range_nodes(begin, size)
                    )
                path.append(key)
            level += 1
        steps.append(path)
    nodes = list({node for parts in wanted.values() for node in parts})
    hashes = dict(zip(nodes, read(nodes), strict=True))
    folded = {
        key: hashes[parts[0]] if len(parts) == 1 else fold_range([hashes[n] for n in parts])
        for key, parts in wanted.items()
    }
    return [[folded[key] for key in path] for path in steps]


def consistency_proof(size1: int, size2: int, read: HashReader) -> list[bytes]:
    plan = consistency_plan(size1, size2)
    return plan.rehash(read(plan.ids))


def root_at(size: int, read: HashReader) -> bytes:
    return fold_range(read(range_nodes(0, size)))


# --- Verification, RFC 9162 §2.1.3.2 and §2.1.4.2 ------------------------------------


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError("every hash must be 32 bytes")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    _check_hashes(leaf, *proof)
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    _check_hashes(root)
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    if size1 < 1 or size2 < size1:
        raise ProofError(f"no consistency proof from size {size1} to {size2}")
    if size1 == size2:
        # Nothing to hash: the claim is only that both roots are the same value.
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if root1 != root2:
            raise ProofError("sizes are equal but the roots differ")
        return
    _check_hashes(root1, root2, *proof)
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1 or sr != root2:
        raise ProofError("consistency proof does not lead to both roots")


class CompactRange:
    """The right border of a growing tree: one hash per set bit of its size.

    Appending is amortised O(1) hashes; the root is O(log n). This is all the
    sequencer and the verifier need to hold in memory, however long the log.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes, on_node: Callable[[NodeID, bytes], None] | None = None) -> None:
        """Add a leaf hash; ``on_node`` sees every complete subtree root this creates."""
        index = self.size
        level = 0
        h = leaf
        if on_node:
            on_node(NodeID(0, index), h)
        while index & 1:
            h = node_hash(self.hashes.pop(), h)
            index >>= 1
            level += 1
            if on_node:
                on_node(NodeID(level, index), h)
        self.hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        return fold_range(self.hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)
