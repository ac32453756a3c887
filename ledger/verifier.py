"""The log verifier: numbered checks over every event, streaming, signatures in parallel.

It trusts nothing it reads: not the events, not the index, not the tiles, not the
stored checkpoints. Only the log's verifier key (best pinned by the caller) and any
checkpoints the caller already holds are taken as given.

    V1 records      every stored event is a canonical envelope matching its storage key
    V2 signatures   every statement's Ed25519 signature verifies, by a key named as its actor
    V3 chains       every stream runs 1, 2, 3, … and each event commits to the one before
    V4 index        the log index, the stored tiles and the nonce index say exactly what
                    these events say, in order (``ledger.indexes``)
    V5 latest       the latest checkpoint is the log's, and its root is the tree of all events
    V6 history      every stored, supplied or remembered checkpoint fits these events
                    (each signed by the log key in force at its size: ``ledger.logkeys``)
    V7 witnesses    the latest checkpoint (V5's) carries a quorum of valid cosignatures
                    from the witness policy's keys (not applicable without a policy)

``LogVerifier`` holds what the checks share and has one method per check (``records``,
``chain``, ``index_entry``, ``settle``, ``latest_checkpoint``, ``witnesses``…), each
callable alone; ``verify_log`` runs them all. docs/architecture.md says where a new
check goes.

Memory is constant in the number of events (one hash per stream, one compact range);
Ed25519 verifications run on all cores, since ``cryptography`` releases the GIL.
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, Unpack

from ledger.checkpoint import CheckpointError, open_checkpoint
from ledger.cosignature import CosignatureError, WitnessPolicy, check_cosignatures, parse_lines
from ledger.envelope import TOPIC, EnvelopeError, Event, event_hash
from ledger.indexes import NonceIndex, NonceKey, Problem, StoredTiles, statement_digest
from ledger.keys import VerifierKey, verify_signature
from ledger.logkeys import LogKeys, RotationError
from ledger.merkle import HASH_SIZE, leaf_hash
from ledger.note import NoteError, NoteSignature, parse
from ledger.tiles import TILE_WIDTH, TileKey, TreeBuilder, split_hashes

if TYPE_CHECKING:  # the store is one view of a log; reading it needs none
    from ledger.store import NonceRow

__all__ = [
    "CHECKS",
    "RECORD_CHECKS",
    "CheckResult",
    "Finding",
    "LogVerifier",
    "LogView",
    "PageIndex",
    "Report",
    "Status",
    "VerifyOptions",
    "check_events",
    "check_witnesses",
    "printable",
    "verify_log",
]

Status = Literal["pass", "fail", "incomplete", "not_applicable"]

CHECKS: dict[str, tuple[str, str, str]] = {
    "V1": (
        "records",
        "Mỗi sự kiện lưu trữ là phong bì chuẩn RFC 8785 khớp với khóa lưu trữ",
        "Every stored event is a canonical envelope matching its storage key",
    ),
    "V2": (
        "signatures",
        "Chữ ký Ed25519 của mọi tuyên bố hợp lệ, bằng khóa mang tên người thực hiện",
        "Every statement's Ed25519 signature verifies, by a key named as its actor",
    ),
    "V3": (
        "chains",
        "Mỗi luồng liên tục 1, 2, 3… và mỗi sự kiện cam kết băm của sự kiện trước",
        "Every stream runs 1, 2, 3… and each event commits to the hash of the one before",
    ),
    "V4": (
        "index",
        "Chỉ mục sổ cái, các ô Merkle và chỉ mục nonce liệt kê đúng các sự kiện theo thứ tự ghi",
        "The log index, stored tiles and nonce index list exactly these events in commit order",
    ),
    "V5": (
        "latest-checkpoint",
        "Điểm kiểm tra mới nhất do sổ cái ký và gốc của nó bằng cây của mọi sự kiện",
        "The latest checkpoint is signed by the log and its root is the tree of all events",
    ),
    "V6": (
        "checkpoint-history",
        "Mọi điểm kiểm tra đã lưu, được cung cấp hoặc đã ghi nhớ đều khớp các sự kiện",
        "Every stored, supplied or remembered checkpoint fits the events",
    ),
    "V7": (
        "witnesses",
        "Điểm kiểm tra mới nhất (điểm V5 kiểm tra) mang ít nhất N chữ ký đồng ký hợp lệ "
        "của các nhân chứng trong chính sách",
        "The latest checkpoint (the one V5 checks) carries at least N valid cosignatures "
        "from the witness policy's keys",
    ),
}


class LogView(Protocol):
    """What the verifier reads. ``LogStore`` is one; a bundle file will be another."""

    def iter_stored(self) -> Iterator[tuple[int, str, int, str, bytes]]: ...
    def count_events(self) -> int: ...
    def iter_leaves(self) -> Iterator[tuple[int, str, int]]: ...
    def iter_checkpoints(self) -> Iterator[tuple[int, str]]: ...
    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]: ...
    def tile_keys(self) -> Iterable[TileKey]: ...
    def log_key_rotations(self) -> list[str]: ...
    def nonce_rows(self, nonces: Sequence[str]) -> list[NonceRow]: ...
    def nonce_rows_in_order(self) -> Iterator[NonceRow] | None: ...
    def count_nonces(self) -> int: ...
    def nonce_anomaly(self, size: int) -> int | None: ...


@dataclass
class Finding:
    reason_en: str
    reason_vi: str
    position: int | None = None
    stream: str | None = None
    version: int | None = None
    event_hash: str | None = None
    checkpoint_size: int | None = None
    until: int | None = None  # the bad event lies in [position, until) when not pinpointed
    document: str | None = None  # a read-model document (V9), or projection_position

    def __post_init__(self) -> None:
        # Stored text is untrusted: a value read from bytes that are not UTF-8 holds lone
        # surrogates (``ledger.store``), which no report, terminal or JSON encoder takes.
        self.reason_en, self.reason_vi = printable(self.reason_en), printable(self.reason_vi)
        if self.stream is not None:
            self.stream = printable(self.stream)
        if self.document is not None:
            self.document = printable(self.document)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def printable(text: str) -> str:
    """``text`` with each lone surrogate written out: ``\\xNN`` for a byte that was not
    UTF-8 (decoded with ``surrogateescape``), ``\\uNNNN`` for any other. Valid text is
    returned as it is."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return "".join(
            (f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}")
            if 0xD800 <= ord(c) <= 0xDFFF
            else c
            for c in text
        )
    return text


@dataclass
class CheckResult:
    id: str
    checked: int = 0
    unchecked: int = 0
    failures: int = 0
    first: Finding | None = None
    # (name, title_vi, title_en) for checks defined beyond this module (the domain's)
    described: tuple[str, str, str] | None = None

    def fail(self, finding: Finding) -> None:
        self.failures += 1
        if self.first is None or _before(finding, self.first):
            self.first = finding

    @property
    def status(self) -> Status:
        if self.failures:
            return "fail"
        if self.unchecked:
            return "incomplete"
        if not self.checked:
            return "not_applicable"
        return "pass"

    def to_json(self) -> dict[str, Any]:
        name, vi, en = self.described or CHECKS[self.id]
        return {
            "id": self.id,
            "name": name,
            "title_vi": vi,
            "title_en": en,
            "status": self.status,
            "checked": self.checked,
            "unchecked": self.unchecked,
            "failures": self.failures,
            "first_failure": self.first.to_json() if self.first else None,
        }


def _before(a: Finding, b: Finding) -> bool:
    """Whether ``a`` places the first bad event earlier than ``b`` does. A range only
    says where to look: an event named inside it is the place."""
    if _inside(a, b):
        return True
    if _inside(b, a):
        return False
    return _sort_position(a) < _sort_position(b)


def _inside(exact: Finding, span: Finding) -> bool:
    return (
        exact.until is None
        and exact.position is not None
        and span.until is not None
        and span.position is not None
        and span.position <= exact.position < span.until
    )


@dataclass
class Report:
    origin: str
    log_key: str
    log_key_source: str
    events: int = 0
    tree_size: int | None = None
    checks: dict[str, CheckResult] = field(
        default_factory=lambda: {cid: CheckResult(cid) for cid in CHECKS}
    )
    # Sections an application adds beside the checks (the domain's fairness evidence).
    annexes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.status in ("pass", "not_applicable") for c in self.checks.values())

    def first_bad_event(self) -> tuple[str, Finding] | None:
        found = [(c.id, c.first) for c in self.checks.values() if c.first is not None]
        if not found:
            return None
        first = min(found, key=_place)
        # A range only says where to look; an event the record checks name inside it is
        # the place. (Not a rules finding: after a rewrite it may be a consequence.)
        inside = [(cid, f) for cid, f in found if cid in RECORD_CHECKS and _inside(f, first[1])]
        return min(inside, key=_place, default=first)

    def to_json(self) -> dict[str, Any]:
        first = self.first_bad_event()
        return {
            "ok": self.ok,
            "origin": self.origin,
            "log_key": self.log_key,
            "log_key_source": self.log_key_source,
            "events": self.events,
            "tree_size": self.tree_size,
            "checks": [c.to_json() for c in self.checks.values()],
            "first_bad": {"check": first[0], **first[1].to_json()} if first else None,
            **self.annexes,
        }


RECORD_CHECKS = ("V1", "V2", "V3", "V4")


def _place(item: tuple[str, Finding]) -> tuple[float, int]:
    """Where a check's finding puts the first bad event: by position, then by check
    number (V4 before V10: ids order by number, not as text)."""
    check_id, finding = item
    return _sort_position(finding), int(check_id[1:]) if check_id[1:].isdigit() else 1 << 30


def _sort_position(f: Finding) -> float:
    return float("inf") if f.position is None else f.position


Progress = Callable[[int], None]


class VerifyOptions(TypedDict, total=False):
    """What ``verify_log`` passes on to ``LogVerifier`` (see there for each)."""

    log_key_source: str
    supplied: Iterable[str]
    remembered: Iterable[tuple[int, bytes]]
    on_accepted: Callable[[int, bytes], None] | None
    progress: Progress | None
    witness_policy: WitnessPolicy | None
    cosignatures: Callable[[int], Iterable[str]] | None
    on_page: Callable[[Page, list[bytes]], None] | None


def verify_log(
    view: LogView,
    log_key: VerifierKey,
    *,
    workers: int | None = None,
    processes: bool = False,
    **options: Unpack[VerifyOptions],
) -> Report:
    """Run V1–V7 over everything ``view`` holds.

    ``supplied``: signed checkpoints the caller holds (from receipts, say);
    ``remembered``: (size, root) tree heads this verifier accepted on an earlier run,
    in size order. Each must fit the events. ``on_accepted`` sees every stored
    checkpoint that does, in size order, so that the caller can remember them.
    ``processes``: parse and check signatures in worker processes rather than threads
    (worth it for big logs, where threads would queue for the GIL).
    ``witness_policy``: the witnesses whose cosignatures V7 counts, and how many it needs;
    ``cosignatures``: checkpoint size → stored cosignature lines (the log's own store).
    Cosignature lines on supplied checkpoints of the latest size count too.
    ``on_page``: sees every page of stored events as read, in commit order — (position,
    stream, version, topic, envelope) rows, and each envelope's event hash — so that a
    check of their contents beyond V1–V7 (the log's time, ``ledger.logtime``; what the
    audit reads again, ``projections.audit_part.Verified``) reads the log along with
    this one.
    """
    return LogVerifier(view, log_key, **options).run(workers=workers, processes=processes)


@dataclass
class PageIndex:
    """What the log index and the stored leaf tiles say about one page of events.

    The usual page takes three comparisons for all its events at once: the index rows,
    the stored leaf tiles, and (in ``NonceIndex.compare``) the nonce rows. Only where
    one differs are its events looked at one by one."""

    leaves: list[bytes]  # the leaf hash of each event of the page
    indexed: list[tuple[int, str, int] | None]  # the index row at each event's position
    index_ok: bool
    tiles_ok: bool
    tiles: dict[int, list[bytes]]  # leaf tiles by index, read only when not ``tiles_ok``


class LogVerifier:
    """One run of V1–V7 over a log: the state the checks share, and a method per check.

    Events come back from the pool (V1, V2) a page at a time, in commit order; each
    page then goes through ``records`` (V1, V2), ``chain`` (V3) and ``index_entry``
    (V4) event by event, and grows the recomputed tree, which ``settle`` (V6) stops at
    each checkpoint's size. What only the end can say follows: ``leftovers`` (V1, V4,
    V6), ``latest_checkpoint`` (V5) and ``witnesses`` (V7)."""

    def __init__(
        self,
        view: LogView,
        log_key: VerifierKey,
        *,
        log_key_source: str = "pinned",
        supplied: Iterable[str] = (),
        remembered: Iterable[tuple[int, bytes]] = (),
        on_accepted: Callable[[int, bytes], None] | None = None,
        progress: Progress | None = None,
        witness_policy: WitnessPolicy | None = None,
        cosignatures: Callable[[int], Iterable[str]] | None = None,
        on_page: Callable[[Page, list[bytes]], None] | None = None,
    ) -> None:
        self.view = view
        self.on_page = on_page
        self.log_key = log_key
        self.supplied = list(supplied)
        self.on_accepted = on_accepted
        self.progress = progress
        self.witness_policy = witness_policy
        self.cosignatures = cosignatures
        self.report = Report(log_key.name, str(log_key), log_key_source)
        self.checks = self.report.checks
        self.keys = _log_keys(view, log_key, self.checks["V6"])
        if self.keys.rotations:
            rotations = self.keys.rotations
            self.report.annexes["log_keys"] = [
                {"key": str(k), "signs_from_size": 0 if i == 0 else rotations[i - 1].size + 1}
                for i, k in enumerate(self.keys.keys)
            ]
        self.heads: dict[str, tuple[int, bytes]] = {}  # stream → (version, hash) so far
        self.tiles_held = StoredTiles()
        self.tree = self.tiles_held.tree
        self.nonces = NonceIndex()
        self.leaves = _from_zero(view.iter_leaves(), self.checks["V4"])
        self.checkpoints = _checkpoints(view, self.supplied, remembered)
        self.next_cp = next(self.checkpoints, None)
        # Per source, the largest size whose checkpoint matched: a mismatch in the same
        # source means the first bad event lies at or after it.
        self.last_good = {"stored": 0, "supplied": 0, "remembered": 0}
        self.latest: tuple[int, str] | None = None  # the last stored checkpoint seen

    def run(self, *, workers: int | None = None, processes: bool = False) -> Report:
        # V1 and V2 need no order: pages of events go to a pool and come back, in order,
        # to ``page``. A few pages in flight keep memory flat.
        workers = workers or os.cpu_count() or 1
        pool: Executor = (
            ProcessPoolExecutor(workers, mp_context=get_context("forkserver"))
            if processes
            else ThreadPoolExecutor(workers)
        )
        inflight: deque[tuple[Page, Future[list[EventCheck]]]] = deque()
        self.settle()
        try:
            for page in _pages(self.view):
                inflight.append((page, pool.submit(check_events, page)))
                while len(inflight) > 2 * workers:
                    self.page(*_result(inflight.popleft()))
            while inflight:
                self.page(*_result(inflight.popleft()))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        position = self.tree.size
        self.leftovers(position)
        self.latest_checkpoint()
        if self.witness_policy is not None:
            self.witnesses(self.witness_policy)
        self.report.events = position
        self.report.tree_size = self.tree.size
        if self.progress:
            self.progress(position)
        return self.report

    # -- a page of events, in commit order --------------------------------------------

    def page(self, page: Page, checked: list[EventCheck]) -> None:
        """V1 and V2 as the pool found them; then what needs commit order: V3–V6."""
        index = self.page_index(page, checked)
        for j, ((position, stream, version, _topic, _raw), (h, prev, failure, _key)) in enumerate(
            zip(page, checked, strict=True)
        ):
            where = (position, stream, version, h)
            readable = self.records(where, failure)
            self.chain(where, readable, prev)
            self.index_entry(index, j, where)
        self.grow(index.leaves)
        self.index_problems(self.tiles_held.compare(self.view))
        self.index_problems(
            self.nonces.compare(
                self.view, [(p[0], c[3]) for p, c in zip(page, checked, strict=True)]
            )
        )
        if self.on_page:
            self.on_page(page, [c[0] for c in checked])
        if self.progress:
            self.progress(self.tree.size)

    def page_index(self, page: Page, checked: list[EventCheck]) -> PageIndex:
        """The index rows and stored leaf tiles for a page, compared all at once."""
        indexed: list[tuple[int, str, int] | None] = list(islice(self.leaves, len(page)))
        index_ok = indexed == [row[:3] for row in page]
        indexed += [None] * (len(page) - len(indexed))  # the index ends before the events
        leaves = [leaf_hash(c[0]) for c in checked]
        wanted = range(page[0][0] // TILE_WIDTH, page[-1][0] // TILE_WIDTH + 1)
        stored = self.view.read_tiles([(0, i) for i in wanted])
        tiles_ok = _tiles_hold(stored, wanted, page[0][0], leaves)
        tiles = {} if tiles_ok else {i: split_hashes(stored.get((0, i), b"")) for i in wanted}
        return PageIndex(leaves, indexed, index_ok, tiles_ok, tiles)

    def records(self, where: Where, failure: tuple[str, str, str] | None) -> bool:
        """V1 and V2 for one event, as ``check_events`` found them: whether it was readable."""
        c = self.checks
        if failure is not None:
            c[failure[0]].fail(_event_finding(*where, failure[1], failure[2]))
        if failure is not None and failure[0] == "V1":
            c["V2"].unchecked += 1
            return False
        c["V1"].checked += 1
        c["V2"].checked += 1
        return True

    def chain(self, where: Where, readable: bool, prev: bytes | None) -> None:
        """V3: the stream's next version, committing to the hash of the one before."""
        _position, stream, version, h = where
        check = self.checks["V3"]
        previous = self.heads.get(stream)
        expected = previous[0] + 1 if previous else 1
        if version != expected:
            check.fail(
                _event_finding(
                    *where,
                    f"stream version {version} where {expected} was due",
                    f"phiên bản {version} trong khi cần {expected} (mất hoặc lặp sự kiện)",
                )
            )
        elif not readable:
            check.unchecked += 1
        elif prev != (previous[1] if previous else None):
            check.fail(
                _event_finding(
                    *where,
                    "prev does not match the hash of the stream's previous event",
                    "prev không khớp băm của sự kiện trước trong luồng",
                )
            )
        else:
            check.checked += 1
        self.heads[stream] = (version, h)

    def index_entry(self, index: PageIndex, j: int, where: Where) -> None:
        """V4 for the ``j``-th event of a page: the index row and the leaf tile agree."""
        position, stream, version, _h = where
        check = self.checks["V4"]
        if not index.index_ok and index.indexed[j] != (position, stream, version):
            check.fail(
                _event_finding(
                    *where,
                    f"the log index has {index.indexed[j]} at this position",
                    "chỉ mục sổ cái ghi sự kiện khác ở vị trí này",
                )
            )
        elif index.tiles_ok or _leaf_in(
            index.tiles[position // TILE_WIDTH], position, index.leaves[j]
        ):
            check.checked += 1
        else:
            check.fail(
                _event_finding(
                    *where,
                    "the stored leaf tile holds another hash here",
                    "ô lá Merkle lưu trữ chứa băm khác tại vị trí này",
                )
            )

    def index_problems(self, problems: list[Problem]) -> None:
        """V4: what ``ledger.indexes`` found wrong with the tiles or the nonce rows."""
        for position, until, en, vi in problems:
            self.checks["V4"].fail(Finding(en, vi, position=position, until=until))

    # -- the recomputed tree and the checkpoints along it -----------------------------

    def grow(self, leaves: list[bytes]) -> None:
        """Add a page's leaves to the tree, stopping at each checkpoint's size to check it."""
        done = 0
        while done < len(leaves):
            take = len(leaves) - done
            if self.next_cp is not None:
                take = min(take, self.next_cp[0] - self.tree.size)
            self.tree.extend(leaves[done : done + take])
            done += take
            if self.next_cp is not None and self.next_cp[0] <= self.tree.size:
                self.settle()

    def settle(self) -> None:
        """V6: every checkpoint whose size the recomputed tree has just reached."""
        check = self.checks["V6"]
        while self.next_cp is not None and self.next_cp[0] <= self.tree.size:
            size, source, payload = self.next_cp
            if source == "stored":
                self.latest = (size, str(payload))
            root = _checkpoint_root(check, self.keys.key_for(size), size, source, payload)
            if root is not None:
                check.checked += 1
                if root == self.tree.root():
                    self.last_good[source] = size
                    if source == "stored" and self.on_accepted:
                        self.on_accepted(size, root)
                else:
                    check.fail(
                        Finding(
                            f"{source} checkpoint of size {size} is not consistent with the "
                            f"events: an event before position {size} was changed, removed or "
                            "reordered",
                            f"điểm kiểm tra kích thước {size} không nhất quán với các sự kiện: "
                            f"một sự kiện trước vị trí {size} đã bị sửa, xóa hoặc đảo thứ tự",
                            position=self.last_good[source],
                            until=size,
                            checkpoint_size=size,
                        )
                    )
            self.next_cp = next(self.checkpoints, None)

    # -- what only the end of the events can say --------------------------------------

    def leftovers(self, position: int) -> None:
        """Rows the commit order does not reach (hidden from it), tiles and nonce rows the
        events do not account for, index entries and checkpoints past the last event."""
        c = self.checks
        stored_rows = self.view.count_events()
        if stored_rows != position:
            c["V1"].fail(
                Finding(
                    f"{stored_rows} events are stored but {position} are in the commit order",
                    f"có {stored_rows} sự kiện được lưu nhưng chỉ {position} nằm trong thứ tự ghi",
                    position=position,
                )
            )
        self.index_problems(self.tiles_held.finish(self.view))
        self.index_problems(self.nonces.finish(self.view, position))
        c["V4"].checked += self.tiles_held.checked

        # Index entries past the last event: events were deleted.
        extra = next(self.leaves, None)
        if extra is not None:
            c["V4"].fail(
                Finding(
                    f"the log index lists position {extra[0]} but there is no such event",
                    f"chỉ mục liệt kê vị trí {extra[0]} nhưng không có sự kiện",
                    position=extra[0],
                    stream=extra[1],
                    version=extra[2],
                )
            )
        # Checkpoints beyond the events: the log was cut short (if they are the log's).
        while self.next_cp is not None:
            size, source, payload = self.next_cp
            if source == "stored":
                self.latest = (size, str(payload))
            self.next_cp = next(self.checkpoints, None)
            if _checkpoint_root(c["V6"], self.keys.key_for(size), size, source, payload) is None:
                continue  # not the log's checkpoint: said so, and no event is missing for it
            c["V6"].fail(
                Finding(
                    f"{source} checkpoint of size {size} but only {position} events exist",
                    f"điểm kiểm tra kích thước {size} nhưng chỉ có {position} sự kiện",
                    position=self.last_good[source],
                    until=size,
                    checkpoint_size=size,
                )
            )

    def latest_checkpoint(self) -> None:
        """V5: the latest stored checkpoint is the log's, and its root is the whole tree."""
        latest_key = self.keys.key_for(self.latest[0]) if self.latest else self.log_key
        _check_latest(
            self.checks["V5"], latest_key, self.latest, self.tree, self.last_good["stored"]
        )

    def witnesses(self, policy: WitnessPolicy) -> None:
        """V7: a quorum of the policy's witnesses cosigned the latest checkpoint."""
        check_witnesses(self.checks["V7"], policy, self.latest, self.supplied, self.cosignatures)


def _from_zero(
    leaves: Iterable[tuple[int, str, int]], check: CheckResult
) -> Iterator[tuple[int, str, int]]:
    """The index rows from position 0 on. A row below 0 claims a position no log has:
    V4's finding, named by the event it points to (the rows it displaced, if any, are
    found at their own positions)."""
    for row in leaves:
        if row[0] >= 0:
            yield row
            continue
        check.fail(
            Finding(
                f"the log index lists {row[1]}#{row[2]} at position {row[0]}, which no log has",
                f"chỉ mục sổ cái ghi {row[1]}#{row[2]} ở vị trí {row[0]}, không sổ cái nào có",
                stream=row[1],
                version=row[2],
            )
        )


def _log_keys(view: LogView, trusted: VerifierKey, check: CheckResult) -> LogKeys:
    """The log's keys by tree size, as its rotations (if any) say, anchored in the key
    the caller trusts. A chain that does not hold is a failure, and only the trusted
    key is then taken: checkpoints signed by any other fail by themselves."""
    try:
        return LogKeys.follow(trusted, view.log_key_rotations())
    except RotationError as e:
        check.fail(
            Finding(
                f"the log key's rotations (ledger_log_keys) do not hold: {e}",
                "chuỗi thay khóa của sổ cái không hợp lệ",
            )
        )
        return LogKeys(trusted)


def _checkpoint_root(
    check: CheckResult, log_key: VerifierKey, size: int, source: str, payload: str | bytes
) -> bytes | None:
    """The root a checkpoint states, if it is the log's and of the size it is filed under."""
    if isinstance(payload, bytes):  # remembered: checked when it was first accepted
        return payload
    try:
        checkpoint = open_checkpoint(payload, log_key)
    except CheckpointError as e:
        check.fail(
            Finding(
                f"{source} checkpoint of size {size} is not validly signed by the log: {e}",
                f"điểm kiểm tra kích thước {size} không có chữ ký hợp lệ của sổ cái",
                checkpoint_size=size,
            )
        )
        return None
    if checkpoint.size != size:
        check.fail(
            Finding(
                f"{source} checkpoint filed as size {size} states size {checkpoint.size}",
                f"điểm kiểm tra lưu ở kích thước {size} lại ghi {checkpoint.size}",
                checkpoint_size=size,
            )
        )
        return None
    return checkpoint.root


def _check_latest(
    check: CheckResult,
    log_key: VerifierKey,
    latest: tuple[int, str] | None,
    tree: TreeBuilder,
    last_good: int,
) -> None:
    if latest is None:
        check.fail(Finding("the log has no stored checkpoint", "sổ cái không có điểm kiểm tra"))
        return
    size, note = latest
    try:
        checkpoint = open_checkpoint(note, log_key)
    except CheckpointError as e:
        check.fail(
            Finding(
                f"the latest checkpoint is not validly signed by the log: {e}",
                "điểm kiểm tra mới nhất không có chữ ký hợp lệ của sổ cái",
                checkpoint_size=size,
            )
        )
        return
    check.checked += 1
    if checkpoint.size != size:
        check.fail(
            Finding(
                f"the latest checkpoint, filed as size {size}, states size {checkpoint.size}",
                f"điểm kiểm tra mới nhất lưu ở kích thước {size} lại ghi {checkpoint.size}",
                checkpoint_size=size,
            )
        )
        return
    if checkpoint.size != tree.size:
        # Events past the checkpoint are covered by none: the first uncovered one lies
        # in [size, log size). A checkpoint beyond the log: events are missing.
        check.fail(
            Finding(
                f"the latest checkpoint covers {checkpoint.size} events"
                f" but the log holds {tree.size}",
                f"điểm kiểm tra mới nhất bao {checkpoint.size} sự kiện nhưng sổ cái có {tree.size}",
                position=min(checkpoint.size, tree.size),
                until=tree.size if checkpoint.size < tree.size else None,
                checkpoint_size=checkpoint.size,
            )
        )
    elif checkpoint.root != tree.root():
        check.fail(
            Finding(
                "the latest checkpoint's root is not the tree of the stored events",
                "gốc của điểm kiểm tra mới nhất khác cây của các sự kiện đã lưu",
                position=last_good,
                until=tree.size,
                checkpoint_size=checkpoint.size,
            )
        )


def check_witnesses(
    check: CheckResult,
    policy: WitnessPolicy,
    latest: tuple[int, str] | None,
    supplied: list[str],
    cosignatures: Callable[[int], Iterable[str]] | None,
) -> None:
    """V7: the latest stored checkpoint carries a quorum of the policy's cosignatures.

    Lines are gathered from the log's cosignature store and from supplied checkpoints
    of the same size, then each is checked against the stored checkpoint's own text: a
    cosignature on another history of that size does not verify, and says so."""
    if latest is None:
        check.fail(
            Finding(
                "the log has no checkpoint for witnesses to have cosigned",
                "sổ cái không có điểm kiểm tra nào để nhân chứng đồng ký",
            )
        )
        return
    size, note = latest
    try:
        text = parse(note).text
    except NoteError as e:
        check.fail(
            Finding(
                f"the latest checkpoint is not a signed note: {e}",
                "điểm kiểm tra mới nhất không đúng định dạng ghi chú có chữ ký",
                checkpoint_size=size,
            )
        )
        return
    lines: list[NoteSignature] = []
    for line in (cosignatures or _none)(size):
        try:
            lines.extend(parse_lines(line if line.endswith("\n") else line + "\n"))
        except CosignatureError:
            continue  # unreadable: no cosignature by anyone, so it counts for no one
    for other in supplied:
        if _size_of(other) == size:
            try:
                lines.extend(parse(other).signatures)
            except NoteError:
                continue  # a malformed supplied note is V6's finding, not V7's
    valid, invalid = check_cosignatures(text, lines, policy.witnesses)
    check.checked += len(valid)
    for witness, why in invalid.items():
        check.fail(
            Finding(
                f"a cosignature by witness {witness.name} on the latest checkpoint (size {size}) "
                f"does not verify: {why}",
                f"chữ ký đồng ký của nhân chứng {witness.name} trên điểm kiểm tra mới nhất "
                f"(kích thước {size}) không hợp lệ",
                checkpoint_size=size,
            )
        )
    if len(valid) < policy.threshold:
        missing = ", ".join(str(w) for w in policy.witnesses if w not in valid)
        check.fail(
            Finding(
                f"the latest checkpoint (size {size}) carries {len(valid)} valid cosignature(s) "
                f"from the policy's witnesses where {policy.threshold} are required; "
                f"missing: {missing}",
                f"điểm kiểm tra mới nhất (kích thước {size}) có {len(valid)} chữ ký đồng ký hợp lệ "
                f"trong khi cần {policy.threshold}; thiếu: {missing}",
                checkpoint_size=size,
            )
        )


def _none(_: int) -> list[str]:
    return []


def _size_of(note: str) -> int:
    try:
        return int(note.split("\n", 2)[1])
    except (IndexError, ValueError):
        return -1


def _checkpoints(
    view: LogView, supplied: Iterable[str], remembered: Iterable[tuple[int, bytes]]
) -> Iterator[tuple[int, str, str | bytes]]:
    """Every checkpoint to check, merged in size order: (size, source, note or root)."""
    extra: list[tuple[int, str, str | bytes]] = []
    for note in supplied:
        try:
            size = int(note.split("\n", 2)[1])
        except (IndexError, ValueError):
            size = 0
        extra.append((size, "supplied", note))
    stored = ((size, "stored", note) for size, note in view.iter_checkpoints())
    earlier = ((size, "remembered", root) for size, root in remembered)
    return heapq.merge(stored, sorted(extra), earlier, key=lambda item: item[0])


def _event_finding(position: int, stream: str, version: int, h: bytes, en: str, vi: str) -> Finding:
    return Finding(en, vi, position=position, stream=stream, version=version, event_hash=h.hex())


def _tiles_hold(
    stored: dict[TileKey, bytes], wanted: range, first: int, leaves: list[bytes]
) -> bool:
    """Whether the stored leaf tiles ``wanted`` hold exactly ``leaves`` from position
    ``first`` on. Only a yes is final: a no is looked into leaf by leaf."""
    rows = [stored.get((0, i), b"") for i in wanted]
    if any(len(row) != TILE_WIDTH * HASH_SIZE for row in rows[:-1]):
        return False  # a short or long tile before the last: offsets would not line up
    start = (first - wanted.start * TILE_WIDTH) * HASH_SIZE
    return b"".join(rows)[start : start + len(leaves) * HASH_SIZE] == b"".join(leaves)


def _leaf_in(tile: list[bytes], position: int, leaf: bytes) -> bool:
    offset = position % TILE_WIDTH
    return offset < len(tile) and tile[offset] == leaf


Page = list[tuple[int, str, int, str, bytes]]  # (position, stream, version, topic, envelope)
Where = tuple[int, str, int, bytes]  # an event's position, stream, version and hash
# Per event: its hash, its prev, a failure (check id, English, Vietnamese) or None, and
# the statement's (actor, nonce, digest) for the nonce index (None if unreadable).
EventCheck = tuple[bytes, bytes | None, tuple[str, str, str] | None, NonceKey | None]
PAGE_SIZE = 1000


def _pages(view: LogView) -> Iterator[Page]:
    page: Page = []
    for position, (_nid, stream, version, topic, raw) in enumerate(view.iter_stored()):
        page.append((position, stream, version, topic, raw))
        if len(page) == PAGE_SIZE:
            yield page
            page = []
    if page:
        yield page


def _result(item: tuple[Page, Future[list[EventCheck]]]) -> tuple[Page, list[EventCheck]]:
    return item[0], item[1].result()


def check_events(page: Page) -> list[EventCheck]:
    """V1 and V2 for a page of events. Pure, so it runs in any thread or process.

    Every envelope is read first and the signatures are checked after, in one run:
    interleaved with parsing, each Ed25519 verification found its tables evicted from
    the CPU's caches and took a sixth longer."""
    checked: list[EventCheck] = []
    signed: list[tuple[int, Event]] = []  # (index in ``checked``, event) to verify
    for _position, stream, version, topic, raw in page:
        h = event_hash(raw)
        try:
            event = Event.parse(raw)
        except EnvelopeError as e:
            checked.append((h, None, ("V1", str(e), "bản ghi sự kiện hỏng"), None))
            continue
        key = (
            str(event.statement.get("actor")),
            str(event.statement.get("nonce")),
            statement_digest(event.statement_bytes),
        )
        if event.stream != stream or event.version != version:
            en = f"envelope says {event.stream}#{event.version}, stored as {stream}#{version}"
            vi = "phong bì ghi luồng hoặc phiên bản khác với khóa lưu trữ"
            checked.append((h, None, ("V1", en, vi), key))
        elif topic != TOPIC:
            en = f"stored with the topic {topic!r}, not {TOPIC!r}"
            vi = "sự kiện được lưu với chủ đề (topic) khác"
            checked.append((h, None, ("V1", en, vi), key))
        elif event.signer.name != event.statement.get("actor"):
            en, vi = (
                "signer key is not named as the actor",
                "khóa ký không mang tên người thực hiện",
            )
            checked.append((h, event.prev, ("V2", en, vi), key))
        else:
            signed.append((len(checked), event))
            checked.append((h, event.prev, None, key))
    for i, event in signed:
        if not verify_signature(event.signer.public, event.signature, event.statement_bytes):
            bad = ("V2", "signature does not verify", "chữ ký không hợp lệ")
            checked[i] = (checked[i][0], checked[i][1], bad, checked[i][3])
    return checked
