"""``cadreledger follow``: a subscriber that trusts nothing but the log's key.

It reads a running service's events (SSE, or pages of the feed) and, before it hands
an event on, checks it: the envelope's form and hash, the statement's Ed25519
signature by its signer, the position (no gap, no repeat), and the event's inclusion
in a checkpoint signed by the pinned log key. Every new checkpoint must be consistent
with the previous one (RFC 9162 consistency proof from ``/v1/log/proof/consistency``).

Unfiltered, it rebuilds the tree itself: the root over every event it received must
equal the signed root at each checkpoint size (one hash per event, no proof
requests); only when they differ does it ask for inclusion proofs, to name the event.
Filtered, it asks for an inclusion proof per event.

State (position, last checkpoint, the tree's right border, the output's length) lives
in a JSON file, written atomically after the output is synced, so that a follower
killed at any point resumes with every event in its output exactly once.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.envelope import EnvelopeError, Event
from ledger.keys import VerifierKey
from ledger.merkle import CompactRange, ProofError, leaf_hash, verify_consistency, verify_inclusion

__all__ = [
    "SAVE_EVERY",
    "STATE_VERSION",
    "CannotFollow",
    "Discrepancy",
    "Follower",
    "State",
    "Verified",
    "forked",
]

STATE_VERSION = 1
SAVE_EVERY = 1.0  # seconds between state saves while events flow


class Discrepancy(Exception):
    """What the service sent does not check out: the follower must stop."""

    def __init__(
        self, check: str, vi: str, en: str, position: int | None = None, event: str | None = None
    ) -> None:
        super().__init__(en)
        self.check, self.vi, self.en = check, vi, en
        self.position, self.event = position, event

    def __str__(self) -> str:
        where = ""
        if self.position is not None:
            where += f" position {self.position}"
        if self.event:
            where += f" event {self.event}"
        return (
            f"KHÔNG ĐẠT / FAIL: check {self.check!r} at{where or ' the log'}\n"
            f"  {self.vi}\n  {self.en}"
        )


def forked(old: int, new: int, error: Exception) -> Discrepancy:
    """Checkpoint ``new`` does not extend the accepted checkpoint ``old``."""
    return Discrepancy(
        "consistency",
        f"Checkpoint {new} không nhất quán với checkpoint {old} đã nhận "
        f"(sổ cái bị rẽ nhánh hoặc viết lại): {error}",
        f"Checkpoint {new} is not consistent with the accepted checkpoint "
        f"{old} (a forked or rewritten log): {error}",
    )


class CannotFollow(Exception):
    """Bad arguments or local state: exit 2, nothing about the log is claimed."""


@dataclass
class State:
    url: str
    log_key: str
    filters: dict[str, Any]
    position: int = -1
    checkpoint: str | None = None
    tree_size: int = 0
    tree_hashes: list[str] = field(default_factory=list)
    output_bytes: int = 0
    units: dict[str, str] = field(default_factory=dict)  # cycle -> unit (tiles transport)

    def to_json(self) -> dict[str, Any]:
        return {"v": STATE_VERSION, **self.__dict__}

    @classmethod
    def load(cls, path: Path) -> State | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if data.pop("v") != STATE_VERSION:
                raise ValueError("unknown state version")
            return cls(**data)
        except (ValueError, TypeError, KeyError) as e:
            raise CannotFollow(f"{path}: not a follower state file ({e})") from e

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w") as f:
            json.dump(self.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)


@dataclass
class Verified:
    """A checked event, as received (the CloudEvent) and as parsed."""

    index: int
    event: Event
    cloud: dict[str, Any]


class Follower:
    def __init__(
        self,
        url: str,
        log_key: VerifierKey,
        state_path: Path,
        *,
        output: Path | None = None,
        filters: dict[str, Any] | None = None,
        transport: str = "sse",
        client: httpx.Client | None = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.url = url.rstrip("/")
        self.key = log_key
        self.state_path = state_path
        self.output_path = output
        self.filters = {k: v for k, v in (filters or {}).items() if v}
        self.transport = transport
        self.http = client or httpx.Client(timeout=httpx.Timeout(10.0, read=60.0))
        self.say = say
        self.state = self._load()
        self.tree = CompactRange(
            self.state.tree_size, [base64.b64decode(h) for h in self.state.tree_hashes]
        )
        self.checkpoint: Checkpoint | None = (
            self._open(self.state.checkpoint) if self.state.checkpoint else None
        )
        self.out: BinaryIO | None = self._open_output()
        self.done = 0
        self._saved_at = time.monotonic()

    # -- state ------------------------------------------------------------------------

    def _load(self) -> State:
        state = State.load(self.state_path)
        if state is None:
            return State(self.url, str(self.key), self.filters)
        if state.log_key != str(self.key):
            raise CannotFollow(f"{self.state_path} belongs to another log key ({state.log_key})")
        if state.filters != self.filters:
            raise CannotFollow(f"{self.state_path} was made with other filters ({state.filters})")
        return state

    def _open_output(self) -> BinaryIO | None:
        if self.output_path is None:
            return None
        out = self.output_path.open("ab+")
        length = out.seek(0, os.SEEK_END)
        if length < self.state.output_bytes:
            raise CannotFollow(
                f"{self.output_path} is shorter ({length} bytes) than the state says "
                f"({self.state.output_bytes})"
            )
        # Written after the last saved state: those events come again, so drop them.
        out.truncate(self.state.output_bytes)
        out.seek(0, os.SEEK_END)
        return out

    def save(self) -> None:
        if self.out is not None:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.state.output_bytes = self.out.tell()
        self.state.tree_size = self.tree.size
        self.state.tree_hashes = [base64.b64encode(h).decode() for h in self.tree.hashes]
        self.state.save(self.state_path)
        self._saved_at = time.monotonic()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None

    # -- the loop ---------------------------------------------------------------------

    def run(self, *, until: int | None = None, once: bool = False) -> int:
        """Follow until position ``until - 1`` is handled (or, with ``once``, until
        caught up); returns how many events were handled. Raises ``Discrepancy``."""
        self.refresh_checkpoint()
        pending: list[Verified] = []

        def finished() -> bool:
            return until is not None and self.state.position >= until - 1 and not pending

        try:
            if finished():
                return 0
            for item in self._events(once):
                if item is None:  # caught up, or a heartbeat: a moment to save
                    if not pending:
                        self.refresh_checkpoint()
                        self.save()
                    if once and not pending:
                        break
                    continue
                pending.append(self.check(item, pending))
                if self._settle(pending):
                    pending.clear()
                if finished():
                    break
        finally:
            if not pending:
                self.save()
        return self.done

    def _settle(self, pending: list[Verified]) -> bool:
        """Prove the pending events included; hand them on. False: wait for more."""
        last = pending[-1].index
        if self.checkpoint is None or last >= self.checkpoint.size:
            self.refresh_checkpoint()
        assert self.checkpoint is not None
        if last >= self.checkpoint.size:
            raise Discrepancy(
                "checkpoint",
                f"Sự kiện ở vị trí {last} chưa có trong checkpoint mới nhất "
                f"(kích thước {self.checkpoint.size}).",
                f"Event at position {last} is beyond the latest checkpoint "
                f"(size {self.checkpoint.size}).",
                last,
                pending[-1].event.hash.hex(),
            )
        if self.filters:
            for v in pending:
                self._prove(v)
        else:
            work = self.tree.copy()
            for v in pending:
                work.append(leaf_hash(v.event.hash))
            if work.size < self.checkpoint.size:
                return False
            if work.root() != self.checkpoint.root:
                for v in pending:
                    self._prove(v)  # names the event; the tree can only say "somewhere"
                raise Discrepancy(
                    "inclusion",
                    f"Gốc Merkle của các sự kiện đến {work.size} khác checkpoint đã ký.",
                    f"The Merkle root over the events up to {work.size} differs from the "
                    "signed checkpoint.",
                    last,
                )
            self.tree = work
        for v in pending:
            self._emit(v)
        if time.monotonic() - self._saved_at >= SAVE_EVERY:
            self.save()
        return True

    def _emit(self, v: Verified) -> None:
        if self.out is not None:
            line = json.dumps(v.cloud, ensure_ascii=False, separators=(",", ":")) + "\n"
            self.out.write(line.encode())
        self.state.position = v.index
        self.done += 1
        if self.done % 1000 == 0:
            self.say(
                f"đã kiểm tra / verified {self.done} events; position {v.index}; "
                f"checkpoint {self.checkpoint.size if self.checkpoint else 0}"
            )

    # -- checks -----------------------------------------------------------------------

    def check(self, cloud: dict[str, Any], pending: list[Verified]) -> Verified:
        """Form, hash, position and signature of one event."""
        data = cloud.get("data") or {}
        index = data.get("index")
        event_id = str(cloud.get("id", ""))
        expected = pending[-1].index + 1 if pending else self.state.position + 1
        if not isinstance(index, int) or cloud.get("sequence") != str(index).zfill(20):
            raise Discrepancy(
                "position",
                "Sự kiện không có vị trí (sequence, data.index) hợp lệ.",
                "The event has no valid position (sequence, data.index).",
                expected,
                event_id,
            )
        if index < expected or (not self.filters and index != expected):
            raise Discrepancy(
                "position",
                f"Mong đợi vị trí {expected}, nhận được {index} (thiếu hoặc lặp sự kiện).",
                f"Expected position {expected}, got {index} (an event missing or repeated).",
                index,
                event_id,
            )
        try:
            event = Event.parse(str(data.get("envelope", "")).encode())
        except EnvelopeError as e:
            raise Discrepancy(
                "envelope",
                f"Phong bì sự kiện không đúng dạng: {e}",
                f"The event envelope is malformed: {e}",
                index,
                event_id,
            ) from e
        if event.hash.hex() != event_id or cloud.get("subject") != event.stream:
            raise Discrepancy(
                "event-hash",
                "Mã băm (id) hoặc luồng (subject) không khớp với phong bì.",
                "The id (event hash) or subject (stream) does not match the envelope.",
                index,
                event_id,
            )
        if event.signer.name != event.statement.get("actor") or not event.signer.verify(
            event.signature, event.statement_bytes
        ):
            raise Discrepancy(
                "signature",
                "Chữ ký Ed25519 của tuyên bố không hợp lệ với khóa người ký.",
                "The statement's Ed25519 signature does not verify with its signer's key.",
                index,
                event.hash.hex(),
            )
        return Verified(index, event, cloud)

    def _prove(self, v: Verified) -> None:
        assert self.checkpoint is not None
        size = self.checkpoint.size
        try:
            body = self._get_json(
                "/v1/log/proof/inclusion", {"index": v.index, "size": size}, "inclusion"
            )
            proof = [base64.b64decode(h) for h in body["proof"]]
            verify_inclusion(v.index, size, leaf_hash(v.event.hash), proof, self.checkpoint.root)
        except (ProofError, KeyError, ValueError) as e:
            raise Discrepancy(
                "inclusion",
                f"Sự kiện không nằm trong cây Merkle của checkpoint kích thước {size}: {e}",
                f"The event is not included in the checkpoint of size {size}: {e}",
                v.index,
                v.event.hash.hex(),
            ) from e

    def _open(self, note: str) -> Checkpoint:
        try:
            return open_checkpoint(note, self.key)
        except CheckpointError as e:
            raise Discrepancy(
                "checkpoint",
                f"Checkpoint không được khóa của sổ cái ký hợp lệ: {e}",
                f"The checkpoint is not validly signed by the log key: {e}",
            ) from e

    def refresh_checkpoint(self) -> None:
        """Fetch the latest checkpoint; accept it only if consistent with the last one."""
        note = self._get("/v1/log/checkpoint", {}, "checkpoint").text
        new = self._open(note)
        old = self.checkpoint
        if old is not None and old.size > 0:
            try:
                if new.size < old.size:
                    raise ProofError(f"the log shrank from {old.size} to {new.size}")
                proof: list[bytes] = []
                if new.size > old.size:
                    body = self._get_json(
                        "/v1/log/proof/consistency",
                        {"from": old.size, "to": new.size},
                        "consistency",
                    )
                    proof = [base64.b64decode(h) for h in body["proof"]]
                verify_consistency(old.size, new.size, old.root, new.root, proof)
            except (ProofError, KeyError, ValueError) as e:
                raise forked(old.size, new.size, e) from e
        self.checkpoint = new
        self.state.checkpoint = note

    # -- transport --------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any], check: str) -> httpx.Response:
        response = self._retrying(lambda: self.http.get(self.url + path, params=params))
        if response.status_code != 200:
            raise Discrepancy(
                check,
                f"Máy chủ từ chối {path} ({response.status_code}): {response.text[:200]}",
                f"The server refused {path} ({response.status_code}): {response.text[:200]}",
            )
        return response

    def _get_json(self, path: str, params: dict[str, Any], check: str) -> dict[str, Any]:
        value: dict[str, Any] = self._get(path, params, check).json()
        return value

    def _retrying(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        delay = 0.2
        while True:
            try:
                return call()
            except httpx.TransportError as e:
                self.say(f"kết nối lỗi / connection failed ({e}); thử lại sau {delay:.1f}s")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.filters.get("types"):
            params["type"] = ",".join(self.filters["types"])
        for name in ("cycle", "unit"):
            if self.filters.get(name):
                params[name] = self.filters[name]
        return params

    def _events(self, once: bool) -> Iterator[dict[str, Any] | None]:
        """CloudEvents in order, and ``None`` whenever the stream is idle or caught up."""
        if self.transport == "poll" or once:
            yield from self._poll(once)
        else:
            yield from self._sse()

    def _poll(self, once: bool) -> Iterator[dict[str, Any] | None]:
        while True:
            cursor = self.state.position
            page = self._get_json(
                "/v1/events", {**self._params(), "after": cursor, "limit": 1000}, "feed"
            )
            yield from page["events"]
            if page["caught_up"]:
                yield None
                if not once:
                    time.sleep(0.5)

    def _sse(self) -> Iterator[dict[str, Any] | None]:
        delay = 0.2
        while True:
            last = self.state.position
            try:
                with self.http.stream(
                    "GET",
                    self.url + "/v1/events/stream",
                    params=self._params(),
                    headers={"Last-Event-ID": str(last), "Accept": "text/event-stream"},
                ) as response:
                    if response.status_code != 200:
                        raise CannotFollow(
                            f"{self.url}/v1/events/stream answered {response.status_code}"
                        )
                    delay = 0.2
                    for kind, data in _sse_messages(response.iter_lines()):
                        if kind == "overflow":
                            self.say("máy chủ báo chậm / overflow: kết nối lại / reconnecting")
                            break
                        yield json.loads(data) if kind == "message" and data else None
            except httpx.TransportError as e:
                self.say(f"mất kết nối / stream lost ({e}); nối lại sau {delay:.1f}s")
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def _sse_messages(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event type, data) per dispatched SSE message; comments come as ("comment", "")."""
    kind, comment = "message", False
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield kind, "\n".join(data)
            elif comment:
                yield "comment", ""
            kind, data, comment = "message", [], False
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            comment = True
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)
