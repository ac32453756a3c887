"""The web UI's replay at scale: seconds until the browser has checked every step.

    python bench/replay_ui.py [--cadres N] [--budget SECONDS]

Builds the demo's evaluation with N cadres on a throwaway SQLite database (1,850
cadres make a cycle of about 18,500 steps in a log of about 20,400 events), serves it
with uvicorn, opens the replay in Debian's Chromium (tests/browser.py) and waits until
the summary counts every step checked — signature, registered key, inclusion, chain,
envelope, description. It prints the requests the page made (how many, how long) and
the time; with ``--budget`` it exits 1 when the replay took longer or any step was
not ✓. See docs/ui.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# The repository, not bench/ (whose http.py would shadow the standard library's).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from tests import test_ui  # noqa: E402
from tests.browser import ARGS, CHROMIUM  # noqa: E402
from tests.streaming import serving  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cadres", type=int, default=1850)
    parser.add_argument("--budget", type=float, default=None, help="seconds allowed")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    test_ui.DEMO_CADRES = args.cadres
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        began = time.monotonic()
        ledger, demo = test_ui.demo_ledger(f"sqlite:///{keys / 'ledger.db'}", keys)
        print(f"built {ledger.size()} events in {time.monotonic() - began:.0f} s", flush=True)
        try:
            with serving(create_app(ledger)) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = browser.new_page()
                asked: Counter[str] = Counter()
                page.on("request", lambda r: asked.update([r.url.split("?")[0].split("/v1/")[-1]]))
                began = time.monotonic()
                page.goto(f"{url}/ui/replay.html?cycle={demo.cycle}")
                page.wait_for_function(
                    "() => { const s = document.querySelector('#verify-summary');"
                    " return s && s.dataset.done === s.dataset.n; }",
                    timeout=900_000,
                )
                took = time.monotonic() - began
                counts = page.locator("#verify-summary").evaluate("el => ({...el.dataset})")
                browser.close()
        finally:
            ledger.close()
    for path, n in sorted(asked.items(), key=lambda x: -x[1])[:8]:
        print(f"{n:6d} × {path}")
    print(f"checked {counts['ok']} ✓ of {counts['n']} steps ({counts['bad']} ✗) in {took:.1f} s")
    good = counts["ok"] == counts["n"]
    if args.budget is not None and (took > args.budget or not good):
        return 1
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
