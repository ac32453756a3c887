"""The event feed: CloudEvents in commit order, a cursor that never rescans, filters."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cadreledger.service import Ledger
from ledger.checkpoint import open_checkpoint
from ledger.envelope import Event
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.statement import SignedStatement, sign_statement
from streams.feed import SEQUENCE_DIGITS, Feed, FeedFilter, source_uri
from tests.conftest import People


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as c:
        yield c


def signed(people: People, actor: str = "nguyen.van.an", **body: Any) -> SignedStatement:
    statement = {
        "v": 1,
        "type": "comment.made",
        "actor": actor,
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        **body,
    }
    return sign_statement(statement, people.key(actor))


def populate(ledger: Ledger, people: People) -> list[SignedStatement]:
    """Two cycles in two units, opened by their own statements, plus loose statements."""
    made = [
        signed(people, type="cycle.opened", cycle="c-bto", unit="ban-to-chuc"),
        signed(people, type="cycle.opened", cycle="c-ubkt", unit="ubkt"),
        signed(people, type="score.submitted", cycle="c-bto", cadre="lan", general=20),
        signed(people, type="comment.made", cycle="c-ubkt", cadre="hung", text="Tốt"),
        signed(people, type="comment.made", cycle="c-bto", text="Họp hội đồng"),
        signed(people, type="key.registered", unit="ubkt", note="khóa mới"),
        signed(people, type="score.submitted", cycle="c-bto-2", cadre="lan", general=21),
        signed(people, type="comment.made", cycle="c-bto", cadre="minh", text="Khá"),
    ]
    for s in made:
        ledger.append(s)
    return made


def test_cloud_events_carry_what_a_consumer_verifies(
    client: TestClient, ledger: Ledger, people: People
) -> None:
    made = populate(ledger, people)
    body = client.get("/v1/events").json()
    assert body["tree_size"] == len(made) and body["caught_up"]
    assert body["next"] == len(made) - 1
    events = body["events"]
    assert [int(e["sequence"]) for e in events] == list(range(len(made)))
    checkpoint = open_checkpoint(client.get("/v1/log/checkpoint").text, ledger.log_key)
    for e, s in zip(events, made, strict=True):
        assert e["specversion"] == "1.0"
        assert e["source"] == "https://" + ledger.log_key.name  # an absolute URI
        assert e["type"] == s.type
        assert e["datacontenttype"] == "application/json"
        assert len(e["sequence"]) == SEQUENCE_DIGITS
        event = Event.parse(e["data"]["envelope"].encode())
        assert e["time"] == json.loads(e["data"]["envelope"])["logged_at"]  # the log's time
        assert event.logged_at is not None
        assert event.hash.hex() == e["id"] == e["data"]["event_hash"]
        assert event.stream == e["subject"]
        assert event.signer.verify(event.signature, event.statement_bytes)
        assert event.statement == s.statement == e["data"]["statement"]
        index = e["data"]["index"]
        proof = client.get("/v1/log/proof/inclusion", params={"index": index, "size": 8}).json()
        verify_inclusion(
            index,
            checkpoint.size,
            leaf_hash(event.hash),
            [base64.b64decode(p) for p in proof["proof"]],
            checkpoint.root,
        )
    # sequence orders as a string, as the CloudEvents extension requires
    assert sorted(e["sequence"] for e in events) == [e["sequence"] for e in events]


def test_pages_follow_the_cursor(client: TestClient, ledger: Ledger, people: People) -> None:
    populate(ledger, people)
    seen: list[int] = []
    after = -1
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 3}).json()
        seen += [e["data"]["index"] for e in page["events"]]
        after = page["next"]
        if page["caught_up"]:
            break
    assert seen == list(range(8))
    empty = client.get("/v1/events", params={"after": 7}).json()
    assert empty == {"events": [], "next": 7, "caught_up": True, "tree_size": 8}


def indexes(client: TestClient, **params: Any) -> list[int]:
    page = client.get("/v1/events", params=params).json()
    return [e["data"]["index"] for e in page["events"]]


def test_filters(client: TestClient, ledger: Ledger, people: People) -> None:
    populate(ledger, people)
    assert indexes(client, type="comment.made") == [3, 4, 7]
    assert indexes(client, type="comment.made,cycle.opened") == [0, 1, 3, 4, 7]
    assert indexes(client, type=["score.submitted", "key.registered"]) == [2, 5, 6]
    # a cycle is its own stream and its cadres' streams; c-bto-2 is another cycle
    assert indexes(client, cycle="c-bto") == [0, 2, 4, 7]
    # a unit: every event of the cycles it opened, and statements that name it
    assert indexes(client, unit="ubkt") == [1, 3, 5]
    assert indexes(client, unit="ban-to-chuc", type="comment.made") == [4, 7]
    assert indexes(client, cycle="c-bto", after=2, limit=1) == [4]


def test_a_sparse_filter_moves_the_cursor_past_what_it_skipped(
    client: TestClient, ledger: Ledger, people: People
) -> None:
    populate(ledger, people)
    page = client.get("/v1/events", params={"type": "nothing.such"}).json()
    assert page["events"] == [] and page["next"] == 7 and page["caught_up"]


@pytest.mark.parametrize(
    "params",
    [{"cycle": "Bad Cycle"}, {"type": "No"}, {"after": -2}, {"limit": 0}, {"limit": 1001}],
)
def test_bad_parameters_are_problems(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/events", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/invalid-request"


def test_cycle_filter_escapes_like_wildcards(ledger: Ledger, people: People) -> None:
    """``_`` is a LIKE wildcard: cycle a_b must not match cycle axb."""
    ledger.append(signed(people, cycle="a_b", cadre="x"))
    ledger.append(signed(people, cycle="axb", cadre="x"))
    page = Feed(ledger).read(-1, 10, FeedFilter.parse(cycle="a_b"))
    assert [e.stream for e in page.events] == ["cycle/a_b/cadre/x"]


@pytest.mark.parametrize(
    ("origin", "source"),
    [
        ("cadreledger.local/log", "https://cadreledger.local/log"),
        ("example.com:8443/logs/a b", "https://example.com:8443/logs/a%20b"),
        (
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        ),
        ("https://ledger.example/log", "https://ledger.example/log"),
    ],
)
def test_cloudevents_source_is_an_absolute_uri(origin: str, source: str) -> None:
    """CloudEvents consumers (and SDKs) read ``source`` as a URI; a C2SP origin is a
    schema-less URL, which as a bare string would be a relative reference."""
    assert source_uri(origin) == source
    parsed = urlsplit(source)
    assert parsed.scheme and (parsed.netloc or parsed.path)
    assert all(c.isascii() and not c.isspace() for c in source)
