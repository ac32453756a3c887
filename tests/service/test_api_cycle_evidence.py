"""The two reads the web UI needs beyond the ratings: a cycle's stored envelopes (to check
each act in the browser) and its fairness evidence."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from cadreledger.service import Ledger
from ledger.statement import SignedStatement
from tests.evaluation import CADRES, CYCLE, PANEL, World
from tests.service.test_domain_ledger import evaluation_ledger


@pytest.fixture
def served(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> Iterator[tuple[TestClient, World, Ledger]]:
    ledger, world = evaluation_ledger(db_url, tmp_path, open_ledger)
    with TestClient(create_app(ledger)) as client:

        def submit(signed: SignedStatement) -> str:
            response = client.post("/v1/statements", json=signed.submission())
            assert response.status_code == 201, response.json()
            return str(response.json()["event_hash"])

        yield client, World(submit=submit, root=world.keys["root"], clock=world.time), ledger


def amended_cycle(w: World) -> dict[str, str]:
    """Three ballots for the first cadre, one amended with a thin reason."""
    w.open()
    w.roster()
    w.review()
    cadre = CADRES[0]
    ballots = {s: w.on(s, "score.submitted", cadre=cadre, general=24, tasks=56) for s in PANEL}
    amendment = w.on(
        PANEL[0],
        "score.amended",
        cadre=cadre,
        amends=ballots[PANEL[0]],
        reason="sửa",
        general=26,
        tasks=60,
    )
    return {"cadre": cadre, "amendment": amendment}


def test_a_cycles_entries_are_its_envelopes_verbatim_in_log_order(
    served: tuple[TestClient, World, Ledger],
) -> None:
    client, w, ledger = served
    amended_cycle(w)
    timeline = client.get(f"/v1/cycles/{CYCLE}/timeline", params={"limit": 1000}).json()
    wanted = [step["position"] for step in timeline["timeline"]]
    assert len(wanted) > 10

    got: list[dict[str, Any]] = []
    after = -1
    while after is not None:  # pages of 4: the cursor must walk the whole record
        page = client.get(f"/v1/cycles/{CYCLE}/entries", params={"after": after, "limit": 4})
        assert page.status_code == 200
        body = page.json()
        assert len(body["entries"]) <= 4
        got += body["entries"]
        after = body["next"]
    assert [e["index"] for e in got] == wanted
    for entry in got:
        ((_, stream, version, raw),) = ledger.store.entries(entry["index"], 1)
        assert entry["envelope"].encode() == raw
        assert (entry["stream"], entry["version"]) == (stream, version)
        assert entry["event_hash"] == hashlib.sha256(raw).hexdigest()
        assert json.loads(raw)["statement"].get("cycle") == CYCLE
    missing = client.get("/v1/cycles/no-such-cycle/entries")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"


def test_with_registry_the_entries_carry_the_registrys_events_and_root_keys(
    served: tuple[TestClient, World, Ledger],
) -> None:
    """What the web UI needs to check each signer's key against the registry."""
    client, w, ledger = served
    amended_cycle(w)
    plain = client.get(f"/v1/cycles/{CYCLE}/entries", params={"limit": 1000}).json()
    assert "root_keys" not in plain or plain["root_keys"] is None
    assert all(e["stream"] != "registry" for e in plain["entries"])
    both = client.get(
        f"/v1/cycles/{CYCLE}/entries", params={"limit": 1000, "registry": "true"}
    ).json()
    registry = [e for e in both["entries"] if e["stream"] == "registry"]
    assert registry and [e["version"] for e in registry] == list(range(1, len(registry) + 1))
    assert [e for e in both["entries"] if e["stream"] != "registry"] == plain["entries"]
    assert [e["index"] for e in both["entries"]] == sorted(e["index"] for e in both["entries"])
    assert both["root_keys"] == [str(k) for k in ledger.root_keys]


def test_inclusion_proofs_come_many_to_an_answer_and_compressed(
    served: tuple[TestClient, World, Ledger],
) -> None:
    client, w, ledger = served
    amended_cycle(w)
    size = ledger.size()
    wanted = [0, 3, size - 1]
    batch = client.get(
        "/v1/log/proof/inclusion", params={"size": size, "indexes": ",".join(map(str, wanted))}
    )
    assert batch.status_code == 200
    proofs = batch.json()["proofs"]
    assert [p["index"] for p in proofs] == wanted
    for p in proofs:
        one = client.get("/v1/log/proof/inclusion", params={"size": size, "index": p["index"]})
        assert one.json()["proof"] == p["proof"]
    for params, problem in (
        ({"size": size}, "conflicting-parameters"),  # neither
        ({"size": size, "index": 0, "indexes": "1"}, "conflicting-parameters"),  # both
        ({"size": size, "indexes": "1,x"}, "invalid-request"),
        ({"size": size, "indexes": ",".join(["0"] * 1001)}, "invalid-request"),
    ):
        refused = client.get("/v1/log/proof/inclusion", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["type"] == f"/problems/{problem}"
    beyond = client.get("/v1/log/proof/inclusion", params={"size": size, "indexes": str(size)})
    assert beyond.status_code == 400

    entries = client.get(
        f"/v1/cycles/{CYCLE}/entries",
        params={"limit": 1000},
        headers={"accept-encoding": "gzip"},
    )
    assert entries.headers["content-encoding"] == "gzip"
    assert int(entries.headers["content-length"]) < len(entries.content) / 3


def test_fairness_evidence_names_the_amendment_and_can_keep_one_cadre(
    served: tuple[TestClient, World, Ledger],
) -> None:
    client, w, _ = served
    made = amended_cycle(w)
    report = client.get(f"/v1/cycles/{CYCLE}/fairness").json()
    (found,) = [f for f in report["findings"] if f["kind"] == "amendments"]
    assert found["cycle"] == CYCLE and found["cadre"] == made["cadre"]
    assert found["events"] == [made["amendment"]]
    (amendment,) = found["detail"]["amendments"]
    assert amendment["direction"] == "up" and amendment["delta"] == "6.00"
    assert amendment["thin_reason"] is True
    assert report["counts"]["amendments"] == 1
    assert sum(report["counts"].values()) == len(report["findings"])

    other = client.get(f"/v1/cycles/{CYCLE}/fairness", params={"cadre": CADRES[1]}).json()
    assert all(f["cadre"] == CADRES[1] for f in other["findings"])
    assert "amendments" not in other["counts"]
    assert client.get("/v1/cycles/no-such-cycle/fairness").status_code == 404
    # The whole cycle's report profiles each scorer (the scorer page); one cadre's does
    # not, since a profile is about every cadre its scorer marked.
    assert set(report["scorers"]) == set(PANEL)
    assert all(p["ballots"] >= 1 and "mean_deviation" in p for p in report["scorers"].values())
    assert other["scorers"] is None


def test_a_cadre_sees_the_evidence_about_themselves_and_no_one_elses(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, world = evaluation_ledger(db_url, tmp_path, open_ledger)
    access = AccessStore(ledger.store)
    with TestClient(create_app(ledger, access=access)) as client:

        def submit(signed: SignedStatement) -> str:
            response = client.post("/v1/statements", json=signed.submission())
            assert response.status_code == 201, response.json()
            return str(response.json()["event_hash"])

        made = amended_cycle(World(submit=submit, root=world.keys["root"], clock=world.time))
        cadre, other = made["cadre"], CADRES[1]

        def status(person: str, path: str, **params: str) -> int:
            token, _ = access.issue(person)
            answer = client.get(path, params=params, headers={"authorization": f"Bearer {token}"})
            return answer.status_code

        fairness, entries = f"/v1/cycles/{CYCLE}/fairness", f"/v1/cycles/{CYCLE}/entries"
        assert status(cadre, fairness, cadre=cadre) == 200
        assert status(cadre, fairness, cadre=other) == 403
        assert status(cadre, fairness) == 403  # the whole cycle's: insiders only
        assert status(cadre, entries) == 403
        assert status(PANEL[1], fairness) == 200
        assert status(PANEL[1], entries) == 200
        assert client.get(fairness).status_code == 401


def test_a_sealed_amendment_reason_is_judged_for_a_reader_who_may_read_it(
    served: tuple[TestClient, World, Ledger],
) -> None:
    client, w, _ = served
    w.seal = True  # the reason travels sealed; the ledger holds its commitment only
    w.open()
    w.roster(collective=False)
    w.review()
    ballot = w.on(PANEL[0], "score.submitted", cadre=CADRES[0], general=20, tasks=50)
    w.on(
        PANEL[0],
        "score.amended",
        cadre=CADRES[0],
        amends=ballot,
        general=20,
        tasks=52,
        reason="Điều chỉnh theo chỉ đạo của lãnh đạo ban.",
    )
    report = client.get(f"/v1/cycles/{CYCLE}/fairness").json()
    (found,) = [f for f in report["findings"] if f["kind"] == "amendments"]
    (amendment,) = found["detail"]["amendments"]
    assert amendment["judged"] == "judged" and amendment["directed"] is True
    assert found["severity"] == "medium" and found["scorer"] == PANEL[0]
    assert amendment["reason"]["text"] == "Điều chỉnh theo chỉ đạo của lãnh đạo ban."
