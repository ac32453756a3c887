"""The whole role × route matrix, read from docs/api.md and asked of the service.

docs/api.md holds the rule as a table (between ``<!-- access-matrix`` and ``<!-- end of
access-matrix -->``): each row a request, each cell the groups that may make it. This
test turns each group into the callers it names, asks every route of the OpenAPI
document as every kind of caller — anonymous, revoked token, revoked key, revoked role,
no role, each standing role, each of the cycle's roles, a cadre on their own record and
on another's, a complainant, an integrator with and without a grant — on SQLite and on
PostgreSQL, and fails on a route the table does not name (or a row no route answers).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from cadreledger.service import Ledger
from evidence.bundle import verify_file
from ledger.statement import sign_statement
from streams.feed import Feed, FeedFilter
from streams.webhooks import Dispatcher, WebhookKeys
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
    pin,
)
from tests.paths import DOCS
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle

DOC = DOCS / "api.md"

INSPECTOR, AUDITOR, ADMIN = "thanh-tra", "kiem-toan", "quan-tri"
INTEGRATOR, UNGRANTED = "tich-hop", "tich-hop-khac"
REGISTRAR, ORGANISER, OUTSIDER = "dang-ky", "to-chuc", "nguoi-ngoai"
EX_AUDITOR, LOST_KEY = "cuu-kiem-toan", "mat-khoa"
CADRE, COMPLAINANT = CADRES[0], CADRES[3]

# Every kind of caller, and the person behind it ("" for none).
CALLERS: dict[str, str] = {
    "anonymous": "",
    "revoked token": INSPECTOR,  # an inspector's token, revoked
    "revoked key": LOST_KEY,  # signed in with a key since revoked
    "revoked role": EX_AUDITOR,  # an auditor no more
    "no role": OUTSIDER,
    "registrar": REGISTRAR,
    "organiser": ORGANISER,
    "inspector": INSPECTOR,
    "auditor": AUDITOR,
    "admin": ADMIN,
    "integrator": INTEGRATOR,  # granted the cycle; registered the webhook
    "integrator without grant": UNGRANTED,
    "authority": AUTHORITY,
    "advisory": ADVISORY,
    "chair": CHAIR,
    "inspection": INSPECTION,
    "panel": PANEL[0],
    "cadre": CADRE,
    "complainant": COMPLAINANT,
}
EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {"anonymous", "revoked token", "revoked key"}
OVERSIGHT = frozenset({"inspector", "auditor", "admin"})
INSIDERS = OVERSIGHT | {"authority", "advisory", "chair", "inspection", "panel"}
HANDLERS = INSIDERS - {"panel"}


@dataclass
class Served:
    client: TestClient
    world: World
    ledger: Ledger
    access: AccessStore
    tokens: dict[str, str] = field(default_factory=dict)
    webhook: str = ""
    filed: str = ""
    published: bool = True


def sign_in(served: Served, person: str) -> str:
    """A token got by signing in with the person's own key (it dies with the key)."""
    statement = {
        "v": 1,
        "type": "auth.token",
        "actor": person,
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        "audience": served.ledger.log_key.name,
    }
    body = json.dumps(sign_statement(statement, served.world.key(person)).submission())
    answer = served.client.post("/v1/auth/tokens", content=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def ingest_webhooks(ledger: Ledger) -> None:
    """Let a dispatcher read the registrations (without delivering anything)."""
    feed = Feed(ledger)
    dispatcher = Dispatcher(ledger, feed, WebhookKeys(bytes(32)), allow_private=True)
    after = -1
    while True:
        page = feed.read(after, 1000, FeedFilter(), None)
        if not page.events:
            return
        dispatcher._ingest(page.events)
        after = page.events[-1].index


@pytest.fixture(params=["published", "unpublished"])
def served(
    request: pytest.FixtureRequest,
    db_url: str,
    tmp_path: Path,
    open_ledger: Callable[..., Ledger],
) -> Iterator[Served]:
    """The cycle with its result published and a complaint filed, or still before
    publication (then the complaint routes name no complaint)."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    access = AccessStore(ledger.store)
    keys = WebhookKeys.load_or_create(tmp_path / "webhook.key")
    w.seal = True
    with TestClient(create_app(ledger, access=access, webhook_keys=keys)) as client:
        s = Served(client, w, ledger, access)
        run_cycle(w)
        w.enrol(INSPECTOR, AUDITOR, ADMIN, INTEGRATOR, UNGRANTED, REGISTRAR, ORGANISER)
        w.enrol(OUTSIDER, EX_AUDITOR, LOST_KEY)
        for person, role in (
            (INSPECTOR, "inspector"),
            (AUDITOR, "auditor"),
            (ADMIN, "admin"),
            (INTEGRATOR, "integrator"),
            (UNGRANTED, "integrator"),
            (REGISTRAR, "registrar"),
            (ORGANISER, "organiser"),
            (EX_AUDITOR, "auditor"),
            (LOST_KEY, "inspector"),
        ):
            w.act("root", "role.granted", person=person, role=role)
        access.grant(INTEGRATOR, CYCLE)
        s.webhook = w.act(INTEGRATOR, "webhook.registered", url="https://hr.example.vn/hook")
        ingest_webhooks(ledger)
        s.published = request.param == "published"
        if s.published:
            publish_with_complaint(s)
        for caller, person in CALLERS.items():
            if caller == "revoked key":
                s.tokens[caller] = sign_in(s, person)
            elif person:
                s.tokens[caller] = access.issue(person)[0]
        access.revoke(s.tokens["revoked token"])
        w.act(
            LOST_KEY,
            "key.revoked",
            person=LOST_KEY,
            key=str(w.key(LOST_KEY).verifier),
            reason="Mất thiết bị.",
        )
        w.act("root", "role.revoked", person=EX_AUDITOR, role="auditor")
        yield s


def publish_with_complaint(s: Served) -> None:
    w = s.world
    for sid in CADRES[:3]:
        # The cadre's 92 would be HTXS: lowered for the group's quota, on that ground.
        lowered = {"reason": "Vượt tỷ lệ.", "quota": True}
        w.propose_and_decide(sid, "HTT", **(lowered if sid == CADRE else {}))
    decision = w.propose_and_decide(COMPLAINANT, "HT")
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")  # on the log's day (a date field is refused)
    s.filed = w.on(
        COMPLAINANT, "complaint.filed", cadre=COMPLAINANT, against=decision, grounds="Thiếu điểm."
    )


# -- the table in docs/api.md ---------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's template
    query: str  # as written: "at=A", "cadre=X", "cycle=C" or ""
    who: tuple[str, ...]  # the groups


def documented() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- access-matrix", 1)[1].split("<!-- end of access-matrix", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        # The groups come before any explanation (after ":" or ";").
        who = tuple(g.strip() for g in re.split(r"[:;]", cells[1])[0].split(","))
        for method, target in re.findall(r"`([A-Z]+) ([^`]+)`", cells[0]):
            path, _, query = target.partition("?")
            rows.append(Row(method, path, query, who))
    assert rows, "no access matrix in docs/api.md"
    return rows


def callers(group: str, owner: str, published: bool) -> frozenset[str]:
    """The callers a group names; ``owner`` is the caller whose record the URL names."""
    groups: dict[str, frozenset[str]] = {
        "everyone": EVERYONE,
        "signed in": SIGNED_IN,
        "signed in once published": SIGNED_IN if published else frozenset(),
        "insiders before": frozenset() if published else INSIDERS,
        "insiders": INSIDERS,
        "handlers": HANDLERS,
        "oversight": OVERSIGHT,
        "the cadre": frozenset({owner}) if owner else frozenset(),
        "the cadre once published": frozenset({owner}) if owner and published else frozenset(),
        "the complainant": frozenset({"complainant"}),
        "a granted integrator": frozenset({"integrator"}),
        "the registrant": frozenset({"integrator"}),
        "admin": frozenset({"admin"}),
    }
    assert group in groups, f"docs/api.md names a group the test does not know: {group!r}"
    return groups[group]


DEFAULT_QUERY = {
    "/v1/log/proof/inclusion": "index=0&size=1",
    "/v1/log/proof/consistency": "from=1&to=2",
    "/v1/log/entries": "start=0&limit=2",
    "/problems/{slug}": "",
}


def requests_of(s: Served, row: Row) -> list[tuple[str, str]]:
    """The concrete URLs a row stands for, each with the caller whose record it names."""
    values = {
        "cycle": CYCLE,
        "slug": "not-found",
        "unit": UNIT,
        "person": CADRE,
        "complaint": s.filed or "0" * 64,
        "webhook": s.webhook,
        "level": "0",  # tlog tiles: the first, partial, tile and bundle
        "index": "000.p/1",
        "bundle": "000.p/1",
    }
    path = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "{" + m.group(1) + "}"), row.path)
    path = path.replace("/problems/not-found", "/problems/not-found")
    query = {"at=A": "at=40", "cycle=C": f"cycle={CYCLE}"}.get(row.query, row.query)
    query = query or DEFAULT_QUERY.get(row.path, "")
    out = []
    # A cadre's record: as the cadre's own, and as the complainant's (another's).
    for cadre, owner in ((CADRE, "cadre"), (COMPLAINANT, "complainant")):
        url = path.replace("{cadre}", cadre)
        q = query.replace("cadre=X", f"cadre={cadre}")
        if "{cadre}" not in path and "cadre=X" not in query:
            owner = "complainant" if "{complaint}" in row.path else ""
            out.append((url + (f"?{q}" if q else ""), owner))
            break
        out.append((url + (f"?{q}" if q else ""), owner))
    return out


def status_of(s: Served, caller: str, method: str, url: str) -> int:
    s.client.cookies.clear()
    token = s.tokens.get(caller)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if method == "POST" and url.startswith("/v1/auth/session"):
        response = s.client.post(url, json={"token": token or "clt_none"})
        return response.status_code
    if "/stream" in url:  # SSE: the status, then hang up
        with s.client.stream(method, url, headers=headers) as streamed:
            return streamed.status_code
    response = s.client.request(method, url, headers=headers, content=b"{}")
    if response.status_code in (401, 403):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] in ("/problems/unauthenticated", "/problems/forbidden")
    return response.status_code


def test_every_caller_against_every_route(served: Served) -> None:
    wrong: list[str] = []
    for row in documented():
        for url, owner in requests_of(served, row):
            allowed = frozenset().union(*(callers(g, owner, served.published) for g in row.who))
            if not served.published and "{complaint}" in row.path:
                allowed -= {"complainant"}  # no complaint filed yet: nobody's case
            for caller in CALLERS:
                status = status_of(served, caller, row.method, url)
                let_in = status not in (401, 403)
                if let_in != (caller in allowed):
                    wrong.append(f"{row.method} {url} as {caller}: {status}")
                elif not let_in and status != (401 if caller not in SIGNED_IN else 403):
                    wrong.append(f"{row.method} {url} as {caller}: {status}, not 401/403")
                elif let_in and status >= 500:
                    wrong.append(f"{row.method} {url} as {caller}: {status}")
    assert not wrong, "\n".join(wrong)


def test_every_route_has_a_row_and_every_row_a_route(served: Served) -> None:
    paths = served.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    rows = {(r.method, r.path) for r in documented()}
    assert not operations - rows, f"routes without a row in docs/api.md: {operations - rows}"
    assert not rows - operations, f"rows in docs/api.md without a route: {rows - operations}"


# -- a cadre's own record, replayed and exported (issue 18) ------------------------------


def _as(s: Served, caller: str, url: str) -> Any:
    s.client.cookies.clear()
    return s.client.get(url, headers={"authorization": f"Bearer {s.tokens[caller]}"})


def test_a_cadre_replays_every_event_of_their_own_record_and_nothing_else(served: Served) -> None:
    s = served
    own = _as(s, "cadre", f"/v1/cycles/{CYCLE}/entries?cadre={CADRE}&registry=true&limit=1000")
    assert own.status_code == 200, own.text
    streams = {e["stream"] for e in own.json()["entries"]}
    assert streams == {"registry", f"cycle/{CYCLE}", f"cycle/{CYCLE}/cadre/{CADRE}"}
    assert own.json()["root_keys"]  # what the replay checks each signer's key against
    # The insider's attacks: someone else's record, the whole cycle, another cycle.
    w = s.world
    w.act(AUTHORITY, "cycle.opened", cycle="2026-khac", regime=pin(), year=2026, unit=UNIT,
          roles={"authority": [AUTHORITY], "chair": [CHAIR]})  # fmt: skip
    w.act(AUTHORITY, "cycle.roster", cycle="2026-khac",
          subjects=[{"id": CADRES[1], "name": "B"}])  # fmt: skip
    for url in (
        f"/v1/cycles/{CYCLE}/entries?cadre={CADRES[1]}",
        f"/v1/cycles/{CYCLE}/entries?cadre={CADRES[1]}&registry=true",
        f"/v1/cycles/{CYCLE}/entries",
        f"/v1/cycles/{CYCLE}/entries?registry=true",
        f"/v1/cycles/2026-khac/entries?cadre={CADRE}",
        f"/v1/cycles/2026-khac/entries?cadre={CADRES[1]}",
    ):
        assert _as(s, "cadre", url).status_code == 403, url
    # A cycle that does not exist is one (as on every cycle route): nothing to read.
    assert _as(s, "cadre", f"/v1/cycles/2026-nowhere/entries?cadre={CADRE}").status_code == 404
    # The complainant replays their own result, not the cadre's.
    mine = _as(s, "complainant", f"/v1/cycles/{CYCLE}/entries?cadre={COMPLAINANT}")
    assert mine.status_code == 200
    assert _as(s, "complainant", f"/v1/cycles/{CYCLE}/entries?cadre={CADRE}").status_code == 403


def test_a_case_bundle_goes_to_those_who_handle_the_complaint(served: Served) -> None:
    """A bundle carries every subject's signed acts (others' complaints and discipline
    evidence among them): it goes to oversight and complaint handlers, never to a cadre,
    not even the complainant about their own result, published or not."""
    s = served
    url = f"/v1/cycles/{CYCLE}/cadres/{COMPLAINANT}/bundle"
    answer = _as(s, "inspection", url)  # handling the complaint
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    report = verify_file(answer.content)
    assert report.ok, report.to_json()
    assert json.loads(answer.content)["evaluation"]["cadre"] == COMPLAINANT
    # Texts travel sealed, the complainant's own grounds as everyone's.
    assert "Thiếu điểm" not in answer.text and "Cần chủ động hơn" not in answer.text
    for who in ("complainant", "cadre", "panel", "no role"):
        assert _as(s, who, url).status_code == 403, who


def test_a_cadre_downloads_their_own_personal_bundle_and_nobody_elses(served: Served) -> None:
    """The personal bundle holds the cycle's own events and the cadre's, the registry's,
    their proofs: what ``cadreledger verify`` passes offline. The cadre gets their own;
    asking for a colleague's — or the complainant for the cadre's — is refused."""
    from evidence.personal_bundle import verify_personal

    s = served
    mine = f"/v1/cycles/{CYCLE}/cadres/{CADRE}/personal-bundle"
    theirs = f"/v1/cycles/{CYCLE}/cadres/{COMPLAINANT}/personal-bundle"
    answer = _as(s, "cadre", mine)
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    doc = json.loads(answer.content)
    assert doc["format"] == "cadreledger-personal-bundle/1"
    streams = {json.loads(e["envelope"])["stream"] for e in doc["events"]}
    assert streams == {"registry", f"cycle/{CYCLE}", f"cycle/{CYCLE}/cadre/{CADRE}"}
    report = verify_personal(answer.content)
    assert report.ok, report.to_json()
    assert report.checks["V11"].checked == len(doc["events"])
    # Texts travel sealed, even the cadre's own comment.
    assert "Cần chủ động hơn" not in answer.text
    # The insider's attacks: a colleague's record, the complainant's, another cycle's.
    for who, url in (
        ("cadre", theirs),
        ("complainant", mine),
        ("panel", mine),
        ("no role", mine),
        ("cadre", f"/v1/cycles/{CYCLE}/cadres/{CADRES[1]}/personal-bundle"),
    ):
        assert _as(s, who, url).status_code == 403, (who, url)
    assert _as(s, "complainant", theirs).status_code == 200
    assert _as(s, "inspection", theirs).status_code == 200
    nowhere = f"/v1/cycles/2026-nowhere/cadres/{CADRE}/personal-bundle"
    assert _as(s, "cadre", nowhere).status_code == 404  # as on every cycle route
