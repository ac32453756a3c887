"""Verification throughput and memory: Ledger.verify() against raw Ed25519.

    python bench/verify.py --db sqlite|postgres [--events N] [--rounds R] [--json [PATH]]

Builds one log on a fresh database (untimed), in two steps: first N/4 events, then
up to N. At each size (R times at N) it measures

  raw      Ed25519 verifications/s over the very (public key, signature, message)
           triples in the log, on a ThreadPoolExecutor with os.cpu_count() threads
           (plus a one-thread figure over a sample), twice in the same process: through
           libsodium (PyNaCl, as the ledger verifies) and through OpenSSL
           (``cryptography``). Each C call releases the GIL, so the threads use every
           core. The faster is the ceiling;
  verify   ``Ledger(settings, writer=False).verify()`` events/s, in a fresh child
           process, with its RSS sampled from /proc/self/status every 10 ms (growth
           during the run), VmHWM and ``ru_maxrss``; and the CPU time per event of the
           verifying process, its worker processes and the PostgreSQL backends on
           its database (bench/README.md).

and reports verify/raw against both libraries (the headline against the faster), and the
ceiling the CPU times set it: the best raw CPU per signature ÷ verify CPU per event.
Memory should stay flat from N/4 to N. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

_TRIPLE_HEAD = struct.Struct("<BH")  # key index, message length; then 64-byte signature
_RAW_CHUNK = 512  # the verifier's own chunk size (ledger.verifier._SIG_CHUNK)
_RAW_BLOCK = 100_000  # triples held in memory at once for the raw measurement


# -- building the log (untimed) -------------------------------------------------------


def build(
    db: C.FreshDB,
    seeds: list[bytes],
    start: int,
    stop: int,
    args: argparse.Namespace,
    triples: Path,
    log: Any,
) -> dict[str, Any]:
    """Append statements ``start … stop-1`` through the real sequencer, in big batches."""
    import multiprocessing

    from cadreledger.config import Settings
    from cadreledger.service import Ledger

    names = {C.actor_name(k): k for k in range(len(seeds))}
    settings = Settings(
        db=db.ledger_url, log_key_file=db.key_file, max_batch=args.max_batch, rules=False
    )
    t0 = time.perf_counter()
    procs = args.sign_procs or os.cpu_count() or 1
    # Fork the signing processes first, while this process has no database connections,
    # lock files or writer thread for them to inherit.
    pool = multiprocessing.get_context("fork").Pool(procs, C.init_signer, (seeds,))
    try:
        ledger = Ledger(settings, clock=C.signed_clock)
    except BaseException:
        pool.terminate()
        raise
    step = 5000
    jobs = [(i, min(step, stop - i), args.cadres) for i in range(start, stop, step)]
    pending: deque[list[Any]] = deque()
    done = start
    next_note = start + max(1, (stop - start) // 10)
    seq = ledger.sequencer
    assert seq is not None
    batches0 = seq.batches

    def settle(futures: list[Any]) -> None:
        nonlocal done, next_note
        for f in futures:
            try:
                sealed = f.result(timeout=args.build_timeout)
            except TimeoutError:
                import faulthandler

                print(f"no commit within {args.build_timeout}s; thread stacks:", file=sys.stderr)
                faulthandler.dump_traceback(all_threads=True)
                raise
            if sealed.duplicate:
                raise RuntimeError("unexpected duplicate while building")
        done += len(futures)
        if done >= next_note:
            rate = (done - start) / (time.perf_counter() - t0)
            print(f"  built {done:,}/{stop:,} ({rate:,.0f}/s)", file=log, flush=True)
            next_note += max(1, (stop - start) // 10)

    try:
        with pool, triples.open("ab") as out:
            for chunk in pool.imap(C.sign_range, jobs):
                pending.append([seq.submit(s) for s in chunk])
                out.write(
                    b"".join(
                        _TRIPLE_HEAD.pack(names[s.actor], len(s.canonical))
                        + s.signature
                        + s.canonical
                        for s in chunk
                    )
                )
                while len(pending) > 3:
                    settle(pending.popleft())
            while pending:
                settle(pending.popleft())
        size = ledger.size()
        batches = seq.batches - batches0
    finally:
        ledger.close()
    if size != stop:
        raise RuntimeError(f"log holds {size} events, expected {stop}")
    return {"seconds": time.perf_counter() - t0, "batches": batches}


# -- raw Ed25519 ----------------------------------------------------------------------


def read_triples(path: Path, count: int) -> Any:
    """Yield lists of up to _RAW_BLOCK (key index, signature, message) from the file."""
    block: list[tuple[int, bytes, bytes]] = []
    with path.open("rb") as f:
        for _ in range(count):
            k, length = _TRIPLE_HEAD.unpack(f.read(_TRIPLE_HEAD.size))
            sig = f.read(64)
            msg = f.read(length)
            block.append((k, sig, msg))
            if len(block) == _RAW_BLOCK:
                yield block
                block = []
    if block:
        yield block


LIBRARIES = ("libsodium", "openssl")


def _verifier(library: str, publics: list[bytes]) -> Any:
    """verify_chunk for ``library``: the number of triples of a chunk that fail."""
    if library == "libsodium":
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError

        def sodium_chunk(chunk: list[tuple[int, bytes, bytes]]) -> int:
            bad = 0
            for k, sig, msg in chunk:
                try:
                    crypto_sign_open(sig + msg, publics[k])  # as ledger.keys does
                except BadSignatureError:
                    bad += 1
            return bad

        return sodium_chunk
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = [Ed25519PublicKey.from_public_bytes(p) for p in publics]

    def openssl_chunk(chunk: list[tuple[int, bytes, bytes]]) -> int:
        bad = 0
        for k, sig, msg in chunk:
            try:
                keys[k].verify(sig, msg)
            except InvalidSignature:
                bad += 1
        return bad

    return openssl_chunk


def raw_rate(
    path: Path,
    count: int,
    publics: list[bytes],
    workers: int,
    single_sample: int,
    library: str = "libsodium",
) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    verify_chunk = _verifier(library, publics)
    elapsed = cpu = 0.0
    bad = 0
    single: tuple[int, float] | None = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(verify_chunk, [[]] * workers))  # start the threads (untimed)
        for block in read_triples(path, count):
            if single is None:  # one thread, over a sample: how much the cores add
                sample = block[:single_sample]
                t0 = time.perf_counter()
                verify_chunk(sample)
                single = (len(sample), time.perf_counter() - t0)
            chunks = [block[i : i + _RAW_CHUNK] for i in range(0, len(block), _RAW_CHUNK)]
            t0, c0 = time.perf_counter(), time.process_time()
            bad += sum(pool.map(verify_chunk, chunks))
            elapsed += time.perf_counter() - t0
            cpu += time.process_time() - c0
    if bad:
        raise RuntimeError(f"{bad} raw signatures did not verify")
    return {
        "library": library,
        "signatures": count,
        "workers": workers,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "cpu_us_per_signature": cpu / count * 1e6,
        "single_thread_per_second": single[0] / single[1] if single else None,
        "single_thread_sample": single[0] if single else 0,
    }


# -- verify, in a child process -------------------------------------------------------


def _vm(field: str) -> int:
    """A /proc/self/status field in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.peak = _vm("VmRSS")
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.peak = max(self.peak, _vm("VmRSS"))
            self.samples += 1

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, _vm("VmRSS"))


def child_verify(spec: dict[str, Any]) -> dict[str, Any]:
    import gc

    from cadreledger.config import Settings
    from cadreledger.service import Ledger

    start_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ledger = Ledger(Settings(db=spec["url"]), writer=False)
    try:
        ledger.size()  # connect and touch the database before the baseline reading
        gc.collect()
        rss_before = _vm("VmRSS")
        sampler, tree = RssSampler(), C.TreeSampler()
        sampler.start()
        tree.start()
        database = C.BackendsCPU(spec["url"])
        t0, cpu0, main0 = time.perf_counter(), os.times(), time.thread_time()
        report = ledger.verify(workers=spec.get("workers"))
        elapsed, cpu1, main1 = time.perf_counter() - t0, os.times(), time.thread_time()
        database_cpu = database.stop()
        sampler.stop()
        workers_cpu = tree.stop()["workers_cpu_s"]
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        per_event = 1e6 / max(1, report.events)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
        result: dict[str, Any] = {
            "events": report.events,
            "ok": report.ok,
            "checkpoints_checked": report.checks["V6"].checked,
            "seconds": elapsed,
            "per_second": report.events / elapsed if elapsed else None,
            "process_cpu_cores": cpu / elapsed if elapsed else None,
            "main_thread_cpu_share": (main1 - main0) / elapsed if elapsed else None,
            "main_thread_cpu_us_per_event": (main1 - main0) * per_event,
            # CPU per event of the verifying process, its worker processes and the
            # database's processes (0 on SQLite, whose work is in the verifier's).
            "cpu_us_per_event": {
                "verifier": cpu * per_event,
                "workers": workers_cpu * per_event,
                "database": database_cpu.seconds * per_event,
            },
            # With any, the database's figure is a lower bound (C.BackendsCPU).
            "database_backends_ended": database_cpu.ended,
            "rss_before_kb": rss_before,
            "rss_peak_kb": sampler.peak,
            "rss_growth_kb": sampler.peak - rss_before,
            "rss_samples": sampler.samples,
            "vm_hwm_kb": _vm("VmHWM"),
            "ru_maxrss_kb": maxrss,
            "ru_maxrss_at_child_start_kb": start_maxrss,
        }
        if not report.ok:
            result["report"] = report.to_json()
        if spec.get("tracemalloc"):
            import tracemalloc

            gc.collect()
            tracemalloc.start()
            ledger.verify(workers=spec.get("workers"))
            result["tracemalloc_peak_kb"] = tracemalloc.get_traced_memory()[1] // 1024
            tracemalloc.stop()
    finally:
        ledger.close()
    return result


class Launcher:
    """Starts the verify children from a small process of its own.

    On Linux a process's ``ru_maxrss`` keeps the high-water mark of the image it was
    exec'd from, so a child forked straight from this (large, log-building) process
    would report this process's peak. Children of a ~10 MB launcher report their own.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--launcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the verify launcher died")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(result["error"])
        return result

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def launcher_loop() -> None:
    for line in sys.stdin:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", line.strip()], stdout=subprocess.PIPE, text=True
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode or not lines:
            print(json.dumps({"error": f"verify child exited with {proc.returncode}"}), flush=True)
        else:
            print(lines[-1], flush=True)


def run_child(launcher: Launcher, db: C.FreshDB, args: argparse.Namespace) -> dict[str, Any]:
    spec = {"url": db.ledger_url, "workers": args.workers, "tracemalloc": args.tracemalloc}
    return launcher.run(spec)


def _cpu_row(result: dict[str, Any]) -> list[Any]:
    """Events, CPU per signature by library, per event by process and in all, and the
    ceiling the best library sets."""
    by_library = result["raw_by_library"]
    sodium = by_library["libsodium"]["cpu_us_per_signature"]
    openssl = by_library["openssl"]["cpu_us_per_signature"]
    per_event = result["verify"]["cpu_us_per_event"]
    total = sum(per_event.values())
    best = min(sodium, openssl)
    ratio = openssl / sodium
    return [result["events"], sodium, openssl, ratio, *per_event.values(), total, best / total]


# -- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child_verify(json.loads(sys.argv[2]))))
        return 0
    if argv is None and len(sys.argv) == 2 and sys.argv[1] == "--launcher":
        launcher_loop()
        return 0
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    C.add_db_args(p)
    p.add_argument(
        "--events", type=int, default=100_000, help="log size N (default 100000; try 1000000)"
    )
    p.add_argument("--actors", type=int, default=8, help="distinct signing keys (default 8)")
    p.add_argument("--cadres", type=int, default=2000, help="distinct streams (default 2000)")
    p.add_argument(
        "--max-batch", type=int, default=1000, help="sequencer batch while building (default 1000)"
    )
    p.add_argument(
        "--sign-procs", type=int, default=None, help="signing processes (default: all cores)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="verify()'s signature threads (default: os.cpu_count())",
    )
    p.add_argument(
        "--build-timeout",
        type=float,
        default=600,
        help="seconds to wait for a commit while building",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="raw and verify, one after the other, this many times at N: this VM's speed "
        "drifts within minutes, and the headline is the median round (default 1)",
    )
    p.add_argument(
        "--single-sample", type=int, default=20_000, help="signatures in the one-thread raw sample"
    )
    p.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also run verify() once more under tracemalloc (untimed) and report its Python peak",
    )
    C.add_json_arg(p)
    args = p.parse_args(argv)
    out = C.human_stream(args)
    pg = C.pg_server(args) if args.db == "postgres" else None
    env = C.environment()
    workers = args.workers or os.cpu_count() or 1
    sizes = sorted({max(1, args.events // 4), args.events})

    results: list[dict[str, Any]] = []
    launcher = Launcher()  # first, while this process is still small
    with C.workdir(args.tmpdir) as tmp, C.fresh_db(args.db, "verify", tmp, pg) as db:
        keys, seeds = C.make_keys(args.actors)
        publics = [k.verifier.public for k in keys]
        triples = tmp / f"triples-{os.getpid()}.bin"
        triples.unlink(missing_ok=True)
        built = 0
        try:
            for size in sizes:
                print(f"building the log to {size:,} events (untimed) …", file=out, flush=True)
                b = build(db, seeds, built, size, args, triples, out)
                built = size
                print(f"  {b['seconds']:.1f}s, {b['batches']:,} batches", file=out, flush=True)
                for _ in range(args.rounds if size == sizes[-1] else 1):
                    by_library: dict[str, dict[str, Any]] = {}
                    for library in LIBRARIES:
                        print(
                            f"raw Ed25519 ({library}) over {size:,} triples on {workers} threads …",
                            file=out,
                            flush=True,
                        )
                        by_library[library] = raw_rate(
                            triples, size, publics, workers, args.single_sample, library
                        )
                    raw = max(by_library.values(), key=lambda r: r["per_second"])
                    print(
                        f"Ledger.verify() over {size:,} events in a child process …",
                        file=out,
                        flush=True,
                    )
                    ver = run_child(launcher, db, args)
                    if not ver["ok"] or ver["events"] != size:
                        raise RuntimeError(f"verify did not pass: {json.dumps(ver)[:2000]}")
                    results.append(
                        {
                            "events": size,
                            "build": b,
                            "raw": raw,  # the faster library: the machine's ceiling
                            "raw_by_library": by_library,
                            "verify": ver,
                            "ratio_verify_to_raw": ver["per_second"] / raw["per_second"],
                            "ratio_verify_to_raw_by_library": {
                                lib: ver["per_second"] / r["per_second"]
                                for lib, r in by_library.items()
                            },
                        }
                    )
        finally:
            triples.unlink(missing_ok=True)
            launcher.close()

    print(file=out)
    print(
        f"verify benchmark — database: {args.db}, {env['cpu_count']} CPUs, code {env['code']}, "
        f"{workers} verify workers, "
        f"load at start {env['loadavg_at_start']}",
        file=out,
    )
    mb = 1024.0
    print(
        C.table(
            [
                "events",
                "verify s",
                "verify ev/s",
                "raw sodium sig/s",
                "raw OpenSSL sig/s",
                "sodium 1-thr",
                "OpenSSL 1-thr",
                "verify/sodium",
                "verify/OpenSSL",
                "CPU cores",
                "main thr µs/ev",
                "RSS before MB",
                "RSS peak MB",
                "growth MB",
                "VmHWM MB",
                "ru_maxrss MB",
            ]
            + (["tracemalloc MB"] if args.tracemalloc else []),
            [
                [
                    r["events"],
                    r["verify"]["seconds"],
                    r["verify"]["per_second"],
                    r["raw_by_library"]["libsodium"]["per_second"],
                    r["raw_by_library"]["openssl"]["per_second"],
                    r["raw_by_library"]["libsodium"]["single_thread_per_second"],
                    r["raw_by_library"]["openssl"]["single_thread_per_second"],
                    r["ratio_verify_to_raw_by_library"]["libsodium"],
                    r["ratio_verify_to_raw_by_library"]["openssl"],
                    r["verify"]["process_cpu_cores"],
                    r["verify"]["main_thread_cpu_us_per_event"],
                    r["verify"]["rss_before_kb"] / mb,
                    r["verify"]["rss_peak_kb"] / mb,
                    r["verify"]["rss_growth_kb"] / mb,
                    r["verify"]["vm_hwm_kb"] / mb,
                    r["verify"]["ru_maxrss_kb"] / mb,
                ]
                + ([r["verify"].get("tracemalloc_peak_kb", 0) / mb] if args.tracemalloc else [])
                for r in results
            ],
        ),
        file=out,
    )
    if results[0]["events"] != results[-1]["events"]:
        a, b = results[0], results[-1]
        print(
            "\nRSS growth during verify: "
            f"{a['verify']['rss_growth_kb'] / mb:.1f} MB at {a['events']:,} events, "
            f"{b['verify']['rss_growth_kb'] / mb:.1f} MB at {b['events']:,} "
            f"({b['events'] / a['events']:.0f}× the events).",
            file=out,
        )
    print(
        "\nCPU per item (the machine's load disturbs it far less than a rate). Both runs "
        "keep the cores busy, so verify/raw can never exceed the ceiling:",
        file=out,
    )
    print(
        C.table(
            [
                "events",
                "raw µs/sig: sodium",
                "OpenSSL",
                "OpenSSL/sodium",
                "verify: verifier",
                "workers",
                "database",
                "= per event µs",
                "ceiling",
            ],
            [_cpu_row(r) for r in results],
        ),
        file=out,
    )
    rounds = sorted(
        (r for r in results if r["events"] == sizes[-1]), key=lambda r: r["ratio_verify_to_raw"]
    )
    last = rounds[len(rounds) // 2]
    print(
        f"headline: verify() checks {last['verify']['per_second']:,.0f} events/s = "
        f"{last['ratio_verify_to_raw']:.2f}× the best raw Ed25519 rate "
        f"({last['raw']['per_second']:,.0f}/s, {last['raw']['library']}; "
        f"{last['ratio_verify_to_raw_by_library']['openssl']:.2f}× OpenSSL's "
        f"{last['raw_by_library']['openssl']['per_second']:,.0f}/s) "
        f"on {args.db}" + (f", the median of {len(rounds)} rounds." if len(rounds) > 1 else "."),
        file=out,
    )
    C.write_json(
        args,
        {
            "benchmark": "verify",
            "db": args.db,
            "args": {k: v for k, v in vars(args).items() if k != "pg_password"},
            "environment": env,
            "verify_workers": workers,
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
