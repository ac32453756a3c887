"""Merkle proofs: node-ID construction vs RFC 6962's recursive definitions, through
plain leaves and through tlog-tiles, and every small corruption refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeID,
    ProofError,
    consistency_plan,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    range_nodes,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from ledger.tiles import (
    TILE_WIDTH,
    TileHashReader,
    TileKey,
    TreeBuilder,
    edge_tiles,
    locate,
    split_hashes,
)
from tests.conftest import examples

MAX_SIZE = 600
SETTINGS = settings(max_examples=examples(120), deadline=None)


def make_leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"event {salt}/{i}".encode()) for i in range(n)]


class RFC6962:
    """MTH, PATH and PROOF exactly as RFC 6962 §2.1 defines them, over leaf hashes."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self.mth = cache(self._mth)

    def _mth(self, begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaves[begin]
        k = 1 << ((n - 1).bit_length() - 1)  # largest power of two < n
        return node_hash(self.mth(begin, begin + k), self.mth(begin + k, end))

    def read(self, nodes: Sequence[NodeID]) -> list[bytes]:
        """A hash reader that computes each node from the leaves directly."""
        out = []
        for node in nodes:
            assert node.end <= len(self.leaves), node
            out.append(self.mth(node.begin, node.end))
        return out

    def path(self, m: int, begin: int, end: int) -> list[bytes]:
        n = end - begin
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self.path(m, begin, begin + k), self.mth(begin + k, end)]
        return [*self.path(m - k, begin + k, end), self.mth(begin, begin + k)]

    def subproof(self, m: int, begin: int, end: int, whole: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if whole else [self.mth(begin, end)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*self.subproof(m, begin, begin + k, whole), self.mth(begin + k, end)]
        return [*self.subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return self.subproof(size1, 0, size2, True)


class DictTiles:
    """A TileSource over a dict, as the store would be after each commit."""

    def __init__(self) -> None:
        self.tiles: dict[TileKey, bytes] = {}
        self.reads = 0

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        self.reads += 1
        return {k: self.tiles[k] for k in keys if k in self.tiles}

    def commit(self, dirty: dict[TileKey, bytes]) -> None:
        for key, data in dirty.items():
            assert len(data) % 32 == 0 and 0 < len(data) <= 32 * TILE_WIDTH
            old = self.tiles.get(key, b"")
            assert data.startswith(old), f"tile {key} rewrote stored hashes"
            self.tiles[key] = data


def build(
    leaves: Sequence[bytes], batches: Iterable[int] = ()
) -> tuple[TreeBuilder, DictTiles, TileHashReader]:
    """Append ``leaves`` in batches of the given sizes (then the rest), committing each.

    Also returns a reader used after every commit, so that it has cached partial tiles
    that later commits widened (as a long-lived API process would).
    """
    builder, store = TreeBuilder.empty(), DictTiles()
    warm = TileHashReader(store)
    pos = 0
    for count in [*batches, len(leaves)]:
        for leaf in leaves[pos : pos + count]:
            builder.append(leaf)
        pos = min(pos + count, len(leaves))
        store.commit(builder.take_dirty())
        if pos:
            assert root_at(pos, warm) == builder.root()
            inclusion_proof(pos - 1, pos, warm)
        if pos == len(leaves):
            break
    assert builder.size == len(leaves)
    return builder, store, warm


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def check_stored_tiles(store: DictTiles, ref: RFC6962, size: int) -> None:
    """Every stored tile holds exactly the level-8L nodes it should, and no more."""
    for (level, index), data in store.tiles.items():
        hashes = split_hashes(data)
        first = index * TILE_WIDTH
        expected = [
            ref.mth((first + i) << (8 * level), (first + i + 1) << (8 * level))
            for i in range(len(hashes))
        ]
        assert hashes == expected, (level, index)
    for (level, index), width in edge_tiles(size):
        assert len(store.tiles[(level, index)]) == 32 * width


# --- Proof construction and verification -----------------------------------------------


@SETTINGS
@given(data=st.data(), size=st.integers(min_value=1, max_value=MAX_SIZE))
def test_inclusion_proofs(data: st.DataObject, size: int) -> None:
    leaves = make_leaves(size)
    ref = RFC6962(leaves)
    batches = data.draw(st.lists(st.integers(1, 300), max_size=4), label="batches")
    builder, store, warm = build(leaves, batches)
    tiles = TileHashReader(store)
    root = ref.mth(0, size)
    assert builder.root() == root

    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, ref.read)
    assert proof == ref.inclusion(index, size)
    assert inclusion_proof(index, size, tiles) == proof
    assert inclusion_proof(index, size, warm) == proof
    verify_inclusion(index, size, leaves[index], proof, root)

    # Any single flipped bit, anywhere, is refused.
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="hash")
        bit = data.draw(st.integers(0, 255), label="bit")
        bad = list(proof)
        bad[i] = flip(bad[i], bit)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, flip(leaves[index], bit), proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], proof, flip(root, bit))
        # A hash missing, added or truncated.
        for broken in (proof[:-1], [*proof, proof[0]], [*proof[:-1], proof[-1][:31]]):
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaves[index], broken, root)

    # Another index, for the same leaf or for the leaf really there.
    for other in (index - 1, index + 1):
        if 0 <= other < size:
            for leaf in (leaves[index], leaves[other]):
                with pytest.raises(ProofError):
                    verify_inclusion(other, size, leaf, proof, root)

    # Another size, with that size's own root: never accepted.
    for other in (size - 1, size + 1, 2 * size):
        if index < other and other != size:
            other_root = RFC6962(make_leaves(other)).mth(0, other)
            with pytest.raises(ProofError):
                verify_inclusion(index, other, leaves[index], proof, other_root)
    with pytest.raises(ProofError):
        verify_inclusion(index, index, leaves[index], proof, root)


@SETTINGS
@given(data=st.data(), size2=st.integers(min_value=1, max_value=MAX_SIZE))
def test_consistency_proofs(data: st.DataObject, size2: int) -> None:
    leaves = make_leaves(size2)
    ref = RFC6962(leaves)
    batches = data.draw(st.lists(st.integers(1, 300), max_size=4), label="batches")
    _, store, warm = build(leaves, batches)
    tiles = TileHashReader(store)

    size1 = data.draw(st.integers(1, size2), label="size1")
    root1, root2 = ref.mth(0, size1), ref.mth(0, size2)
    proof = consistency_proof(size1, size2, ref.read)
    assert proof == ref.consistency(size1, size2)
    assert consistency_proof(size1, size2, tiles) == proof
    assert consistency_proof(size1, size2, warm) == proof
    verify_consistency(size1, size2, root1, root2, proof)

    if size1 == size2:
        assert proof == []
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, flip(root2, 0), proof)
        return

    i = data.draw(st.integers(0, len(proof) - 1), label="hash")
    bit = data.draw(st.integers(0, 255), label="bit")
    bad = list(proof)
    bad[i] = flip(bad[i], bit)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, root2, bad)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, flip(root1, bit), root2, proof)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, flip(root2, bit), proof)
    for broken in ([], proof[:-1], [*proof, proof[0]], [*proof[:-1], proof[-1][:31]]):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, broken)
    # Wrong sizes, each claimed with the root a tree of that size really has.
    other = RFC6962(make_leaves(2 * size2 + 1))
    for s1, s2 in ((size1 - 1, size2), (size1 + 1, size2), (size1, size2 - 1), (size1, size2 + 1)):
        if (s1, s2) != (size1, size2) and 1 <= s1 <= s2 and s1 != s2:
            with pytest.raises(ProofError):
                verify_consistency(s1, s2, other.mth(0, s1), other.mth(0, s2), proof)
    # Sizes swapped, or from the empty tree.
    with pytest.raises(ProofError):
        verify_consistency(size2, size1, root2, root1, proof)
    with pytest.raises(ProofError):
        verify_consistency(0, size2, EMPTY_ROOT, root2, proof)


@SETTINGS
@given(data=st.data(), size=st.integers(min_value=1, max_value=MAX_SIZE))
def test_a_batch_of_proofs_is_each_leafs_own(data: st.DataObject, size: int) -> None:
    """``inclusion_proofs`` (a batch's receipts) gives each index RFC 6962's PATH, in the
    order asked, repeats and far-apart indices (retries of stored statements) too."""
    leaves = make_leaves(size)
    ref = RFC6962(leaves)
    _, store, warm = build(leaves, data.draw(st.lists(st.integers(1, 300), max_size=4)))
    start = data.draw(st.integers(0, size - 1), label="batch start")
    indices = [*range(start, size), *data.draw(st.lists(st.integers(0, size - 1), max_size=6))]
    indices = data.draw(st.permutations(indices), label="order")
    expected = [ref.inclusion(i, size) for i in indices]
    assert inclusion_proofs(indices, size, ref.read) == expected
    assert inclusion_proofs(indices, size, TileHashReader(store)) == expected
    assert inclusion_proofs(indices, size, warm) == expected
    for outside in (-1, size):
        with pytest.raises(ProofError):
            inclusion_proofs([*indices, outside], size, ref.read)


def test_a_batch_of_proofs_for_every_index_of_small_trees() -> None:
    for n in range(1, 71):
        ref = RFC6962(make_leaves(n, salt=n))
        forward, backward = list(range(n)), list(range(n - 1, -1, -1))
        for indices in (forward, backward):
            assert inclusion_proofs(indices, n, ref.read) == [ref.inclusion(i, n) for i in indices]


def test_every_index_and_size_for_small_trees() -> None:
    """Exhaustive for n ≤ 70: crosses every shape of right edge up to 64."""
    for n in range(1, 71):
        leaves = make_leaves(n, salt=n)
        ref = RFC6962(leaves)
        root = ref.mth(0, n)
        for index in range(n):
            proof = inclusion_proof(index, n, ref.read)
            assert proof == ref.inclusion(index, n), (index, n)
            verify_inclusion(index, n, leaves[index], proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, ref.read)
            assert proof == ref.consistency(m, n), (m, n)
            verify_consistency(m, n, ref.mth(0, m), root, proof)


def test_inclusion_does_not_bind_the_size_alone() -> None:
    """RFC 9162 verification may accept a proof under another size whose path has the
    same shape (index 0 of 5 and of 6 leaves). Only a signed checkpoint binds size and
    root together; ``Receipt.verify`` checks the two agree."""
    leaves = make_leaves(6)
    ref = RFC6962(leaves)
    proof = ref.inclusion(0, 5)
    verify_inclusion(0, 5, leaves[0], proof, ref.mth(0, 5))
    verify_inclusion(0, 6, leaves[0], proof, ref.mth(0, 5))  # same shape, accepted
    with pytest.raises(ProofError):
        verify_inclusion(0, 6, leaves[0], proof, ref.mth(0, 6))


def test_edge_cases() -> None:
    assert consistency_plan(0, 5).ids == () and consistency_plan(5, 5).ids == ()
    for bad in ((-1, 3), (3, 3), (3, 2)):
        with pytest.raises(ProofError):
            inclusion_proof(*bad, RFC6962(make_leaves(3)).read)
    with pytest.raises(ProofError):
        consistency_proof(4, 3, RFC6962(make_leaves(4)).read)
    leaf = make_leaves(1)[0]
    verify_inclusion(0, 1, leaf, [], leaf)
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, leaf, [leaf], leaf)
    verify_consistency(3, 3, b"r" * 32, b"r" * 32, [])
    with pytest.raises(ProofError):
        verify_consistency(3, 3, b"r" * 32, b"r" * 32, [b"r" * 32])


# --- Roots, compact ranges and tiles ---------------------------------------------------


@SETTINGS
@given(
    size=st.integers(min_value=0, max_value=MAX_SIZE),
    batches=st.lists(st.integers(1, 300), max_size=5),
)
def test_roots_agree(size: int, batches: list[int]) -> None:
    leaves = make_leaves(size, salt=1)
    ref = RFC6962(leaves)
    builder, store, _ = build(leaves, batches)
    check_stored_tiles(store, ref, size)
    tiles = TileHashReader(store, max_tiles=3)  # a small cache, to evict
    compact = CompactRange()
    for m in range(size + 1):
        if m % 37 == 0 or m == size:
            assert root_at(m, tiles) == root_at(m, ref.read) == compact.root() == ref.mth(0, m)
            assert CompactRange(m, ref.read(range_nodes(0, m))).root() == compact.root()
        if m < size:
            compact.append(leaves[m])
    assert builder.root() == compact.root()
    assert builder.compact.hashes == compact.hashes


@SETTINGS
@given(
    size=st.integers(min_value=0, max_value=MAX_SIZE),
    more=st.integers(min_value=0, max_value=300),
    batches=st.lists(st.integers(1, 200), max_size=4),
)
def test_load_continues_identically(size: int, more: int, batches: list[int]) -> None:
    leaves = make_leaves(size + more, salt=2)
    ref = RFC6962(leaves)
    original, store, _ = build(leaves[:size], batches)
    loaded = TreeBuilder.load(size, TileHashReader(store), store)
    assert loaded.size == size and loaded.root() == original.root() == ref.mth(0, size)
    assert loaded.take_dirty() == {}

    for start in range(size, size + more, 97):  # several commits after the reload
        for leaf in leaves[start : start + 97]:
            original.append(leaf)
            loaded.append(leaf)
        dirty = original.take_dirty()
        assert loaded.take_dirty() == dirty
        assert loaded.root() == original.root() == ref.mth(0, loaded.size)
        store.commit(dirty)
    assert loaded.size == size + more
    check_stored_tiles(store, ref, size + more)


def test_load_refuses_missing_tiles() -> None:
    _, store, _ = build(make_leaves(300))
    del store.tiles[(0, 1)]
    with pytest.raises(LookupError):
        TreeBuilder.load(300, TileHashReader(store), store)
    store.tiles[(0, 1)] = b"\x00" * 32 * 3  # shorter than the 44 leaves the tree has
    with pytest.raises(LookupError):
        TreeBuilder.load(300, TileHashReader(store), store)


def test_reader_refuses_missing_nodes() -> None:
    _, store, _ = build(make_leaves(10))
    with pytest.raises(LookupError):
        TileHashReader(store)([NodeID(0, 10)])
    with pytest.raises(LookupError):
        TileHashReader(store)([NodeID(4, 0)])


def test_locate() -> None:
    assert locate(NodeID(0, 0)) == ((0, 0), 0, 0)
    assert locate(NodeID(0, 257)) == ((0, 1), 0, 1)
    assert locate(NodeID(7, 3)) == ((0, 1), 7, 1)
    assert locate(NodeID(8, 0)) == ((1, 0), 0, 0)
    assert locate(NodeID(9, 200)) == ((1, 1), 1, 72)
    assert locate(NodeID(16, 1)) == ((2, 0), 0, 1)


def test_cached_partial_tiles_are_widened() -> None:
    """A reader kept across commits must not serve stale partial tiles."""
    leaves = make_leaves(700, salt=3)
    ref = RFC6962(leaves)
    builder, store = TreeBuilder.empty(), DictTiles()
    reader = TileHashReader(store)
    for size in range(1, 701):
        builder.append(leaves[size - 1])
        if size % 13 == 0 or size in (255, 256, 257, 511, 512, 513, 700):
            store.commit(builder.take_dirty())
            assert root_at(size, reader) == ref.mth(0, size), size
            index = size // 2
            assert inclusion_proof(index, size, reader) == ref.inclusion(index, size)


# --- A tree past 65 536 leaves: the third tile level -----------------------------------


class Levels:
    """Every complete node of a tree, level by level (fast enough for 65 836 leaves)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def read(self, nodes: Sequence[NodeID]) -> list[bytes]:
        return [self.levels[n.level][n.index] for n in nodes]


def test_large_tree_across_tile_levels() -> None:
    size = 65536 + 300
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    full = Levels(leaves)
    # Batches that stop just before, at and after 256, 512 and 65 536.
    batches = [1, 254, 1, 1, 255, 1, 64_000, 1278, 1, 1, 42]
    assert sum(batches) < size
    builder, store = TreeBuilder.empty(), DictTiles()
    pos = 0
    for count in [*batches, size - sum(batches)]:
        for leaf in leaves[pos : pos + count]:
            builder.append(leaf)
        pos += count
        store.commit(builder.take_dirty())
        assert builder.root() == root_at(pos, full.read)
    assert pos == size

    assert sorted(k for k in store.tiles if k[0] > 0) == [(1, 0), (1, 1), (2, 0)]
    assert len(store.tiles) == 258 + 2 + 1
    assert edge_tiles(size) == [((0, 257), 44), ((1, 1), 1), ((2, 0), 1)]
    assert store.tiles[(2, 0)] == full.levels[16][0]
    assert split_hashes(store.tiles[(1, 0)]) == full.levels[8][:256]
    assert store.tiles[(0, 257)] == b"".join(leaves[257 * 256 :])

    tiles = TileHashReader(store)
    root = builder.root()
    assert root_at(size, tiles) == root
    for index in (0, 1, 255, 256, 65_279, 65_535, 65_536, 65_791, 65_792, size - 1):
        proof = inclusion_proof(index, size, tiles)
        assert proof == inclusion_proof(index, size, full.read)
        verify_inclusion(index, size, leaves[index], proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], [flip(proof[0], 9), *proof[1:]], root)
    for size1 in (1, 256, 257, 65_535, 65_536, 65_537, 65_792, size - 1, size):
        proof = consistency_proof(size1, size, tiles)
        assert proof == consistency_proof(size1, size, full.read)
        verify_consistency(size1, size, root_at(size1, full.read), root, proof)

    loaded = TreeBuilder.load(size, TileHashReader(store), store)
    assert loaded.root() == root
    extra = [hashlib.sha256(b"more" + i.to_bytes(4, "big")).digest() for i in range(300)]
    for leaf in extra:
        builder.append(leaf)
        loaded.append(leaf)
    assert loaded.take_dirty() == builder.take_dirty()
    assert loaded.root() == builder.root() == root_at(size + 300, Levels(leaves + extra).read)


@SETTINGS
@given(
    st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=2**32),
)
def test_extend_builds_what_appending_one_leaf_at_a_time_builds(runs: list[int], seed: int) -> None:
    """``TreeBuilder.extend`` (the verifier's, a page at a time) is ``append`` in a loop:
    the same roots, the same tiles handed over, run after run."""
    one, many = TreeBuilder.empty(), TreeBuilder.empty()
    for run, count in enumerate(runs):
        leaves = [hashlib.sha256(f"{seed}/{run}/{i}".encode()).digest() for i in range(count)]
        for leaf in leaves:
            one.append(leaf)
        many.extend(leaves)
        assert many.size == one.size and many.root() == one.root()
        assert many.take_dirty() == one.take_dirty()
