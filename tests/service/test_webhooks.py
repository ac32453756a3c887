"""Webhooks: registered on the ledger, signed per Standard Webhooks, retried, dead-lettered,
and still owed after a restart. Signatures are checked by code that shares nothing with
the sender: the ``standardwebhooks`` package for ``v1`` (it has no ``v1a``), and a small
checker written from the spec's text for ``v1a``."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

from access.tokens import AccessStore
from api.app import create_app
from cadreledger.config import ConfigError
from cadreledger.service import Ledger
from ledger.statement import SignedStatement, sign_statement
from streams.feed import EventHub, Feed, FeedFilter
from streams.integrations import LoopThread
from streams.webhooks import DeliveryStore, Dispatcher, RetryPolicy, WebhookKeys
from tests.conftest import People
from tests.streaming import serving

FAST = RetryPolicy(max_attempts=4, base=0.1, timeout=5)


# -- an independent v1a check, from the Standard Webhooks spec ---------------------------


def verify_v1a(public_key: str, body: bytes, headers: dict[str, str]) -> None:
    """Signed content is ``{webhook-id}.{webhook-timestamp}.{payload}``; the header is a
    space-separated list of ``version,base64``; ``v1a`` is Ed25519; keys are ``whpk_``
    + base64. Raises unless some v1a signature verifies."""
    assert public_key.startswith("whpk_")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len("whpk_") :]))
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert "." not in msg_id and timestamp.isdigit()
    assert abs(time.time() - int(timestamp)) < 300
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    for item in headers["webhook-signature"].split(" "):
        version, _, signature = item.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), content)
            return
        except InvalidSignature:
            continue
    raise AssertionError("no valid v1a signature")


# -- a loopback receiver that fails on purpose -------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    fail_first: int = 0  # answer 500 to the first N attempts of each webhook-id
    status: int = 200  # then this
    requests: list[Received] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            msg_id = received.headers["webhook-id"]
            self.by_id[msg_id] += 1
            return 500 if self.by_id[msg_id] <= self.fail_first else self.status

    def delivered(self) -> list[Received]:
        with self.lock:
            counts: dict[str, int] = defaultdict(int)
            out = []
            for r in self.requests:
                counts[r.headers["webhook-id"]] += 1
                if counts[r.headers["webhook-id"]] > self.fail_first and self.status < 300:
                    out.append(r)
            return out


@pytest.fixture
def ledger(db_url: str, open_ledger: Callable[..., Ledger]) -> Ledger:
    """These tests deliver to a receiver on this machine: a ledger that admits private
    targets, and says so in its record (``webhooks_allow_private``)."""
    return open_ledger(db_url, webhooks_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    recv = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = recv.answer(Received(headers, body, time.monotonic()))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recv, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def statement(
    people: People, type: str, actor: str = "tich.hop.hr", **body: Any
) -> SignedStatement:
    return sign_statement(
        {
            "v": 1,
            "type": type,
            "actor": actor,
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": secrets.token_urlsafe(16),
            **body,
        },
        people.key(actor),
    )


@dataclass
class Service:
    ledger: Ledger
    url: str
    keys: WebhookKeys
    people: People

    def register(self, target: str, **flt: Any) -> str:
        body: dict[str, Any] = {"url": target}
        if flt:
            body["filter"] = flt
        response = httpx.post(
            self.url + "/v1/statements",
            json=statement(self.people, "webhook.registered", **body).submission(),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["event_hash"])

    def secret(self, webhook: str, actor: str = "tich.hop.hr", **over: Any) -> httpx.Response:
        request = statement(self.people, "webhook.secret_requested", actor, webhook=webhook)
        if over:
            request = sign_statement({**request.statement, **over}, self.people.key(actor))
        return httpx.post(f"{self.url}/v1/webhooks/{webhook}/secret", json=request.submission())


@pytest.fixture
def service(ledger: Ledger, people: People, tmp_path: Path) -> Iterator[Service]:
    keys = WebhookKeys.load_or_create(tmp_path / "webhook.key")
    with serving(create_app(ledger, webhook_keys=keys)) as url:
        yield Service(ledger, url, keys, people)


@dataclass
class Running:
    dispatcher: Dispatcher
    thread: LoopThread
    hub: EventHub

    def stop(self) -> None:
        self.thread.stop()
        self.hub.stop()


def dispatch(
    ledger: Ledger, keys: WebhookKeys, policy: RetryPolicy = FAST, allow_private: bool = True
) -> Running:
    hub = EventHub(ledger, Feed(ledger))
    dispatcher = Dispatcher(ledger, hub.feed, keys, policy, allow_private=allow_private)
    return Running(dispatcher, LoopThread("webhooks-test", dispatcher.run).start(), hub)


@pytest.fixture
def dispatchers() -> Iterator[list[Running]]:
    running: list[Running] = []
    yield running
    for r in running:
        r.stop()


def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def fill(service: Service, n: int, type: str = "comment.made") -> list[str]:
    hashes = []
    for i in range(n):
        receipt = service.ledger.append(
            statement(service.people, type, "nguyen.van.an", cycle="c1", cadre=f"k{i}")
        )
        hashes.append(receipt.event_hash.hex())
    return hashes


def test_an_integrator_receives_only_its_granted_cycles(
    service: Service,
    receiver: tuple[Receiver, str],
    dispatchers: list[Running],
) -> None:
    """With authentication on, a registration's filter cannot reach past the cycles an
    operator granted its registrant; oversight roles receive everything."""
    recv, target = receiver
    service.register(target)  # no filter: it asks for every event
    granted = []
    for i in range(6):
        cycle = ("c1", "c2")[i % 2]
        receipt = service.ledger.append(
            statement(service.people, "comment.made", "nguyen.van.an", cycle=cycle, cadre=f"k{i}")
        )
        if cycle == "c2":
            granted.append(receipt.event_hash.hex())
    access = AccessStore(service.ledger.store)
    access.grant("tich.hop.hr", "c2")
    hub = EventHub(service.ledger, Feed(service.ledger))
    dispatcher = Dispatcher(
        service.ledger,
        hub.feed,
        service.keys,
        FAST,
        allow_private=True,
        entitled=access.entitlement(lambda person: frozenset()),
    )
    dispatchers.append(Running(dispatcher, LoopThread("w", dispatcher.run).start(), hub))
    until(lambda: len(recv.delivered()) == 3)
    time.sleep(0.5)  # nothing more comes
    assert sorted(r.headers["webhook-id"] for r in recv.delivered()) == sorted(granted)
    assert access.entitlement(lambda person: frozenset({"auditor"}))(
        "anyone", hub.feed.read(0, 1, FeedFilter(), None).events[0]
    )


def test_signed_deliveries_after_retries(
    service: Service,
    receiver: tuple[Receiver, str],
    dispatchers: list[Running],
) -> None:
    recv, target = receiver
    recv.fail_first = 2
    webhook = service.register(target, types=["comment.made"])
    fill(service, 2, "score.submitted")  # not wanted by the filter
    wanted = fill(service, 3)
    dispatchers.append(dispatch(service.ledger, service.keys))
    until(lambda: len(recv.delivered()) == 3)

    secret = service.secret(webhook).json()["secret"]
    assert secret.startswith("whsec_")
    public = httpx.get(f"{service.url}/v1/webhooks/{webhook}/key").text.strip()
    for r in recv.delivered():
        Webhook(secret).verify(r.body, r.headers)  # v1, by the standardwebhooks package
        verify_v1a(public, r.body, r.headers)  # v1a, by the checker above
        event = json.loads(r.body)
        assert r.headers["webhook-id"] == event["id"]
        assert r.headers["content-type"] == "application/cloudevents+json"
    assert sorted(r.headers["webhook-id"] for r in recv.delivered()) == sorted(wanted)
    assert all(recv.by_id[h] == 3 for h in wanted)

    # Backoff: each retry waits longer than the one before (base 0.1 s, ×2, jitter ≥ ½).
    times = [r.at for r in recv.requests if r.headers["webhook-id"] == wanted[0]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1
    # A signature made with another endpoint's secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(service.keys.secret_text("0" * 64)).verify(
            recv.delivered()[0].body, recv.delivered()[0].headers
        )

    # Nor does v1a with another endpoint's key: a key per endpoint (issue 19), so a
    # delivery captured at one endpoint cannot be replayed to another within the window.
    with pytest.raises(AssertionError, match="no valid v1a"):
        verify_v1a(service.keys.public_text("0" * 64), r.body, r.headers)
    assert httpx.get(f"{service.url}/v1/webhooks/{'0' * 64}/key").status_code == 404

    until(lambda: DeliveryStore(service.ledger).counts(webhook) == {"delivered": 3})
    state = httpx.get(f"{service.url}/v1/webhooks/{webhook}").json()
    assert state["state"] == "active" and state["deliveries"] == {"delivered": 3}
    assert state["filter"] == {"types": ["comment.made"]}
    rows = httpx.get(f"{service.url}/v1/webhooks/{webhook}/deliveries").json()["deliveries"]
    assert [r["attempts"] for r in rows] == [3, 3, 3]
    assert all(r["state"] == "delivered" and r["last_status"] == 200 for r in rows)


def test_dead_letters_after_the_last_attempt_and_redelivery(
    service: Service, receiver: tuple[Receiver, str], dispatchers: list[Running]
) -> None:
    recv, target = receiver
    recv.status = 503
    webhook = service.register(target)
    hashes = fill(service, 2)
    dispatchers.append(dispatch(service.ledger, service.keys))
    store = DeliveryStore(service.ledger)
    until(lambda: store.counts(webhook).get("dead") == 2)
    assert all(recv.by_id[h] == FAST.max_attempts for h in hashes)
    dead = httpx.get(
        f"{service.url}/v1/webhooks/{webhook}/deliveries", params={"state": "dead"}
    ).json()["deliveries"]
    assert [d["event_hash"] for d in dead] == hashes
    assert dead[0]["last_status"] == 503 and dead[0]["attempts"] == FAST.max_attempts
    time.sleep(0.5)
    assert all(recv.by_id[h] == FAST.max_attempts for h in hashes)  # no more after dead

    recv.status = 204
    assert store.redeliver(webhook) == 2
    until(lambda: store.counts(webhook) == {"delivered": 2})


def test_delivery_state_survives_a_restart(
    db_url: str,
    open_ledger: Callable[..., Ledger],
    people: People,
    receiver: tuple[Receiver, str],
    tmp_path: Path,
) -> None:
    recv, target = receiver
    keys = WebhookKeys.load_or_create(tmp_path / "webhook.key")
    ledger = open_ledger(db_url, webhooks_allow_private=True)
    service = Service(ledger, "", keys, people)
    ledger.append(statement(people, "webhook.registered", url=target))
    webhook = ledger.entries(0, 1)[0]["event_hash"]
    first = fill(service, 3)
    recv.status = 500  # down for now
    running = dispatch(ledger, keys, RetryPolicy(max_attempts=50, base=0.2))
    store = DeliveryStore(ledger)
    until(lambda: all(recv.by_id[h] >= 1 for h in first))
    running.stop()
    ledger.close()

    # Events committed while no dispatcher runs; then a new process, the receiver back up.
    ledger = open_ledger(db_url, webhooks_allow_private=True)
    service.ledger = ledger
    later = fill(service, 2)
    pending = DeliveryStore(ledger).deliveries(webhook)
    assert [p["state"] for p in pending] == ["pending"] * 3
    assert all(p["attempts"] >= 1 for p in pending)
    recv.status = 200
    running = dispatch(ledger, keys, RetryPolicy(max_attempts=50, base=0.2))
    try:
        store = DeliveryStore(ledger)
        until(lambda: store.counts(webhook) == {"delivered": 5})
    finally:
        running.stop()
    ok = [r.headers["webhook-id"] for r in recv.requests if r.headers["webhook-id"] in later]
    assert sorted(ok) == sorted(later)  # the new ones once each: no failure, no repeat


def test_one_dispatcher_per_database(db_url: str, open_ledger: Callable[..., Ledger]) -> None:
    """A second dispatcher, here or in another process's service on the same database,
    finds the lock held and stays idle until the first lets go."""
    first = DeliveryStore(open_ledger(db_url))
    second = DeliveryStore(open_ledger(db_url, writer=False))
    with first.dispatcher_lock() as held:
        assert held
        with second.dispatcher_lock() as also:
            assert not also
    with second.dispatcher_lock() as held:
        assert held


def test_removal_by_the_registrant_only(
    service: Service, receiver: tuple[Receiver, str], dispatchers: list[Running]
) -> None:
    recv, target = receiver
    webhook = service.register(target)
    dispatchers.append(dispatch(service.ledger, service.keys))
    fill(service, 1)
    until(lambda: len(recv.requests) == 1)
    service.ledger.append(statement(service.people, "webhook.removed", "ke.khac", webhook=webhook))
    fill(service, 1)
    until(lambda: len(recv.requests) == 3)  # the removal attempt and the comment
    service.ledger.append(statement(service.people, "webhook.removed", webhook=webhook))
    fill(service, 2)
    time.sleep(1.0)
    assert len(recv.requests) == 3
    assert httpx.get(f"{service.url}/v1/webhooks/{webhook}").json()["state"] == "removed"


def test_the_secret_is_for_the_registrants_key_and_fresh_requests(
    service: Service, receiver: tuple[Receiver, str], dispatchers: list[Running]
) -> None:
    _, target = receiver
    webhook = service.register(target)
    dispatchers.append(dispatch(service.ledger, service.keys))
    until(lambda: service.secret(webhook).status_code == 200)
    assert service.secret(webhook).json()["secret"] == service.keys.secret_text(webhook)
    other = service.secret(webhook, actor="ke.khac")
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/signer-mismatch"
    old = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = service.secret(webhook, issued_at=old)
    assert stale.status_code == 400 and stale.json()["field"] == "issued_at"
    unknown = service.secret("f" * 64)
    assert unknown.status_code == 404


def test_gone_disables_and_private_targets_are_refused_by_default(
    service: Service, receiver: tuple[Receiver, str], dispatchers: list[Running]
) -> None:
    recv, target = receiver
    recv.status = 410
    gone = service.register(target)
    fill(service, 2)
    dispatchers.append(dispatch(service.ledger, service.keys))
    store = DeliveryStore(service.ledger)
    until(lambda: store.endpoint(gone) is not None and store.endpoint(gone).state == "gone")  # type: ignore[union-attr]
    until(lambda: store.counts(gone).get("dead") == 2)
    # Registered while private targets were allowed (a closed network), then the
    # dispatcher restarted without: each delivery checks again, at connection time.
    rebound = service.register(target.replace("127.0.0.1", "localhost"))
    until(lambda: store.endpoint(rebound) is not None)
    dispatchers.pop().stop()

    refused = service.register(target.replace("127.0.0.1", "localhost"))
    literal = service.register("http://[::ffff:127.0.0.1]:9/hook")
    fill(service, 1)
    reached = len(recv.requests)
    dispatchers.append(dispatch(service.ledger, service.keys, allow_private=False))
    # Refused at registration: never active, nothing owed to it.
    until(lambda: store.endpoint(literal) is not None and store.endpoint(refused) is not None)
    for webhook in (refused, literal):
        endpoint = store.endpoint(webhook)
        assert endpoint is not None and endpoint.state == "invalid"
        assert "non-public address" in str(endpoint.reason)
        assert store.deliveries(webhook) == []
    until(lambda: (store.deliveries(rebound) or [{}])[0].get("attempts", 0) >= 1)
    error = store.deliveries(rebound)[0]["last_error"]
    assert "non-public address" in error
    assert len(recv.requests) == reached  # nothing got through


def test_a_malformed_registration_is_refused_and_a_stored_one_recorded_as_invalid(
    service: Service, dispatchers: list[Running]
) -> None:
    refused = httpx.post(
        service.url + "/v1/statements",
        json=statement(
            service.people, "webhook.registered", url="ftp://example.org/x"
        ).submission(),
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("/problems/invalid-field")
    assert refused.json()["field"] == "url"
    # One stored before the service checked the shape (straight to the writer here)
    # is still read as invalid by the dispatcher.
    writer = service.ledger.sequencer
    assert writer is not None
    receipt = writer.append(statement(service.people, "webhook.registered", url="ftp://x.org/"))
    webhook = receipt.event_hash.hex()
    dispatchers.append(dispatch(service.ledger, service.keys))
    until(lambda: httpx.get(f"{service.url}/v1/webhooks/{webhook}").status_code == 200)
    state = httpx.get(f"{service.url}/v1/webhooks/{webhook}").json()
    assert state["state"] == "invalid" and "http" in state["reason"]


NON_PUBLIC = [
    "http://127.0.0.1:9/hook",  # loopback
    "http://localhost:9/hook",  # a name resolving to loopback
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]:9/hook",  # IPv4-mapped loopback
    "http://10.1.2.3/hook",  # private ranges
    "http://192.168.0.10/hook",
    "https://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data",  # link-local: the cloud metadata service
    "http://[fe80::1]/hook",
    "http://0.0.0.0:8000/hook",
]


@pytest.mark.parametrize("target", NON_PUBLIC)
def test_a_non_public_target_is_refused_at_registration(
    db_url: str, open_ledger: Callable[..., Ledger], people: People, target: str
) -> None:
    """An integrator points a webhook at the service's own network (SSRF): refused when
    it registers, with nothing stored, on a ledger that keeps the default (off)."""
    ledger = open_ledger(db_url)
    assert ledger.store.meta()["webhooks_allow_private"] == "false"  # on the record
    keys = WebhookKeys(bytes(32))
    with serving(create_app(ledger, webhook_keys=keys)) as url:
        size = ledger.size()
        signed = statement(people, "webhook.registered", url=target)
        answer = httpx.post(url + "/v1/statements", json=signed.submission())
        assert answer.status_code == 400, answer.text
        problem = answer.json()
        assert problem["type"].endswith("/problems/webhook-target-not-public")
        assert problem["field"] == "url"
        assert "địa chỉ" in problem["detail_vi"] and "public" in problem["detail_en"]
        assert ledger.size() == size  # nothing stored
        # A name nobody resolves is left to each delivery (which checks what it connects to).
        later = statement(people, "webhook.registered", url="https://hr.example.invalid/hook")
        assert httpx.post(url + "/v1/statements", json=later.submission()).status_code == 201


def test_allowing_private_targets_is_a_setting_on_the_record(
    db_url: str, open_ledger: Callable[..., Ledger], people: People
) -> None:
    ledger = open_ledger(db_url, webhooks_allow_private=True)
    assert ledger.store.meta()["webhooks_allow_private"] == "true"
    ledger.append(statement(people, "webhook.registered", url="http://127.0.0.1:9/hook"))
    ledger.close()
    # A writer configured otherwise does not quietly change what the ledger admits.
    with pytest.raises(ConfigError, match="webhooks_allow_private"):
        open_ledger(db_url)


def test_workers_creating_the_tables_at_once(
    db_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """HTTP workers starting together each make the ``webhook_*`` tables: on PostgreSQL
    all but one lose the race on the catalogue, and must start all the same."""
    ledger = open_ledger(db_url)
    start, failed = threading.Barrier(8), []

    def create() -> None:
        start.wait()
        try:
            DeliveryStore(ledger)
        except Exception as e:
            failed.append(e)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed, failed
    assert DeliveryStore(ledger).endpoints() == {}
