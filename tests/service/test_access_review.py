"""What an outside review broke in access and security (issue 17, items 1–12): each
item as the interested insider would try it. The whole role × route matrix is in
tests/service/test_access_matrix.py; webhook targets and per-endpoint keys in
tests/service/test_webhooks.py."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from access.tokens import AccessStore
from api.app import create_app
from api.auth import standing_roles
from cadreledger.cli import main
from cadreledger.service import Ledger
from ledger.statement import sign_statement
from streams.feed import EventHub, Feed, FeedFilter
from streams.integrations import LoopThread
from streams.webhooks import DeliveryStore, Dispatcher, PublicResolver, RetryPolicy, WebhookKeys
from tests.evaluation import AUTHORITY, CADRES, CHAIR, CYCLE, World
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle

INTEGRATOR, OUTSIDER = "tich-hop", "nguoi-ngoai"
CADRE, OTHER, COMPLAINANT = CADRES[0], CADRES[1], CADRES[3]


class Served:
    def __init__(self, client: TestClient, w: World, ledger: Ledger, access: AccessStore) -> None:
        self.client, self.world, self.ledger, self.access = client, w, ledger, access
        self.filed = ""

    def get(self, person: str, url: str) -> Any:
        token = self.access.issue(person)[0]
        return self.client.get(url, headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def served(db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    # Webhooks go to a receiver on this machine: private targets admitted, on the record.
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger, webhooks_allow_private=True)
    access = AccessStore(ledger.store)
    keys = WebhookKeys.load_or_create(tmp_path / "webhook.key")
    w.seal = True
    with TestClient(create_app(ledger, access=access, webhook_keys=keys)) as client:
        run_cycle(w)
        w.enrol(INTEGRATOR, OUTSIDER)
        w.act("root", "role.granted", person=INTEGRATOR, role="integrator")
        yield Served(client, w, ledger, access)


def publish(s: Served) -> None:
    w = s.world
    w.propose_and_decide(CADRE, "HTT", reason="Vượt tỷ lệ.", quota=True)
    w.propose_and_decide(OTHER, "HTT", reason="Lý do riêng của người khác.")
    w.propose_and_decide(CADRES[2], "HTT")
    decision = w.propose_and_decide(COMPLAINANT, "HT")
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")
    s.filed = w.on(
        COMPLAINANT, "complaint.filed", cadre=COMPLAINANT, against=decision, grounds="Thiếu điểm."
    )


# -- 1. webhooks and revocation ---------------------------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.ids: list[str] = []
        received = self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                received.append(self.headers["webhook-id"])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def secret_request(s: Served, webhook: str) -> Any:
    statement = {
        "v": 1,
        "type": "webhook.secret_requested",
        "actor": INTEGRATOR,
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        "webhook": webhook,
    }
    body = sign_statement(statement, s.world.key(INTEGRATOR)).submission()
    return s.client.post(f"/v1/webhooks/{webhook}/secret", json=body)


@pytest.mark.parametrize("revoke", ["role", "key", "grant"])
def test_webhooks_stop_when_the_role_key_or_grant_is_revoked(served: Served, revoke: str) -> None:
    s, w = served, served.world
    receiver = Receiver()
    s.access.grant(INTEGRATOR, CYCLE)
    webhook = w.act(INTEGRATOR, "webhook.registered", url=receiver.url)
    hub = EventHub(s.ledger, Feed(s.ledger))
    keys = WebhookKeys.load_or_create(Path(str(s.ledger.settings.key_path()) + ".wh"))

    def start() -> tuple[Dispatcher, LoopThread]:
        dispatcher = Dispatcher(
            s.ledger,
            hub.feed,
            keys,
            RetryPolicy(max_attempts=2, base=0.1, timeout=5),
            allow_private=True,
            entitled=s.access.entitlement(lambda person: standing_roles(s.ledger, person)),
        )
        return dispatcher, LoopThread("webhooks", dispatcher.run).start()

    _, thread = start()
    first = w.propose_and_decide(CADRE, "HTT", reason="Vượt tỷ lệ.", quota=True)
    until(lambda: first in receiver.ids)
    assert secret_request(s, webhook).status_code == 200
    thread.stop()

    # An event owed while everything stood: pending, not yet sent.
    store = DeliveryStore(s.ledger)
    later = w.propose_and_decide(OTHER, "HTT")
    owing = Dispatcher(s.ledger, hub.feed, keys, allow_private=True)
    owing.endpoints = store.endpoints()
    owing._ingest(hub.feed.read(store.cursor(), 1000, FeedFilter(), None).events)
    assert [d["event_hash"] for d in store.deliveries(webhook, "pending")][-1] == later
    delivered = len(store.deliveries(webhook, "delivered"))

    # Then the door closes, before the delivery is attempted.
    if revoke == "role":
        w.act("root", "role.revoked", person=INTEGRATOR, role="integrator")
    elif revoke == "grant":
        s.access.withdraw(INTEGRATOR, CYCLE)
    else:
        w.act(
            INTEGRATOR,
            "key.revoked",
            person=INTEGRATOR,
            key=str(w.key(INTEGRATOR).verifier),
            reason="Lộ khóa.",
        )
    _, thread = start()
    try:
        until(lambda: not store.deliveries(webhook, "pending"))
        time.sleep(0.3)
        assert later not in receiver.ids
        assert len(store.deliveries(webhook, "delivered")) == delivered
        cancelled = store.deliveries(webhook, "cancelled")
        assert later in [d["event_hash"] for d in cancelled]
        assert all(d["last_error"] for d in cancelled)
    finally:
        thread.stop()
        hub.stop()
        receiver.server.shutdown()
    # Nor is the secret handed out any more: key, role and grant are checked at the request.
    answer = secret_request(s, webhook)
    assert (answer.status_code, answer.json()["type"]) == (403, "/problems/forbidden")
    assert "whsec_" not in answer.text


# -- 7. a registration is its registrant's -----------------------------------------------


def test_an_integrator_reads_only_its_own_webhooks(served: Served) -> None:
    w = served.world
    w.enrol("tich-hop-khac", "quan-tri")
    w.act("root", "role.granted", person="tich-hop-khac", role="integrator")
    w.act("root", "role.granted", person="quan-tri", role="admin")
    webhook = w.act(INTEGRATOR, "webhook.registered", url="https://hr.example.vn/hook")
    feed = Feed(served.ledger)
    reader = Dispatcher(served.ledger, feed, WebhookKeys(bytes(32)), allow_private=True)
    reader._ingest(feed.read(-1, 1000, FeedFilter(), None).events)
    for url in (f"/v1/webhooks/{webhook}", f"/v1/webhooks/{webhook}/deliveries"):
        other = served.get("tich-hop-khac", url)
        assert (other.status_code, other.json()["type"]) == (403, "/problems/forbidden")
        assert "hr.example.vn" not in other.text
        assert served.get(INTEGRATOR, url).status_code == 200
        assert served.get("quan-tri", url).status_code == 200
    # An id that names nothing tells another integrator no more than one that does.
    assert served.get("tich-hop-khac", f"/v1/webhooks/{'0' * 64}").status_code == 403


# -- 2. the text gate: ?cadre= opens nothing ------------------------------------------


def test_own_id_in_the_query_does_not_open_other_peoples_texts(served: Served) -> None:
    publish(served)
    for url in (f"/v1/cycles/{CYCLE}?cadre={CADRE}", f"/v1/cycles/{CYCLE}/ratings?cadre={CADRE}"):
        doc = served.get(CADRE, url).json()
        other = doc["subjects"][OTHER]["decision"]["reason"]
        assert other["text"] is None and other["notice_en"], url
        own = doc["subjects"][CADRE]["decision"]["reason"]
        assert own["text"] is None, url  # not on this route: on their own page
    page = served.get(CADRE, f"/v1/cycles/{CYCLE}/cadres/{CADRE}").json()
    assert page["rating"]["decision"]["reason"]["text"] == "Vượt tỷ lệ."
    # On their own page, their own record opens, and nobody else's: the chair's minutes
    # (a cycle act on the cadre's timeline, sealed about the chair) stay closed.
    steps = served.get(CADRE, f"/v1/cycles/{CYCLE}/cadres/{CADRE}/timeline").json()["timeline"]
    minutes = next(step for step in steps if step["type"] == "minutes.adopted")
    assert minutes["fields"]["text"]["text"] is None
    comment = next(step for step in steps if step["type"] == "comment.made")
    assert comment["fields"]["text"]["text"] == "Cần chủ động hơn."  # about them: theirs
    seen = served.get(CHAIR, f"/v1/cycles/{CYCLE}/cadres/{CADRE}/timeline").json()["timeline"]
    assert next(s for s in seen if s["type"] == "minutes.adopted")["fields"]["text"]["text"]
    # Insiders still read them all.
    doc = served.get(CHAIR, f"/v1/cycles/{CYCLE}").json()
    assert doc["subjects"][OTHER]["decision"]["reason"]["text"] == "Lý do riêng của người khác."


# -- 3. published results: levels and scores, not complaints --------------------------


def test_published_results_keep_complaints_with_handlers_and_the_person(served: Served) -> None:
    publish(served)
    for url in (f"/v1/cycles/{CYCLE}", f"/v1/cycles/{CYCLE}/ratings"):
        seen = served.get(OUTSIDER, url).json()["subjects"]
        assert seen[COMPLAINANT]["level"] == "HT" and seen[COMPLAINANT]["score"]
        assert seen[COMPLAINANT]["complaints"] == []
        assert {"complaints", "evidence", "conflicts"} <= set(seen[COMPLAINANT]["withheld"])
        assert all(r["evidence"] == [] and r["conflicts"] == [] for r in seen.values())
        assert all(
            w["rule"] == "thresholds" for r in seen.values() for w in r["rules_allow"]["why"]
        )
        # The complainant sees their own complaint; a handler sees every one.
        own = served.get(COMPLAINANT, url).json()["subjects"][COMPLAINANT]
        assert [c["event"] for c in own["complaints"]] == [served.filed] and "withheld" not in own
        handled = served.get(CHAIR, url).json()["subjects"][COMPLAINANT]
        assert [c["event"] for c in handled["complaints"]] == [served.filed]
    assert served.get(OUTSIDER, f"/v1/cycles/{CYCLE}/complaints").status_code == 403


# -- 4. token issue --role on an evaluation ledger --------------------------------------


def test_token_issue_refuses_roles_on_an_evaluation_ledger(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    w.enrol(OUTSIDER)
    AccessStore(ledger.store)
    runner = CliRunner(
        env={
            "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
            "CADRELEDGER_ROOT_KEY_FILE": str(tmp_path / "root.key"),
            "CADRELEDGER_DATA_KEY_FILE": str(tmp_path / "log.datakey"),
        }
    )
    args = ["--db", db_url, "token", "issue", "--person", OUTSIDER]
    refused = runner.invoke(main, [*args, "--role", "admin"])
    assert refused.exit_code == 2 and "--role" in refused.output
    rows = ledger.store.query("SELECT COUNT(*) AS n FROM access_tokens")
    assert rows[0]["n"] == 0
    issued = runner.invoke(main, args)
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    found = AccessStore(ledger.store).resolve(token)
    assert found is not None and found.roles == frozenset()


# -- 5. revocation is immediate --------------------------------------------------------


def test_a_token_revoked_elsewhere_closes_at_once(served: Served) -> None:
    token = served.access.issue(CHAIR)[0]
    headers = {"authorization": f"Bearer {token}"}
    assert served.client.get("/v1/auth/whoami", headers=headers).status_code == 200
    # The operator's `token revoke`: another process, another store on the same database.
    AccessStore(served.ledger.store).revoke_person(CHAIR)
    assert served.client.get("/v1/auth/whoami", headers=headers).status_code == 401


# -- 6. login CSRF, 12. a body the parser must bound -----------------------------------


def test_the_cookie_sign_in_wants_json_from_its_own_origin(served: Served) -> None:
    client, token = served.client, served.access.issue(CHAIR)[0]
    body = json.dumps({"token": token})
    plain = client.post("/v1/auth/session", content=body, headers={"content-type": "text/plain"})
    assert (plain.status_code, plain.json()["type"]) == (400, "/problems/invalid-request")
    assert "set-cookie" not in plain.headers
    for header in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        forged = client.post("/v1/auth/session", json={"token": token}, headers=header)
        assert (forged.status_code, forged.json()["type"]) == (403, "/problems/forbidden")
        assert "set-cookie" not in forged.headers
    same = client.post(
        "/v1/auth/session", json={"token": token}, headers={"origin": "http://testserver"}
    )
    assert same.status_code == 200 and "set-cookie" in same.headers


def test_a_deeply_nested_sign_in_body_is_a_problem_not_a_crash(served: Served) -> None:
    def post(body: bytes) -> Any:
        return served.client.post(
            "/v1/auth/session", content=body, headers={"content-type": "application/json"}
        )

    huge = post(b"[" * 200_000)  # the review's body: over the sign-in's limit
    assert (huge.status_code, huge.json()["type"]) == (413, "/problems/payload-too-large")
    for body in (b"[" * 3000, b'{"token": ' * 300, b"[" * 20 + b"]" * 20):
        deep = post(body)  # within the limit, nested too deep: refused by the parser
        assert (deep.status_code, deep.json()["type"]) == (400, "/problems/malformed-json")


# -- 8. /docs without a CDN; headers on every answer -----------------------------------


def test_docs_load_nothing_from_elsewhere_and_answers_are_not_stored(served: Served) -> None:
    client = served.client
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "http" not in csp and "*" not in csp
    assert "http://" not in page.text and "https://" not in page.text
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/init.js",
    ):
        answer = client.get(asset)
        assert answer.status_code == 200 and answer.headers["x-content-type-options"] == "nosniff"
    headers = {"authorization": f"Bearer {served.access.issue(CHAIR)[0]}"}
    for url in (f"/v1/cycles/{CYCLE}", "/v1/auth/whoami", "/v1/people/nobody"):
        answer = client.get(url, headers=headers)
        assert answer.headers["cache-control"] == "no-store", url
        assert answer.headers["x-content-type-options"] == "nosniff", url
    refused = client.get(f"/v1/cycles/{CYCLE}")
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"


# -- 9. the database file is private ----------------------------------------------------


def test_the_sqlite_database_and_its_wal_are_private(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    old = os.umask(0o022)
    try:
        ledger = open_ledger(f"sqlite:///{tmp_path / 'private.db'}", rules=True)
        ledger.store.meta()
        files = [tmp_path / f"private.db{suffix}" for suffix in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files)
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
    finally:
        os.umask(old)


# -- 11. the address connected to is the address checked --------------------------------


def test_the_resolver_hands_aiohttp_only_public_addresses() -> None:
    class Answers:
        def __init__(self, address: str) -> None:
            self.address = address

        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[dict[str, Any]]:
            return [
                {
                    "hostname": host,
                    "host": self.address,
                    "port": port,
                    "family": socket.AF_INET,
                    "proto": 0,
                    "flags": 0,
                }
            ]

        async def close(self) -> None:
            pass

    async def ask(address: str) -> Any:
        resolver = PublicResolver()
        resolver._inner = Answers(address)  # type: ignore[assignment]
        return await resolver.resolve("rebinding.example", 443)

    with pytest.raises(OSError, match=r"non-public address 10\.0\.0\.7"):
        asyncio.run(ask("10.0.0.7"))
    with pytest.raises(OSError, match="non-public"):
        asyncio.run(ask("::ffff:127.0.0.1"))
    found = asyncio.run(ask("93.184.215.14"))
    assert [r["host"] for r in found] == ["93.184.215.14"]  # what aiohttp connects to
