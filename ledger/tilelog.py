"""The log as C2SP tlog-tiles resources: what ``/v1/log/tile/…`` serves, what
``cadreledger tiles export`` writes and what ``cadreledger follow --transport tiles`` reads.

Three kinds of resource, under a log's prefix (``/v1/log/`` on the service):

- ``tile/<L>/<N>[.p/<W>]`` — Merkle tree hashes, exactly as C2SP tlog-tiles says (and as
  ``ledger_tiles`` stores them, ``ledger.tiles``);
- ``tile/entries/<N>[.p/<W>]`` — entry bundles: the log's *entries*, each a big-endian
  uint16 length and the entry. This log's entry is the 32-byte **event hash**: its
  RFC 6962 leaf hash SHA-256(0x00 ‖ event hash) is the level-0 tile's hash, so any
  generic tlog-tiles client checks bundles against the tree;
- ``tile/envelopes/<N>[.p/<W>]`` — envelope bundles: the stored envelope of each
  position, a big-endian **uint32** length and the envelope bytes (an envelope may
  exceed a uint16). SHA-256(envelope) is the bundle's entry at the same position.
  C2SP lets a log serve entries in another encoding at another URL than the entry
  bundle's; this is that. Envelopes carry statements (scores, votes, before
  publication too), so they are read under the same rule as ``/v1/log/entries``.

A tile's index ``N`` is written in 3-digit path elements, every one but the last
prefixed with ``x`` (1234067 → ``x001/x234/067``); ``.p/<W>`` names a partial tile of
``W`` (1…255) hashes or entries, a prefix of the full one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol

from ledger.envelope import event_hash
from ledger.store import Entry
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey

HASH_SIZE = 32
MAX_LEVEL = 63
ENTRIES, ENVELOPES = "entries", "envelopes"

# What the OpenAPI document states for the ``{index}`` of a tile path.
INDEX_PATTERN = r"^(x[0-9]{3}/)*[0-9]{3}(\.p/([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$"
LEVEL_PATTERN = r"^([0-9]|[1-5][0-9]|6[0-3])$"
_INDEX = re.compile(INDEX_PATTERN)

FULL_CACHE = "public, max-age=31536000, immutable"
# A partial tile of a given width never changes either, but it is a passing resource
# (the log may drop it once the full one exists): kept a minute, not a year.
PARTIAL_CACHE = "public, max-age=60"
# Envelopes are read with a token: a browser may keep them, a shared cache never.
PRIVATE_FULL_CACHE = "private, max-age=31536000, immutable"
PRIVATE_PARTIAL_CACHE = "private, max-age=60"


class TileIndexError(ValueError):
    """Not a tile index as C2SP tlog-tiles spells it."""


def format_index(index: int, width: int | None = None) -> str:
    """``N`` (and ``.p/W``) as path elements: 1234067 → ``x001/x234/067``."""
    if index < 0:
        raise TileIndexError("a tile index is never negative")
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    text = "/".join(["x" + p for p in parts[:-1]] + parts[-1:])
    if width is not None and width < TILE_WIDTH:
        if width < 1:
            raise TileIndexError("a partial tile holds 1 to 255 items")
        text += f".p/{width}"
    return text


def parse_index(text: str) -> tuple[int, int | None]:
    """``format_index``'s inverse: (index, width of a partial tile or None).

    One spelling per index: ``x000/001`` is refused (not ``001``), as C2SP's path
    elements are as many as the number needs."""
    if not _INDEX.fullmatch(text):
        raise TileIndexError(f"not a tile index: {text!r}")
    path, _, width = text.partition(".p/")
    index = int(path.replace("x", "").replace("/", ""))
    if format_index(index) != path:
        raise TileIndexError(f"not the one spelling of tile index {index}: {text!r}")
    return index, int(width) if width else None


def tile_path(level: int, index: int, width: int | None = None) -> str:
    return f"tile/{level}/{format_index(index, width)}"


def bundle_path(kind: str, index: int, width: int | None = None) -> str:
    return f"tile/{kind}/{format_index(index, width)}"


def tiles_of(size: int) -> Iterator[tuple[int, int, int]]:
    """Every tile a tree of ``size`` leaves has, as (level, index, width), full ones
    with width 256; level by level, left to right."""
    level = 0
    while True:
        count = size >> (TILE_HEIGHT * level)  # hashes at this tile level
        if count == 0:
            return
        full, partial = divmod(count, TILE_WIDTH)
        for index in range(full):
            yield level, index, TILE_WIDTH
        if partial:
            yield level, full, partial
        level += 1


def width_at(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) has in a tree of ``size`` (0: none yet)."""
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - TILE_WIDTH * index))


# -- bundles ----------------------------------------------------------------------------


def encode_entries(hashes: Sequence[bytes]) -> bytes:
    """An entry bundle: each event hash as a uint16-length-prefixed tlog entry."""
    return b"".join(len(h).to_bytes(2, "big") + h for h in hashes)


def encode_envelopes(envelopes: Sequence[bytes]) -> bytes:
    """An envelope bundle: each envelope, uint32-length-prefixed."""
    return b"".join(len(e).to_bytes(4, "big") + e for e in envelopes)


def decode_entries(data: bytes) -> list[bytes]:
    return _decode(data, 2)


def decode_envelopes(data: bytes) -> list[bytes]:
    return _decode(data, 4)


def _decode(data: bytes, prefix: int) -> list[bytes]:
    items, at = [], 0
    while at < len(data):
        if at + prefix > len(data):
            raise ValueError("a bundle ends inside a length prefix")
        length = int.from_bytes(data[at : at + prefix], "big")
        at += prefix
        if at + length > len(data):
            raise ValueError("a bundle ends inside an entry")
        items.append(data[at : at + length])
        at += length
    return items


# -- reading them from a store ----------------------------------------------------------


class LogRows(Protocol):
    """What the resources are read from (``ledger.store.LogStore``)."""

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]: ...

    def entries(self, start: int, limit: int) -> list[Entry]: ...


class TileResources:
    """The tlog-tiles resources of a stored log of ``size`` leaves (the signed size:
    nothing beyond it is given, so a reader never sees what no checkpoint covers)."""

    def __init__(self, rows: LogRows) -> None:
        self.rows = rows

    def hash_tile(self, level: int, index: int, width: int | None, size: int) -> bytes | None:
        want = width or TILE_WIDTH
        if not 0 <= level <= MAX_LEVEL or width_at(level, index, size) < want:
            return None
        data = self.rows.read_tiles([(level, index)]).get((level, index), b"")
        if len(data) < HASH_SIZE * want:
            return None
        return data[: HASH_SIZE * want]

    def envelopes(self, index: int, width: int | None, size: int) -> list[bytes] | None:
        """The envelopes of bundle ``index`` (its first ``width``), or None if the log
        of ``size`` does not have them all."""
        want = width or TILE_WIDTH
        if width_at(0, index, size) < want:
            return None
        start = index * TILE_WIDTH
        rows = self.rows.entries(start, want)
        if [r[0] for r in rows] != list(range(start, start + want)):
            return None
        return [r[3] for r in rows]

    def bundle(self, kind: str, index: int, width: int | None, size: int) -> bytes | None:
        envelopes = self.envelopes(index, width, size)
        if envelopes is None:
            return None
        if kind == ENVELOPES:
            return encode_envelopes(envelopes)
        return encode_entries([event_hash(e) for e in envelopes])
