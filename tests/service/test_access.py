"""Authentication and roles: tokens, sign-in, revocation, unpublished scores and
personal texts. The whole role × route matrix, read from docs/api.md, is
tests/service/test_access_matrix.py."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from api.policy import rule_for
from cadreledger.service import Ledger
from ledger.keys import SignerKey
from ledger.statement import sign_statement
from streams.webhooks import WebhookKeys
from tests.evaluation import (
    ADVISORY,
    AUTHORITY,
    CADRES,
    CHAIR,
    CYCLE,
    INSPECTION,
    PANEL,
    UNIT,
    World,
)
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle

INSPECTOR, AUDITOR, ADMIN, INTEGRATOR, OUTSIDER = (
    "thanh-tra",
    "kiem-toan",
    "quan-tri",
    "tich-hop",
    "nguoi-ngoai",
)
COMPLAINANT, OTHER_CADRE = CADRES[3], CADRES[0]
# Each role of the issue, played by one person of the test world.
ROLES = {
    "evaluator": PANEL[0],
    "chair": CHAIR,
    "authority": AUTHORITY,
    "advisory": ADVISORY,
    "inspection": INSPECTION,
    "inspector": INSPECTOR,
    "complainant": COMPLAINANT,
    "cadre": OTHER_CADRE,
    "integrator": INTEGRATOR,
    "auditor": AUDITOR,
    "admin": ADMIN,
    "outsider": OUTSIDER,
    "anonymous": "",
}
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
OVERSIGHT = frozenset({"inspector", "auditor", "admin"})
INSIDERS = OVERSIGHT | {"evaluator", "chair", "authority", "advisory", "inspection"}
HANDLERS = INSIDERS - {"evaluator"}


@dataclass
class Served:
    client: TestClient
    world: World
    tokens: dict[str, str]
    ledger: Ledger
    access: AccessStore
    filed: str = ""


@pytest.fixture
def served(tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    ledger, w = evaluation_ledger(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, open_ledger)
    access = AccessStore(ledger.store)
    keys = WebhookKeys.load_or_create(tmp_path / "webhook.key")
    w.seal = True  # personal texts: commitments on the ledger, words in the vault
    with TestClient(create_app(ledger, access=access, webhook_keys=keys)) as client:
        run_cycle(w)
        w.enrol(INSPECTOR, AUDITOR, ADMIN, INTEGRATOR, OUTSIDER)
        for person, role in (
            (INSPECTOR, "inspector"),
            (AUDITOR, "auditor"),
            (ADMIN, "admin"),
            (INTEGRATOR, "integrator"),
        ):
            w.act("root", "role.granted", person=person, role=role)
        access.grant(INTEGRATOR, CYCLE)
        tokens = {role: access.issue(p)[0] for role, p in ROLES.items() if p}
        yield Served(client, w, tokens, ledger, access)


def publish_with_complaint(s: Served) -> None:
    w = s.world
    for sid, level in ((CADRES[0], "HTT"), (CADRES[1], "HTT"), (CADRES[2], "HTT")):
        w.propose_and_decide(
            sid, level, **({"reason": "Vượt tỷ lệ.", "quota": True} if sid == CADRES[0] else {})
        )
    decision = w.propose_and_decide(COMPLAINANT, "HT")
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")
    s.filed = w.on(
        COMPLAINANT, "complaint.filed", cadre=COMPLAINANT, against=decision, grounds="Thiếu điểm."
    )


def get(s: Served, role: str, method: str, url: str, **kw: Any) -> int:
    headers = {"authorization": f"Bearer {s.tokens[role]}"} if role in s.tokens else {}
    if url.endswith("/stream") or "/stream?" in url:  # SSE: the status, then hang up
        with s.client.stream(method, url, headers=headers, **kw) as response:
            return response.status_code
    response = s.client.request(method, url, headers=headers, **kw)
    if response.status_code in (401, 403):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] in ("/problems/unauthenticated", "/problems/forbidden")
    return response.status_code


# The whole role × route matrix, read from docs/api.md: tests/service/test_access_matrix.py.


def test_every_route_has_a_rule_and_one_without_is_refused(served: Served) -> None:
    app = served.client.app
    paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert not {f"{m} {p}" for m, p in operations if rule_for(m, p) is None}
    # ... and those it states a token for are those the policy guards
    guarded = {
        (m.upper(), p) for p, ops in paths.items() for m, op in ops.items() if "security" in op
    }
    assert ("GET", "/v1/log/entries") in guarded and ("GET", "/v1/log/key") not in guarded

    @app.get("/v1/forgotten")  # type: ignore[attr-defined]
    def forgotten() -> dict[str, str]:
        return {"secret": "x"}

    assert get(served, "admin", "GET", "/v1/forgotten") == 403
    assert get(served, "anonymous", "GET", "/v1/forgotten") == 401


def test_unpublished_scores_stay_within_the_cycle(served: Served) -> None:
    c = f"/v1/cycles/{CYCLE}"
    for role in ("cadre", "outsider", "integrator"):
        assert get(served, role, "GET", f"{c}/ratings") == 403
    assert get(served, "cadre", "GET", f"{c}/cadres/{OTHER_CADRE}") == 200
    assert get(served, "cadre", "GET", f"{c}/cadres/{COMPLAINANT}") == 403
    assert get(served, "evaluator", "GET", f"{c}/ratings") == 200
    unit = served.client.get(
        f"/v1/units/{UNIT}", headers={"authorization": f"Bearer {served.tokens['outsider']}"}
    ).json()
    assert unit["cycles"] == []  # the unit's page hides the unpublished cycle
    publish_with_complaint(served)
    assert get(served, "outsider", "GET", f"{c}/ratings") == 200


def test_personal_texts_are_for_insiders_and_the_person_themselves(served: Served) -> None:
    publish_with_complaint(served)

    def reason(role: str, url: str, *path: str) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {served.tokens[role]}"}
        doc = served.client.get(url, headers=headers).json()
        for key in path:
            doc = doc[key]
        return dict(doc["decision"]["reason"])

    cycle, own = f"/v1/cycles/{CYCLE}", f"/v1/cycles/{CYCLE}/cadres/{OTHER_CADRE}"
    seen_by_colleague = reason("outsider", cycle, "subjects", OTHER_CADRE)
    assert seen_by_colleague["text"] is None and seen_by_colleague["notice_en"]
    assert reason("evaluator", cycle, "subjects", OTHER_CADRE)["text"] == "Vượt tỷ lệ."
    assert reason("cadre", own, "rating")["text"] == "Vượt tỷ lệ."
    assert seen_by_colleague["sealed"] == reason("cadre", own, "rating")["sealed"]


def login_statement(w: World, person: str, *, audience: str, ago: timedelta) -> bytes:
    statement = {
        "v": 1,
        "type": "auth.token",
        "actor": person,
        "issued_at": (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        "audience": audience,
    }
    return json.dumps(sign_statement(statement, w.key(person)).submission()).encode()


def test_a_person_signs_in_with_their_key_once_per_statement(served: Served) -> None:
    origin = served.ledger.log_key.name
    body = login_statement(served.world, INSPECTOR, audience=origin, ago=timedelta(0))
    answer = served.client.post("/v1/auth/tokens", content=body)
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    entries = served.client.get("/v1/log/entries", headers={"authorization": f"Bearer {token}"})
    assert entries.status_code == 200
    replay = served.client.post("/v1/auth/tokens", content=body)
    assert (replay.status_code, replay.json()["type"]) == (401, "/problems/bad-login")
    for wrong in (
        login_statement(served.world, INSPECTOR, audience="another.example/log", ago=timedelta(0)),
        login_statement(served.world, INSPECTOR, audience=origin, ago=timedelta(minutes=10)),
    ):
        refused = served.client.post("/v1/auth/tokens", content=wrong)
        assert (refused.status_code, refused.json()["type"]) == (401, "/problems/bad-login")
    stranger = World(root=SignerKey.generate("root"))
    unknown = served.client.post(
        "/v1/auth/tokens",
        content=login_statement(stranger, "ke-la", audience=origin, ago=timedelta(0)),
    )
    assert unknown.status_code == 403 and unknown.json()["type"] == "/problems/unknown-key"

    # Revoking the key ends the sessions it opened, at once.
    served.world.act(
        INSPECTOR,
        "key.revoked",
        person=INSPECTOR,
        key=str(served.world.key(INSPECTOR).verifier),
        reason="Mất thiết bị.",
    )
    after = served.client.get("/v1/log/entries", headers={"authorization": f"Bearer {token}"})
    assert (after.status_code, after.json()["type"]) == (401, "/problems/unauthenticated")


def test_a_role_revoked_is_a_door_closed(served: Served) -> None:
    assert get(served, "auditor", "GET", "/v1/log/entries") == 200
    served.world.act("root", "role.revoked", person=AUDITOR, role="auditor")
    assert get(served, "auditor", "GET", "/v1/log/entries") == 403


def test_the_web_ui_signs_in_with_an_httponly_cookie(served: Served) -> None:
    client = served.client
    answer = client.post("/v1/auth/session", json={"token": served.tokens["chair"]})
    assert answer.status_code == 200 and answer.json()["person"] == CHAIR
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/v1/auth/whoami").json()["cycles"] == {CYCLE: ["chair"]}
    assert client.delete("/v1/auth/session").status_code == 204
    assert client.get("/v1/auth/whoami").status_code == 401
    reuse = client.get(
        "/v1/auth/whoami", headers={"authorization": f"Bearer {served.tokens['chair']}"}
    )
    assert reuse.status_code == 401  # signing out revoked the token itself
    bad = client.post("/v1/auth/session", json={"token": "clt_nothing"})
    assert (bad.status_code, bad.json()["type"]) == (401, "/problems/unauthenticated")


@pytest.mark.postgres
def test_tokens_on_postgres(
    pg_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(pg_url, tmp_path, open_ledger)
    run_cycle(w)
    access = AccessStore(ledger.store)
    token, _ = access.issue(INSPECTION)
    with TestClient(create_app(ledger, access=access)) as client:
        headers = {"authorization": f"Bearer {token}"}
        assert client.get(f"/v1/cycles/{CYCLE}/timeline", headers=headers).status_code == 200
        assert client.get("/v1/log/entries", headers=headers).status_code == 403
        access.revoke(token)
        assert client.get(f"/v1/cycles/{CYCLE}", headers=headers).status_code == 401
