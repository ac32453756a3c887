"""The web UI's replay at scale: seconds until the browser has checked every step.

    python bench/replay_ui.py [--cadres N] [--rounds R] [--budget SECONDS]

Builds the demo's evaluation with N cadres on a throwaway SQLite database (1,850
cadres make a cycle of about 18,500 steps in a log of about 20,400 events), serves it
with uvicorn, opens the replay in Debian's Chromium (tests/browser/__init__.py) and waits until
the summary counts every step checked — signature, registered key, inclusion, chain,
envelope, description — and the omission check (completeness.js) has read the log's
envelope tiles. Each round opens a fresh browser context (no cached tiles) twice: as
the baseline with the envelope tiles refused (what a caller without oversight gets:
omission "not checked"), then with them. It prints the requests the page made, each
round's seconds and the median per mode, and seconds per 1,000 steps; with
``--budget`` it exits 1 when the full replay's median took longer or any step was not
✓ or the omission check did not end ✓. See docs/ui.md, docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# The repository's modules, before bench/'s.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from tests.browser import (  # noqa: E402
    ARGS,
    CHROMIUM,
    test_ui,
)
from tests.streaming import serving  # noqa: E402


def replay(
    browser: Any, url: str, cycle: str, refuse_envelopes: bool, cadre: str | None = None
) -> dict[str, Any]:
    """One replay in a fresh context: its seconds, counts, omission status, requests."""
    context = browser.new_context()
    page = context.new_page()
    asked: Counter[str] = Counter()
    page.on("request", lambda r: asked.update([r.url.split("?")[0].split("/v1/")[-1]]))
    if refuse_envelopes:
        page.route("**/v1/log/tile/envelopes/**", lambda route: route.fulfill(status=403))
    began = time.monotonic()
    page.goto(f"{url}/ui/replay.html?cycle={cycle}" + (f"&cadre={cadre}" if cadre else ""))
    page.wait_for_function(
        "() => { const s = document.querySelector('#verify-summary');"
        " const c = document.querySelector('#completeness');"
        " return s && s.dataset.done === s.dataset.n"
        " && c && c.dataset.status !== 'running'; }",
        timeout=900_000,
    )
    took = time.monotonic() - began
    counts = page.locator("#verify-summary").evaluate("el => ({...el.dataset})")
    status = page.locator("#completeness").get_attribute("data-status")
    context.close()
    return {"took": took, "counts": counts, "omission": status, "asked": asked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cadres", type=int, default=1850)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds allowed")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    test_ui.DEMO_CADRES = args.cadres
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        began = time.monotonic()
        ledger, demo = test_ui.demo_ledger(f"sqlite:///{keys / 'ledger.db'}", keys)
        print(f"built {ledger.size()} events in {time.monotonic() - began:.0f} s", flush=True)
        try:
            with serving(create_app(ledger)) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                for _ in range(args.rounds):
                    for refuse in (True, False):
                        run = replay(browser, url, demo.cycle, refuse)
                        runs[refuse].append(run)
                        mode = "baseline (no envelopes)" if refuse else "with omission check"
                        took, omission = run["took"], run["omission"]
                        print(f"  {mode}: {took:.1f} s, omission {omission}", flush=True)
                # One cadre's replay, read by oversight: nearly every position of the
                # cycle is off its timeline, so the omission check reads every envelope
                # tile from the cycle's start (its worst case).
                cadre = next(iter(ledger.projector.model.cycles[demo.cycle].evaluations))
                own = replay(browser, url, demo.cycle, False, cadre)
                tiles = sum(n for path, n in own["asked"].items() if "tile/envelopes/" in path)
                print(
                    f"one cadre's replay ({own['counts']['n']} steps) with the omission check "
                    f"reading {tiles} envelope tiles: {own['took']:.1f} s, omission "
                    f"{own['omission']}",
                    flush=True,
                )
                browser.close()
        finally:
            ledger.close()
    last = runs[False][-1]
    for path, n in sorted(last["asked"].items(), key=lambda x: -x[1])[:8]:
        print(f"{n:6d} × {path}")
    counts = last["counts"]
    steps = int(counts["n"])
    modes = ((True, "baseline, envelope tiles refused"), (False, "with omission check"))
    for refuse, label in modes:
        median = statistics.median(r["took"] for r in runs[refuse])
        print(
            f"{label}: median {median:.1f} s of {args.rounds} rounds, "
            f"{1000 * median / steps:.2f} s per 1,000 steps; omission "
            f"{runs[refuse][-1]['omission']}"
        )
    print(f"checked {counts['ok']} ✓ of {counts['n']} steps ({counts['bad']} ✗)")
    good = counts["ok"] == counts["n"] and all(r["omission"] == "complete" for r in runs[False])
    median = statistics.median(r["took"] for r in runs[False])
    if args.budget is not None and (median > args.budget or not good):
        return 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
