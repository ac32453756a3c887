"""Read-model benchmark: replaying the log through the evaluation rules.

Builds ``--cycles`` demo evaluation cycles (about 500 signed statements each, every
one admitted by the rules) in a fresh database, then measures, in the same run:

- baseline: reading every stored event and parsing its envelope (the floor any
  replay pays: no rules, no documents);
- replay: the same plus judging every act with the rules (``Model.replay``), which
  is what a writer does at start-up and what ``as of`` queries do for a prefix;
- rebuild: ``cadreledger rebuild`` — replay plus writing every document and the
  position in one transaction;
- follow: one more cycle appended, then the incremental steps that bring the read
  model up to date (per event);
- as of: one cycle's state at a middle position (registry + the cycle's streams).

Run:  python -m bench.rebuild --db sqlite --cycles 40
      python -m bench.rebuild --db postgres --cycles 40
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bench import _common as C


def measure(db: C.FreshDB, tmp: Path, cycles: int) -> dict[str, Any]:
    from cadreledger.config import Settings
    from cadreledger.demo import Demo
    from cadreledger.service import Ledger
    from domain.model import Model
    from ledger.keys import SignerKey
    from projections.follower import Projector
    from projections.history import replay_cycle
    from projections.source import stored_acts

    root_file = tmp / f"{db.label}.rootkey"
    settings = Settings(db=db.ledger_url, log_key_file=db.key_file, root_key_file=str(root_file))
    with Ledger(settings) as ledger:
        root = SignerKey.parse(root_file.read_text())
        started = time.perf_counter()
        names: list[str] = []
        for seed in range(cycles):
            demo = Demo(ledger, root, seed=seed)
            demo.run()
            names.append(demo.cycle)
        built = time.perf_counter() - started
        size = ledger.size()

        t = time.perf_counter()
        parsed = sum(1 for _ in stored_acts(ledger.store, 0, size))
        baseline = time.perf_counter() - t

        t = time.perf_counter()
        model = Model(ledger.root_keys)
        for act in stored_acts(ledger.store, 0, size):
            model.replay(act)
        replay = time.perf_counter() - t
        assert parsed == size and not model.refused

        projector = Projector(ledger.store, ledger.root_keys)
        t = time.perf_counter()
        projector.rebuild()
        rebuild = time.perf_counter() - t

        extra = Demo(ledger, root, seed=cycles)
        extra.run()
        added = ledger.size() - size
        t = time.perf_counter()
        projector.catch_up()
        follow = time.perf_counter() - t

        middle = names[len(names) // 2]
        t = time.perf_counter()
        roster = list(projector.model.cycles[middle].evaluations)
        replay_cycle(ledger.store, projector.model.registry, middle, roster, through=size // 2)
        as_of = time.perf_counter() - t

    return {
        "db": db.kind,
        "events": size,
        "cycles": cycles,
        "build_statements_per_s": size / built,
        "baseline_events_per_s": size / baseline,
        "replay_events_per_s": size / replay,
        "replay_vs_baseline": baseline / replay,
        "rebuild_events_per_s": size / rebuild,
        "rebuild_s": rebuild,
        "follow_events": added,
        "follow_ms_per_event": follow / added * 1000,
        "as_of_one_cycle_ms": as_of * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    C.add_db_args(p)
    C.add_json_arg(p)
    p.add_argument("--cycles", type=int, default=40, help="demo cycles to build (default 40)")
    args = p.parse_args(argv)
    out = C.human_stream(args)
    pg = C.pg_server(args) if args.db == "postgres" else None
    with C.workdir(args.tmpdir) as tmp, C.fresh_db(args.db, "rebuild", tmp, pg) as db:
        result = measure(db, tmp, args.cycles)
    rows = [
        ["build (demo through the rules, statements/s)", result["build_statements_per_s"]],
        ["baseline: read + parse (events/s)", result["baseline_events_per_s"]],
        ["replay through the rules (events/s)", result["replay_events_per_s"]],
        ["replay ÷ baseline rate", result["replay_vs_baseline"]],
        ["rebuild incl. documents (events/s)", result["rebuild_events_per_s"]],
        ["follow: ms per new event", result["follow_ms_per_event"]],
        ["as of: one cycle at mid-log (ms)", result["as_of_one_cycle_ms"]],
    ]
    print(f"{args.db}: {result['events']:,} events in {result['cycles']} cycles", file=out)
    print(C.table(["measure", "value"], rows), file=out)
    C.write_json(args, {"environment": C.environment(), "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
