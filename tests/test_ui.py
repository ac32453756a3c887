"""The web UI in a real browser, over the real service and the demo's evaluation.

Chromium opens each page from uvicorn on a loopback port; the tests read what a person
would see (levels, changed cells, ✓ and ✗, amendments) and hold it to what the ledger
says through its JSON API. Pictures of each page go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from api.app import create_app
from cadreledger.access import AccessStore
from cadreledger.config import Settings
from cadreledger.demo import Demo
from cadreledger.service import Ledger
from domain.levels import Level
from ledger.canonical import canonical_bytes
from ledger.keys import SignerKey
from tests.browser import chromium, need_chromium, screenshot_path
from tests.streaming import serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "testvectors"
DEMO_CADRES = 20  # the demo's smallest cast that still plays every part


@dataclass
class Served:
    url: str
    ledger: Ledger
    demo: Demo

    @property
    def cycle(self) -> str:
        return self.demo.cycle

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def steps(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/v1/cycles/{self.cycle}/timeline", limit=1000)[
            "timeline"
        ]
        return found


def demo_ledger(url: str, keys: Path) -> tuple[Ledger, Demo]:
    ledger = Ledger(
        Settings(
            db=url,
            log_key_file=str(keys / "log.key"),
            root_key_file=str(keys / "root.key"),
            rules=True,
        ),
        writer=True,
    )
    demo = Demo(ledger, SignerKey.parse((keys / "root.key").read_text()), size=DEMO_CADRES)
    demo.run()
    return ledger, demo


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_chromium()  # say why before building anything
    keys = tmp_path_factory.mktemp("ui")
    ledger, demo = demo_ledger(f"sqlite:///{keys / 'ledger.db'}", keys)
    try:
        with serving(create_app(ledger)) as url:
            yield Served(url, ledger, demo)
    finally:
        ledger.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no remembered language or key) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    failures: list[str] = []
    opened.on("pageerror", lambda error: failures.append(str(error)))
    yield opened
    context.close()
    assert not failures, f"the page's scripts failed: {failures}"


def points(value: int | str, lang: str = "vi") -> str:
    """Points as the UI shows them: two decimals, a comma in Vietnamese."""
    text = f"{hundredths(value) / 100:.2f}"
    return text.replace(".", ",") if lang == "vi" else text


def hundredths(value: int | str) -> int:
    if isinstance(value, int):
        return value * 100
    whole, _, frac = value.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def wait_verified(page: Page) -> dict[str, int]:
    """Wait until the replay has checked every step; its counts."""
    page.wait_for_function(
        "() => { const s = document.querySelector('#verify-summary');"
        " return s && s.dataset.done === s.dataset.n; }",
        timeout=120_000,
    )
    data: dict[str, str] = page.locator("#verify-summary").evaluate("el => ({...el.dataset})")
    return {k: int(v) for k, v in data.items()}


def checks(page: Page) -> dict[str, str]:
    """The current step's checks and their status (ok, bad, wait)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#checks li')].length > 0 &&"
        " [...document.querySelectorAll('#checks li')].every(li => li.dataset.status !== 'wait')"
    )
    found: dict[str, str] = page.locator("#checks li").evaluate_all(
        "items => Object.fromEntries(items.map(li => [li.dataset.check, li.dataset.status]))"
    )
    return found


# -- the overview ---------------------------------------------------------------------


def test_overview_lists_every_cadre_with_their_level(served: Served, page: Page) -> None:
    doc = served.get(f"/v1/cycles/{served.cycle}")
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    page.wait_for_selector("table.ratings tbody tr")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("table.ratings tbody tr").count() == len(doc["subjects"])
    levels = set()
    for sid, subject in doc["subjects"].items():
        row = page.locator(f'table.ratings tr[data-cadre="{sid}"]')
        assert subject["name"] in row.locator('td[data-col="name"]').inner_text()
        level = Level(subject["level"])
        shown = row.locator('td[data-col="level"]').inner_text()
        assert level.value in shown and level.vi in shown, (sid, shown)
        total = row.locator('td[data-col="total"]').inner_text()
        assert total == points(subject["score"]["total"]), (sid, total)
        levels.add(level)
    assert len(levels) >= 3  # the demo decides at several levels: a real check
    for group, status in doc["groups"]["groups"].items():
        quota = page.locator(f'#quota tr[data-group="{group}"]').inner_text()
        assert ("trong hạn mức" in quota) is status["within_quota"], quota
    complaints = sum(len(s["complaints"]) for s in doc["subjects"].values())
    assert complaints >= 1
    assert page.locator("#complaints-count").inner_text() == f"{complaints} khiếu nại"
    header = page.locator("#checkpoint")
    page.wait_for_selector('#checkpoint[data-status="ok"]')
    assert header.get_attribute("data-size") == str(served.ledger.size())
    page.screenshot(path=screenshot_path("overview"), full_page=True)


def test_the_english_switch_changes_the_labels_and_is_remembered(
    served: Served, page: Page
) -> None:
    doc = served.get(f"/v1/cycles/{served.cycle}")
    sid, subject = next(iter(doc["subjects"].items()))
    level = Level(subject["level"])
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    cell = page.locator(f'table.ratings tr[data-cadre="{sid}"] td[data-col="level"]')
    cell.wait_for()
    assert page.locator("header nav").inner_text().split("\n")[0] == "Tổng quan"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("header nav a").all_inner_texts() == ["Overview", "Replay", "Charts"]
    assert level.en in cell.inner_text() and level.vi not in cell.inner_text()
    assert "Level" in page.locator("table.ratings thead").inner_text()
    page.screenshot(path=screenshot_path("overview-en"), full_page=False)
    page.reload()
    page.wait_for_selector("table.ratings tbody tr")
    assert page.locator("header nav a").first.inner_text() == "Overview"  # remembered
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=vi]")
    assert level.vi in cell.inner_text()


# -- the replay -----------------------------------------------------------------------


def test_stepping_the_replay_changes_the_state_and_marks_the_changed_cells(
    served: Served, page: Page
) -> None:
    steps = served.steps()
    i = next(n for n, s in enumerate(steps) if s["type"] == "tally.recorded")
    tally = steps[i]
    cadre = tally["cadre"]
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={steps[i - 1]['position']}")
    page.wait_for_selector(f'#state-body tr[data-cadre="{cadre}"]')
    assert page.locator("#counter").inner_text().startswith(f"Bước {i}/{len(steps)}")
    assert page.locator(f'#state-body tr[data-cadre="{cadre}"] td.changed').count() == 0

    page.keyboard.press("ArrowRight")
    total = page.locator(f'#state-body tr[data-cadre="{cadre}"] td[data-col="total"].changed')
    total.wait_for()
    assert page.locator("#counter").inner_text().startswith(f"Bước {i + 1}/{len(steps)}")
    assert page.locator("#step-type").inner_text() == "Tổng hợp điểm"
    assert total.locator("del").inner_text() == "—"  # no total before the tally
    assert total.inner_text().endswith(points(tally["fields"]["total"]))
    # Only the tallied cadre's row changed.
    changed_rows = page.locator("#state-body td.changed").evaluate_all(
        "cells => [...new Set(cells.map(c => c.closest('tr').dataset.cadre))]"
    )
    assert changed_rows == [cadre]
    assert f"at={tally['position']}" in page.url  # the view can be shared as a link
    page.screenshot(path=screenshot_path("replay"), full_page=True)

    page.locator("#scrub").evaluate(
        "el => { el.value = '0'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_selector("#state-body .notice")
    assert page.locator("#counter").inner_text().startswith(f"Bước 1/{len(steps)}")
    assert page.locator("#step-type").inner_text() == "Mở kỳ đánh giá"
    page.keyboard.press("End")
    page.wait_for_function(
        f"() => document.querySelector('#counter').textContent.startsWith("
        f"'Bước {len(steps)}/{len(steps)}')"
    )


def test_the_replay_verifies_every_steps_signature_and_inclusion(
    served: Served, page: Page
) -> None:
    steps = served.steps()
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    counts = wait_verified(page)
    assert counts == {"n": len(steps), "done": len(steps), "ok": len(steps), "bad": 0}
    assert page.locator("#step-list .mark-ok").count() == len(steps)
    assert checks(page) == dict.fromkeys(
        ("signature", "inclusion", "chain", "envelope", "matches"), "ok"
    )
    signer = steps[0]["signer"]
    assert page.locator("#step-key").inner_text() == signer


def test_a_tampered_signature_shows_a_cross_for_that_step(
    db_url: str, tmp_path: Path, page: Page
) -> None:
    ledger, demo = demo_ledger(db_url, tmp_path)
    try:
        with serving(create_app(ledger)) as url:
            served = Served(url, ledger, demo)
            steps = served.steps()
            target = next(s for s in steps[len(steps) // 2 :] if s["type"] == "score.submitted")
            after = next(
                s
                for s in steps
                if s["stream"] == target["stream"] and s["position"] > target["position"]
            )
            _flip_signature(ledger, target["position"])

            page.goto(f"{url}/ui/replay.html?cycle={demo.cycle}&at={target['position']}")
            counts = wait_verified(page)
            found = checks(page)
            assert found["signature"] == "bad" and found["inclusion"] == "bad", found
            assert found["chain"] == found["envelope"] == found["matches"] == "ok", found
            assert counts["bad"] == 2 and counts["ok"] == len(steps) - 2, counts
            bad = page.locator("#step-list li:has(.mark-bad)").evaluate_all(
                "items => items.map(li => Number(li.dataset.position))"
            )
            # The altered event, and the next of its stream, whose `prev` no longer fits.
            assert bad == [target["position"], after["position"]]
            page.screenshot(path=screenshot_path("replay-tampered"), full_page=True)

            page.locator(f'#step-list li[data-position="{after["position"]}"]').click()
            page.wait_for_selector(f'#step[data-position="{after["position"]}"]')
            following = checks(page)
            assert following["chain"] == "bad" and following["signature"] == "ok", following
    finally:
        ledger.close()


def _flip_signature(ledger: Ledger, position: int) -> None:
    """Change one bit of a stored signature, leaving the envelope well-formed."""
    ((_, stream, version, raw),) = ledger.store.entries(position, 1)
    signature = json.loads(raw)["signature"]
    flipped = bytearray(base64.b64decode(signature))
    flipped[10] ^= 0x01
    changed = raw.replace(signature.encode(), base64.b64encode(bytes(flipped)))
    assert changed != raw
    ledger.store.execute(
        f"UPDATE {ledger.store.events_table} SET state = ? WHERE originator_id = ? AND "
        "originator_version = ?",
        (changed, stream, version),
    )


# -- the cadre page and the charts ----------------------------------------------------


def test_the_cadre_page_shows_an_amendment_old_and_new(served: Served, page: Page) -> None:
    steps = served.steps()
    by_event = {s["event"]: s for s in steps}
    amendment = next(s for s in steps if s["type"] == "score.amended")
    old, new = by_event[amendment["fields"]["amends"]]["fields"], amendment["fields"]
    reason = new["reason"]
    reason_text = reason["text"] if isinstance(reason, dict) else reason
    scorer = served.get(f"/v1/people/{amendment['actor']}")["name"]

    page.goto(f"{served.url}/ui/cadre.html?cycle={served.cycle}&cadre={amendment['cadre']}")
    box = page.locator(f'.amendment[data-event="{amendment["event"]}"]')
    box.wait_for()
    for criterion in ("general", "tasks"):
        line = box.locator(f'li[data-criterion="{criterion}"]')
        assert line.locator("del").inner_text() == points(old[criterion])
        assert line.locator("ins").inner_text() == points(new[criterion])
    total = hundredths(new["general"]) + hundredths(new["tasks"])
    shown = box.locator('li[data-criterion="total"] ins').inner_text()
    assert shown == f"{total / 100:.2f}".replace(".", ",")
    assert reason_text in box.inner_text()
    page.wait_for_function(
        f"() => document.querySelector('.amendment').textContent.includes({json.dumps(scorer)})"
    )
    row = page.locator(f'table.scorers tr[data-scorer="{amendment["actor"]}"]')
    assert row.locator("td.amended").count() >= 1
    rating = served.get(f"/v1/cycles/{served.cycle}/cadres/{amendment['cadre']}")["rating"]
    assert Level(rating["level"]).vi in page.locator("#cadre-level").inner_text()
    page.screenshot(path=screenshot_path("cadre"), full_page=True)

    # A reason of a few words is flagged (the demo's "nhầm", "sửa lại"), a real one is not.
    thin = set()
    for step in (s for s in steps if s["type"] == "score.amended"):
        words = step["fields"]["reason"]
        words = words["text"] if isinstance(words, dict) else words
        page.goto(f"{served.url}/ui/cadre.html?cycle={served.cycle}&cadre={step['cadre']}")
        flag = page.locator(f'.amendment[data-event="{step["event"]}"] .thin-reason')
        page.locator(f'.amendment[data-event="{step["event"]}"]').wait_for()
        assert flag.count() == (1 if len(words.strip()) < 15 else 0), words
        thin.add(flag.count())
    assert thin == {0, 1}  # both kinds were there to be told apart


def test_the_cadre_page_shows_the_signs_to_examine_with_their_replay_steps(
    served: Served, page: Page
) -> None:
    """The section is named as what it is, each sign shows its severity and links every
    event behind it to its replay step."""
    report = served.get(f"/v1/cycles/{served.cycle}/fairness")
    shown = next(f for f in report["findings"] if f["cadre"] != "*")
    page.goto(f"{served.url}/ui/cadre.html?cycle={served.cycle}&cadre={shown['cadre']}")
    box = page.locator(f'.finding[data-kind="{shown["kind"]}"]').first
    box.wait_for()
    assert "Dấu hiệu cần xem xét" in page.content()
    assert box.get_attribute("data-severity") == shown["severity"]
    links = box.locator("a[href*='replay.html']")
    hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
    assert any(href.endswith(f"&at={shown['positions'][0]}") for href in hrefs if href), hrefs


def test_the_charts_count_every_score_and_every_amended_cadre(served: Served, page: Page) -> None:
    doc = served.get(f"/v1/cycles/{served.cycle}")
    scored = [s for s in doc["subjects"].values() if s["score"] and s["score"]["general"]]
    amended = {s["cadre"] for s in served.steps() if s["type"] == "score.amended"}
    page.goto(f"{served.url}/ui/charts.html?cycle={served.cycle}")
    page.wait_for_selector('figure[data-criterion="total"] rect.bar')
    for criterion in ("general", "tasks", "total"):
        bars = page.locator(f'figure[data-criterion="{criterion}"] rect.bar title')
        counted = sum(int(t.rsplit(": ", 1)[1]) for t in bars.all_text_contents())
        assert counted == len(scored), criterion
    assert page.locator("#amendments circle.after").count() == len(amended) > 0
    page.screenshot(path=screenshot_path("charts"), full_page=True)


# -- the browser's own cryptography ---------------------------------------------------


def test_the_browser_checks_pass_the_published_vectors(served: Served, page: Page) -> None:
    """The UI's JCS, signed-note and RFC 9162 code against the vectors the Python side
    passes: a browser that says ✓ must mean what ``cadreledger verify`` means."""
    page.goto(f"{served.url}/ui/login.html")
    inclusion = [
        json.loads(p.read_text())
        for p in sorted((VECTORS / "merkle" / "inclusion").rglob("*.json"))
    ]
    assert len(inclusion) > 50 and {v["wantErr"] for v in inclusion} == {True, False}
    accepted = page.evaluate(
        """async (vectors) => {
          const v = await import('/ui/verify.js');
          const b = (s) => (s ? v.fromBase64(s) : new Uint8Array());
          const out = [];
          for (const x of vectors) {
            out.push(await v.verifyInclusion(
              x.leafIdx, x.treeSize, b(x.leafHash), (x.proof || []).map(b), b(x.root)));
          }
          return out;
        }""",
        inclusion,
    )
    assert accepted == [not v["wantErr"] for v in inclusion]

    notes = json.loads((VECTORS / "signed-note.json").read_text())["cases"]
    verified = page.evaluate(
        """async (cases) => {
          const v = await import('/ui/verify.js');
          const out = [];
          for (const c of cases) {
            const key = await v.parseKey(c.vkey);
            const line = `\\u2014 ${key.name} ${c.signature_b64}\\n`;
            const forged = c.text.replace(/.$/s, '!\\n');
            out.push([
              (await v.openNote(`${c.text}\\n${line}`, key)).verified,
              (await v.openNote(`${forged}\\n${line}`, key)).verified,
            ]);
          }
          return out;
        }""",
        notes,
    )
    assert verified == [[True, False]] * len(notes)

    # RFC 8785: key order by UTF-16 code units (U+E000 against a surrogate pair), escapes.
    tricky = {
        "\ue000": 1,
        "😀": [0, -1, 2**53 - 1, -(2**53 - 1)],
        "b": 'Nguyễn \u0000\u001f\u007f\u2028 "quoted" \\ /',
        "a": {"z": None, "y": True, "x": [{"β": "ä"}, []]},
    }
    text = json.dumps(tricky, ensure_ascii=False)
    browser_jcs = page.evaluate(
        "async (t) => (await import('/ui/jcs.js')).canonicalize(JSON.parse(t))", text
    )
    assert browser_jcs.encode() == canonical_bytes(tricky)


# -- signing in, and what the service serves ------------------------------------------


def test_signing_in_keeps_the_token_in_an_httponly_cookie(served: Served, page: Page) -> None:
    access = AccessStore(served.ledger.store)
    inspector = served.demo.inspection
    token, _ = access.issue(inspector.id)
    with serving(create_app(served.ledger, access=access)) as url:
        cadre = next(iter(served.demo.cadres)).id
        page.goto(f"{url}/ui/cadre.html?cycle={served.cycle}&cadre={cadre}")
        page.wait_for_url("**/ui/login.html?next=*")
        page.fill("#token", "clt_not-a-token")
        # The page renders again when its session check answers or the language
        # changes; what was typed survives it.
        page.click("#lang-switch")
        page.wait_for_selector("html[lang=en]")
        assert page.input_value("#token") == "clt_not-a-token"
        page.click("#sign-in")
        page.wait_for_selector(".notice.error")
        page.fill("#token", token)
        page.click("#sign-in")
        page.wait_for_selector("#cadre-name")
        assert page.url.endswith(f"/ui/cadre.html?cycle={served.cycle}&cadre={cadre}")
        (cookie,) = [c for c in page.context.cookies() if c["name"] == "cadreledger_token"]
        assert cookie["httpOnly"] and cookie["value"] == token
        page.wait_for_function(
            f"() => document.querySelector('header').textContent.includes("
            f"{json.dumps(inspector.name)})"
        )
        page.goto(f"{url}/ui/login.html")
        page.click("#sign-out")
        page.wait_for_selector(".notice")
        assert not [c for c in page.context.cookies() if c["name"] == "cadreledger_token"]
        page.screenshot(path=screenshot_path("login"))


def test_pages_come_with_a_strict_content_security_policy(served: Served) -> None:
    home = httpx.get(f"{served.url}/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/ui/"
    for name in ("", "replay.html", "cadre.html", "charts.html", "login.html", "verify.js"):
        answer = httpx.get(f"{served.url}/ui/{name}")
        assert answer.status_code == 200, name
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{served.url}/ui/nothing.js").status_code == 404


def test_a_package_build_ships_every_page_and_script(tmp_path: Path) -> None:
    """What ``pip install .`` copies (setuptools' build_py with the project's package
    data), from a copy of the sources: every file of the UI must be in it."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("ledger", "domain", "projections", "api", "cadreledger"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    built = tmp_path / "lib"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(built),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    static = ROOT / "api" / "ui" / "static"
    wanted = sorted(p.name for p in static.iterdir() if p.is_file())
    assert {"index.html", "replay.html", "verify.js", "style.css"} <= set(wanted)
    shipped = sorted(p.name for p in (built / "api" / "ui" / "static").iterdir())
    assert shipped == wanted
