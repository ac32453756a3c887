"""The read model changed behind the service's back, its position with it.

A tamperer who forges a rating in ``projection_docs`` and also resets the position
``projection_position`` records (to 0, to −1, past the log, or deletes the row or the
table) must not make ``verify`` look away (V9 used to say ``not_applicable``), and must
not make the running service serve the forged level, or answer 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cadreledger.service import Ledger
from tests.evaluation import CADRES
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle
from tests.service.test_tamper import run_verify

CYCLE_DOC = "cycle/2026-qd366-test"


def forge_level(ledger: Ledger, cadre: str = CADRES[3], level: str = "HTXS") -> None:
    """The cadre's decided level in the served document, rewritten."""
    rows = ledger.store.query("SELECT doc FROM projection_docs WHERE name = ?", (CYCLE_DOC,))
    doc = json.loads(rows[0]["doc"])
    doc["subjects"][cadre]["level"] = level
    ledger.store.execute(
        "UPDATE projection_docs SET doc = ? WHERE name = ?", (json.dumps(doc), CYCLE_DOC)
    )


# What a tamperer does to the recorded position; the size of the log is ``n``.
POSITIONS: dict[str, Callable[[Ledger, int], None]] = {
    "zero": lambda ledger, n: ledger.store.execute("UPDATE projection_position SET position = 0"),
    "minus-one": lambda ledger, n: ledger.store.execute(
        "UPDATE projection_position SET position = -1"
    ),
    "past-the-log": lambda ledger, n: ledger.store.execute(
        "UPDATE projection_position SET position = ?", (n + 2**40,)
    ),
    "row-deleted": lambda ledger, n: ledger.store.execute("DELETE FROM projection_position"),
    "table-dropped": lambda ledger, n: ledger.store.execute("DROP TABLE projection_position"),
}


def built(db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Ledger:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    ledger.projector.catch_up()
    return ledger


def v9(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == "V9")


@pytest.mark.parametrize("tamper", sorted(POSITIONS))
def test_a_forged_rating_behind_a_reset_position_fails_v9(
    tamper: str, db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = built(db_url, tmp_path, open_ledger)
    forge_level(ledger)
    POSITIONS[tamper](ledger, ledger.size())
    code, report = run_verify(db_url)
    assert code == 1, report
    check = v9(report)
    assert check["status"] == "fail"
    # The document is still compared (as of the log's size) and named first; the
    # impossible position is a failure of its own.
    assert check["first_failure"]["document"] == CYCLE_DOC
    assert check["failures"] == 2
    assert all(c["status"] in ("pass", "not_applicable") for c in report["checks"][:8])


@pytest.mark.parametrize("tamper", sorted(POSITIONS))
def test_an_impossible_position_alone_fails_v9_and_names_it(
    tamper: str, db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = built(db_url, tmp_path, open_ledger)
    POSITIONS[tamper](ledger, ledger.size())
    code, report = run_verify(db_url)
    assert code == 1, report
    check = v9(report)
    assert (check["status"], check["failures"]) == ("fail", 1)
    assert check["first_failure"]["document"] == "projection_position"
    assert report["first_bad"]["check"] == "V9"


def test_a_position_that_is_not_a_number_fails_v9(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """SQLite keeps text in a BIGINT column if it is not a number."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = built(url, tmp_path, open_ledger)
    forge_level(ledger)
    ledger.store.execute("UPDATE projection_position SET position = 'lots'")
    code, report = run_verify(url)
    assert code == 1
    assert v9(report)["first_failure"]["document"] == CYCLE_DOC
    assert v9(report)["failures"] == 2


def test_an_empty_read_model_at_zero_is_compared_and_passes(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """Nothing applied and nothing served is what the recomputation at 0 gives: a pass,
    not a check skipped."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    ledger.projector.catch_up()
    ledger.store.execute("DELETE FROM projection_docs")
    ledger.store.execute("UPDATE projection_position SET position = 0")
    code, report = run_verify(db_url)
    assert code == 0, report
    assert (v9(report)["status"], v9(report)["checked"]) == ("pass", 1)


@pytest.mark.parametrize("tamper", sorted(POSITIONS))
def test_the_running_service_never_serves_a_forged_level_behind_a_reset_position(
    tamper: str, db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = built(db_url, tmp_path, open_ledger)
    with TestClient(create_app(ledger)) as client:
        before = client.get("/v1/cycles/2026-qd366-test")
        assert before.status_code == 200
        level = before.json()["subjects"][CADRES[3]]["level"]
        assert level != "HTXS"
        forge_level(ledger)
        POSITIONS[tamper](ledger, ledger.size())
        after = client.get("/v1/cycles/2026-qd366-test")
        assert after.status_code == 200, after.text
        assert after.json()["subjects"][CADRES[3]]["level"] == level
        assert after.json()["position"] == ledger.size()
        people = client.get(f"/v1/people/{CADRES[3]}")
        assert people.status_code == 200, people.text
    # The service rebuilt it from the log: the database passes again.
    code, report = run_verify(db_url)
    assert code == 0, report
    assert v9(report)["status"] == "pass"


@pytest.mark.parametrize("tamper", sorted(POSITIONS))
def test_a_service_started_on_a_damaged_read_model_rebuilds_it(
    tamper: str, db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = built(db_url, tmp_path, open_ledger)
    forge_level(ledger)
    POSITIONS[tamper](ledger, ledger.size())
    ledger.close()
    again = open_ledger(db_url, rules=True)
    with TestClient(create_app(again)) as client:
        response = client.get("/v1/cycles/2026-qd366-test")
        assert response.status_code == 200, response.text
        assert response.json()["subjects"][CADRES[3]]["level"] != "HTXS"
    code, report = run_verify(db_url)
    assert code == 0, report


def test_readiness_says_damaged_until_the_next_step_rebuilds(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = built(url, tmp_path, open_ledger)
    with TestClient(create_app(ledger)) as client:
        assert client.get("/readyz").status_code == 200
        ledger.store.execute("DELETE FROM projection_position")
        damaged = client.get("/readyz")
        assert damaged.status_code == 503
        assert "damaged" in damaged.text
        assert client.get("/v1/cycles/2026-qd366-test").status_code == 200  # rebuilt first
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["read_model_lag"] == 0
