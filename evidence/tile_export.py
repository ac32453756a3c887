"""``cadreledger tiles export DIR``: the log as static C2SP tlog-tiles files.

DIR gets exactly the paths the service serves under ``/v1/log/``: ``checkpoint``,
``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]`` and, when asked for,
``tile/envelopes/<N>[.p/<W>]`` (``ledger/tilelog.py``). Any static web server, object
store or CDN in front of DIR then serves the log to every reader, the writer untouched
(the Tessera/Sunlight model of read scale-out).

Incremental: a resource already in DIR is never written again (full tiles and bundles
never change; a partial one of another width has another name). Each file is written
whole under a temporary name and renamed, and the checkpoint last, so a reader never
finds a checkpoint whose tiles are not there yet. Before writing, the export checks
what it publishes: DIR's old checkpoint must be signed by this log and its root must be
this database's root at that size (else DIR and the database are two different logs,
and nothing is written); the tiles must give the signed root; each entry's leaf hash
must be the level-0 tile's hash.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.checkpoint import CheckpointError
from ledger.envelope import event_hash
from ledger.merkle import leaf_hash, root_at
from ledger.tilelog import (
    ENTRIES,
    ENVELOPES,
    HASH_SIZE,
    TileResources,
    bundle_path,
    encode_entries,
    encode_envelopes,
    tile_path,
    tiles_of,
)
from ledger.tiles import TILE_WIDTH

if TYPE_CHECKING:
    from evidence.log import EvidencedLog


__all__ = ["ExportError", "Exported", "export_tiles"]


class ExportError(Exception):
    """What would be published does not check out (exit 1): nothing more is written."""


@dataclass
class Exported:
    size: int
    previous: int
    tiles: int = 0
    bundles: int = 0

    @property
    def files(self) -> int:
        return self.tiles + self.bundles


def export_tiles(
    ledger: EvidencedLog,
    directory: Path,
    *,
    envelopes: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> Exported:
    """Bring DIR up to the ledger's latest checkpoint; what was written."""
    latest = ledger.store.latest_checkpoint()
    if latest is None:
        raise ExportError("the database holds no checkpoint")
    size, note = latest
    try:
        checkpoint = ledger.log_keys.open(note)
    except CheckpointError as e:
        raise ExportError(f"the database's latest checkpoint does not verify: {e}") from e
    previous = _previous(ledger, directory)
    if previous > size:
        raise ExportError(
            f"{directory} holds a checkpoint of size {previous}, beyond this database's {size}"
        )
    if root_at(size, ledger.reader) != checkpoint.root:
        raise ExportError(f"the stored tiles do not give the signed root at size {size}")
    done = Exported(size, previous)
    resources = TileResources(ledger.store)
    for level, index, width in tiles_of(size):
        path = directory / tile_path(level, index, width)
        if path.exists():
            continue
        data = resources.hash_tile(level, index, width if width < TILE_WIDTH else None, size)
        if data is None:
            raise ExportError(f"tile {level}/{index} (width {width}) is not stored")
        _write(path, data)
        done.tiles += 1
    kinds = (ENTRIES, ENVELOPES) if envelopes else (ENTRIES,)
    for level, index, width in tiles_of(size):
        if level > 0:
            break
        partial = width if width < TILE_WIDTH else None
        paths = {kind: directory / bundle_path(kind, index, partial) for kind in kinds}
        if all(p.exists() for p in paths.values()):
            continue
        stored = resources.envelopes(index, partial, size)
        if stored is None:
            raise ExportError(f"positions {index * TILE_WIDTH}… are not all stored")
        hashes = [event_hash(e) for e in stored]
        _check_leaves(resources, index, partial, size, hashes)
        for kind, path in paths.items():
            if not path.exists():
                data = encode_entries(hashes) if kind == ENTRIES else encode_envelopes(stored)
                _write(path, data)
                done.bundles += 1
        if index % 64 == 63:
            say(f"đã xuất / exported {(index + 1) * TILE_WIDTH} of {size} positions")
    if previous != size or not (directory / "checkpoint").exists():
        _write(directory / "checkpoint", note.encode())
    return done


def _previous(ledger: EvidencedLog, directory: Path) -> int:
    """The size DIR was exported at (0 for a new DIR), checked to be this log's."""
    path = directory / "checkpoint"
    if not path.exists():
        return 0
    try:
        old = ledger.log_keys.open(path.read_text(encoding="utf-8"))
    except (CheckpointError, UnicodeDecodeError) as e:
        raise ExportError(f"{path} is not a checkpoint of this log: {e}") from e
    if 0 < old.size <= ledger.size() and root_at(old.size, ledger.reader) != old.root:
        raise ExportError(
            f"{path} (size {old.size}) has another root than this database at that size: "
            "they are two different logs"
        )
    return old.size


def _check_leaves(
    resources: TileResources, index: int, width: int | None, size: int, hashes: list[bytes]
) -> None:
    tile = resources.hash_tile(0, index, width, size)
    if tile is None or [tile[i : i + HASH_SIZE] for i in range(0, len(tile), HASH_SIZE)] != [
        leaf_hash(h) for h in hashes
    ]:
        raise ExportError(
            f"the stored envelopes at positions {index * TILE_WIDTH}… do not hash to the tree"
        )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
