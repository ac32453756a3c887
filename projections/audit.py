"""The evaluation's checks, after the log's V1–V7: every act replayed through the rules.

    V8 rules          every stored act is one the rules admit, in log order, judged by
                      the regime its cycle pinned and by the log's time

Acts a key signed (by their log time) at or after the moment its revocation says it
was lost, but before the revocation reached the log, are a key compromise reported
late: the rules admitted them, nothing undoes them, and the report names them as
evidence (``key_compromises``), each marked as the revocation disowns it or not.
    V9 recomputation  what the read model serves equals the state recomputed from the
                      events, as of the position it records

Fairness evidence (``projections.fairness``) is gathered in the same pass and
reported beside the checks.

A ledger is audited in parts (``projections.audit_part``), so that memory does not grow
with its log: first the acts outside every cycle (the registry, standing acts), in log
order, which leave the registry every cycle's acts are judged by (it holds each act to
the registry as it stood at that act's position); then each cycle alone, its own
streams replayed through a model of that cycle — in worker processes for a big log.
Each part leaves its findings, its documents' comparison with those served and small
summaries, put together here in any order into the report one replay of the whole log
would give. Cycles are independent but for one thing: a discipline counts against a
violation in one year only (ND 48/2023), so a cycle whose discipline cites a violation
first recorded in another cycle of another year is replayed again, knowing the log's
first record of each. An act stored in another part's streams than its statement
names (the writer never does that) sends the audit back to one replay of the whole log
in one model, which is also how a bundle's few acts are audited.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from domain.acts import Act
from domain.model import Model, Violation
from ledger.store import LogStore
from ledger.verifier import CheckResult, Finding, Report
from projections.audit_part import (
    RULES,
    Context,
    Home,
    Job,
    Part,
    Revocation,
    Served,
    Verified,
    as_json,
    as_verified,
    cycle_parts,
    document,
    parsed,
    replay,
    revocations,
    vouched_below,
)
from projections.fairness import FairnessSettings, Gathered
from projections.readmodel import stored, stored_doc
from projections.source import pages, stream_entries
from projections.views import VIEWS_VERSION

RECOMPUTATION = (
    "recomputation",
    "Kết quả mô hình đọc phục vụ bằng kết quả tính lại từ các sự kiện",
    "What the read model serves equals the state recomputed from the events",
)


# -- putting the parts together ---------------------------------------------------------


@dataclass
class _ServedModel:
    """What the read model serves: its position, its version, its documents' names,
    and each document on demand."""

    position: int
    version: str
    names: set[str]
    doc: Served
    # (English, Vietnamese) why the position it records is impossible — missing, not a
    # number, negative, beyond the log, or 0 beside documents — if it is. ``position``
    # is then the log's size: the documents are still compared, as of where a read
    # model that is caught up stands, so that a forged document is named all the same.
    flaw: tuple[str, str] | None = None

    @property
    def comparable(self) -> bool:
        return self.version == VIEWS_VERSION and self.position > 0


class _Totals:
    """The report's V8, V9 and fairness evidence, from parts added in any order."""

    def __init__(
        self,
        report: Report,
        served: _ServedModel | None,
        settings: FairnessSettings | None,
        only_served: bool,
    ) -> None:
        self.report, self.served, self.only_served = report, served, only_served
        self.v8 = report.checks["V8"] = CheckResult("V8", described=RULES)
        report.checks["V9"] = CheckResult("V9", described=RECOMPUTATION)
        self.fairness = Gathered(settings)
        # Each part's fairness evidence, pickled (a third of its size as objects) until
        # ``finish``: gathered only once the cycles' worker processes have ended, so that
        # the verifier's share of it (~35 KB a cycle) is not held beside them.
        self.evidence: list[bytes] = []
        self.reached = False
        self.refused: list[Violation] = []
        self.compared: dict[str, bool] = {}
        self.slips: dict[str, list[tuple[int, str]]] = {}

    def add(self, part: Part) -> None:
        v8 = part.v8
        self.v8.checked += v8.checked
        self.v8.unchecked += part.unreadable
        if v8.first is not None:
            self.v8.failures += v8.failures - 1
            self.v8.fail(v8.first)
        self.reached |= part.reached
        self.refused += part.refused
        self.compared.update(part.compared)
        for key, slipped in part.slips.items():
            self.slips.setdefault(key, []).extend(slipped)
        self.evidence.append(pickle.dumps(part.evidence, protocol=pickle.HIGHEST_PROTOCOL))

    def finish(self, revoked: Iterable[Revocation]) -> None:
        """``revoked``: the log's key revocations (``revocations`` of its registry)."""
        self._revocations(revoked)
        self._recomputation()
        for packed in self.evidence:  # in the order the parts were added
            self.fairness.add(pickle.loads(packed))
        self.evidence.clear()
        self.report.annexes["fairness"] = self.fairness.report()

    def _revocations(self, revoked: Iterable[Revocation]) -> None:
        """Evidence, not a failure: per revocation back-dated past acts of its key, those
        acts (logged at or after the moment it says the key was lost, before it), each
        marked as disowned by it or not, and any event it disowns that is no such act."""
        found: list[dict[str, Any]] = []
        for person, record, lost, position in revoked:
            late = sorted(self.slips.get(record.text, []))
            disowned = set(record.revoked_disowns)
            named = {event for _, event in late}
            if not late and not disowned:
                continue
            if late and not disowned:
                # The writer refuses a revocation back-dated past acts of its key that
                # disowns none (revocation-backdated): this log did not come from it.
                first, event = late[0]
                self.v8.fail(
                    Finding(
                        f"logged at or after {lost.isoformat()}, the effective time of the "
                        f"later revocation of {person}'s key (event {record.revoked_by}), "
                        "which disowns no act: revocation-backdated",
                        f"được ghi sổ từ {lost.isoformat()}, thời điểm hiệu lực của việc thu "
                        f"hồi khóa của {person} sau đó (sự kiện {record.revoked_by}), vốn "
                        "không chối bỏ hành vi nào: revocation-backdated",
                        position=first,
                        event_hash=event,
                    )
                )
            found.append(
                {
                    "person": person,
                    "key": record.text,
                    "revoked_by": record.revoked_by,
                    "revocation_position": position,
                    "effective": lost.isoformat(),
                    "acts": [
                        {"position": p, "event_hash": e, "disowned": e in disowned} for p, e in late
                    ],
                    "disowned_not_found": sorted(disowned - named),
                    "reason_en": (
                        f"{len(late)} act(s) signed with {person}'s key were logged at or "
                        f"after {lost.isoformat()}, when its revocation (event "
                        f"{record.revoked_by}) says it was lost: admitted, and to be "
                        "reviewed as possibly the thief's"
                    ),
                    "reason_vi": (
                        f"{len(late)} hành vi ký bằng khóa của {person} được ghi sổ từ "
                        f"{lost.isoformat()}, khi khóa đã bị mất theo việc thu hồi (sự kiện "
                        f"{record.revoked_by}): đã được chấp nhận, cần xem xét lại"
                    ),
                }
            )
        self.report.annexes["key_compromises"] = found

    def _recomputation(self) -> None:
        served, v9 = self.served, self.report.checks["V9"]
        if served is None:
            return
        self._compare_served(served, v9)
        if served.flaw is not None:
            v9.fail(Finding(*served.flaw, document="projection_position"))

    def _compare_served(self, served: _ServedModel, v9: CheckResult) -> None:
        if served.version != VIEWS_VERSION:
            v9.unchecked += 1
            v9.first = Finding(
                f"the read model was written by {served.version}, this verifier reads "
                f"{VIEWS_VERSION}: rebuild it (cadreledger rebuild) to compare",
                f"mô hình đọc do {served.version} ghi, trình kiểm tra này đọc {VIEWS_VERSION}: "
                "hãy dựng lại (cadreledger rebuild) để so sánh",
            )
            return
        position = served.position
        if position <= 0:
            if not served.names:
                v9.checked += 1  # nothing applied yet, and nothing served: as recomputed
            return
        if not self.reached and not self.only_served:
            v9.fail(
                Finding(
                    f"the read model claims position {position}, beyond the events",
                    f"mô hình đọc ghi vị trí {position}, vượt quá các sự kiện",
                    checkpoint_size=position,
                )
            )
            return
        if self.refused:  # as the follower writes it: only once there is something
            self.refused.sort(key=lambda v: v.position)
            refused = as_json([v.__dict__ for v in self.refused])
            self.compared["refused"] = served.doc("refused") == refused
        names = served.names if self.only_served else served.names | self.compared.keys()
        for name in sorted(names):  # failures in name order: the first named is the first
            v9.checked += 1
            same = self.compared[name] if name in self.compared else served.doc(name) is None
            if not same:
                what = (
                    "missing from the read model"
                    if name not in served.names
                    else "not recomputable from the events"
                )
                v9.fail(
                    Finding(
                        f"read model document {name!r} differs from the recomputation as of "
                        f"position {position} ({what})",
                        f"tài liệu {name!r} của mô hình đọc khác kết quả tính lại tại vị trí "
                        f"{position}",
                        checkpoint_size=position,
                        document=name,
                    )
                )


# -- a bundle, or a whole log in one model ----------------------------------------------


def audit_acts(
    acts: Iterable[Act],
    root_keys: Sequence[str],
    report: Report,
    *,
    served: tuple[int, str, dict[str, Any]] | None,
    fairness: FairnessSettings | None = None,
    only_served: bool = False,
) -> Model:
    """V8 and V9 over ``acts`` (in log order) in one model, which it returns.
    ``served``: the read model's position, version and documents; ``only_served``
    compares just the documents given (a bundle carries a few) rather than requiring
    every recomputed one."""
    held = None
    if served is not None:
        position, version, docs = served
        held = _ServedModel(position, version, set(docs), docs.get)
    return _audit_whole(acts, root_keys, report, held, fairness, only_served)


def _audit_whole(
    acts: Iterable[Act],
    root_keys: Sequence[str],
    report: Report,
    served: _ServedModel | None,
    fairness: FairnessSettings | None,
    only_served: bool,
    skipped: Sequence[int] = (),
) -> Model:
    """``skipped``: the positions of unreadable events ``acts`` passed over, filled
    as they are read."""
    totals = _Totals(report, served, fairness, only_served)
    model = Model(root_keys)
    at = served.position if served is not None and served.comparable else -1
    part = replay(acts, model, Home.WHOLE, at, served.doc if served else _none, fairness)
    part.unreadable = len(skipped)
    totals.add(part)
    totals.finish(revocations(model.registry))
    return model


def _none(_: str) -> None:
    return None


# -- a ledger, in parts -----------------------------------------------------------------


def audit(
    store: LogStore,
    root_keys: Sequence[str],
    report: Report,
    fairness: FairnessSettings | None = None,
    *,
    processes: bool = False,
    workers: int | None = None,
    verified: Verified | None = None,
) -> None:
    """Add V8, V9 and the fairness evidence to ``report``. ``processes``: replay the
    cycles in ``workers`` worker processes (default: one per core), for big logs.
    ``verified``: what V1–V7 read (``Verified``); an event changed since is a V1
    failure, and not judged."""
    latest = store.latest_checkpoint()
    size = latest[0] if latest else 0
    served = _served(store, size)
    at = served.position if served is not None and served.comparable else -1
    outside, cycles = _plan(store, size)
    vouched = vouched_below(report)
    totals = _Totals(report, served, fairness, only_served=False)
    model = Model(root_keys)
    skipped: list[int] = []
    rows = as_verified(stream_entries(store, outside, size), verified, report)
    acts = parsed(rows, skipped.append, vouched)
    part = replay(acts, model, Home.OUTSIDE, at, served.doc if served else _none, fairness)
    part.unreadable = len(skipped)
    if part.misplaced:
        return _audit_in_one(store, size, root_keys, report, served, fairness, verified)
    totals.add(part)
    revoked = list(revocations(model.registry))
    keys = frozenset(record.text for _, record, _, _ in revoked)
    context = pickle.dumps(Context(model.registry, at, fairness, keys, vouched))
    del model  # the workers have the registry; what this process needs of it is ``revoked``

    def jobs(listed: Iterable[str], seed: dict[tuple[str, str], int]) -> Iterator[Job]:
        for cycle in listed:
            name = f"cycle/{cycle}"
            text = stored_doc(store, name) if at > 0 and served and name in served.names else None
            streams = [f"cycle/{cycle}{rest}" for rest in cycles[cycle]]
            yield Job(
                cycle, as_verified(store.entries_of(streams, size), verified, report), text, seed
            )

    held: dict[str, Part] = {}  # parts that may need replaying again: see the module's doc
    misplaced = False
    with closing(cycle_parts(jobs(cycles, {}), context, processes, workers)) as parts:
        for cycle, part in parts:
            if part.misplaced:
                misplaced = True
                break
            if part.counted:
                held[cycle] = part
            else:
                totals.add(part)
    if misplaced:
        return _audit_in_one(store, size, root_keys, report, served, fairness, verified)
    first: dict[tuple[str, str], tuple[int, int]] = {}  # the log's first record of each
    for part in held.values():
        for key, position, year in part.counted:
            first[key] = min(first.get(key, (position, year)), (position, year))
    again = [cycle for cycle, part in held.items() if _counted_elsewhere(part, first)]
    for cycle in set(held) - set(again):
        totals.add(held.pop(cycle))
    seed = {key: year for key, (_, year) in first.items()}
    with closing(cycle_parts(jobs(again, seed), context, processes, workers)) as parts:
        for _, part in parts:
            totals.add(part)
    totals.finish(revoked)


def _audit_in_one(
    store: LogStore,
    size: int,
    root_keys: Sequence[str],
    report: Report,
    served: _ServedModel | None,
    fairness: FairnessSettings | None,
    verified: Verified | None,
) -> None:
    """The whole log replayed in one model, when it cannot be taken apart."""
    skipped: list[int] = []
    rows = (row for page in pages(store, 0, size) for row in as_verified(page, verified, report))
    acts = parsed(rows, skipped.append)
    _audit_whole(acts, root_keys, report, served, fairness, False, skipped)


def _counted_elsewhere(part: Part, first: Mapping[tuple[str, str], tuple[int, int]]) -> bool:
    """Whether a discipline of ``part`` cites a violation the log first recorded before
    it in a cycle of another year (which its replay did not know)."""
    return any(
        first[key][0] < position and first[key][1] != year for key, position, year in part.counted
    )


def _plan(store: LogStore, size: int) -> tuple[list[str], dict[str, list[str]]]:
    """The streams of the acts outside cycles; and each cycle's streams, the cycles in
    the order they start in the log. (A cycle's streams are kept as what follows
    ``cycle/<id>``, ``/cadre/<x>`` say: one copy each for all the years of a unit.)"""
    outside: list[str] = []
    starts: dict[str, int] = {}
    cycles: dict[str, list[str]] = {}
    # Positions below 0 are no log's (V4 names such rows): never replayed as acts.
    for stream, start in store.stream_starts(size).items():
        if not stream.startswith("cycle/"):
            outside.append(stream)
            continue
        cycle = stream.split("/", 2)[1]
        starts[cycle] = min(starts.get(cycle, start), start)
        cycles.setdefault(cycle, []).append(sys.intern(stream[len("cycle/") + len(cycle) :]))
    return outside, {cycle: cycles[cycle] for cycle in sorted(cycles, key=starts.__getitem__)}


# -- the served read model --------------------------------------------------------------


def _served(store: LogStore, size: int) -> _ServedModel | None:
    """The read model's position, version and document names, without creating
    anything: None only if it was never built here (neither of its tables exists).
    Whatever else is stored is compared: a position that is missing or impossible for a
    log of ``size`` events is itself a finding (``_ServedModel.flaw``), never a reason
    to skip the comparison."""
    tables = stored(store)
    if tables is None:
        return None
    docs_table, names, recorded = tables.docs_table, tables.names, tables.position
    version = tables.version if tables.version is not None else VIEWS_VERSION
    flaw = _position_flaw(recorded, size, names)

    def doc(name: str) -> Any:
        text = stored_doc(store, name) if docs_table else None
        return document(text) if text is not None else None

    position = size if flaw is not None else int(recorded)
    return _ServedModel(position, version, names, doc, flaw)


def _position_flaw(recorded: Any, size: int, names: set[str]) -> tuple[str, str] | None:
    """Why the position the read model records cannot be (English, Vietnamese), if so."""
    if recorded is None:
        return (
            "the read model records no position (projection_position has no row)",
            "mô hình đọc không ghi vị trí (projection_position không có dòng nào)",
        )
    if not isinstance(recorded, int) or isinstance(recorded, bool):
        return (
            f"the read model's position is not a number: {recorded!r}",
            f"vị trí của mô hình đọc không phải là số: {recorded!r}",
        )
    if recorded < 0 or recorded > size:
        return (
            f"the read model claims position {recorded}, outside the log's 0…{size}",
            f"mô hình đọc ghi vị trí {recorded}, ngoài khoảng 0…{size} của sổ cái",
        )
    if recorded == 0 and names:
        return (
            "the read model records position 0 (nothing applied) but serves documents",
            "mô hình đọc ghi vị trí 0 (chưa áp dụng gì) nhưng vẫn phục vụ tài liệu",
        )
    return None
