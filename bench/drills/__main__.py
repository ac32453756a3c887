"""Run the reliability drills and print their figures (docs/reliability.md).

    python -m bench.drills tamper  [--db sqlite|postgres] [--count N] [--seed S]
    python -m bench.drills crash   [--db sqlite|postgres|postgres-private] [--kills N]
                                   [--terminations N] [--server-crashes N]
    python -m bench.drills restore                       # PostgreSQL, pg_dump/pg_restore
    python -m bench.drills keys    [--db sqlite|postgres]
    python -m bench.drills load    [--db sqlite|postgres] [--seconds S] [--writers N]
                                   [--readers N] [--followers N]
    python -m bench.drills badinput [--db sqlite|postgres]  # the hostile-input catalogue
    python -m bench.drills fuzz    [--seconds N]         # atheris on the parsers (default 600)
    python -m bench.drills all     [--scale X]           # what CI runs, times X

``--json PATH`` also writes the figures as JSON (``-`` for standard output). PostgreSQL
is reached through ``CADRELEDGER_TEST_PG`` (default postgresql://postgres@127.0.0.1:5432/test);
each drill makes its own databases and drops them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.drills import CI, badinput, compromise, crash, load, restore, scaled, tamper
from bench.drills.base import Keys, Snapshot, build
from bench.drills.databases import create_pg, drop_pg, scratch_pg


def run_tamper(db: str, count: int, seed: int, workdir: Path) -> dict[str, Any]:
    keys = Keys(workdir / f"tamper-{db}-keys")
    url = create_pg("drill_tamper") if db == "postgres" else f"sqlite:///{workdir / 'tamper.db'}"
    try:
        build(url, keys, rotate=True, seed=seed)
        base = Snapshot.take(url, keys)
        figures = tamper.run(base, workdir, count, seed=seed)
    finally:
        if db == "postgres":
            drop_pg(url)
    return {"database": db, "log_size": base.size, **figures.to_json()}


def run_crash(db: str, plan: crash.Plan, workdir: Path) -> dict[str, Any]:
    with crash.database(db, workdir) as (url, server):
        return crash.Drill(url, workdir, plan, server).run().to_json()


def run_restore(workdir: Path) -> dict[str, Any]:
    missing = restore.tools_missing()
    if missing:
        return {"skipped": missing}
    with scratch_pg("drill_restore") as url:
        figures = restore.run(url, workdir)
    return {**figures.__dict__, "ok": figures.ok}


def run_keys(db: str, workdir: Path) -> dict[str, Any]:
    if db == "postgres":
        with scratch_pg("drill_keys") as url, scratch_pg("drill_rotation") as other:
            figures = compromise.run(url, other, workdir)
    else:
        figures = compromise.run(
            f"sqlite:///{workdir / 'keys.db'}", f"sqlite:///{workdir / 'rotation.db'}", workdir
        )
    return {**figures.__dict__, "ok": figures.ok}


def run_load(db: str, plan: load.Plan, workdir: Path) -> dict[str, Any]:
    if db == "postgres":
        with scratch_pg("drill_load") as url:
            figures = load.run(url, workdir, plan)
    else:
        figures = load.run(f"sqlite:///{workdir / 'load.db'}", workdir, plan)
    load.print_figures(figures, plan)
    return figures.to_json(plan)


def run_badinput(db: str, workdir: Path) -> dict[str, Any]:
    if db == "postgres":
        with scratch_pg("drill_badinput") as url:
            return badinput.run(url, workdir).to_json()
    return badinput.run(f"sqlite:///{workdir / 'badinput.db'}", workdir).to_json()


def run_fuzz(seconds: int, workdir: Path) -> dict[str, Any]:
    from bench.drills import fuzz

    runs = [r.to_json() for r in fuzz.run_all(seconds, workdir)]
    return {"runs": runs, "ok": all(r["crashes"] == 0 for r in runs)}


def print_tamper(data: dict[str, Any]) -> None:
    totals = data["totals"]
    print(
        f"tamper drill ({data['database']}, log of {data['log_size']} events, {data['seconds']} s):"
        f" {totals.get('tried', 0)} tamperings, {totals.get('detected', 0)} detected,"
        f" {totals.get('exact', 0)} first bad event named exactly,"
        f" {totals.get('range', 0)} placed in a range, {totals.get('named', 0)} naming the"
        f" checkpoint / document / metadata row, {totals.get('missed', 0)} missed or misplaced"
    )
    width = max(len(k) for k in data["by_kind"])
    for name, row in data["by_kind"].items():
        cells = "  ".join(
            f"{k} {row.get(k, 0):>3}"
            for k in ("tried", "detected", "exact", "range", "named", "missed")
        )
        print(f"  {name:<{width}}  {cells}")
    for failure in data["failures"]:
        print(
            f"  ✗ {failure['kind']}: {failure['what']} → {failure['first_bad'] or failure['error']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drills", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "drill", choices=["tamper", "crash", "restore", "keys", "load", "badinput", "fuzz", "all"]
    )
    parser.add_argument(
        "--db", default="sqlite", choices=["sqlite", "postgres", "postgres-private"]
    )
    parser.add_argument("--count", type=int, help="tamper: tamperings (default: CI's count)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=CI["kills"])
    parser.add_argument("--terminations", type=int, help="crash, PostgreSQL: backend terminations")
    parser.add_argument("--server-crashes", type=int, default=3, help="crash, postgres-private")
    parser.add_argument("--seconds", type=float, default=CI["load_seconds"], help="load: run")
    parser.add_argument("--writers", type=int, default=load.Plan.writers, help="load")
    parser.add_argument("--readers", type=int, default=load.Plan.readers, help="load")
    parser.add_argument("--followers", type=int, default=load.Plan.followers, help="load: SSE")
    parser.add_argument("--scale", type=float, default=1.0, help="all: multiply CI's counts")
    parser.add_argument("--json", help="also write the figures as JSON here (- = stdout)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cadreledger-drill-") as tmp:
        workdir = Path(tmp)

        def step(name: str, run: Callable[[Path], dict[str, Any]]) -> None:
            folder = workdir / name.replace(" ", "-")
            folder.mkdir()
            print(f"… {name}", file=sys.stderr, flush=True)
            results[name] = run(folder)

        db = args.db
        if args.drill == "tamper":
            count = args.count or CI["tamper_postgres" if db == "postgres" else "tamper_sqlite"]
            step(f"tamper {db}", lambda w: run_tamper(db, count, args.seed, w))
        elif args.drill == "crash":
            terminations = args.terminations
            if terminations is None:
                terminations = CI["terminations"] if db.startswith("postgres") else 0
            plan = crash.Plan(
                kills=args.kills, terminations=terminations, server_crashes=args.server_crashes
            )
            step(f"crash {db}", lambda w: run_crash(db, plan, w))
        elif args.drill == "restore":
            step("restore postgres", run_restore)
        elif args.drill == "keys":
            step(f"keys {db}", lambda w: run_keys(db, w))
        elif args.drill == "load":
            plan = load.Plan(
                seconds=args.seconds,
                writers=args.writers,
                readers=args.readers,
                followers=args.followers,
                seed=args.seed,
            )
            step(f"load {db}", lambda w: run_load(db, plan, w))
        elif args.drill == "badinput":
            step(f"badinput {db}", lambda w: run_badinput(db, w))
        elif args.drill == "fuzz":
            # --seconds is shared with load, whose default is CI's; the fuzz's is 600.
            given = "--seconds" in (argv if argv is not None else sys.argv[1:])
            fuzz_seconds = round(args.seconds) if given else 600
            step("fuzz", lambda w: run_fuzz(fuzz_seconds, w))
        else:
            s = args.scale
            step(
                "tamper sqlite",
                lambda w: run_tamper("sqlite", scaled(CI["tamper_sqlite"], s), args.seed, w),
            )
            step(
                "tamper postgres",
                lambda w: run_tamper("postgres", scaled(CI["tamper_postgres"], s), args.seed, w),
            )
            kills = scaled(CI["kills"], s)
            step("crash sqlite", lambda w: run_crash("sqlite", crash.Plan(kills=kills), w))
            plan = crash.Plan(kills=kills, terminations=scaled(CI["terminations"], s))
            step("crash postgres", lambda w: run_crash("postgres", plan, w))
            step("restore postgres", run_restore)
            step("keys sqlite", lambda w: run_keys("sqlite", w))
            step("badinput sqlite", lambda w: run_badinput("sqlite", w))
            seconds = CI["load_seconds"] * s
            step("load postgres", lambda w: run_load("postgres", load.Plan(seconds=seconds), w))
    for name, data in results.items():
        if name.startswith("tamper"):
            print_tamper(data)
        elif name.startswith("load"):
            continue  # its table was printed when it ran
        elif name.startswith("badinput"):
            badinput.print_figures(data)
        elif name == "fuzz":
            for r in data["runs"]:
                print(
                    f"fuzz {r['target']}: {r['executions']:,} executions in {r['seconds']} s,"
                    f" {r['edges']} coverage edges ({r['features']} features),"
                    f" {r['crashes']} crashes"
                )
                if r["crashes"]:
                    print(r.get("output_tail", ""))
        else:
            shown = {k: v for k, v in data.items() if k not in ("problems",)}
            print(f"{name}: {json.dumps(shown, ensure_ascii=False, default=str)}")
            for problem in data.get("problems", []):
                print(f"  ✗ {problem[:500]}")
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        text = json.dumps(results, ensure_ascii=False, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    failed = [
        n for n, d in results.items() if d.get("ok") is False or d.get("totals", {}).get("missed")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
