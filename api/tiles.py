"""The log as C2SP tlog-tiles, under ``/v1/log/``: hash tiles, entry bundles, envelope bundles.

With ``/v1/log/checkpoint`` these are what an off-the-shelf tlog-tiles client reads to
follow the log without any proof endpoint: ``tile/<L>/<N>`` and ``tile/entries/<N>``
are public (event hashes only: nothing personal), full ones cacheable for a year.
``tile/envelopes/<N>`` carries the statements and is read like ``/v1/log/entries``.
Formats: ``ledger/tilelog.py``; ``cadreledger tiles export`` writes the same tree as
files, for a static server or an object store.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from api.depends import LedgerDep
from api.problems import PROBLEM
from ledger.errors import NOT_FOUND, Rejected
from ledger.tilelog import (
    ENTRIES,
    ENVELOPES,
    FULL_CACHE,
    INDEX_PATTERN,
    LEVEL_PATTERN,
    PARTIAL_CACHE,
    PRIVATE_FULL_CACHE,
    PRIVATE_PARTIAL_CACHE,
    parse_index,
)

OCTETS = "application/octet-stream"
_INDEX_DOC = (
    "the tile index N in 3-digit path elements, all but the last prefixed with `x` "
    "(1234067: `x001/x234/067`), then `.p/W` for a partial tile of W (1–255)"
)
Index = Annotated[str, Path(pattern=INDEX_PATTERN, description=_INDEX_DOC)]


def _binary(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
    }


def _absent(what: str) -> Rejected:
    return Rejected(
        NOT_FOUND,
        f"Sổ cái chưa có {what} này (chưa có checkpoint nào cần đến).",
        f"The log has no such {what} (no checkpoint needs it yet).",
    )


def _answer(data: bytes, partial: bool, private: bool = False) -> Response:
    if private:
        cache = PRIVATE_PARTIAL_CACHE if partial else PRIVATE_FULL_CACHE
    else:
        cache = PARTIAL_CACHE if partial else FULL_CACHE
    return Response(data, media_type=OCTETS, headers={"Cache-Control": cache})


def _index(text: str, what: str) -> tuple[int, int | None]:
    try:
        return parse_index(text)
    except ValueError as e:
        raise _absent(what) from e


router = APIRouter(prefix="/v1/log/tile", tags=["log"])


# Before the hash tiles' route: its {level} would take "entries" for a level.
@router.get(
    "/entries/{bundle:path}",
    response_class=Response,
    responses={200: _binary("uint16-length-prefixed event hashes"), 404: PROBLEM},
)
def entry_bundle(ledger: LedgerDep, bundle: Index) -> Response:
    """C2SP tlog-tiles entry bundle: the log entries at positions 256·N … (each the
    32-byte event hash, big-endian uint16 length first). Each entry's RFC 6962 leaf
    hash, SHA-256(0x00 ‖ entry), is the level-0 tile's hash at that position."""
    index, width = _index(bundle, "entry bundle")
    data = ledger.tiles.bundle(ENTRIES, index, width, ledger.size())
    if data is None:
        raise _absent("entry bundle")
    return _answer(data, width is not None)


@router.get(
    "/envelopes/{bundle:path}",
    response_class=Response,
    responses={200: _binary("uint32-length-prefixed envelopes"), 404: PROBLEM},
)
def envelope_bundle(ledger: LedgerDep, bundle: Index) -> Response:
    """The stored envelopes at positions 256·N … (big-endian uint32 length, then the
    envelope's canonical JSON); SHA-256 of each is the entry bundle's entry. Carries
    every statement: read as `/v1/log/entries` is."""
    index, width = _index(bundle, "envelope bundle")
    data = ledger.tiles.bundle(ENVELOPES, index, width, ledger.size())
    if data is None:
        raise _absent("envelope bundle")
    return _answer(data, width is not None, private=True)


@router.get(
    "/{level}/{index:path}",
    response_class=Response,
    responses={200: _binary("32-byte Merkle tree hashes"), 404: PROBLEM},
)
def hash_tile(
    ledger: LedgerDep,
    level: Annotated[
        str, Path(pattern=LEVEL_PATTERN, description="the tile level, 0–63, in decimal")
    ],
    index: Index,
) -> Response:
    """C2SP tlog-tiles Merkle tree tile: 256 hashes (8,192 bytes), or W of a partial
    tile; level 0 holds leaf hashes, level L the roots of full level L-1 tiles."""
    number, width = _index(index, "tile")
    data = ledger.tiles.hash_tile(int(level), number, width, ledger.size())
    if data is None:
        raise _absent("tile")
    return _answer(data, width is not None)
