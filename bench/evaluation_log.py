"""An evaluation ledger of ~1,000,000 rule-abiding events: rebuild, timeline, verify.

    python bench/evaluation_log.py --db sqlite|postgres [--events N] [--keep PATH]
                                   [--only build,read,rebuild,rebuild-one,timeline,http,
                                           fairness,verify]
                                   [--json [PATH]]

Builds (or reuses, with ``--keep``) an evaluation ledger (``Settings(rules=True)``):
one registry (units, people with their keys, organiser roles; registered once by the
root of trust) and ``--units`` × ``--years`` QĐ 366 cycles of ~460 acts each, the acts
``cadreledger demo`` plays (self-assessments, a meeting with comments and minutes,
ballots, a declared conflict, amendments, tallies, evidence, confidence votes,
proposals and decisions within quota, notices, publication, a complaint upheld and
re-decided). Statements are signed in worker processes and handed to the ledger's
sequencer from ``--lanes`` threads, one cycle per lane at a time, phase by phase (a
phase waits for the event hashes the next one names); every act must be admitted.

Then, in the same run:

  read       every stored event through ``LogStore.iter_events`` (eventsourcing's
             ``select_notifications``), raw; and the same plus ``Event.parse`` (the
             strict parse), and plus ``AdmittedEvent.read`` (what replays use)
  rebuild    ``Projector(store, root_keys).rebuild()`` from an empty read model:
             events/s and ÷ the raw read rate (issue 3: ≥ 20,000/s and ≥ 0.25×), with
             the CPU per event of the process and of its replay workers
  rebuild-one  the same in one process (``projections.cores.FROM`` above the log's
             size), as before the replay on every core: what that gains
  timeline   ``replay_cycle(…, cycle, through=POS | at=TIME, cadre=X)`` latency over
             ``--queries`` random queries (issue 3: p99 < 50 ms); ``http`` the same
             through the API with ``fastapi.testclient.TestClient``
  fairness   the fairness findings' own CPU per event (``--fairness-cycles`` cycles
             replayed with and without the watcher) and the findings they make
  verify     in a child process: ``Ledger.verify_entries`` (V1–V7, worker processes on
             all cores, the log's time fed on the way) then ``projections.audit.audit``
             (V8, V9, fairness; cycles in worker processes on all cores) then
             ``Ledger.verify_after_audit`` (the sealed reasons, V10's verdict) —
             exactly what ``Ledger.verify()`` runs on a big
             log — timed apart, with the RSS of the process and
             of its worker processes sampled; against raw Ed25519 verifications/s on
             all cores over the log's own triples (``bench/verify.py``'s method)
             (issue 4: ≥ 0.8×, peak memory < 300 MB); and the CPU time per event
             of each part beside the raw libsodium run's per signature, which bounds
             verify ÷ raw however the work is spread over the cores (issue 21: 0.35×)

See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import os
import queue
import random
import secrets
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C
import verify as V

GROUP = 64  # statements per signing job
Phase = list[tuple[str, str, dict[str, Any]]]  # (actor, type, body) in submission order
CyclePlan = Generator[Phase, list[str], None]


# -- the world: units, people, deterministic keys ---------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def key_seed(salt: bytes, person: str) -> bytes:
    return hashlib.sha256(salt + b"/" + person.encode()).digest()


@dataclass
class Unit:
    index: int
    id: str
    name: str
    cadres: list[tuple[str, str]]  # (id, name)
    authority: str
    advisory: str
    inspection: str

    @property
    def officials(self) -> list[tuple[str, str]]:
        return [
            (self.authority, nfc(f"Ban Thường vụ — {self.name}")),
            (self.advisory, nfc(f"Ban Tổ chức cấp trên (thẩm định) — {self.name}")),
            (self.inspection, nfc(f"Ủy ban Kiểm tra — {self.name}")),
        ]


UNIT_KINDS = [
    "Ban Tổ chức Huyện ủy",
    "Phòng Nội vụ",
    "Văn phòng HĐND và UBND",
    "Phòng Tài chính – Kế hoạch",
    "Phòng Giáo dục và Đào tạo",
    "Phòng Tài nguyên và Môi trường",
    "Ủy ban Kiểm tra Huyện ủy",
    "Ban Tuyên giáo Huyện ủy",
]
DISTRICTS = ["Đông Sơn", "Thọ Xuân", "Hoằng Hóa", "Nga Sơn", "Tĩnh Gia", "Yên Định", "Quảng Xương"]


def make_unit(u: int, size: int) -> Unit:
    from cadreledger import demo as D

    rng = random.Random(f"unit/{u}")
    uid = f"dv{u:04d}"
    name = nfc(f"{UNIT_KINDS[u % len(UNIT_KINDS)]} {DISTRICTS[u // len(UNIT_KINDS) % 7]} ({u})")
    cadres = []
    for i in range(size):
        female = rng.random() < 0.45
        full = " ".join(
            [
                rng.choice(D.FAMILY),
                rng.choice(D.MIDDLE_F if female else D.MIDDLE_M),
                rng.choice(D.GIVEN_F if female else D.GIVEN_M),
            ]
        )
        cadres.append((f"{D.slug(full)}.{uid}.{i:02d}", nfc(full)))
    return Unit(u, uid, name, cadres, f"thuong-vu.{uid}", f"tham-dinh.{uid}", f"ubkt.{uid}")


def cycle_id(unit: Unit, year: int) -> str:
    return f"{year}-qd366-{unit.id}"


def registry_plan(units: list[Unit], root: str) -> Phase:
    """The root of trust registers every unit and person once, and the organisers."""
    acts: Phase = []
    for unit in units:
        acts.append((root, "unit.registered", {"unit": unit.id, "name": unit.name}))
    for unit in units:
        for pid, name in [*unit.cadres, *unit.officials]:
            acts.append((root, "person.registered", {"person": pid, "name": name, "key": ""}))
        acts.append((root, "role.granted", {"person": unit.authority, "role": "organiser"}))
    return acts


def cycle_plan(unit: Unit, year: int) -> CyclePlan:
    """One QĐ 366 cycle as cadreledger.demo plays it, in phases: each yields the acts
    that need nothing but what came before, and receives their event hashes."""
    from cadreledger.demo import COMMENTS, mean_hundredths, plan_levels
    from domain.fields import format_points
    from domain.regimes import latest, make_profile, profile_hash

    rng = random.Random(f"cycle/{unit.id}/{year}")
    cid = cycle_id(unit, year)
    ids = [pid for pid, _ in unit.cadres]
    head, leaders, panel = ids[0], ids[:3], ids[:5]
    uid = unit.id

    def on(actor: str, type_: str, **body: Any) -> tuple[str, str, dict[str, Any]]:
        return actor, type_, {"cycle": cid, **body}

    regime = latest("QD366")
    assert regime is not None
    merit = {p: rng.gauss(80, 8) for p in ids}
    merit[uid] = 84
    merit[ids[-1]] = 46
    merit[ids[-2]] = 60
    subjects = [uid, *ids]
    phase: Phase = [
        on(
            unit.authority,
            "cycle.opened",
            regime={"id": "QD366", "version": regime["version"], "hash": profile_hash(regime)},
            year=year,
            unit=uid,
            unit_name=unit.name,
            period="annual",
            roles={
                "authority": [unit.authority],
                "advisory": [unit.advisory],
                "chair": [head, leaders[1]],  # the deputy counts the vote about the head
                "panel": panel,
                "inspection": [unit.inspection],
            },
        ),
        on(
            unit.authority,
            "cycle.roster",
            subjects=[
                {"id": uid, "name": unit.name, "kind": "collective", "group": "tap-the"},
                *(
                    {
                        "id": pid,
                        "name": name,
                        "group": "lanh-dao" if pid in leaders else "chuyen-vien",
                        "leader": pid in leaders,
                        **({"head_of": uid} if pid == head else {}),
                    }
                    for pid, name in unit.cadres
                ),
            ],
        ),
    ]
    phase += [
        on(
            p,
            "self_assessment.submitted",
            cadre=p,
            general=min(30, round(merit[p] * 0.3) + 1),
            tasks=min(70, round(merit[p] * 0.7) + 2),
            report="Báo cáo tự đánh giá, tự chấm điểm năm nay.",
        )
        for p in ids
    ]
    phase.append(
        on(head, "self_assessment.submitted", cadre=uid, report="Báo cáo kiểm điểm tập thể.")
    )
    attendees = ids[:30]
    phase.append(on(head, "meeting.held", date=f"{year}-11-02", attendees=attendees))
    meeting = (yield phase)[-1]

    commented = rng.sample(ids, 18)
    texts = [nfc(t) for t in rng.choices(COMMENTS, k=18)]
    comments = yield [
        on(
            rng.choice([x for x in attendees if x != p]),
            "comment.made",
            cadre=p,
            meeting=meeting,
            text=t,
        )
        for p, t in zip(commented, texts, strict=True)
    ]

    conflicted = (panel[3], ids[7])
    phase = [
        on(
            head,
            "minutes.adopted",
            meeting=meeting,
            comments=comments,
            text="Biên bản hội nghị kiểm điểm, đánh giá, xếp loại năm nay.",
        ),
        on(
            panel[3],
            "conflict.declared",
            cadre=conflicted[1],
            reason="Có quan hệ họ hàng với người được đánh giá.",
        ),
    ]
    scores: dict[str, dict[str, int]] = {}
    ballot_keys: list[tuple[str, str]] = []
    for sid in subjects:
        for s in panel:
            if s == sid or (s, sid) == conflicted or (s == head and sid == uid):
                continue
            total = max(0.0, min(100.0, rng.gauss(merit[sid], 3)))
            general = min(30, round(total * 0.3))
            tasks = min(70, round(total) - general)
            scores.setdefault(sid, {})[s] = general + tasks
            ballot_keys.append((s, sid))
            phase.append(on(s, "score.submitted", cadre=sid, general=general, tasks=tasks))
    hashes = yield phase
    ballots = dict(zip(ballot_keys, hashes[2:], strict=True))

    amended = rng.sample(ids[5:-2], 6)
    reasons = [
        "Chấm lại sau khi đối chiếu kết quả thực hiện nhiệm vụ quý IV.",
        "sửa lại",
        "Bổ sung minh chứng sản phẩm đề án chuyển đổi số.",
        "nhầm",
        "Điều chỉnh theo ý kiến góp ý tại hội nghị.",
        "theo chỉ đạo",
    ]
    phase = []
    for p, reason in zip(amended, reasons, strict=True):
        scorer = rng.choice([s for s in panel if (s, p) in ballots])
        new_total = min(100, scores[p][scorer] + rng.choice([-6, -4, 3, 5]))
        general = min(30, round(new_total * 0.3))
        phase.append(
            on(
                scorer,
                "score.amended",
                cadre=p,
                amends=ballots[(scorer, p)],
                general=general,
                tasks=new_total - general,
                reason=nfc(reason),
            )
        )
        scores[p][scorer] = new_total
    totals = {sid: mean_hundredths(list(s.values())) for sid, s in scores.items()}
    phase += [
        on(
            head,
            "tally.recorded",
            cadre=sid,
            ballots=len(scores[sid]),
            total=format_points(totals[sid]),
        )
        for sid in subjects
    ]
    profile = make_profile(latest("QD366") or {}, {})
    disciplined = ids[-1]
    phase.append(
        on(
            unit.authority,
            "evidence.recorded",
            cadre=disciplined,
            kind="discipline",
            form="khien_trach",
            duty_related=True,
            decided=f"{year}-09-15",
            text="Quyết định kỷ luật khiển trách do vi phạm trong thực hiện nhiệm vụ.",
        )
    )
    phase += [
        on(leaders[1] if p == head else head, "confidence.tallied", cadre=p, votes=30, low=low)
        for p, low in zip(leaders, (4, 2, 6), strict=True)
    ]
    groups = {uid: "tap-the"} | {p: "lanh-dao" if p in leaders else "chuyen-vien" for p in ids}
    levels, why = plan_levels(profile, totals, groups, forced_kht=disciplined, head=head, unit=uid)
    phase += [
        on(
            unit.advisory,
            "appraisal.proposed",
            cadre=sid,
            level=levels[sid],
            # A lowered level's typed ground: the head's collective, or the full quota.
            **(
                {"reason": nfc(why[sid]), ("head_cap" if sid == head else "quota"): True}
                if sid in why
                else {}
            ),
        )
        for sid in totals
    ]
    decided = [uid, *(sid for sid in totals if sid != uid)]  # the collective before its head
    first = len(phase)
    phase += [
        on(unit.authority, "decision.issued", cadre=sid, level=levels[sid]) for sid in decided
    ]
    phase += [on(unit.authority, "notice.sent", cadre=sid) for sid in totals]
    phase.append(on(unit.authority, "result.published"))
    hashes = yield phase
    decisions = dict(zip(decided, hashes[first : first + len(decided)], strict=True))

    candidates = [p for p in ids[5:] if levels[p] == "HT"]
    if not candidates:
        return
    who = max(candidates, key=lambda p: totals[p])
    (filed,) = yield [
        on(
            who,
            "complaint.filed",
            cadre=who,
            against=decisions[who],
            grounds="Kết quả chấm điểm chưa tính đủ sản phẩm đề án được giao.",
        )
    ]
    _, resolved = yield [
        on(unit.inspection, "complaint.accepted", cadre=who, complaint=filed),
        on(
            unit.inspection,
            "complaint.resolved",
            cadre=who,
            complaint=filed,
            upheld=True,
            finding="Bỏ sót 02 sản phẩm quy đổi; đề nghị xếp loại lại.",
        ),
    ]
    yield [
        on(
            unit.authority,
            "decision.revised",
            cadre=who,
            level="HTT",
            total=format_points(max(totals[who] + 400, 7000)),
            supersedes=decisions[who],
            cause=resolved,
            reason="Thực hiện kết luận giải quyết khiếu nại: cộng điểm 02 sản phẩm bị bỏ sót.",
        )
    ]


# -- signing in worker processes -----------------------------------------------------------

_W: dict[str, Any] = {}


def _init_worker(salt: bytes, root_name: str, root_seed: bytes) -> None:
    from ledger.keys import SignerKey

    _W["salt"] = salt
    _W["keys"] = {root_name: SignerKey.from_seed(root_name, root_seed)}


def _key(person: str) -> Any:
    from ledger.keys import SignerKey

    keys = _W["keys"]
    key = keys.get(person)
    if key is None:
        key = keys[person] = SignerKey.from_seed(person, key_seed(_W["salt"], person))
    return key


def _sign_group(statements: list[dict[str, Any]]) -> list[Any]:
    from ledger.statement import sign_statement

    out = []
    for s in statements:
        if s["type"] == "person.registered":
            s["key"] = str(_key(s["person"]).verifier)
        out.append(sign_statement(s, _key(s["actor"])))
    return out


# -- building -----------------------------------------------------------------------------


class Rejections(RuntimeError):
    pass


@dataclass
class Target:
    """Where the ledger lives, and the bench's notes beside it."""

    kind: str
    url: str
    log_key_file: str
    root_key_file: str
    notes: Path  # JSON: salt, units, years, cycles, build figures

    def settings(self, **kw: Any) -> Any:
        from cadreledger.config import Settings

        return Settings(
            db=self.url, log_key_file=self.log_key_file, root_key_file=self.root_key_file, **kw
        )


BENCH_SKEW = 7 * 86400  # seconds: see ``build``


class _Follow:
    """The benchmark log's clock: the latest issued_at submitted so far."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self._lock = threading.Lock()

    def reach(self, at: datetime) -> None:
        with self._lock:
            self.at = max(self.at, at)

    def __call__(self) -> datetime:
        return self.at


def build(target: Target, args: argparse.Namespace, out: Any) -> dict[str, Any]:
    import multiprocessing

    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from cadreledger.service import Ledger
    from ledger.errors import Rejected
    from ledger.keys import SignerKey

    salt = secrets.token_bytes(16)
    units = [make_unit(u, args.cadres) for u in range(args.units)]
    years = list(range(args.first_year, args.first_year + args.years))
    root_path = Path(target.root_key_file)
    if not root_path.exists():
        root_path.write_text(str(SignerKey.generate("root")) + "\n")
    root = SignerKey.parse(root_path.read_text())
    root_seed = root.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    procs = args.sign_procs or os.cpu_count() or 1
    pool = multiprocessing.get_context("fork").Pool(
        procs, _init_worker, (salt, root.name, root_seed)
    )
    # The statements are signed in bulk, ahead of time, on each cycle's own calendar; the
    # log's clock follows the latest issued_at submitted (the ledger then admits each
    # within its clock skew, set here to a few days since the lanes of one year run
    # side by side, hours apart on their calendars), and the years run one after another.
    follow = _Follow(datetime(args.first_year - 1, 12, 1, 0, 0, tzinfo=UTC))
    ledger = Ledger(
        target.settings(rules=True, max_batch=args.max_batch, max_clock_skew=BENCH_SKEW),
        clock=follow,
    )
    seq = ledger.sequencer
    assert seq is not None and ledger.rules is not None
    clock_lock = threading.Lock()
    rejected: list[str] = []
    counts = {"statements": 0, "phases": 0}
    t0 = time.perf_counter()
    registry_time = datetime(args.first_year - 1, 12, 1, 0, 0, tzinfo=UTC)

    def stamp(acts: Phase, start: datetime) -> list[dict[str, Any]]:
        return [
            {
                "v": 1,
                "type": type_,
                "actor": actor,
                "issued_at": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "nonce": secrets.token_urlsafe(16),
                **body,
            }
            for i, (actor, type_, body) in enumerate(acts)
        ]

    def run_phase(statements: list[dict[str, Any]]) -> list[str]:
        groups = [statements[i : i + GROUP] for i in range(0, len(statements), GROUP)]
        signed = pool.map(_sign_group, groups, chunksize=1)
        follow.reach(max(datetime.fromisoformat(s["issued_at"]) for s in statements))
        futures = [seq.submit(ledger._admit(s)) for g in signed for s in g]
        hashes = []
        for s, f in zip(statements, futures, strict=True):
            try:
                hashes.append(f.result(timeout=args.build_timeout).event_hash.hex())
            except Rejected as e:
                rejected.append(f"{s['type']} {s.get('cycle')} {s.get('cadre')}: {e.detail_en}")
                raise Rejections(rejected[-1]) from e
        with clock_lock:
            counts["statements"] += len(statements)
            counts["phases"] += 1
        return hashes

    try:
        print(f"registry: {len(units)} units, people and roles …", file=out, flush=True)
        for chunk in _chunks(registry_plan(units, root.name), 5000):
            run_phase(stamp(chunk, registry_time))
            registry_time += timedelta(seconds=len(chunk))
        registry_events = counts["statements"]
        work: queue.SimpleQueue[tuple[Unit, int] | None] = queue.SimpleQueue()
        errors: list[BaseException] = []
        total_cycles = len(units) * len(years)
        done = itertools.count(1)
        note_every = max(1, total_cycles // 20)

        def lane() -> None:
            while (item := work.get()) is not None and not errors:
                unit, year = item
                plan = cycle_plan(unit, year)
                clock = datetime(year, 11, 2, 1, 0, tzinfo=UTC)
                try:
                    acts = next(plan)
                    while True:
                        hashes = run_phase(stamp(acts, clock))
                        clock += timedelta(hours=1)
                        acts = plan.send(hashes)
                except StopIteration:
                    pass
                except BaseException as e:
                    errors.append(e)
                    return
                n = next(done)
                if n % note_every == 0:
                    el = time.perf_counter() - t0
                    print(
                        f"  {n:,}/{total_cycles:,} cycles, {counts['statements']:,} events, "
                        f"{counts['statements'] / el:,.0f}/s",
                        file=out,
                        flush=True,
                    )

        for year in years:  # one year at a time: the log's time only moves forward
            for unit in units:
                work.put((unit, year))
            for _ in range(args.lanes):
                work.put(None)
            threads = [threading.Thread(target=lane, name=f"lane-{i}") for i in range(args.lanes)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        seconds = time.perf_counter() - t0
        size = ledger.size()
        batches = seq.batches
    finally:
        ledger.close()
        pool.terminate()
    if size != counts["statements"]:
        raise RuntimeError(f"log holds {size} events, {counts['statements']} were admitted")
    notes = {
        "salt": salt.hex(),
        "units": len(units),
        "cadres": args.cadres,
        "years": years,
        "cycles": len(units) * len(years),
        "events": size,
        "registry_events": registry_events,
        "build": {
            "seconds": seconds,
            "events_per_s": size / seconds,
            "batches": batches,
            "mean_batch": size / max(1, batches),
            "lanes": args.lanes,
            "sign_procs": procs,
            "rejected": len(rejected),
            "code": C.code_version(),
            "loadavg_at_start": args._load,
        },
    }
    target.notes.write_text(json.dumps(notes, indent=2) + "\n")
    return notes


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- measurements ----------------------------------------------------------------------------


def measure_read(store: Any) -> dict[str, Any]:
    from ledger.envelope import AdmittedEvent, Event

    t = time.perf_counter()
    n = 0
    for _ in store.iter_events():
        n += 1
    raw = time.perf_counter() - t
    found: dict[str, Any] = {"events": n, "raw_seconds": raw, "raw_per_s": n / raw}
    for name, read in (("parse", Event.parse), ("admitted", AdmittedEvent.read)):
        t = time.perf_counter()
        for _, _, _, state in store.iter_events():
            read(state)
        seconds = time.perf_counter() - t
        found[f"{name}_seconds"], found[f"{name}_per_s"] = seconds, n / seconds
    return found


def reset_read_model(store: Any) -> None:
    """An empty read model at position 0, so that each run rebuilds from the same start."""
    from projections.readmodel import ReadModel

    ReadModel(store)  # creates the tables if needed
    store.execute("DELETE FROM projection_docs")
    store.execute("UPDATE projection_position SET position = 0")


def measure_rebuild(ledger: Any) -> tuple[dict[str, Any], Any]:
    from projections.follower import Projector

    reset_read_model(ledger.store)
    t = time.perf_counter()
    projector = Projector(ledger.store, ledger.root_keys)
    init = time.perf_counter() - t
    sampler = C.TreeSampler(0.05)  # the replay's worker processes
    sampler.start()
    cpu0 = time.process_time()
    t = time.perf_counter()
    digest = projector.rebuild()
    seconds = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    workers_cpu = sampler.stop()["workers_cpu_s"]
    size = projector.model.position
    return {
        "events": size,
        "seconds": seconds,
        "per_s": size / seconds,
        "cpu_cores": (cpu + workers_cpu) / seconds,
        "cpu_us_per_event": {"main": cpu / size * 1e6, "workers": workers_cpu / size * 1e6},
        "projector_init_seconds": init,
        "refused": len(projector.model.refused),
        "digest": digest,
    }, projector


def _replay_args(ledger: Any, projector: Any) -> tuple[Any, Any]:
    """replay_cycle's second argument: the root keys (it replays the registry stream),
    or, since it stopped doing that, the projector's registry."""
    from projections.history import replay_cycle

    second = list(inspect.signature(replay_cycle).parameters)[1]
    if second == "registry":
        return ledger.store, projector.model.registry
    return ledger.store, ledger.root_keys


def timeline_queries(notes: dict[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    """Random (cycle, cadre, position-or-time) queries; positions found by the caller."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        unit = make_unit(rng.randrange(notes["units"]), notes["cadres"])
        year = rng.choice(notes["years"])
        cadre = rng.choice(unit.cadres)[0]
        # Half by position (somewhere in the cycle's span), half by time.
        out.append(
            {
                "cycle": cycle_id(unit, year),
                "cadre": cadre,
                "by": "position" if i % 2 == 0 else "time",
                "at": datetime(year, 11, 2, 1, 0, tzinfo=UTC)
                + timedelta(minutes=rng.randrange(0, 7 * 60)),
                "fraction": rng.random(),
            }
        )
    return out


def cycle_span(store: Any, cycle: str) -> tuple[int, int]:
    """The first and last log positions of a cycle (from the log index)."""
    rows = store.query(
        "SELECT MIN(idx) AS a, MAX(idx) AS b FROM ledger_leaves WHERE stream = ? OR stream LIKE ?",
        (f"cycle/{cycle}", f"cycle/{cycle}/%"),
    )
    return int(rows[0]["a"]), int(rows[0]["b"])


def measure_timeline(
    ledger: Any, projector: Any, notes: dict[str, Any], count: int
) -> dict[str, Any]:
    from projections.history import replay_cycle

    head = _replay_args(ledger, projector)
    queries = timeline_queries(notes, count, seed=7)
    for q in queries:
        if q["by"] == "position":
            a, b = cycle_span(ledger.store, q["cycle"])
            q["through"] = a + int((b - a) * q["fraction"])
    lat: list[float] = []
    steps = 0

    def roster(cycle: str) -> list[str]:
        return list(projector.model.cycles[cycle].evaluations)

    replay_cycle(
        *head, queries[0]["cycle"], roster(queries[0]["cycle"]), cadre=queries[0]["cadre"]
    )  # warm-up
    for q in queries:
        kw: dict[str, Any] = {"cadre": q["cadre"]}
        if q["by"] == "position":
            kw["through"] = q["through"]
        else:
            kw["at"] = q["at"]
        t = time.perf_counter()
        _, found = replay_cycle(*head, q["cycle"], roster(q["cycle"]), **kw)
        lat.append(time.perf_counter() - t)
        steps += len(found)
    return _latency(lat) | {
        "queries": len(lat),
        "mean_steps": steps / len(lat),
        "signature": str(inspect.signature(replay_cycle)),
        "registry_given": head[1] is not ledger.root_keys,
    }


def _latency(lat: list[float]) -> dict[str, Any]:
    s = sorted(lat)
    return {
        "p50_ms": C.percentile(s, 50) * 1000,
        "p90_ms": C.percentile(s, 90) * 1000,
        "p99_ms": C.percentile(s, 99) * 1000,
        "max_ms": s[-1] * 1000,
        "mean_ms": sum(s) / len(s) * 1000,
    }


def measure_http(ledger: Any, notes: dict[str, Any], count: int) -> dict[str, Any]:
    """The same queries through the API; the per-cadre timeline route if there is one,
    else ``GET /v1/cycles/{c}/cadres/{x}?as_of=|at=`` (rating plus the cadre's timeline)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(ledger)
    paths = set(app.openapi()["paths"])  # routers may be nested: ask the schema
    timeline = "/v1/cycles/{cycle}/cadres/{cadre}/timeline" in paths
    queries = timeline_queries(notes, count, seed=11)
    lat: list[float] = []
    with TestClient(app) as client:
        for i, q in enumerate(queries):
            base = f"/v1/cycles/{q['cycle']}/cadres/{q['cadre']}" + (
                "/timeline" if timeline else ""
            )
            if q["by"] == "position":
                a, b = cycle_span(ledger.store, q["cycle"])
                params = {"as_of": a + int((b - a) * q["fraction"])}
                if timeline:
                    params = {"at": params["as_of"]}
            else:
                params = {"at": q["at"].strftime("%Y-%m-%dT%H:%M:%SZ")}
            t = time.perf_counter()
            r = client.get(base, params=params)
            elapsed = time.perf_counter() - t
            if r.status_code not in (200, 404):
                raise RuntimeError(f"{base} {params}: {r.status_code} {r.text[:300]}")
            if i:  # the first request warms up
                lat.append(elapsed)
    return _latency(lat) | {
        "queries": len(lat),
        "route": "/v1/cycles/{c}/cadres/{x}/timeline?at="
        if timeline
        else "/v1/cycles/{c}/cadres/{x}?as_of=|at=",
    }


# -- verify in a child process ------------------------------------------------------------


def child_verify(spec: dict[str, Any]) -> dict[str, Any]:
    import gc
    import resource

    from cadreledger.config import Settings
    from cadreledger.service import Ledger
    from projections.audit import audit

    ledger = Ledger(Settings(db=spec["url"]), writer=False)
    try:
        size = ledger.size()
        gc.collect()
        before = V._vm("VmRSS")
        sampler = C.TreeSampler()
        sampler.start()
        # What Ledger.verify() does, timed in its two parts.
        t0, c0 = time.perf_counter(), os.times()
        report, log_time, verified = verify_entries(ledger, workers=spec.get("workers"))
        t1, c1 = time.perf_counter(), os.times()
        log_mem = sampler.stop()
        audit_start_kb = V._vm("VmRSS")  # what V1–V7 left in this process
        sampler = C.TreeSampler()
        sampler.start()
        audit(ledger.store, ledger.root_keys, report, processes=True, **verified)
        t2, c2 = time.perf_counter(), os.times()
        domain_mem = sampler.stop()
        sampler = C.TreeSampler()
        sampler.start()
        after_audit(ledger, report, log_time)
        t3, c3 = time.perf_counter(), os.times()
        time_mem = sampler.stop()
        checks = {k: {"status": c.status, "checked": c.checked} for k, c in report.checks.items()}
        fairness = report.annexes.get("fairness", {})
        return {
            "events": size,
            "ok": report.ok,
            "checks": checks,
            "fairness_keys": sorted(fairness) if isinstance(fairness, dict) else None,
            "findings": len(fairness.get("findings", [])) if isinstance(fairness, dict) else None,
            "log_seconds": t1 - t0,
            "domain_seconds": t2 - t1,
            "time_seconds": t3 - t2,
            "seconds": t3 - t0,
            "log_per_s": size / (t1 - t0),
            "domain_per_s": size / (t2 - t1),
            "per_s": size / (t3 - t0),
            "log_self_cpu_s": (c1.user + c1.system) - (c0.user + c0.system),
            "log_children_cpu_s": (c1.children_user + c1.children_system)
            - (c0.children_user + c0.children_system),
            "domain_cpu_s": (c2.user + c2.system) - (c1.user + c1.system),
            "time_cpu_s": (c3.user + c3.system) - (c2.user + c2.system),
            "rss_before_kb": before,
            "rss_audit_start_kb": audit_start_kb,
            "log_mem": log_mem,
            "domain_mem": domain_mem,
            "time_mem": time_mem,
            "vm_hwm_kb": V._vm("VmHWM"),
            "children_ru_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        }
    finally:
        ledger.close()


def verify_entries(ledger: Any, workers: int | None) -> tuple[Any, Any, dict[str, Any]]:
    """V1–V7 as ``Ledger.verify()`` runs them on a big log (and V10 fed on the way);
    the audit's options (``workers``, and what V1 read where the code keeps it)."""
    import projections.audit_part as parts

    options: dict[str, Any] = {"workers": workers}
    if hasattr(ledger, "verify_entries"):
        from ledger.logtime import LogTime, recorded_skew

        log_time = LogTime(recorded_skew(ledger.store.meta()))
        if hasattr(parts, "Verified"):
            options["verified"] = parts.Verified()
            report = ledger.verify_entries(
                log_time, processes=True, workers=workers, verified=options["verified"]
            )
        else:  # code before the audit checked what it read against V1's reading
            report = ledger.verify_entries(log_time, processes=True, workers=workers)
        return report, log_time, options
    from ledger.verifier import verify_log  # code before verify_entries: V10 read apart

    report = verify_log(
        ledger.store, ledger.log_key, log_key_source="database", processes=True, workers=workers
    )
    return report, None, options


def after_audit(ledger: Any, report: Any, log_time: Any) -> None:
    """What ``Ledger.verify()`` runs after the audit: the sealed reasons judged (with the
    data key the benchmark keeps beside the ledger) and V10, the log's time."""
    if log_time is not None:
        ledger.verify_after_audit(report, log_time)
        return
    from ledger.logtime import check_log_time, recorded_skew, stored_rows

    ledger._judge_reasons(report)  # code before verify_entries: the same steps
    check_log_time(stored_rows(ledger.store), report, recorded_skew(ledger.store.meta()))


def measure_fairness(ledger: Any, sample: int) -> dict[str, Any]:
    """The fairness findings' own cost: ``sample`` cycles (every cycle when 0) replayed
    through the rules alone, then again with the ``Fairness`` watcher observing every
    admitted act and working out its evidence at the end (what ``audit`` does per cycle
    in its workers) — in one process; CPU seconds per event, the watcher's share, and
    the findings made on the whole ``verify``."""
    from domain.model import Model
    from projections.audit import _plan
    from projections.audit_part import Home, parsed, replay
    from projections.fairness import Fairness, Gathered
    from projections.source import stream_entries

    store = ledger.store
    size = ledger.size()
    outside, cycles = _plan(store, size)
    model = Model(ledger.root_keys)
    replay(
        parsed(stream_entries(store, outside, size), lambda _: None),
        model,
        Home.OUTSIDE,
        -1,
        lambda _: None,
    )
    registry = model.registry
    chosen = list(cycles)[: sample or None]
    rules_s = watched_s = 0.0
    events = 0
    gathered = Gathered()
    for cycle in chosen:
        rows = store.entries_of([f"cycle/{cycle}{rest}" for rest in cycles[cycle]], size)
        acts = list(parsed(rows, lambda _: None))
        events += len(acts)
        t0 = time.process_time()
        alone = Model((), registry=registry)
        for act in acts:
            alone.replay(act)
        t1 = time.process_time()
        both, watcher = Model((), registry=registry), Fairness()
        for act in acts:
            if both.replay(act) is None:
                watcher.observe(act, both)
        gathered.add(watcher.evidence(both))
        t2 = time.process_time()
        rules_s += t1 - t0
        watched_s += t2 - t1
    t3 = time.process_time()
    report = gathered.report()
    gather_s = time.process_time() - t3
    fairness_s = watched_s - rules_s + gather_s
    return {
        "cycles": len(chosen),
        "events": events,
        "rules_cpu_us_per_event": 1e6 * rules_s / max(1, events),
        "fairness_cpu_us_per_event": 1e6 * fairness_s / max(1, events),
        "fairness_share_of_replay": fairness_s / max(1e-9, watched_s + gather_s),
        "gather_s": gather_s,
        "findings": len(report["findings"]),
        "severities": report.get("severities"),
        "counts": report["counts"],
    }


def raw_ed25519(store: Any, workers: int, tmp: Path, single_sample: int) -> dict[str, Any]:
    """bench/verify.py's raw rate over this log's own (key, signature, message) triples,
    through libsodium and OpenSSL in turn: the faster, with both under ``by_library``."""
    from ledger.envelope import Event

    head = struct.Struct("<IH")  # more than 255 keys here
    path = tmp / f"triples-{os.getpid()}.bin"
    keys: dict[bytes, int] = {}
    n = 0
    try:
        with path.open("wb") as f:
            for _, _, _, state in store.iter_events():
                e = Event.parse(state)
                k = keys.setdefault(e.signer.public, len(keys))
                f.write(head.pack(k, len(e.statement_bytes)) + e.signature + e.statement_bytes)
                n += 1
        saved = V._TRIPLE_HEAD
        V._TRIPLE_HEAD = head
        try:
            by_library = {
                library: V.raw_rate(path, n, list(keys), workers, single_sample, library)
                for library in V.LIBRARIES
            }
            best = max(by_library.values(), key=lambda r: r["per_second"])  # the ceiling
            return best | {"keys": len(keys), "by_library": by_library}
        finally:
            V._TRIPLE_HEAD = saved
    finally:
        path.unlink(missing_ok=True)


def cpu_budget(raw: dict[str, Any], ver: dict[str, Any]) -> dict[str, float]:
    """Where a verification's ratio to the raw rate is bounded, from CPU time alone.

    Both runs keep every core busy, so each rate is the cores ÷ its CPU per item. The raw
    run spends its CPU on signatures only; the verification spends the same per event on
    its signature and the rest on everything else (parsing, chains, the tree, the rules'
    replay, the documents). Its ratio to the raw rate can therefore never exceed
    signature CPU ÷ verification CPU per event, however its work is scheduled."""
    events = ver["events"]
    parts = {
        "V1–V7": ver["log_self_cpu_s"] + ver["log_mem"]["workers_cpu_s"],
        "V8–V9": ver["domain_cpu_s"] + ver["domain_mem"]["workers_cpu_s"],
        "V10": ver.get("time_cpu_s", 0.0),
    }
    # Issue 21's target is against libsodium (the library the ledger verifies with),
    # whichever library was faster in this run.
    sodium = raw.get("by_library", {}).get("libsodium", raw)
    signature_us = sodium["cpu_us_per_signature"]
    per_event = {name: cpu / events * 1e6 for name, cpu in parts.items()}
    total_us = sum(per_event.values())
    return {
        "signature_cpu_us": signature_us,
        "signature_library": sodium.get("library", raw.get("library")),
        "log_cpu_us_per_event": per_event["V1–V7"],
        "domain_cpu_us_per_event": per_event["V8–V9"],
        "time_cpu_us_per_event": per_event["V10"],
        "cpu_us_per_event": total_us,
        "ceiling_vs_raw": signature_us / total_us,
        # What the rest of the work may cost per event for the 0.8×.
        "allowed_besides_signature_us": signature_us / 0.8 - signature_us,
        # What the whole verification may cost per event for issue 21's 0.35×.
        "allowed_for_035_us": signature_us / 0.35,
    }


# -- main ----------------------------------------------------------------------------------


@contextmanager
def open_target(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[Target, bool]]:
    """The database: kept (``--keep``: reused if it holds a ledger) or made for this run."""
    pg = C.pg_server(args) if args.db == "postgres" else None
    if args.keep:
        if args.db == "sqlite":
            path = Path(args.keep).resolve()
            t = Target(
                "sqlite",
                f"sqlite:///{path}",
                f"{path}.logkey",
                f"{path}.rootkey",
                Path(f"{path}.bench.json"),
            )
            exists = path.exists()
        else:
            assert pg is not None
            name = args.keep
            side = Path(args.tmpdir or "/tmp") / f"cadreledger-bench-{name}"
            t = Target(
                "postgres",
                pg.url(name),
                f"{side}.logkey",
                f"{side}.rootkey",
                Path(f"{side}.bench.json"),
            )
            with pg.admin() as conn:
                exists = bool(
                    conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                )
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')
        reuse = exists and t.notes.exists()
        if exists and not reuse:
            raise SystemExit(f"{args.keep} exists but {t.notes} does not: not a bench ledger")
        yield t, reuse
        return
    with C.fresh_db(args.db, "evaluation", tmp, pg) as db:
        yield (
            Target(
                db.kind,
                db.ledger_url,
                db.key_file,
                str(tmp / "evaluation.rootkey"),
                tmp / "evaluation.bench.json",
            ),
            False,
        )


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--child-verify":
        print(json.dumps(child_verify(json.loads(sys.argv[2]))))
        return 0
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    C.add_db_args(p)
    C.add_json_arg(p)
    p.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="about how many events to build (default 1000000); sets --units",
    )
    p.add_argument(
        "--units",
        type=int,
        default=None,
        help="units (default: from --events, ~460 events per cycle)",
    )
    p.add_argument("--years", type=int, default=10, help="annual cycles per unit (default 10)")
    p.add_argument("--first-year", type=int, default=2017)
    p.add_argument("--cadres", type=int, default=42, help="cadres per unit (default 42)")
    p.add_argument(
        "--lanes", type=int, default=48, help="cycles in flight at once while building (default 48)"
    )
    p.add_argument("--sign-procs", type=int, default=None)
    p.add_argument("--max-batch", type=int, default=1000)
    p.add_argument("--build-timeout", type=float, default=600)
    p.add_argument(
        "--keep",
        default=None,
        metavar="PATH|DBNAME",
        help="keep the ledger (an SQLite file, or a PostgreSQL database name); "
        "reused as it is if it already holds one",
    )
    p.add_argument(
        "--only",
        default="read,rebuild,timeline,http,fairness,verify",
        help="measurements (default: read,rebuild,timeline,http,fairness,verify)",
    )
    p.add_argument("--queries", type=int, default=200, help="timeline queries (default 200)")
    p.add_argument("--workers", type=int, default=None, help="verify workers (default: cores)")
    p.add_argument("--single-sample", type=int, default=20_000)
    p.add_argument(
        "--fairness-cycles",
        type=int,
        default=200,
        help="cycles the fairness measurement replays (0: all; default 200)",
    )
    args = p.parse_args(argv)
    out = C.human_stream(args)
    env = C.environment()
    args._load = env["loadavg_at_start"]
    only = set(args.only.split(","))
    if args.units is None:
        args.units = max(1, round(args.events / (args.years * (args.cadres * 11 + 0))))
    results: dict[str, Any] = {}
    with C.workdir(args.tmpdir) as tmp, open_target(args, tmp) as (target, reuse):
        if reuse:
            notes = json.loads(target.notes.read_text())
            print(f"reusing {args.keep}: {notes['events']:,} events", file=out, flush=True)
        else:
            print(
                f"building {args.units} units × {args.years} cycles "
                f"(~{args.units * args.years * 462:,} events) …",
                file=out,
                flush=True,
            )
            notes = build(target, args, out)
        results["ledger"] = notes
        b = notes["build"]
        print(
            f"ledger: {notes['events']:,} events, {notes['cycles']:,} cycles; built at "
            f"{b['events_per_s']:,.0f} events/s ({b['seconds']:.0f} s, mean batch "
            f"{b['mean_batch']:.0f}, {b['rejected']} rejected)",
            file=out,
            flush=True,
        )
        measure(target, args, notes, only, results, tmp, out)
    rows = table_rows(results)
    print(file=out)
    print(
        f"evaluation-ledger benchmark — database: {args.db}, {env['cpu_count']} CPUs, code "
        f"{env['code']}, load at start {env['loadavg_at_start']}",
        file=out,
    )
    print(C.table(["measure", "value"], rows), file=out)
    C.write_json(
        args,
        {
            "benchmark": "evaluation_log",
            "db": args.db,
            "args": {k: v for k, v in vars(args).items() if k not in ("pg_password", "_load")},
            "environment": env,
            "results": results,
        },
    )
    return 0


def measure(
    target: Target,
    args: argparse.Namespace,
    notes: dict[str, Any],
    only: set[str],
    results: dict[str, Any],
    tmp: Path,
    out: Any,
) -> None:
    from cadreledger.service import Ledger

    workers = args.workers or os.cpu_count() or 1
    with Ledger(target.settings(), writer=False) as ledger:
        if "read" in only or "rebuild" in only:
            print("read: iter_events, raw and parsed …", file=out, flush=True)
            results["read"] = measure_read(ledger.store)
        projector = None
        if "rebuild" in only or "timeline" in only:
            print("rebuild: Projector.rebuild() from an empty read model …", file=out, flush=True)
            results["rebuild"], projector = measure_rebuild(ledger)
            if "read" in results:
                results["rebuild"]["vs_raw_read"] = (
                    results["rebuild"]["per_s"] / results["read"]["raw_per_s"]
                )
                results["rebuild"]["vs_parsed_read"] = (
                    results["rebuild"]["per_s"] / results["read"]["parse_per_s"]
                )
            if results["rebuild"]["refused"]:
                raise RuntimeError(f"{results['rebuild']['refused']} stored acts refused on replay")
        if "rebuild-one" in only:
            from projections import cores

            print("rebuild-one: the same in one process …", file=out, flush=True)
            every_core, cores.FROM = cores.FROM, sys.maxsize
            try:
                results["rebuild_one"], _ = measure_rebuild(ledger)
            finally:
                cores.FROM = every_core
            if (
                "rebuild" in results
                and results["rebuild_one"]["digest"] != results["rebuild"]["digest"]
            ):
                raise RuntimeError("the rebuild on every core and in one process differ")
            if "read" in results:
                results["rebuild_one"]["vs_raw_read"] = (
                    results["rebuild_one"]["per_s"] / results["read"]["raw_per_s"]
                )
        if "timeline" in only:
            print(f"timeline: {args.queries} replay_cycle queries …", file=out, flush=True)
            results["timeline"] = measure_timeline(ledger, projector, notes, args.queries)
        if "http" in only:
            print(f"http: {args.queries} requests through TestClient …", file=out, flush=True)
            try:
                results["http"] = measure_http(ledger, notes, args.queries)
            except Exception as e:  # the API is someone else's work in progress
                print(f"  http not measured: {e!r}", file=out, flush=True)
                results["http_error"] = repr(e)
        del projector
        if "fairness" in only:
            print("fairness: the watcher's own CPU per event …", file=out, flush=True)
            results["fairness"] = measure_fairness(ledger, args.fairness_cycles)
        if "verify" in only:
            print(f"raw Ed25519 (libsodium, OpenSSL) on {workers} threads …", file=out, flush=True)
            raw = raw_ed25519(ledger.store, workers, tmp, args.single_sample)
    if "verify" in only:
        print("verify (V1–V7, V8–V9 + fairness, V10) in a child process …", file=out, flush=True)
        spec = {"url": target.url, "workers": args.workers}
        proc = subprocess.run(
            [sys.executable, __file__, "--child-verify", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode or not lines:
            raise RuntimeError(f"verify child exited with {proc.returncode}")
        ver = json.loads(lines[-1])
        results["verify"] = {
            "raw": raw,
            "verify": ver,
            "log_vs_raw": ver["log_per_s"] / raw["per_second"],
            "full_vs_raw": ver["per_s"] / raw["per_second"],
            "budget": cpu_budget(raw, ver),
        }


def table_rows(r: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    b = r["ledger"]["build"]
    rows.append(["events in the ledger", r["ledger"]["events"]])
    rows.append(["build: events/s (signing + rules + commit)", b["events_per_s"]])
    if "read" in r:
        rows.append(["read raw (iter_events) events/s", r["read"]["raw_per_s"]])
        rows.append(["read + Event.parse events/s", r["read"]["parse_per_s"]])
        rows.append(["read + AdmittedEvent.read events/s", r["read"]["admitted_per_s"]])
    if "rebuild" in r:
        x = r["rebuild"]
        rows.append(["rebuild events/s", x["per_s"]])
        rows.append(["rebuild s", x["seconds"]])
        per = x["cpu_us_per_event"]
        rows.append(
            ["rebuild CPU µs/event: main + workers", f"{per['main']:.1f} + {per['workers']:.1f}"]
        )
        if "vs_raw_read" in x:
            rows.append(["rebuild ÷ raw read", x["vs_raw_read"]])
            rows.append(["rebuild ÷ read+parse", x["vs_parsed_read"]])
        rows.append(["rebuild refused", x["refused"]])
    if "rebuild_one" in r:
        x = r["rebuild_one"]
        rows.append(["rebuild in one process events/s", x["per_s"]])
        if "vs_raw_read" in x:
            rows.append(["rebuild in one process ÷ raw read", x["vs_raw_read"]])
    for key, label in (("timeline", "timeline replay_cycle"), ("http", "timeline over HTTP")):
        if key in r:
            x = r[key]
            rows.append([f"{label} p50 ms", x["p50_ms"]])
            rows.append([f"{label} p99 ms", x["p99_ms"]])
    if "fairness" in r:
        x = r["fairness"]
        rows.append(["fairness: cycles / events replayed", f"{x['cycles']} / {x['events']}"])
        rows.append(["fairness: rules CPU µs per event", x["rules_cpu_us_per_event"]])
        rows.append(["fairness: watcher CPU µs per event", x["fairness_cpu_us_per_event"]])
        rows.append(["fairness: share of the cycle replay", x["fairness_share_of_replay"]])
        rows.append(["fairness: findings (by severity)", x["severities"]])
    if "verify" in r:
        x, v = r["verify"], r["verify"]["verify"]
        rows += [
            [f"raw Ed25519 sig/s (all cores, {x['raw'].get('library')})", x["raw"]["per_second"]],
            ["raw Ed25519 sig/s (1 thread)", x["raw"]["single_thread_per_second"]],
            *(
                [f"raw Ed25519 sig/s (all cores, {lib})", one["per_second"]]
                for lib, one in x["raw"].get("by_library", {}).items()
            ),
            ["verify V1–V7 s", v["log_seconds"]],
            ["verify V8–V9 + fairness s", v["domain_seconds"]],
            ["verify V10 + sealed reasons s", v.get("time_seconds", 0.0)],
            ["verify total events/s", v["per_s"]],
            ["verify V1–V7 events/s", v["log_per_s"]],
            ["verify total ÷ raw", x["full_vs_raw"]],
            ["verify V1–V7 ÷ raw", x["log_vs_raw"]],
            ["verify ok", str(v["ok"])],
            ["fairness findings", v.get("findings")],
        ]
        if "budget" in x:
            g = x["budget"]
            rows += [
                [
                    f"CPU µs per signature (raw {g.get('signature_library')}, all cores)",
                    g["signature_cpu_us"],
                ],
                ["CPU µs per event, V1–V7 (signature included)", g["log_cpu_us_per_event"]],
                ["CPU µs per event, V8–V9 + fairness", g["domain_cpu_us_per_event"]],
                ["CPU µs per event, V10 + sealed reasons", g.get("time_cpu_us_per_event", 0.0)],
                ["CPU µs per event, whole verify", g["cpu_us_per_event"]],
                ["ceiling of verify ÷ raw (signature CPU ÷ event CPU)", g["ceiling_vs_raw"]],
                ["CPU µs per event 0.8× would allow besides", g["allowed_besides_signature_us"]],
                ["CPU µs per event 0.35× would allow (whole)", g.get("allowed_for_035_us")],
            ]
        for part, mem, cpu in (
            ("V1–V7", v["log_mem"], v["log_self_cpu_s"]),
            ("V8–V9", v["domain_mem"], v["domain_cpu_s"]),
            *([("V10", v["time_mem"], v["time_cpu_s"])] if "time_mem" in v else []),
        ):
            rows += [
                [f"{part} CPU s, verifier process", cpu],
                [f"{part} CPU s, worker processes", mem["workers_cpu_s"]],
                [f"{part} peak RSS verifier process MB", mem["self_peak_kb"] / 1024],
                [f"{part} peak RSS largest worker MB", mem["largest_worker_peak_kb"] / 1024],
                [f"{part} peak RSS all processes MB", mem["total_peak_kb"] / 1024],
            ]
        rows.append(["verifier VmHWM MB", v["vm_hwm_kb"] / 1024])
        if "rss_audit_start_kb" in v:
            rows.append(["verifier RSS as V8 starts MB", v["rss_audit_start_kb"] / 1024])
    return rows


if __name__ == "__main__":
    sys.exit(main())
