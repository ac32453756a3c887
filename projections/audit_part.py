"""One part of a log replayed for the audit (``projections.audit``): a cycle's streams,
the acts outside cycles, or the whole log — in the verifier's process or in a worker's.

A part leaves what the report needs of it: its V8 findings, its documents compared
with those served, the acts it refused, the acts each revoked key signed after it was
lost (by their log time) and before its revocation, its fairness evidence — and
whether some act lay outside the part its statement names, which would make taking
the log apart by streams wrong. Worker processes import this module and what the
replay needs, not the database drivers.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import deque
from collections.abc import (
    Callable,
    Collection,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from hashlib import sha256
from multiprocessing import get_context
from typing import Any, NamedTuple

import orjson

from domain.acts import Act
from domain.model import CYCLE_ACTS, Model, Violation
from domain.registry import KeyRecord, Registry
from domain.streams import REGISTRY_TYPES
from ledger.envelope import EnvelopeError, Event, event_hash, parse_logged_at
from ledger.keys import cached_verifier_key
from ledger.store import Entry
from ledger.verifier import CheckResult, Finding, Report
from projections.fairness import Evidence, Fairness, FairnessSettings
from projections.views import cycle_view

RULES = (
    "rules",
    "Mọi hành vi đã lưu đều được quy tắc chấp nhận theo thứ tự ghi, theo thời điểm ghi sổ",
    "Every stored act is one the rules admit in log order, judged by the log's time",
)
# The acts whose judgement reads or changes a cycle's state: those must be replayed with
# the rest of their cycle. (Registry acts change what every part is judged by.)
CYCLE_TYPES = frozenset({*CYCLE_ACTS, "cycle.opened", "evidence.recorded"})
Row = Entry  # a log entry: position, stream, version, envelope
Served = Callable[[str], Any]  # a served document by name; None if there is none


class Revocation(NamedTuple):
    """A revoked key, as the audit weighs it against the acts it signed."""

    holder: str  # the person's id
    record: KeyRecord
    lost: datetime  # when the revocation says the key was lost
    position: int  # where the log recorded the revocation


class Home(Enum):
    """The parts of a log that are not one cycle (a cycle's part is named by its id)."""

    WHOLE = "the whole log"
    OUTSIDE = "the acts outside cycles"


class _Signings:
    """Per key (of ``keys``, or every key), its admitted acts in log order with their
    log times: what a revocation's "acts after the key was lost" are read from."""

    def __init__(self, keys: Collection[str] | None = None) -> None:
        self.keys = keys
        self.by_key: dict[str, list[tuple[datetime, int, str]]] = {}

    def add(self, act: Act) -> None:
        if self.keys is not None and act.signer not in self.keys:
            return
        self.by_key.setdefault(act.signer, []).append((act.time, act.position, act.event))

    def slips(self, registry: Registry) -> dict[str, list[tuple[int, str]]]:
        """Per revoked key, the acts logged at or after the moment its revocation says
        it was lost, but before the revocation reached the log: (position, event)."""
        found: dict[str, list[tuple[int, str]]] = {}
        if not self.by_key:
            return found  # (nothing kept: no need to go through the whole registry)
        for _, record, lost, revoked in revocations(registry):
            late = [
                (position, event)
                for logged, position, event in self.by_key.get(record.text, [])
                if logged >= lost and position < revoked
            ]
            if late:
                found[record.text] = late
        return found


@dataclass
class Part:
    """What replaying one part of the log leaves for the report."""

    v8: CheckResult = field(default_factory=lambda: CheckResult("V8", described=RULES))
    unreadable: int = 0  # events not even an envelope (V1 names them)
    reached: bool = False  # the act just before the served position was replayed
    refused: list[Violation] = field(default_factory=list)  # before the served position
    compared: dict[str, bool] = field(default_factory=dict)  # document → equals the served
    slips: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # _Signings.slips
    evidence: Evidence = field(default_factory=Evidence)
    # Discipline evidence admitted with a violation: ((subject, violation), position,
    # the cycle's year) — what the one-year rule looks up across cycles.
    counted: list[tuple[tuple[str, str], int, int]] = field(default_factory=list)
    misplaced: bool = False  # an act lies outside the part its statement names


def replay(
    acts: Iterable[Act],
    model: Model,
    home: str | Home,
    served_at: int,
    served: Served,
    settings: FairnessSettings | None = None,
    keys: Collection[str] | None = None,
) -> Part:
    """Replay ``acts`` (in log order) through ``model``: the part ``home`` of the log
    (a cycle's streams, the acts outside cycles, or all). Its documents are compared
    with ``served`` as of ``served_at`` (if > 0); the signings of ``keys`` only
    (default: all) are kept for the revocation rule."""
    part = Part()
    watcher = Fairness(settings)
    signings = _Signings(keys)
    due = served_at > 0
    for act in acts:
        if due and act.position >= served_at:
            _compare(part, model, home, served)
            due = False
        if not belongs(act.statement, home):
            part.misplaced = True
            return part
        part.reached |= act.position + 1 == served_at
        violation = _judge(model, act)
        part.v8.checked += 1
        if violation is not None:
            part.v8.fail(
                Finding(
                    f"{violation.type} would be refused: {violation.problem} — "
                    f"{violation.detail_en}",
                    f"{violation.type} lẽ ra bị từ chối: {violation.problem} — "
                    f"{violation.detail_vi}",
                    position=act.position,
                    event_hash=act.event,
                )
            )
            continue
        watcher.observe(act, model)
        signings.add(act)
        key = counted(act)
        if key is not None:
            year = model.cycles[str(act.statement["cycle"])].year
            part.counted.append((key, act.position, year))
    if due:
        _compare(part, model, home, served)
    part.slips = signings.slips(model.registry)
    part.evidence = watcher.evidence(model)
    return part


def _judge(model: Model, act: Act) -> Violation | None:
    try:
        return model.replay(act)
    except (KeyError, TypeError, ValueError) as e:
        # Signed nonsense the intake would never have taken (a missing or malformed
        # field): the rules cannot even read it.
        model.position = act.position + 1
        kind = str(act.statement.get("type"))
        return Violation(act.position, act.event, kind, "unreadable", str(e), str(e))


def belongs(statement: Mapping[str, Any], home: str | Home) -> bool:
    """Whether an act may be replayed in the part ``home``: a registry act with the acts
    outside cycles (it changes what every part is judged by), an act whose judgement
    reads a cycle with that cycle, any other anywhere."""
    kind = statement.get("type")
    if home is Home.WHOLE or not isinstance(kind, str):
        return True  # (a type that is no string is refused the same anywhere)
    if kind in REGISTRY_TYPES:
        return home is Home.OUTSIDE
    cycle = statement.get("cycle")
    return cycle == home if kind in CYCLE_TYPES and isinstance(cycle, str) else True


def counted(act: Act) -> tuple[str, str] | None:
    """The (subject, violation) a discipline's evidence counts against, if it names one."""
    s = act.statement
    if act.type == "evidence.recorded" and s.get("kind") == "discipline":
        violation = s.get("violation")
        if isinstance(violation, str):
            return str(s["cadre"]), violation
    return None


def _compare(part: Part, model: Model, home: str | Home, served: Served) -> None:
    """At the served position: the part's documents, each against the one served, and
    the acts it has refused so far (the ``refused`` document is the log's)."""
    docs: dict[str, Any] = {f"cycle/{c}": cycle_view(cycle) for c, cycle in model.cycles.items()}
    if isinstance(home, Home):
        docs["registry"] = model.registry.to_doc()
    for name, doc in docs.items():
        part.compared[name] = served(name) == as_json(doc)
    part.refused = list(model.refused)


def as_json(doc: Any) -> Any:
    """The document as the read model stores it, read back (tuples become lists …)."""
    return json.loads(json.dumps(doc, ensure_ascii=False))


def revocations(registry: Registry) -> Iterator[Revocation]:
    """The keys ``registry`` records as revoked."""
    for person in registry.people.values():
        for record in person.keys.values():
            if record.revoked_effective is not None and record.revoked_position is not None:
                yield Revocation(
                    person.id, record, record.revoked_effective, record.revoked_position
                )


def parsed(
    rows: Iterable[Row], unreadable: Callable[[int], None], vouched: int = 0
) -> Iterator[Act]:
    """The entries as acts; one that is not a readable envelope is told to
    ``unreadable`` and skipped (V1 names it).

    ``vouched``: the positions below it were each found a canonical envelope by this
    verification's V1 (``vouched_below``), so their acts are read with orjson, as
    ``Event.parse`` would give them — for such bytes the same statement, signer, hash and
    log time — without its strictness a second time (decoding in Python, encoding again
    to compare, NFC), which was a quarter of the audit's CPU. Bytes that are not what V1 read
    (changed since) fail orjson or are read strictly, as every other position is."""
    for index, _stream, _version, raw in rows:
        if index < vouched:
            try:
                yield _vouched_act(raw, index)
                continue
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # not the bytes V1 vouched for: the strict reading says what they are
        try:
            event = Event.parse(raw)
        except EnvelopeError:
            unreadable(index)
            continue
        yield Act(event.statement, str(event.signer), event.hash.hex(), index, event.logged_at)


def _vouched_act(raw: bytes, position: int) -> Act:
    """The act of an envelope V1 found canonical: the fields ``Event.parse`` reads, read
    as it reads them (the signer spelt as its parsed key is)."""
    envelope = orjson.loads(raw)
    statement, logged = envelope["statement"], envelope.get("logged_at")
    if not isinstance(statement, dict):
        raise TypeError("statement is not an object")
    signer = str(cached_verifier_key(envelope["signer"]))
    at = None if logged is None else parse_logged_at(logged)
    return Act(statement, signer, event_hash(raw).hex(), position, at)


class Verified:
    """What the verifier read at each position, as the first 8 bytes of its event hash.

    The audit reads the store again after V1–V7: it must judge the bytes those checks
    passed, not what someone wrote in between (``changed``). Eight bytes: a changed
    event passing for the one read would be a 64-bit second preimage of SHA-256. Eight
    megabytes for a million events."""

    def __init__(self) -> None:
        self._prints = bytearray()
        self._named: set[int] = set()  # positions found changed, and reported

    def add(self, page: Sequence[tuple[int, str, int, str, bytes]], hashes: list[bytes]) -> None:
        """Take in a page as the verifier read it, with each event's hash as V1 computed
        it (``verify_log``'s ``on_page``)."""
        first = len(self._prints) // 8
        if [row[0] for row in page] == list(range(first, first + len(page))):
            self._prints += b"".join(h[:8] for h in hashes)  # (the usual page)
            return
        for (position, *_), h in zip(page, hashes, strict=True):
            # Positions in order only: a log with gaps or repeats fails V3 already, and a
            # position set far out must not make this grow.
            if position * 8 == len(self._prints):
                self._prints += h[:8]

    def unchanged(self, rows: list[Row], report: Report) -> list[Row]:
        """``rows`` without those changed since they were read: each of those is a V1
        failure at its position (once, however often it is read again), and the rules
        judge no bytes the checks did not see."""
        prints, read = self._prints, len(self._prints) // 8
        known = [row for row in rows if 0 <= row[0] < read]
        wanted = b"".join(prints[p * 8 : p * 8 + 8] for p, _, _, _ in known)
        if wanted == b"".join(_print(raw) for _, _, _, raw in known):
            return rows  # (the usual rows: all as read)
        kept: list[Row] = []
        for row in rows:
            position, stream, version, raw = row
            if not self.changed(position, raw):
                kept.append(row)
            elif position not in self._named:
                self._named.add(position)
                report.checks["V1"].fail(
                    Finding(
                        "the event stored here was changed while the ledger was being "
                        "verified (after the verifier had read it)",
                        "sự kiện lưu ở vị trí này đã bị sửa trong lúc sổ cái đang được "
                        "kiểm tra (sau khi bộ kiểm tra đã đọc nó)",
                        position=position,
                        stream=stream,
                        version=version,
                        event_hash=event_hash(raw).hex(),
                    )
                )
        return kept

    def changed(self, position: int, raw: bytes) -> bool:
        """Whether ``raw`` is not what was read at ``position`` (False where nothing was:
        the log grew after the verifier read it)."""
        at = position * 8
        if at < 0 or at >= len(self._prints):
            return False
        return self._prints[at : at + 8] != _print(raw)


def _print(raw: bytes) -> bytes:
    return sha256(raw).digest()[:8]


def as_verified(rows: list[Row], verified: Verified | None, report: Report) -> list[Row]:
    """``rows`` without those changed since the verifier read them (``Verified.unchanged``)."""
    return rows if verified is None else verified.unchanged(rows, report)


def vouched_below(report: Report) -> int:
    """The log positions below which this verification's V1 found every stored event a
    canonical envelope matching its storage key: all of the log's if V1 checked every
    event it read and failed none, else 0 (then the audit reads every event strictly).
    A report V1 has not run on (a bundle's, a fresh one) vouches for nothing."""
    v1 = report.checks.get("V1")
    if v1 is None or v1.failures or v1.unchecked or v1.checked != report.events:
        return 0
    return report.events


@dataclass(frozen=True)
class Context:
    """What every cycle's replay needs: the registry (from the end of the log), the
    served position, the fairness settings, the revoked keys and the positions V1
    vouched for (``parsed``)."""

    registry: Registry
    served_at: int
    settings: FairnessSettings | None
    revoked: frozenset[str]
    vouched: int = 0


@dataclass(frozen=True)
class Job:
    """One cycle to replay: its log entries, what the read model serves of it, and the
    one-year rule's first records (empty on a first replay)."""

    cycle: str
    rows: list[Row]
    served: str | None  # the served document of the cycle, as stored
    seed: dict[tuple[str, str], int]  # (subject, violation) → the year it was counted in


def cycle_parts(
    jobs: Iterator[Job], context: bytes, processes: bool, workers: int | None
) -> Generator[tuple[str, Part], None, None]:
    """Each job's part, in order: replayed here, or in worker processes with a few jobs
    in flight (like ``verify_log``'s pages), so that memory stays flat. ``context``: a
    pickled ``Context`` (what the caller keeps of the registry while the workers run)."""
    if not processes:
        here = pickle.loads(context)
        for job in jobs:
            yield job.cycle, _cycle_part(here, job)
        return
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(
        workers, mp_context=get_context("forkserver"), initializer=_enter, initargs=(context,)
    )
    inflight: deque[tuple[str, Future[Part]]] = deque()
    try:
        for job in jobs:
            inflight.append((job.cycle, pool.submit(_in_worker, job)))
            while len(inflight) > 2 * workers:
                cycle, future = inflight.popleft()
                yield cycle, future.result()
        while inflight:
            cycle, future = inflight.popleft()
            yield cycle, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cycle_part(context: Context, job: Job) -> Part:
    """The job's cycle replayed alone, its acts judged against the registry from the end
    of the log, as of each act's position."""
    model = Model((), registry=context.registry)
    model.violations_seen.update(job.seed)
    name = f"cycle/{job.cycle}"
    doc = document(job.served) if job.served is not None else None
    skipped: list[int] = []
    part = replay(
        parsed(job.rows, skipped.append, context.vouched),
        model,
        job.cycle,
        context.served_at,
        lambda wanted: doc if wanted == name else None,
        context.settings,
        context.revoked,
    )
    part.unreadable = len(skipped)
    return part


_CONTEXT: list[Context] = []  # a worker process's: set once, as it starts


def _enter(context: bytes) -> None:
    _CONTEXT.append(pickle.loads(context))


def _in_worker(job: Job) -> Part:
    return _cycle_part(_CONTEXT[0], job)


def document(text: str) -> Any:
    """A stored document, or a marker that equals no recomputation if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text[:200]}
