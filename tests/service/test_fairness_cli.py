"""``cadreledger verify`` on a real ledger: the fairness findings grouped by person and by
scorer, in both languages, ``--findings-only`` and ``--json``; a sealed amendment reason
judged by a verifier holding the data key, and said to be sealed by one without it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.service import Ledger
from tests.evaluation import CADRES, CHAIR, PANEL
from tests.service.test_domain_ledger import evaluation_ledger


def _favour_and_a_directed_amendment(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.seal = True  # every free text sealed: the ledger holds commitments only
    w.open()
    w.roster(collective=False)
    w.review()
    ballots = {}
    for i, cadre in enumerate(CADRES):
        for scorer in PANEL:
            total = 70 + 3 * i + (15 if (scorer, cadre) == (PANEL[2], CADRES[0]) else 0)
            ballots[(scorer, cadre)] = w.on(
                scorer, "score.submitted", cadre=cadre, general=21, tasks=total - 21
            )
    w.on(
        PANEL[1],
        "score.amended",
        cadre=CADRES[1],
        amends=ballots[(PANEL[1], CADRES[1])],
        general=21,
        tasks=53,
        reason="theo chỉ đạo",
    )
    w.on(CHAIR, "tally.recorded", cadre=CADRES[0], ballots=3, total="75.00")
    ledger.close()


def _run(tmp_path: Path, db_url: str, *args: str, data_key: bool = True) -> tuple[int, str]:
    env = {
        "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
        "CADRELEDGER_ROOT_KEY_FILE": str(tmp_path / "root.key"),
    }
    if not data_key:
        env["CADRELEDGER_DATA_KEY_FILE"] = str(tmp_path / "no-such.datakey")
    done = CliRunner(env=env).invoke(main, ["--db", db_url, "verify", "--no-remember", *args])
    return done.exit_code, done.output


def _findings(tmp_path: Path, db_url: str) -> list[dict[str, Any]]:
    code, out = _run(tmp_path, db_url, "--findings-only", "--json")
    assert code == 0, out
    found: list[dict[str, Any]] = json.loads(out)["findings"]
    return found


def test_verify_prints_the_signs_to_examine_by_person_and_by_scorer(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    _favour_and_a_directed_amendment(db_url, tmp_path, open_ledger)
    code, out = _run(tmp_path, db_url)
    assert code == 0, out
    assert "Dấu hiệu cần xem xét / Signs to examine" in out
    by_person, _, by_scorer = out.partition("Theo người chấm, người quyết định / By scorer")
    assert "Theo người được đánh giá / By person evaluated" in by_person and by_scorer
    # The favour is told under the person it favours and again under its scorer, the
    # same finding (its id) in both, in Vietnamese (15,00 điểm) and in English.
    (favour,) = [f for f in _findings(tmp_path, db_url) if f["kind"] == "ballot-deviation"]
    assert favour["cadre"] == CADRES[0] and favour["scorer"] == PANEL[2]
    person_block = by_person.split(f"● {CADRES[0]}\n")[1].split("● ")[0]
    scorer_block = by_scorer.split(f"● {PANEL[2]} ")[1].split("● ")[0]
    for block in (person_block, scorer_block):
        assert f"#{favour['id']}" in block
        assert f"{PANEL[2]} chấm {CADRES[0]} cao hơn phần còn lại của hội đồng 15,00 điểm" in block
        assert f"{PANEL[2]} marked {CADRES[0]} up by 15.00 points" in block
    assert "(z bền vững): " in person_block and "(ngưỡng 3,0)" in person_block
    assert "(threshold 3.0)" in person_block
    assert "lệch trung bình so với hội đồng +" in by_scorer.split("\n")[1]
    assert f"● {PANEL[0]}" not in out  # an honest scorer is not listed as deviating

    code, out = _run(tmp_path, db_url, "--findings-only")
    assert code == 0 and "V1" not in out  # the findings, not the checks
    assert "amendments" in out  # the directed reason, judged with the data key

    code, out = _run(tmp_path, db_url, "--findings-only", "--json")
    fairness = json.loads(out)
    (amended,) = [f for f in fairness["findings"] if f["kind"] == "amendments"]
    assert amended["severity"] == "medium" and amended["scorer"] == PANEL[1]
    assert amended["detail"]["amendments"][0]["directed"] is True
    assert "directed" in amended["summary_en"] and "sealed" not in amended["summary_en"]
    assert "ballot-deviation" in fairness["kinds"]  # the catalogue, with its explanations

    # A verifier without the data key cannot read the reason, and says so.
    code, out = _run(tmp_path, db_url, "--findings-only", "--json", data_key=False)
    (sealed,) = [f for f in json.loads(out)["findings"] if f["kind"] == "amendments"]
    assert sealed["detail"]["amendments"][0]["judged"] == "not judged: text sealed"
    assert sealed["severity"] == "low"
