"""What the log stores beside its events, checked against the events (part of V4).

The verifier meets each event once, in commit order. Besides the index row and the
leaf hash it compares at once, two more stores must say exactly what the events say:

- the **tiles** at every level, not only the leaves: the hashes proofs are built from.
  The tree is recomputed as it grows; each tile that changes is compared with the
  stored one (a complete tile byte for byte, the right edge as a prefix until the
  end, then byte for byte), and any stored tile the tree does not have is junk;
- the **nonce index**: each event's (actor, nonce) has exactly one row, naming that
  event's position and statement digest, and there are no other rows. A row missing
  lets a replay of the statement in; a row changed answers a retry with the wrong
  receipt.

A problem is placed at a log position. A leaf hash names its event. A hash higher up
answers for every leaf under its node: a mismatch there places the first bad event in
that range, ``[first leaf, last leaf + 1)`` — the events, or the stored hash, differ
somewhere below. A hash for a node the tree does not have is placed at the first leaf
it would need: the log's size.
Memory stays flat: the tree's right edge, and one page of nonce rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey, TreeBuilder

if TYPE_CHECKING:  # the store is one view of a log; reading it needs none
    from ledger.store import NonceRow

HASH = 32
FULL = TILE_WIDTH * HASH


class Problem(NamedTuple):
    """What an index holds that the log does not: V4's finding, in both languages."""

    position: int | None  # the first event it concerns, if any
    until: int | None  # a range's end, if it spans one
    en: str
    vi: str


NonceKey = tuple[str, str, bytes]  # actor, nonce, SHA-256 of the canonical statement


class TileStore(Protocol):
    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]: ...
    def tile_keys(self) -> Iterable[TileKey]: ...


class NonceStore(Protocol):
    def nonce_rows(self, nonces: Sequence[str]) -> list[NonceRow]: ...
    def nonce_rows_in_order(self) -> Iterator[NonceRow] | None: ...
    def count_nonces(self) -> int: ...
    def nonce_anomaly(self, size: int) -> int | None: ...


def node_position(level: int, index: int, size: int) -> tuple[int, int | None]:
    """Where a node's hash places a problem in a tree of ``size`` leaves: a leaf's
    position; the range of leaves under an inner node; the log's size for a node the
    tree does not have."""
    # A stored key is untrusted: a level of 2**48 would make ``index << level`` a number
    # of 2**48 bits. No node of a tree of ``size`` leaves is that high, or at a negative
    # index.
    if index < 0 or level < 0 or level > size.bit_length():
        return size, None
    start, end = index << level, (index + 1) << level
    if end > size:
        return size, None
    return start, (end if level else None)


def statement_digest(statement_bytes: bytes) -> bytes:
    return hashlib.sha256(statement_bytes).digest()


class StoredTiles:
    """The tree recomputed from the events, and the stored tiles held to it."""

    def __init__(self) -> None:
        self.tree = TreeBuilder.empty()
        self.checked = 0
        self._edges: dict[int, tuple[TileKey, bytes]] = {}  # level → right-edge tile so far

    def compare(self, store: TileStore) -> list[Problem]:
        """After a page of leaves: every tile that changed, against the stored one."""
        dirty = self.tree.take_dirty()
        if not dirty:
            return []
        stored = store.read_tiles(dirty)
        problems = []
        for key, data in sorted(dirty.items()):
            complete = len(data) == FULL
            if complete and self._edges.get(key[0], (None,))[0] == key:
                del self._edges[key[0]]
            elif not complete:
                self._edges[key[0]] = (key, data)
            problems += self._differ(key, data, stored.get(key), exact=complete)
        return problems

    def finish(self, store: TileStore) -> list[Problem]:
        """At the end: the right-edge tiles exactly, and no tile the tree lacks."""
        edges = dict(self._edges.values())
        stored = store.read_tiles(edges)
        problems = []
        for key, data in sorted(edges.items()):
            problems += self._differ(key, data, stored.get(key), exact=True)
        expected = set(expected_tiles(self.tree.size))
        for level, index in sorted(set(store.tile_keys()) - expected):
            position, _ = node_position(level * TILE_HEIGHT, index * TILE_WIDTH, self.tree.size)
            problems.append(
                Problem(
                    position,
                    None,
                    f"a stored tile {level}/{index} that the tree does not have",
                    f"ô {level}/{index} được lưu nhưng cây Merkle không có",
                )
            )
        return problems

    def _differ(
        self, key: TileKey, data: bytes, stored: bytes | None, exact: bool
    ) -> list[Problem]:
        self.checked += 1
        found = stored or b""
        same = found == data if exact else found[: len(data)] == data
        if same:
            return []
        first = next(
            (
                i
                for i in range(0, min(len(found), len(data)), HASH)
                if found[i : i + HASH] != data[i : i + HASH]
            ),
            min(len(found), len(data)),
        )
        level, index = key
        node = index * TILE_WIDTH + first // HASH
        what = "missing" if stored is None else "differs"
        return [
            Problem(
                *node_position(level * TILE_HEIGHT, node, self.tree.size),
                f"stored tile {level}/{index} {what} from the tree at hash {first // HASH}",
                f"ô {level}/{index} lưu trữ khác cây Merkle tại băm thứ {first // HASH}",
            )
        ]


def expected_tiles(size: int) -> Iterable[TileKey]:
    """Every tile a tree of ``size`` leaves stores."""
    level, nodes = 0, size
    while nodes:
        yield from ((level, i) for i in range((nodes + TILE_WIDTH - 1) // TILE_WIDTH))
        level, nodes = level + 1, nodes >> TILE_HEIGHT


class NonceIndex:
    """Each event's (actor, nonce) row, and no other rows.

    Where the store reads its rows in the order written (``nonce_rows_in_order``), a page
    whose rows come next in that order, exactly its events' own, needs no lookup: with
    every event's own row found so and as many rows as events (``finish``), there is no
    other row. From the first page that differs on, every page's rows are looked up by
    nonce, which names what is wrong."""

    def __init__(self) -> None:
        self.checked = 0
        self._in_order: Iterator[NonceRow] | None = None
        self._started = False

    def compare(
        self, store: NonceStore, page: Sequence[tuple[int, NonceKey | None]]
    ) -> list[Problem]:
        keys = [(p, key) for p, key in page if key is not None]
        if not self._started:
            self._started = True
            self._in_order = store.nonce_rows_in_order()
        if self._in_order is not None:
            rows_due = [(actor, nonce, digest, p) for p, (actor, nonce, digest) in keys]
            if list(islice(self._in_order, len(rows_due))) == rows_due:
                self.checked += len(keys)
                return []
            self._in_order = None  # out of step: look each page up from here on
        found = store.nonce_rows(sorted({k[1] for _, k in keys}))
        expected = {(actor, nonce, digest, p) for p, (actor, nonce, digest) in keys}
        if (
            len(found) == len(expected) == len({(a, n) for a, n, _, _ in expected})
            and set(found) == expected
        ):
            # The usual page: one row per event, its own, and each (actor, nonce) once.
            # Nothing below could find a problem.
            self.checked += len(keys)
            return []
        rows: dict[tuple[str, str], list[tuple[bytes, int]]] = {}
        for actor, nonce, digest, idx in found:
            rows.setdefault((actor, nonce), []).append((bytes(digest), idx))
        problems: list[Problem] = []
        for position, (actor, nonce, digest) in keys:
            self.checked += 1
            claims = rows.get((actor, nonce), [])
            own = [d for d, idx in claims if idx == position]
            if own != [digest]:
                problems.append(
                    Problem(
                        position,
                        None,
                        "the nonce index has no row for this statement at this position"
                        if not own
                        else "the nonce index holds another statement digest for this event",
                        "chỉ mục nonce không ghi đúng tuyên bố này tại vị trí này",
                    )
                )
            for _, idx in claims:
                if idx != position:
                    # Of two events claiming one nonce, the later is the repeat.
                    at, earlier = max(idx, position), min(idx, position)
                    problems.append(
                        Problem(
                            at,
                            None,
                            f"the statement's (actor, nonce) is also indexed at position {earlier}",
                            f"cặp (người thực hiện, nonce) cũng được ghi tại vị trí {earlier}",
                        )
                    )
        return problems

    def finish(self, store: NonceStore, size: int) -> list[Problem]:
        count = store.count_nonces()
        if count == size:
            return []
        position = store.nonce_anomaly(size) if count > size else None
        return [
            Problem(
                position,
                None,
                f"the nonce index holds {count} rows for {size} events",
                f"chỉ mục nonce có {count} dòng cho {size} sự kiện",
            )
        ]
