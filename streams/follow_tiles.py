"""``cadreledger follow --transport tiles``: follow the log through C2SP tlog-tiles.

The URL is the log's tile *prefix*: the service's ``…/v1/log``, wherever ``cadreledger
tiles export`` was published (a static server, an object store, a CDN), or a local
directory. Nothing but the pinned log key is trusted, and no proof endpoint is asked:

1. the checkpoint must be signed by the log key; a new one must be consistent with the
   last one accepted, by an RFC 9162 consistency proof the follower computes itself
   from the hash tiles of the new tree (``tile/<L>/<N>``);
2. the entry bundles (``tile/entries/<N>``, the event hashes) from the last position
   handled up to the checkpoint's size, folded onto the tree the follower kept, must
   give the checkpoint's signed root: every entry is then the log's, in its place;
3. only then each envelope (``tile/envelopes/<N>``) is read: SHA-256(envelope) must be
   the entry at its position, its statement's Ed25519 signature must verify with its
   signer's key; then it is handed on (the same CloudEvent the feed gives).

Filters (type, cycle, unit) choose what is written out; every event is checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from ledger.envelope import EnvelopeError, Event, event_hash
from ledger.merkle import ProofError, consistency_proof, leaf_hash, verify_consistency
from ledger.tilelog import (
    ENTRIES,
    ENVELOPES,
    HASH_SIZE,
    bundle_path,
    decode_entries,
    decode_envelopes,
    tile_path,
    width_at,
)
from ledger.tiles import TILE_WIDTH, TileHashReader, TileKey
from streams.feed import CYCLE_OPENED, CycleUnits, FeedEvent, FeedFilter
from streams.follow import SAVE_EVERY, CannotFollow, Discrepancy, Follower, forked

__all__ = ["BUSY_RETRIES", "POLL", "Fetch", "TileFollower", "fetcher"]

POLL = 1.0  # seconds between looks at the checkpoint once caught up
BUSY_RETRIES = 8  # answers of 429 or 5xx waited out before giving up (exit 2)

Fetch = Callable[[str], bytes | None]  # a resource under the prefix, or None: not there


def fetcher(url: str, http: httpx.Client, retrying: Callable[..., httpx.Response]) -> Fetch:
    """How to read resources under ``url``: HTTP(S), or files of a local directory."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        prefix = url.rstrip("/") + "/"

        def get(path: str) -> bytes | None:
            response = retrying(lambda: http.get(prefix + path))
            for attempt in range(BUSY_RETRIES):  # rate-limited or busy: not the log's fault
                if not _busy(response):
                    break
                time.sleep(_retry_after(response, attempt))
                response = retrying(lambda: http.get(prefix + path))
            if _busy(response):
                raise CannotFollow(f"{prefix + path} still answers {response.status_code}")
            if response.status_code == 404:
                return None
            if response.status_code in (401, 403):
                raise CannotFollow(
                    f"{prefix + path} answered {response.status_code}: envelope bundles "
                    "need a token (--token) with the right to read the whole log"
                )
            if response.status_code != 200:
                raise Discrepancy(
                    "tiles",
                    f"Máy chủ trả lời {response.status_code} cho {path}.",
                    f"The server answered {response.status_code} for {path}.",
                )
            return response.content

        return get
    root = Path(unquote(parsed.path) if parsed.scheme == "file" else url)
    if not root.is_dir():
        raise CannotFollow(f"{url}: neither an http(s) URL nor a directory")

    def read(path: str) -> bytes | None:
        try:
            return (root / path).read_bytes()
        except FileNotFoundError:
            return None

    return read


def _busy(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """What the server asked for (Retry-After, in seconds), else a growing pause."""
    try:
        return min(30.0, max(0.0, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return min(30.0, 0.2 * (1 << attempt))


class _RemoteTiles:
    """``ledger.tiles.TileSource`` over fetched tiles of a tree of ``size``."""

    def __init__(self, fetch: Fetch, size: int) -> None:
        self.fetch, self.size = fetch, size

    def read_tiles(self, keys: Any) -> dict[TileKey, bytes]:
        found = {}
        for level, index in keys:
            width = width_at(level, index, self.size)
            if width == 0:
                continue
            data = _partial_or_full(self.fetch, tile_path, level, index, width)
            if data is not None and len(data) >= HASH_SIZE * width:
                found[(level, index)] = data[: HASH_SIZE * width]
        return found


def _partial_or_full(fetch: Fetch, path_of: Any, kind: Any, index: int, width: int) -> bytes | None:
    """A tile or bundle of ``width``: its partial version, or the full one it grew into
    (C2SP lets a log drop a partial tile once the full one exists)."""
    if width < TILE_WIDTH:
        data = fetch(path_of(kind, index, width))
        if data is not None:
            return data
    return fetch(path_of(kind, index))


class TileFollower(Follower):
    def __init__(self, url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(url, *args, **kwargs)
        self.fetch = fetcher(url, self.http, self._retrying)
        if self.tree.size != self.state.position + 1:
            raise CannotFollow(
                f"{self.state_path} was not kept by a follower that checks every event "
                "(made with filters and another transport): start a new state file"
            )
        self.wanted = FeedFilter.from_json(self.filters)
        self.units = CycleUnits()
        self.units.by_cycle = self.state.units

    # -- checkpoints: consistency from the hash tiles -----------------------------------

    def refresh_checkpoint(self) -> None:
        data = self.fetch("checkpoint")
        if data is None:
            raise Discrepancy(
                "checkpoint", "Không có checkpoint ở địa chỉ này.", "There is no checkpoint here."
            )
        note = data.decode("utf-8", errors="replace")
        new = self._open(note)
        old = self.checkpoint
        if old is not None and old.size > 0:
            try:
                if new.size < old.size:
                    raise ProofError(f"the log shrank from {old.size} to {new.size}")
                proof: list[bytes] = []
                if new.size > old.size:
                    reader = TileHashReader(_RemoteTiles(self.fetch, new.size))
                    proof = consistency_proof(old.size, new.size, reader)
                verify_consistency(old.size, new.size, old.root, new.root, proof)
            except LookupError as e:  # a tile the new checkpoint needs is not served
                raise Discrepancy(
                    "tiles",
                    f"Thiếu tile mà checkpoint {new.size} cần: {e}",
                    f"A tile checkpoint {new.size} needs is not served: {e}",
                ) from e
            except ProofError as e:
                raise forked(old.size, new.size, e) from e
        self.checkpoint = new
        self.state.checkpoint = note

    # -- the loop -----------------------------------------------------------------------

    def run(self, *, until: int | None = None, once: bool = False) -> int:
        """Follow until position ``until - 1`` is handled (or, with ``once``, until
        caught up with the checkpoint); how many events were handled."""
        try:
            self.refresh_checkpoint()
            while not self._finished(until):
                self._catch_up(until)
                if once or self._finished(until):
                    break
                self.save()
                time.sleep(POLL)
                self.refresh_checkpoint()
        finally:
            self.save()
        return self.done

    def _finished(self, until: int | None) -> bool:
        return until is not None and self.state.position >= until - 1

    def _catch_up(self, until: int | None) -> None:
        assert self.checkpoint is not None
        size, start = self.checkpoint.size, self.state.position + 1
        if start >= size:
            return
        hashes = self._entries(start, size)
        work = self.tree.copy()
        for h in hashes:
            work.append(leaf_hash(h))
        if work.root() != self.checkpoint.root:
            raise Discrepancy(
                "inclusion",
                f"Gốc Merkle của các mục từ {start} đến {size} khác checkpoint đã ký.",
                f"The Merkle root over the entries {start}…{size - 1} differs from the "
                "signed checkpoint.",
                start,
            )
        for index, raw in self._envelopes(start, size):
            self._handle(index, raw, hashes[index - start])
            if self._finished(until):
                return

    def _handle(self, index: int, raw: bytes, entry: bytes) -> None:
        if event_hash(raw) != entry:
            raise Discrepancy(
                "event-hash",
                "SHA-256 của phong bì khác mục (mã băm sự kiện) ở vị trí này trong cây.",
                "The envelope's SHA-256 is not the entry (event hash) at its position.",
                index,
                entry.hex(),
            )
        try:
            parsed = Event.parse(raw)
        except EnvelopeError as e:
            raise Discrepancy(
                "envelope",
                f"Phong bì sự kiện không đúng dạng: {e}",
                f"The event envelope is malformed: {e}",
                index,
                entry.hex(),
            ) from e
        event = FeedEvent(index, parsed.stream, parsed.version, raw)
        verified = self.check(event.cloud_event(self.key.name), [])
        self.tree.append(leaf_hash(entry))
        self._note_unit(event)
        if self.wanted.matches(event, self.units):
            self._emit(verified)
        else:
            self.state.position = index
        if time.monotonic() - self._saved_at >= SAVE_EVERY:
            self.save()

    def _note_unit(self, e: FeedEvent) -> None:
        if e.type == CYCLE_OPENED and e.cycle and e.stream == f"cycle/{e.cycle}":
            unit = e.statement.get("unit")
            if isinstance(unit, str):
                self.units.by_cycle.setdefault(e.cycle, unit)

    # -- bundles ------------------------------------------------------------------------

    def _bundles(self, kind: str, start: int, size: int) -> Iterator[tuple[int, list[bytes]]]:
        """(first position, items) of each bundle holding positions start … size-1."""
        decode = decode_entries if kind == ENTRIES else decode_envelopes
        for index in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
            width = width_at(0, index, size)
            data = _partial_or_full(self.fetch, bundle_path, kind, index, width)
            if data is None:
                raise Discrepancy(
                    "tiles",
                    f"Thiếu {bundle_path(kind, index, width)} mà checkpoint {size} cần.",
                    f"{bundle_path(kind, index, width)} is missing; checkpoint {size} needs it.",
                    index * TILE_WIDTH,
                )
            try:
                items = decode(data)
            except ValueError as e:
                items = []
                reason = str(e)
            else:
                reason = f"{len(items)} items, {width} needed"
            if len(items) < width:
                raise Discrepancy(
                    "tiles",
                    f"{bundle_path(kind, index, width)} không đúng dạng ({reason}).",
                    f"{bundle_path(kind, index, width)} is malformed ({reason}).",
                    index * TILE_WIDTH,
                )
            yield index * TILE_WIDTH, items[:width]

    def _entries(self, start: int, size: int) -> list[bytes]:
        hashes: list[bytes] = []
        for first, items in self._bundles(ENTRIES, start, size):
            for offset, h in enumerate(items):
                if first + offset >= start:
                    if len(h) != HASH_SIZE:
                        raise Discrepancy(
                            "tiles",
                            "Một mục không phải mã băm 32 byte.",
                            "An entry is not a 32-byte event hash.",
                            first + offset,
                        )
                    hashes.append(h)
        return hashes

    def _envelopes(self, start: int, size: int) -> Iterator[tuple[int, bytes]]:
        for first, items in self._bundles(ENVELOPES, start, size):
            for offset, raw in enumerate(items):
                if first + offset >= start:
                    yield first + offset, raw
