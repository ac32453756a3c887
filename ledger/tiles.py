"""Merkle hashes stored in C2SP tlog-tiles: 256 hashes per tile, 8 tree levels per tile.

A tile at tile-level L and index N holds the hashes of tree level 8·L for nodes
256·N … 256·N+255 (fewer on the right edge: a partial tile). Any complete subtree's
hash is inside exactly one tile, so a proof costs one read per tile it touches:
O(log₂₅₆ n) reads. Full tiles never change, so their interior levels are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.merkle import CompactRange, NodeID, node_hash, range_nodes

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

TileKey = tuple[int, int]  # (tile level, tile index)


class TileSource(Protocol):
    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Stored tile data (32·width bytes) for each key that exists."""
        ...


def locate(node: NodeID) -> tuple[TileKey, int, int]:
    """Where a node lives: its tile, its level inside the tile, its offset at that level."""
    tile_level, sub = divmod(node.level, TILE_HEIGHT)
    tile_index = node.index >> (TILE_HEIGHT - sub)
    offset = node.index & ((TILE_WIDTH >> sub) - 1)
    return (tile_level, tile_index), sub, offset


def split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def tile_levels(
    hashes: Sequence[bytes], prefix: list[list[bytes]] | None = None
) -> list[list[bytes]]:
    """Every complete node inside a tile: level 0 is the stored row, then pairwise up.

    ``prefix``: the levels already computed for a shorter version of the same row;
    its nodes are kept and only the new ones hashed (the right-edge tile grows by a
    few hashes per batch, and is re-offered after every one).
    """
    levels = [list(hashes)]
    while len(levels) < TILE_HEIGHT and len(levels[-1]) >= 2:
        below = levels[-1]
        kept = prefix[len(levels)] if prefix and len(prefix) > len(levels) else []
        levels.append(
            kept
            + [node_hash(below[i], below[i + 1]) for i in range(2 * len(kept), len(below) - 1, 2)]
        )
    return levels


class TileHashReader:
    """Reads node hashes through tiles, with an LRU of computed tile interiors.

    Safe to share between threads. A cached partial tile serves any node it
    already covers; a wider version is read when a node needs more.
    """

    def __init__(self, source: TileSource, max_tiles: int = 4096) -> None:
        self._source = source
        self._cache: OrderedDict[TileKey, list[list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_tiles

    def put(self, key: TileKey, data: bytes) -> None:
        """Offer freshly written tile data (the sequencer does, after each commit)."""
        row = split_hashes(data)
        with self._lock:
            old = self._cache.get(key)
        prefix = old if old is not None and row[: len(old[0])] == old[0] else None
        self._store(key, tile_levels(row, prefix))

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __call__(self, nodes: Sequence[NodeID]) -> list[bytes]:
        places = [locate(n) for n in nodes]
        needed: dict[TileKey, int] = {}
        for key, sub, off in places:  # the widest need per tile, not the last node's
            needed[key] = max(needed.get(key, 0), _width_needed(sub, off))
        levels = self._tiles(needed)
        try:
            return [levels[key][sub][off] for key, sub, off in places]
        except (KeyError, IndexError) as e:
            raise LookupError("a node hash is missing from the stored tiles") from e

    def _tiles(self, needed: dict[TileKey, int]) -> dict[TileKey, list[list[bytes]]]:
        found: dict[TileKey, list[list[bytes]]] = {}
        missing = []
        with self._lock:
            for key, width in needed.items():
                levels = self._cache.get(key)
                if levels is not None and len(levels[0]) >= width:
                    self._cache.move_to_end(key)
                    found[key] = levels
                else:
                    missing.append(key)
        if missing:
            for key, data in self._source.read_tiles(missing).items():
                levels = tile_levels(split_hashes(data))
                self._store(key, levels)
                found[key] = levels
        return found

    def _store(self, key: TileKey, levels: list[list[bytes]]) -> None:
        with self._lock:
            old = self._cache.get(key)
            if old is None or len(old[0]) <= len(levels[0]):
                self._cache[key] = levels
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)


def _width_needed(sub: int, offset: int) -> int:
    return (offset + 1) << sub


class TreeBuilder:
    """The growing tree held by the single writer: its compact range and right-edge tiles.

    ``append`` adds leaf hashes; ``take_dirty`` hands over the tiles that changed since
    the last call, to be written in the same transaction as the events.
    """

    def __init__(self, size: int, edge: dict[int, list[bytes]], compact: CompactRange) -> None:
        self.compact = compact
        self._edge = edge  # tile level -> hashes of its rightmost (partial) tile
        self._dirty: set[TileKey] = set()
        self._completed: dict[TileKey, bytes] = {}
        if compact.size != size:
            raise ValueError("compact range and tree size disagree")

    @classmethod
    def empty(cls) -> TreeBuilder:
        return cls(0, {}, CompactRange())

    @classmethod
    def load(cls, size: int, read: TileHashReader, source: TileSource) -> TreeBuilder:
        """Rebuild the writer's state for a tree of ``size`` leaves from stored tiles."""
        keys = edge_tiles(size)
        stored = source.read_tiles([key for key, _ in keys])
        edge = {}
        for (level, index), width in keys:
            data = stored.get((level, index), b"")
            if len(data) < 32 * width:
                raise LookupError(f"tile {level}/{index} is shorter than the tree needs")
            edge[level] = split_hashes(data[: 32 * width])
        compact = CompactRange(size, read(range_nodes(0, size)))
        return cls(size, edge, compact)

    @property
    def size(self) -> int:
        return self.compact.size

    def root(self) -> bytes:
        return self.compact.root()

    def append(self, leaf: bytes) -> None:
        self.compact.append(leaf, self._on_node)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """``append`` each leaf, with the same nodes, tiles and dirty marks, but without a
        call and a ``NodeID`` per node: the verifier adds every leaf of the log, and
        seven levels in eight are inside a tile, where ``_on_node`` keeps nothing."""
        compact = self.compact
        hashes, size = compact.hashes, compact.size
        row = self._edge.setdefault(0, [])
        for leaf in leaves:
            row.append(leaf)
            self._dirty.add((0, size >> TILE_HEIGHT))
            if len(row) == TILE_WIDTH:
                self._completed[(0, size >> TILE_HEIGHT)] = b"".join(row)
                row.clear()
            index, level, h = size, 0, leaf
            while index & 1:
                h = node_hash(hashes.pop(), h)
                index >>= 1
                level += 1
                if not level % TILE_HEIGHT:
                    self._on_node(NodeID(level, index), h)
            hashes.append(h)
            size += 1
        compact.size = size

    def _on_node(self, node: NodeID, h: bytes) -> None:
        tile_level, sub = divmod(node.level, TILE_HEIGHT)
        if sub:
            return
        row = self._edge.setdefault(tile_level, [])
        row.append(h)
        self._dirty.add((tile_level, node.index >> TILE_HEIGHT))
        if len(row) == TILE_WIDTH:
            self._completed[(tile_level, node.index >> TILE_HEIGHT)] = b"".join(row)
            row.clear()

    def take_dirty(self) -> dict[TileKey, bytes]:
        """Tiles changed since the last call: completed ones and the current right edge."""
        tiles = dict(self._completed)
        for key in self._dirty:
            if key not in tiles:
                tiles[key] = b"".join(self._edge.get(key[0], []))
        self._dirty.clear()
        self._completed.clear()
        return tiles


def edge_tiles(size: int) -> list[tuple[TileKey, int]]:
    """The rightmost tile of every level that has one, with the width the tree uses."""
    result = []
    level = 0
    count = size
    while count > 0:
        index, width = divmod(count, TILE_WIDTH)
        if width:
            result.append(((level, index), width))
        count >>= TILE_HEIGHT
        level += 1
    return result
