"""The evaluation's read endpoints over HTTP, and the rules' refusals as problem+json."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cadreledger.service import Ledger
from ledger.statement import SignedStatement
from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    INSPECTION,
    UNIT,
    World,
    pin,
)
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


@pytest.fixture
def served(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> Iterator[tuple[TestClient, World]]:
    ledger, made = evaluation_ledger(db_url, tmp_path, open_ledger)
    with TestClient(create_app(ledger)) as client:

        def submit(signed: SignedStatement) -> str:
            response = client.post(
                "/v1/statements",
                json=signed.submission(),
                headers={"accept-language": "en"},
            )
            if response.status_code != 201:
                raise Refused(response.json())
            return str(response.json()["event_hash"])

        world = World(submit=submit, root=_root(tmp_path), clock=made.time)
        yield client, world


class Refused(Exception):
    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem["detail"])
        self.problem = problem


def _root(tmp_path: Path) -> Any:
    from ledger.keys import SignerKey

    return SignerKey.parse((tmp_path / "root.key").read_text())


def test_a_rule_refusal_is_a_problem_in_both_languages(served: tuple[TestClient, World]) -> None:
    client, w = served
    run_cycle(w)
    with pytest.raises(Refused) as caught:
        w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[3], level="HTXS")
    problem = caught.value.problem
    assert problem["type"] == "/problems/level-not-allowed"
    assert problem["status"] == 409
    assert "HTXS" in problem["detail_en"]
    assert "Hoàn thành xuất sắc nhiệm vụ" in problem["detail_vi"]  # the full name
    assert client.get("/problems/level-not-allowed").status_code == 200


def test_cycles_ratings_and_timelines(served: tuple[TestClient, World]) -> None:
    client, w = served
    run_cycle(w)
    listed = client.get("/v1/cycles", params={"unit": "ban-to-chuc"}).json()
    assert [c["cycle"] for c in listed["cycles"]] == [CYCLE]
    assert listed["cycles"][0]["regime"]["hash"] == pin()["hash"]

    cycle = client.get(f"/v1/cycles/{CYCLE}").json()
    unit = cycle["subjects"][UNIT]
    assert unit["level"] == "HTT" and unit["score"]["total"] == "85.00"
    assert unit["decision"]["why"][0]["rule"] == "thresholds"
    assert cycle["groups"]["heads"] == [
        {
            "head": CHAIR,
            "collective": UNIT,
            "head_level": "HTT",
            "collective_level": "HTT",
            "ok": True,
        }
    ]
    assert cycle["groups"]["groups"]["staff"]["htxs_cap"] == 0

    page = client.get(f"/v1/cycles/{CYCLE}/cadres/{CHAIR}").json()
    types = [step["type"] for step in page["timeline"]]
    assert types[:2] == ["cycle.opened", "cycle.roster"] and "decision.issued" in types
    assert all(s["cadre"] in (None, CHAIR) for s in page["timeline"])
    assert page["rating"]["level"] == "HTT"

    decided_at = next(s["position"] for s in page["timeline"] if s["type"] == "decision.issued")
    before = client.get(f"/v1/cycles/{CYCLE}/cadres/{CHAIR}", params={"at": decided_at - 1})
    assert before.json()["rating"]["level"] is None
    at = client.get(f"/v1/cycles/{CYCLE}", params={"at": "2026-11-02T01:14:30Z"}).json()
    assert at["phase"] == "opened"  # signed before the roster (acts are a minute apart)

    timeline = client.get(f"/v1/cycles/{CYCLE}/timeline").json()["timeline"]
    assert len(timeline) > len(page["timeline"]) and all(s["refused"] is None for s in timeline)


def test_regimes_people_and_missing_things(served: tuple[TestClient, World]) -> None:
    client, w = served
    run_cycle(w)
    regimes = client.get("/v1/regimes").json()["regimes"]
    assert {(r["id"], r["hash"]) for r in regimes} >= {("QD366", pin()["hash"])}
    unit = client.get("/v1/units/ban-to-chuc").json()
    assert [c["cycle"] for c in unit["cycles"]] == [CYCLE]
    assert unit["cycles"][0]["ratings"][CHAIR] == {
        "name": "Trưởng ban",
        "level": "HTT",
        "total": "88.00",
    }
    person = client.get(f"/v1/people/{AUTHORITY}").json()
    assert person["roles"] == ["organiser"] and len(person["keys"]) == 1
    for path in (
        "/v1/cycles/no-such-cycle",
        f"/v1/cycles/{CYCLE}/cadres/nobody",
        "/v1/people/nobody",
        "/v1/units/nowhere",
        "/v1/cycles/no-such-cycle/timeline",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/cycles/{CYCLE}", params={"at": "yesterday"}).status_code == 400


def test_the_contracts_paths_ratings_timelines_and_complaints(
    served: tuple[TestClient, World],
) -> None:
    client, w = served
    run_cycle(w)
    for sid, level in ((CADRES[0], "HTT"), (CADRES[1], "HTT"), (CADRES[2], "HTT")):
        w.propose_and_decide(
            sid, level, **({"reason": "Vượt tỷ lệ.", "quota": True} if sid == CADRES[0] else {})
        )
    w.propose_and_decide(CADRES[3], "HT")
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")
    decision = client.get(f"/v1/cycles/{CYCLE}/ratings").json()["subjects"][CADRES[3]]["decision"]
    filed = w.on(
        CADRES[3],
        "complaint.filed",
        cadre=CADRES[3],
        against=decision["event"],
        grounds="Thiếu điểm.",
    )
    w.on(INSPECTION, "complaint.accepted", cadre=CADRES[3], complaint=filed)

    ratings = client.get(f"/v1/cycles/{CYCLE}/ratings").json()
    assert ratings["subjects"][CADRES[4]]["level"] == "KHT"
    assert set(ratings) == {"cycle", "position", "regime", "phase", "subjects", "groups"}

    listed = client.get(f"/v1/cycles/{CYCLE}/complaints").json()["complaints"]
    assert [(c["cadre"], c["status"]) for c in listed] == [(CADRES[3], "accepted")]
    one = client.get(f"/v1/cycles/{CYCLE}/complaints/{filed}").json()
    assert [a["type"] for a in one["acts"]] == ["complaint.filed", "complaint.accepted"]
    assert client.get(f"/v1/cycles/{CYCLE}/complaints/{'0' * 64}").status_code == 404

    path = f"/v1/cycles/{CYCLE}/cadres/{CADRES[3]}/timeline"
    steps = client.get(path).json()["timeline"]
    assert steps[-1]["type"] == "complaint.accepted"
    at_position = client.get(path, params={"at": steps[-2]["position"]}).json()["timeline"]
    assert at_position[-1]["type"] == "complaint.filed"
    at_time = client.get(path, params={"at": steps[-2]["issued_at"]}).json()["timeline"]
    assert at_time == at_position
    assert (
        client.get(path, params={"at": "not-a-moment"}).json()["type"]
        == "/problems/invalid-request"
    )
