"""The web UI in a real browser, over the real service and the demo's evaluation.

Chromium opens each page from uvicorn on a loopback port; the tests read what a person
would see (levels, changed cells, ✓ and ✗, amendments) and hold it to what the ledger
says through its JSON API. Pictures of each page go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner

from access.tokens import AccessStore
from api.app import create_app
from cadreledger.cli import main
from cadreledger.config import Settings
from cadreledger.demo import Demo
from cadreledger.service import Ledger
from domain.levels import Level
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.keys import SignerKey
from ledger.merkle import root_at
from tests.browser import chromium, need_chromium, screenshot_path
from tests.conftest import IN_CI
from tests.paths import ROOT
from tests.streaming import serving
from tests.unit.test_architecture import ROOMS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    counts = wait_verified(page)
    assert counts == {"n": len(steps), "done": len(steps), "ok": len(steps), "bad": 0}
    # The proofs were built from the public tiles, none asked for one by one.
    assert any("/v1/log/tile/0/" in url for url in asked), asked
    assert not any("/v1/log/proof/inclusion" in url for url in asked), asked
    assert page.locator("#step-list .mark-ok").count() == len(steps)
    assert checks(page) == dict.fromkeys(
        ("signature", "registry", "inclusion", "chain", "envelope", "matches"), "ok"
    )
    signer = steps[0]["signer"]
    assert page.locator("#step-key").inner_text() == signer
    # Omission: the log's own entries read from the cycle's start, nothing left out.
    done = page.locator('#completeness:not([data-status="running"])')
    done.wait_for()
    assert done.get_attribute("data-status") == "complete", done.inner_text()
    assert done.inner_text().startswith("✓ Không bỏ sót")


def test_a_tampered_signature_shows_a_cross_for_that_step(
    db_url: str, tmp_path: Path, page: Page
) -> None:
    ledger, demo = demo_ledger(db_url, tmp_path)
    try:
        with serving(create_app(ledger)) as url:
            steps = Served(url, ledger, demo).steps()
        target = next(s for s in steps[len(steps) // 2 :] if s["type"] == "score.submitted")
        after = next(
            s
            for s in steps
            if s["stream"] == target["stream"] and s["position"] > target["position"]
        )
        _flip_signature(ledger, target["position"])
        # A service started on the altered database (one already running keeps the
        # replays it read, by log position, and would describe the old bytes).
        with serving(create_app(ledger)) as url:
            page.goto(f"{url}/ui/replay.html?cycle={demo.cycle}&at={target['position']}")
            counts = wait_verified(page)
            found = checks(page)
            assert found["signature"] == "bad" and found["inclusion"] == "bad", found
            assert found["chain"] == found["envelope"] == found["matches"] == "ok", found
            assert found["registry"] == "ok", found  # the key is the member's: only the bytes lie
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


def _scorer_finding(served: Served) -> tuple[dict[str, Any], dict[str, Any]]:
    """A finding about one cadre naming a scorer who cast ballots, and the report."""
    report = served.get(f"/v1/cycles/{served.cycle}/fairness")
    profiles = report["scorers"]
    assert profiles, "the demo's cycle has scorers"
    found = [f for f in report["findings"] if f["scorer"] in profiles and f["cadre"] != "*"]
    assert found, "the demo's cycle has a sign about a scorer"
    return found[0], report


def test_the_scorer_page_shows_their_profile_and_every_sign_with_its_replay_steps(
    served: Served, page: Page
) -> None:
    """From a sign on a cadre's page to the page of the scorer it names: their ballots
    against the panel, and every sign about them, each linking each event behind it to
    its replay step; all marked as the server's, not checked here."""
    shown, report = _scorer_finding(served)
    scorer = shown["scorer"]
    page.goto(f"{served.url}/ui/cadre.html?cycle={served.cycle}&cadre={shown['cadre']}")
    box = page.locator(f'#fairness .finding[data-kind="{shown["kind"]}"]').first
    box.wait_for()
    box.locator("a[href*='scorer.html']").first.click()
    page.wait_for_url("**/ui/scorer.html?*")
    assert f"scorer={scorer}" in page.url
    page.locator("#fairness .finding, #fairness .notice").first.wait_for()

    assert page.locator("#fairness h2").inner_text() == "Dấu hiệu cần xem xét"
    for card in ("#profile", "#fairness"):  # the server's report: said so, never a ✓
        note = page.locator(f"{card} .from-server")
        assert note.get_attribute("data-checked") == "no"
        assert "cadreledger verify" in note.inner_text()
    profile = report["scorers"][scorer]
    ballots = page.locator("#scorer-profile [data-ballots]")
    assert ballots.get_attribute("data-ballots") == str(profile["ballots"])
    mean = page.locator("#scorer-profile [data-mean]").inner_text()
    assert mean.endswith(" điểm") and points(profile["mean_deviation"].lstrip("+-")) in mean
    for side, listed in (("favours", "#scorer-favours"), ("marks_down", "#scorer-marks-down")):
        cadres = page.locator(f"{listed} li").evaluate_all("li => li.map(x => x.dataset.cadre)")
        assert sorted(cadres) == sorted(profile[side]), side

    mine = [f for f in report["findings"] if f["scorer"] == scorer]
    boxes = page.locator("#fairness .finding")
    assert boxes.count() == len(mine)
    for f in mine:
        found = page.locator(f'#fairness .finding[data-id="{f["id"]}"]')
        assert f["summary_vi"] in found.inner_text()
        hrefs = found.locator("a[href*='replay.html']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        cycle = served.cycle if f["cycle"] == "*" else f["cycle"]
        assert hrefs == [
            f"/ui/replay.html?cycle={cycle}&at={position}" for position in f["positions"]
        ]
    # A step link opens the replay at that step.
    first = mine[0]["positions"][0]
    page.locator(f"#fairness a[href$='&at={first}']").first.click()
    page.wait_for_url(f"**/ui/replay.html?*at={first}")
    page.wait_for_selector("#state-body tr")
    page.screenshot(path=screenshot_path("scorer-replay"), full_page=True)


def test_the_overview_names_each_signs_scorer_with_a_link_to_their_page(
    served: Served, page: Page
) -> None:
    shown, _ = _scorer_finding(served)
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    link = page.locator(f"#fairness a[href*='scorer.html'][href$='scorer={shown['scorer']}']")
    link.first.wait_for(state="attached")
    assert link.count() >= 1


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

    consistency = [
        json.loads(p.read_text())
        for p in sorted((VECTORS / "merkle" / "consistency").rglob("*.json"))
    ]
    assert len(consistency) > 20 and {v["wantErr"] for v in consistency} == {True, False}
    consistent = page.evaluate(
        """async (vectors) => {
          const v = await import('/ui/verify.js');
          const b = (s) => (s ? v.fromBase64(s) : new Uint8Array());
          const out = [];
          for (const x of vectors) {
            out.push(await v.verifyConsistency(
              x.size1, x.size2, (x.proof || []).map(b), b(x.root1), b(x.root2)));
          }
          return out;
        }""",
        consistency,
    )
    assert consistent == [not v["wantErr"] for v in consistency]

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


def test_the_sign_in_form_survives_the_session_check(served: Served, page: Page) -> None:
    """The login page renders again when its session check answers (here: who is
    signed in already). Someone typing their token keeps the focus, and a click begun
    before the answer (mouse down) and ended after it (mouse up) still signs them in:
    built anew, the form lost both, and the click now and then in these tests."""
    access = AccessStore(served.ledger.store)
    token, _ = access.issue(served.demo.inspection.id)
    cadre = next(iter(served.demo.cadres)).id
    with serving(create_app(served.ledger, access=access)) as url:
        page.context.add_cookies([{"name": "cadreledger_token", "value": token, "url": url}])
        held: list[Any] = []
        page.route("**/v1/auth/whoami", lambda route: held.append(route))  # held

        def open_login() -> None:
            held.clear()
            page.goto(
                f"{url}/ui/login.html?next=/ui/cadre.html%3Fcycle%3D{served.cycle}"
                f"%26cadre%3D{cadre}"
            )
            page.wait_for_selector("#sign-in")
            for _ in range(200):  # the page's check and the header's
                if len(held) == 2:
                    break
                page.wait_for_timeout(25)
            assert len(held) == 2 and not page.query_selector("#sign-out")

        def answer() -> None:
            for route in held:
                route.continue_()
            page.wait_for_selector("#sign-out")  # rendered again: signed in already

        open_login()
        page.fill("#token", token)
        answer()
        assert page.evaluate("document.activeElement.id") == "token"
        assert page.input_value("#token") == token

        open_login()
        page.fill("#token", token)
        box = page.locator("#sign-in").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        answer()
        page.unroute("**/v1/auth/whoami")  # the next page's checks pass
        page.mouse.up()
        page.wait_for_selector("#cadre-name")
        assert page.url.endswith(f"/ui/cadre.html?cycle={served.cycle}&cadre={cadre}")


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
    for package in ROOMS:
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


# -- honesty: what the page says when the server lies ---------------------------------
# Each test alters the server's answers in flight (Playwright's page.route), as a
# dishonest or compromised server would, and reads what the page then shows.


def alter(page: Page, pattern: str, change: Any) -> None:
    """Answer requests matching ``pattern`` with ``change(json)`` of the real answer."""

    def handle(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, json=change(response.json()))

    page.route(pattern, handle)


def log_key(served: Served) -> SignerKey:
    return SignerKey.parse(Path(str(served.ledger.settings.log_key_file)).read_text())


def bad_steps(page: Page) -> list[int]:
    found: list[int] = page.locator("#step-list li:has(.mark-bad)").evaluate_all(
        "items => items.map(li => Number(li.dataset.position))"
    )
    return found


def test_server_figures_are_marked_unchecked_and_never_green(served: Served, page: Page) -> None:
    """A total altered in flight still shows (the browser cannot check a projection),
    but every card of server figures says so, and none of it is green or ticked."""
    steps = served.steps()
    tally = next(s for s in steps if s["type"] == "tally.recorded")
    cadre = tally["cadre"]

    def inflate(doc: dict[str, Any]) -> dict[str, Any]:
        subject = doc["subjects"].get(cadre)
        if subject and subject.get("score"):
            subject["score"]["total"] = "99.99"
        return doc

    alter(page, "**/v1/cycles/*/ratings?*", inflate)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={tally['position']}")
    row = page.locator(f'#state-body tr[data-cadre="{cadre}"] td[data-col="total"]')
    row.wait_for()
    assert row.inner_text().endswith("99,99")  # shown — but as the server's
    counts = wait_verified(page)
    assert counts["bad"] == 0  # the signed steps are untouched: no ✗ for them either
    state = page.locator("#state")
    assert "Từ máy chủ, chưa kiểm tra ở đây" in state.locator(".from-server").inner_text()
    assert "cadreledger verify" in state.locator(".from-server").inner_text()
    assert state.locator(".good, .mark-ok").count() == 0
    assert "✓" not in state.inner_text()
    rules = page.locator("#step-rules")
    assert "✓" not in rules.inner_text() and "theo máy chủ" in rules.inner_text()
    page.locator("#verify-summary summary").click()
    explained = page.locator("#verify-summary details").inner_text()
    # Omission: said plainly where it is checked, and that elsewhere it is not.
    assert "Việc bỏ sót" in explained and "chưa kiểm tra" in explained
    assert "bảng xếp loại sau mỗi bước" in explained

    pages = {
        f"/ui/?cycle={served.cycle}": "#ratings tbody tr",
        f"/ui/cadre.html?cycle={served.cycle}&cadre={cadre}": "#history",
        f"/ui/charts.html?cycle={served.cycle}": "#levels",
    }
    for path, ready in pages.items():
        page.goto(f"{served.url}{path}")
        page.wait_for_selector(ready)
        cards = page.locator("main section.card:has(h2), main section.card.lead")
        for i in range(cards.count()):
            card = cards.nth(i)
            assert card.locator(".from-server").count() == 1, card.inner_text()[:80]
            assert card.locator(".good, .mark-ok").count() == 0, card.inner_text()[:80]
            assert "✓" not in card.inner_text(), card.inner_text()[:80]


def test_a_signature_altered_in_flight_shows_a_cross(served: Served, page: Page) -> None:
    steps = served.steps()
    target = next(s for s in steps if s["type"] == "score.submitted")

    def flip(doc: dict[str, Any]) -> dict[str, Any]:
        for e in doc["entries"]:
            if e["index"] == target["position"]:
                envelope = json.loads(e["envelope"])
                signature = bytearray(base64.b64decode(envelope["signature"]))
                signature[5] ^= 0x40
                envelope["signature"] = base64.b64encode(bytes(signature)).decode()
                e["envelope"] = canonical_bytes(envelope).decode()
        return doc

    alter(page, "**/v1/cycles/*/entries?*", flip)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={target['position']}")
    wait_verified(page)
    found = checks(page)
    assert found["signature"] == "bad" and found["inclusion"] == "bad", found
    assert target["position"] in bad_steps(page)


def test_a_score_altered_in_flight_shows_a_cross(served: Served, page: Page) -> None:
    """A ballot's score changed by the server: in its description of the step (the
    timeline) the step no longer matches what was signed; in the signed envelope the
    signature and the inclusion fail. Either way ✗, never the altered score with ✓."""
    steps = served.steps()
    target = next(s for s in reversed(steps) if s["type"] == "score.submitted")
    other = 69 if str(target["fields"]["tasks"]) in ("70", "70.00") else 70  # not its score

    def inflate_step(doc: dict[str, Any]) -> dict[str, Any]:
        for s in doc["timeline"]:
            if s["position"] == target["position"]:
                s["fields"]["tasks"] = other
        return doc

    alter(page, "**/v1/cycles/*/timeline?*", inflate_step)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={target['position']}")
    counts = wait_verified(page)
    found = checks(page)
    assert found["matches"] == "bad" and found["signature"] == "ok", found
    assert bad_steps(page) == [target["position"]] and counts["bad"] == 1

    page.unroute("**/v1/cycles/*/timeline?*")

    def inflate_envelope(doc: dict[str, Any]) -> dict[str, Any]:
        for e in doc["entries"]:
            if e["index"] == target["position"]:
                envelope = json.loads(e["envelope"])
                envelope["statement"]["tasks"] = other
                e["envelope"] = canonical_bytes(envelope).decode()
        return doc

    alter(page, "**/v1/cycles/*/entries?*", inflate_envelope)
    page.reload()
    wait_verified(page)
    found = checks(page)
    assert found["signature"] == "bad" and found["inclusion"] == "bad", found
    assert target["position"] in bad_steps(page)


def test_a_proof_altered_in_flight_shows_a_cross(served: Served, page: Page) -> None:
    steps = served.steps()
    target = steps[len(steps) // 2]

    def corrupt(doc: dict[str, Any]) -> dict[str, Any]:
        for p in doc.get("proofs") or []:
            if p["index"] == target["position"] and p["proof"]:
                p["proof"][0] = base64.b64encode(b"\x00" * 32).decode()
        return doc

    # No tiles to be had: the page asks the proof endpoint, and its altered answer fails.
    page.route("**/v1/log/tile/**", lambda route: route.fulfill(status=404))
    alter(page, "**/v1/log/proof/inclusion?*", corrupt)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={target['position']}")
    counts = wait_verified(page)
    found = checks(page)
    assert found["inclusion"] == "bad" and found["signature"] == "ok", found
    assert bad_steps(page) == [target["position"]] and counts["bad"] == 1


def test_a_tile_altered_in_flight_shows_a_cross(served: Served, page: Page) -> None:
    """The hash beside a step's leaf, changed in the tile the proof is built from."""
    steps = served.steps()
    target = steps[len(steps) // 2]
    sibling = target["position"] ^ 1

    def corrupt(route: Any) -> None:
        response = route.fetch()
        body = bytearray(response.body())
        if len(body) >= 32 * (sibling % 256 + 1):
            body[32 * (sibling % 256)] ^= 0xFF
        route.fulfill(response=response, body=bytes(body))

    page.route(f"**/v1/log/tile/0/{sibling // 256:03d}**", corrupt)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={target['position']}")
    wait_verified(page)
    found = checks(page)
    assert found["inclusion"] == "bad" and found["signature"] == "ok", found
    assert target["position"] in bad_steps(page)


def test_an_altered_checkpoint_turns_the_header_red_and_proves_nothing(
    served: Served, page: Page
) -> None:
    def swap_root(route: Any) -> None:
        response = route.fetch()
        lines = response.text().split("\n")
        lines[2] = base64.b64encode(b"\x11" * 32).decode()
        route.fulfill(response=response, body="\n".join(lines))

    page.route("**/v1/log/checkpoint", swap_root)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    page.wait_for_selector('#checkpoint[data-status="bad"]')
    counts = wait_verified(page)
    assert counts["ok"] == 0 and counts["bad"] == counts["n"]
    assert checks(page)["inclusion"] == "bad"
    assert page.locator("#checkpoint .good").count() == 0


def test_a_statement_resigned_by_a_new_key_in_a_members_name_is_refused(
    served: Served, page: Page
) -> None:
    """The insider's forgery: a statement re-signed by a fresh key named after a real
    panel member. Its signature verifies — but the registry never gave them that key."""
    steps = served.steps()
    target = next(s for s in steps if s["type"] == "score.submitted")
    forger = SignerKey.generate(target["actor"])

    def resign(doc: dict[str, Any]) -> dict[str, Any]:
        for e in doc["entries"]:
            if e["index"] == target["position"]:
                envelope = json.loads(e["envelope"])
                message = canonical_bytes(envelope["statement"])
                envelope["signer"] = str(forger.verifier)
                envelope["signature"] = base64.b64encode(forger.sign(message)).decode()
                e["envelope"] = canonical_bytes(envelope).decode()
        return doc

    alter(page, "**/v1/cycles/*/entries?*", resign)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={target['position']}")
    wait_verified(page)
    found = checks(page)
    assert found["signature"] == "ok", found  # the forger's own key does sign it
    assert found["registry"] == "bad", found
    shown = page.locator('#checks li[data-check="registry"]').inner_text()
    assert "không được đăng ký cho" in shown and target["actor"] in shown
    assert target["position"] in bad_steps(page)


def omitting(page: Page, position: int) -> None:
    """The dishonest server's omission: the event at ``position`` left out of both the
    timeline and the envelopes it gives (the log itself still holds it)."""

    def drop(key: str) -> Any:
        def change(doc: dict[str, Any]) -> dict[str, Any]:
            doc[key] = [x for x in doc[key] if x.get("position", x.get("index")) != position]
            return doc

        return change

    alter(page, "**/v1/cycles/*/timeline?*", drop("timeline"))
    alter(page, "**/v1/cycles/*/entries?*", drop("entries"))


def completeness(page: Page) -> Any:
    found = page.locator('#completeness:not([data-status="running"])')
    found.wait_for()
    return found


def test_an_omitted_event_breaks_the_chain_and_the_log_names_it(served: Served, page: Page) -> None:
    steps = served.steps()
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        by_stream.setdefault(s["stream"], []).append(s)
    stream = next(v for v in by_stream.values() if len(v) >= 3)
    middle = stream[1]["position"]
    omitting(page, middle)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    counts = wait_verified(page)
    assert counts["n"] == len(steps) - 1
    assert bad_steps(page) == [stream[2]["position"]]  # its `prev` names the missing one
    found = completeness(page)
    assert found.get_attribute("data-status") == "omitted"
    assert str(middle) in found.inner_text()


def test_a_last_re_decision_left_out_turns_the_page_red(served: Served, page: Page) -> None:
    """The omission no chain shows: a stream's last event (a re-decision) left out of
    the timeline and the envelopes. Every remaining step still verifies — but the
    browser reads the log's own entries, held to the signed tree, and finds it."""
    steps = served.steps()
    last = next(s for s in reversed(steps) if s["type"] == "decision.revised")
    assert not any(s["stream"] == last["stream"] for s in steps if s["position"] > last["position"])
    omitting(page, last["position"])
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    counts = wait_verified(page)
    assert counts["bad"] == 0 and counts["ok"] == counts["n"] == len(steps) - 1  # 464/464 ✓
    found = completeness(page)
    assert found.get_attribute("data-status") == "omitted", found.inner_text()
    assert str(last["position"]) in found.inner_text()
    assert "✗ Máy chủ bỏ sót 1 sự kiện" in found.inner_text()
    assert page.locator("#verify-summary > span.bad").count() == 1
    assert page.locator("#verify-summary .good").count() == 0

    # A server that also swaps the log's envelope there is caught by the signed tree.
    def swap(route: Any) -> None:
        response = route.fetch()
        body = bytearray(response.body())
        marker = b'"decision.revised"'
        at = body.rfind(marker)
        if at >= 0:
            body[at : at + len(marker)] = b'"decision.REVISED"'
        route.fulfill(response=response, body=bytes(body))

    page.route("**/v1/log/tile/envelopes/**", swap)
    page.reload()
    found = completeness(page)
    assert found.get_attribute("data-status") == "mismatch", found.inner_text()

    # And one that refuses the envelopes: not checked, said so — never ✓.
    page.unroute("**/v1/log/tile/envelopes/**")
    page.route("**/v1/log/tile/envelopes/**", lambda route: route.fulfill(status=403))
    page.reload()
    found = completeness(page)
    assert found.get_attribute("data-status") == "forbidden"
    assert found.inner_text().startswith("? Chưa kiểm tra việc bỏ sót")


def test_a_registry_event_kept_back_is_named_from_the_log(
    db_url: str, tmp_path: Path, page: Page
) -> None:
    """The registry's last event (here a unit registered after the cycle; it could be a
    key's revocation) kept out of the envelopes the server gives: no chain breaks and
    every step stays ✓, but the log's own entries name it."""
    ledger, demo = demo_ledger(db_url, tmp_path)
    try:
        kept = demo.act(demo.root, "unit.registered", unit="don-vi-moi", name="Đơn vị mới")
        position = kept.index
        with serving(create_app(ledger)) as url:

            def keep_back(doc: dict[str, Any]) -> dict[str, Any]:
                doc["entries"] = [e for e in doc["entries"] if e["index"] != position]
                return doc

            alter(page, "**/v1/cycles/*/entries?*", keep_back)
            page.goto(f"{url}/ui/replay.html?cycle={demo.cycle}")
            counts = wait_verified(page)
            assert counts["bad"] == 0 and counts["ok"] == counts["n"], counts
            found = completeness(page)
            assert found.get_attribute("data-status") == "omitted", found.inner_text()
            assert str(position) in found.inner_text()
    finally:
        ledger.close()


def test_an_act_hidden_from_the_timeline_but_signed_in_the_entries_is_named(
    served: Served, page: Page
) -> None:
    steps = served.steps()
    hidden = next(s for s in reversed(steps) if s["type"] == "decision.revised")

    def hide(doc: dict[str, Any]) -> dict[str, Any]:
        doc["timeline"] = [s for s in doc["timeline"] if s["position"] != hidden["position"]]
        return doc

    alter(page, "**/v1/cycles/*/timeline?*", hide)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    wait_verified(page)
    shown = page.locator("#unlisted")
    shown.wait_for()
    assert str(hidden["position"]) in shown.inner_text() and "bỏ qua" in shown.inner_text()


def test_a_rewritten_history_resealed_with_the_logs_key_stops_the_page(
    served: Served, page: Page
) -> None:
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    page.wait_for_selector('#checkpoint[data-status="ok"]')  # seen, and remembered
    size = served.ledger.size()
    forged = Checkpoint(str(log_key(served).verifier.name), size, b"\x22" * 32).sign(
        log_key(served)
    )
    page.route("**/v1/log/checkpoint", lambda route: route.fulfill(body=forged))
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    page.wait_for_selector('#checkpoint[data-status="forked"]')
    stop = page.locator("#stop")
    assert stop.get_attribute("data-reason") == "forked"
    assert "lịch sử của sổ cái đã bị viết lại" in stop.inner_text()
    assert page.locator("#main").is_hidden()
    assert page.locator("header button:not(#lang-switch)").count() == 0

    # A bigger forged tree: no consistency proof leads to it from what was seen.
    bigger = Checkpoint(str(log_key(served).verifier.name), size + 5, b"\x33" * 32)
    page.unroute("**/v1/log/checkpoint")
    page.route(
        "**/v1/log/checkpoint", lambda route: route.fulfill(body=bigger.sign(log_key(served)))
    )
    page.route(
        "**/v1/log/proof/consistency?*",
        lambda route: route.fulfill(json={"from": size, "to": size + 5, "proof": []}),
    )
    page.reload()
    page.wait_for_selector('#checkpoint[data-status="forked"]')


def test_a_changed_log_key_stops_the_page_with_no_way_to_accept_it(
    served: Served, page: Page
) -> None:
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    page.wait_for_selector('#checkpoint[data-status="ok"]')
    other = SignerKey.generate(str(log_key(served).verifier.name))
    note = Checkpoint(other.verifier.name, served.ledger.size(), b"\x44" * 32).sign(other)
    page.route("**/v1/log/key", lambda route: route.fulfill(body=f"{other.verifier}\n"))
    page.route("**/v1/log/checkpoint", lambda route: route.fulfill(body=note))
    page.reload()
    page.wait_for_selector('#checkpoint[data-status="keyChanged"]')
    stop = page.locator("#stop")
    assert stop.get_attribute("data-reason") == "keyChanged"
    assert "khóa của sổ cái đã thay đổi" in stop.inner_text()
    assert page.locator("#main").is_hidden()
    assert page.locator("header button:not(#lang-switch)").count() == 0
    assert "OK" not in page.locator("header").inner_text().split()
    page.reload()  # and it stays stopped: nothing was accepted
    page.wait_for_selector('#checkpoint[data-status="keyChanged"]')


def test_a_later_checkpoint_is_proved_consistent_with_the_one_seen(
    served: Served, page: Page
) -> None:
    """The browser remembers the checkpoint it saw and asks for a consistency proof
    from it to a later one (here: the real log at a smaller remembered size)."""
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    page.wait_for_selector('#checkpoint[data-status="ok"]')
    key = str(log_key(served).verifier)
    earlier = served.ledger.size() // 2
    root = base64.b64encode(root_at(earlier, served.ledger.reader)).decode()
    page.evaluate(
        "([k, size, root]) => localStorage.setItem('cadreledger.checkpoints.' + k,"
        " JSON.stringify({size, root}))",
        [key, earlier, root],
    )
    page.reload()
    page.wait_for_selector('#checkpoint[data-status="consistent"]')


# -- the complainant's journey ---------------------------------------------------------


def test_a_complainant_replays_the_steps_that_touched_their_result(
    served: Served, page: Page, tmp_path: Path
) -> None:
    """Signed in as the complainant: from their own page, "phát lại" opens the replay of
    the steps that touched their result (not a refusal), every step checked in the
    browser against the signed envelopes the real access rule gives them; and the page's
    "Tải hồ sơ của tôi" downloads their personal bundle, which ``cadreledger verify FILE``
    passes offline, saying what it checked and what it could not."""
    doc = served.get(f"/v1/cycles/{served.cycle}")
    complainant = next(sid for sid, s in doc["subjects"].items() if s["complaints"])
    own = served.get(f"/v1/cycles/{served.cycle}/cadres/{complainant}/timeline", limit=1000)
    access = AccessStore(served.ledger.store)
    token, _ = access.issue(complainant)
    with serving(create_app(served.ledger, access=access)) as url:
        # Signed in as a person does: their page sends them to sign in, and back.
        page.goto(f"{url}/ui/cadre.html?cycle={served.cycle}&cadre={complainant}")
        page.wait_for_url("**/ui/login.html?next=*")
        page.fill("#token", token)
        page.click("#sign-in")
        page.wait_for_selector("#history a")
        assert page.url.endswith(f"/ui/cadre.html?cycle={served.cycle}&cadre={complainant}")

        # The cycle's case bundle carries everyone's acts: the page says who gives it out.
        page.click("#bundle")
        # (A selector, not a function: the pages' CSP allows no eval.)
        page.wait_for_selector("#bundle + .hint:has-text('ủy ban kiểm tra')")

        # Their own record: only the events that touched their result, with the proofs.
        mine = page.locator("#personal-bundle")
        assert mine.inner_text() == "Tải hồ sơ của tôi"
        with page.expect_download() as downloading:
            mine.click()
        saved = tmp_path / "mine.personal.json"
        downloading.value.save_as(saved)
        page.wait_for_selector("#personal-bundle-hint:has-text('Đã tải')")
        bundle = json.loads(saved.read_text())
        assert bundle["format"] == "cadreledger-personal-bundle/1"
        assert bundle["personal"]["cadre"] == complainant
        streams = {json.loads(e["envelope"])["stream"] for e in bundle["events"]}
        cycle = served.cycle
        assert streams == {"registry", f"cycle/{cycle}", f"cycle/{cycle}/cadre/{complainant}"}
        pinned = str(log_key(served).verifier)
        verified = CliRunner().invoke(main, ["verify", "--log-key", pinned, str(saved)])
        assert verified.exit_code == 0, verified.output
        for said in ("ĐẠT / PASS", "V11 key-registry", "NOT checked", "Other people's acts"):
            assert said in verified.output, (said, verified.output)
        # A colleague's record is not theirs to take, whatever they ask of the server.
        other = next(sid for sid in doc["subjects"] if sid != complainant)
        refused = page.request.get(f"{url}/v1/cycles/{cycle}/cadres/{other}/personal-bundle")
        assert refused.status == 403

        page.locator("#history a").last.click()
        page.wait_for_selector("#step-list li")
        assert f"cadre={complainant}" in page.url
        page.wait_for_selector("header .session")
        assert page.locator("header .session").inner_text().startswith("Đã đăng nhập")
        assert page.locator("#step-list li").count() == len(own["timeline"])
        page.wait_for_selector(f'#state-body tr[data-cadre="{complainant}"]')
        assert "không cho phép" not in page.locator("main").inner_text()
        counts = wait_verified(page)
        # The real rule gives the complainant the signed envelopes of their own case
        # (``/entries?cadre=`` themselves): every step is checked, none is refused.
        assert counts["bad"] == 0, counts
        assert counts["ok"] == counts["n"] == len(own["timeline"]), counts
        page.screenshot(path=screenshot_path("replay-complainant"), full_page=True)

        # Without an oversight role the log's envelopes are not theirs: omission of a
        # stream's last event is said not checked, never ✓.
        found = completeness(page)
        assert found.get_attribute("data-status") == "forbidden", found.inner_text()

        # The header's "Phát lại" (the whole cycle, insiders only) offers their own.
        page.goto(f"{url}/ui/replay.html?cycle={served.cycle}")
        page.click("#own-replay")
        page.wait_for_selector("#step-list li")
        assert f"cadre={complainant}" in page.url


# -- fit: nothing wider than the screen -----------------------------------------------


@pytest.mark.parametrize("width", [1366, 390])
def test_no_page_is_wider_than_the_screen(served: Served, browser: Browser, width: int) -> None:
    steps = served.steps()
    doc = served.get(f"/v1/cycles/{served.cycle}")
    cadre = next(sid for sid, s in doc["subjects"].items() if s["amended_ballots"])
    pages = {
        "overview": (f"/ui/?cycle={served.cycle}", "#ratings tbody tr"),
        "replay": (
            f"/ui/replay.html?cycle={served.cycle}&at={steps[len(steps) * 2 // 3]['position']}",
            "#state-body tr",
        ),
        "cadre": (f"/ui/cadre.html?cycle={served.cycle}&cadre={cadre}", "#history"),
        "charts": (f"/ui/charts.html?cycle={served.cycle}", "#levels svg"),
        "scorer": (
            f"/ui/scorer.html?cycle={served.cycle}&scorer={_scorer_finding(served)[0]['scorer']}",
            "#fairness .finding",
        ),
        "login": ("/ui/login.html", "#token"),
    }
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        wide = {}
        for name, (path, ready) in pages.items():
            page.goto(f"{served.url}{path}")
            page.wait_for_selector(ready)
            page.wait_for_timeout(200)  # late cards (fairness, names) settle
            text = page.locator("body").inner_text()
            # No machine text: a stray null, raw group slugs, a regime as "QD366 v1".
            assert "null" not in text.split() and "undefined" not in text, (name, text[:200])
            assert "chuyen-vien" not in text and "QD366 v1" not in text, name
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            if scroll > width:
                wide[name] = scroll
            page.screenshot(path=screenshot_path(f"{name}-{width}"), full_page=True)
        assert not wide, f"wider than {width} px: {wide}"
    finally:
        context.close()


# -- accessibility: axe-core on every page --------------------------------------------

AXE = Path(
    os.environ.get(
        "CADRELEDGER_TEST_AXE", ROOT / ".ci" / "js" / "node_modules" / "axe-core" / "axe.min.js"
    )
)


@pytest.mark.parametrize("width", [1366, 390])
def test_axe_finds_no_serious_violation_on_any_page(
    served: Served, browser: Browser, width: int
) -> None:
    """axe-core (installed by .ci/run into .ci/js) in every page, as it stands once
    loaded: no serious or critical violation."""
    if not AXE.exists():
        if IN_CI:
            pytest.fail(f"CI=true but no axe-core at {AXE} (.ci/run installs it)")
        pytest.skip(f"no axe-core at {AXE} (cd .ci/js && npm ci)")
    steps = served.steps()
    doc = served.get(f"/v1/cycles/{served.cycle}")
    cadre = next(sid for sid, s in doc["subjects"].items() if s["amended_ballots"])
    pages = {
        "overview": (f"/ui/?cycle={served.cycle}", "#ratings tbody tr"),
        "replay": (
            f"/ui/replay.html?cycle={served.cycle}&at={steps[len(steps) // 2]['position']}",
            "#state-body tr",
        ),
        "cadre": (f"/ui/cadre.html?cycle={served.cycle}&cadre={cadre}", "#history"),
        "charts": (f"/ui/charts.html?cycle={served.cycle}", "#levels svg"),
        "scorer": (
            f"/ui/scorer.html?cycle={served.cycle}&scorer={_scorer_finding(served)[0]['scorer']}",
            "#fairness .finding",
        ),
        "login": ("/ui/login.html", "#token"),
    }
    # The pages' CSP admits scripts from the service only; axe comes from the test.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found = {}
    try:
        for name, (path, ready) in pages.items():
            page.goto(f"{served.url}{path}")
            page.wait_for_selector(ready)
            page.wait_for_timeout(300)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => (await axe.run(document)).violations")
            serious = [
                f"{v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['target']})"
                for v in result
                if v["impact"] in ("serious", "critical")
            ]
            if serious:
                found[name] = serious
    finally:
        context.close()
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_a_substituted_root_of_trust_fails_every_key(served: Served, page: Page) -> None:
    """The server names another root key: the registry's own events (signed by the real
    root) no longer verify from it, so no signer's key counts as registered."""
    impostor = SignerKey.generate("root")

    def swap(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("root_keys") is not None:
            doc["root_keys"] = [str(impostor.verifier)]
        return doc

    alter(page, "**/v1/cycles/*/entries?*", swap)
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}")
    counts = wait_verified(page)
    assert counts["ok"] == 0 and counts["bad"] == counts["n"], counts
    assert checks(page)["registry"] == "bad"


def test_a_corrected_total_shows_with_the_total_it_replaced(served: Served, page: Page) -> None:
    doc = served.get(f"/v1/cycles/{served.cycle}")
    sid, subject = next(
        (sid, s) for sid, s in doc["subjects"].items() if (s["score"] or {}).get("corrected_by")
    )
    score = subject["score"]
    original = hundredths(score["general"]) + hundredths(score["tasks"])
    assert original != hundredths(score["total"])  # the demo's re-decision corrects it
    page.goto(f"{served.url}/ui/cadre.html?cycle={served.cycle}&cadre={sid}")
    shown = page.locator("#corrected-total")
    shown.wait_for()
    assert shown.locator("del").inner_text() == points(f"{original // 100}.{original % 100:02d}")
    assert shown.locator("ins").inner_text() == points(score["total"])
    # The rules behind the level in words, not "thresholds: HT: total ≥ 50".
    why = page.locator('#decision li[data-rule="thresholds"]').first.inner_text()
    assert why.startswith("Theo ngưỡng điểm") and "total" not in why


def test_search_sort_and_the_amendment_step_read_as_a_person_expects(
    served: Served, page: Page
) -> None:
    doc = served.get(f"/v1/cycles/{served.cycle}")
    sid, subject = next((sid, s) for sid, s in doc["subjects"].items() if not s["name"].isascii())
    plain = subject["name"].replace("đ", "d").replace("Đ", "D")
    folded = unicodedata.normalize("NFD", plain).encode("ascii", "ignore").decode().lower()
    page.goto(f"{served.url}/ui/?cycle={served.cycle}")
    page.wait_for_selector("#ratings tbody tr")
    page.fill("#filter", folded)
    page.wait_for_function("() => document.querySelectorAll('#ratings tbody tr').length >= 1")
    shown = page.locator("#ratings tbody tr").evaluate_all("rows => rows.map(r => r.dataset.cadre)")
    assert sid in shown, (folded, shown)
    page.fill("#filter", "")

    # The whole heading sorts (a click at its right edge), and says how.
    heading = page.locator('#ratings th[data-col="total"]')
    assert heading.get_attribute("aria-sort") == "none"
    box = heading.bounding_box()
    assert box is not None
    heading.click(position={"x": box["width"] - 3, "y": box["height"] - 3})
    page.wait_for_selector('#ratings th[data-col="total"][aria-sort]:not([aria-sort="none"])')

    # Levels by rank, best first, in the quota table.
    for group in doc["groups"]["groups"]:
        chips = page.locator(f'#quota tr[data-group="{group}"] td[data-col="levels"] .chip')
        codes = [c.split()[0] for c in chips.all_inner_texts()]
        ranks = ["HTXS", "HTT", "HT", "KHT", "KXL"]
        assert codes == sorted(codes, key=ranks.index), codes

    # The replay's amendment step: each changed score as old → new.
    steps = served.steps()
    amendment = next(s for s in steps if s["type"] == "score.amended")
    page.goto(f"{served.url}/ui/replay.html?cycle={served.cycle}&at={amendment['position']}")
    page.wait_for_selector(f'#step[data-position="{amendment["position"]}"]')
    changed = page.locator("#step dd[data-field] .old-new")
    assert changed.count() >= 1
    assert "→" in changed.first.inner_text()
    assert page.locator('#step dt[title="general"]').inner_text() == "Tiêu chí chung"


def test_the_english_view_says_the_same_in_english(served: Served, page: Page) -> None:
    page.goto(f"{served.url}/ui/?cycle={served.cycle}&lang=en")
    page.wait_for_selector("#ratings tbody tr")
    assert (
        page.locator("#ratings .from-server")
        .inner_text()
        .startswith("From the server, not checked here")
    )
    other = SignerKey.generate(str(log_key(served).verifier.name))
    note = Checkpoint(other.verifier.name, served.ledger.size(), b"\x55" * 32).sign(other)
    page.route("**/v1/log/key", lambda route: route.fulfill(body=f"{other.verifier}\n"))
    page.route("**/v1/log/checkpoint", lambda route: route.fulfill(body=note))
    page.reload()
    stop = page.locator("#stop")
    stop.wait_for()
    assert "Stop: the log's key has changed" in stop.inner_text()
    assert page.locator("header button:not(#lang-switch)").count() == 0


def test_the_replay_stays_under_a_tight_rate_limit(served: Served, page: Page) -> None:
    """Batched proofs: the whole replay is a handful of requests, never a 429."""
    from api.rate_limit import RatePolicy

    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/v1/" in r.url else None)
    with serving(create_app(served.ledger, rate=RatePolicy(rate=2.0, burst=30))) as url:
        page.goto(f"{url}/ui/replay.html?cycle={served.cycle}")
        counts = wait_verified(page)
    assert counts["ok"] == counts["n"] == len(served.steps())
    assert 429 not in statuses and len(statuses) <= 30, statuses


def test_the_inspection_committee_downloads_a_case_bundle_that_verifies(
    served: Served, page: Page, tmp_path: Path
) -> None:
    """From a published cadre's page, the inspection committee (who handles complaints)
    downloads the case bundle, and ``cadreledger verify FILE`` passes it offline."""
    doc = served.get(f"/v1/cycles/{served.cycle}")
    complainant = next(sid for sid, s in doc["subjects"].items() if s["complaints"])
    access = AccessStore(served.ledger.store)
    token, _ = access.issue(served.demo.inspection.id)
    with serving(create_app(served.ledger, access=access)) as url:
        page.context.add_cookies([{"name": "cadreledger_token", "value": token, "url": url}])
        page.goto(f"{url}/ui/cadre.html?cycle={served.cycle}&cadre={complainant}")
        page.wait_for_selector("#bundle")
        with page.expect_download() as downloading:
            page.click("#bundle")
        saved = tmp_path / "case.bundle.json"
        downloading.value.save_as(saved)
    verified = CliRunner().invoke(main, ["verify", str(saved)])
    assert verified.exit_code == 0, verified.output
    assert json.loads(saved.read_text())["evaluation"]["cadre"] == complainant
