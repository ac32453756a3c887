"""Every list pages the same way: ``limit`` ≤ 1000, a cursor ``after``, ``next`` in the
body and an RFC 8288 ``Link: <…>; rel="next"`` that leads through the whole list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.paging import MAX_LIMIT
from cadreledger.demo import Demo
from cadreledger.service import Ledger
from ledger.keys import SignerKey


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Demo]]:
    from cadreledger.config import Settings

    where = tmp_path_factory.mktemp("paging")
    ledger = Ledger(
        Settings(
            db=f"sqlite:///{where / 'ledger.db'}",
            log_key_file=str(where / "log.key"),
            root_key_file=str(where / "root.key"),
        )
    )
    demo = Demo(ledger, SignerKey.parse((where / "root.key").read_text()), size=20)
    demo.run()
    with TestClient(create_app(ledger)) as client:
        yield client, demo
    ledger.close()


def walk(client: TestClient, url: str, items: str) -> tuple[list[Any], int]:
    """Every item of a list, page by page through the ``Link`` headers; and the pages."""
    found: list[Any] = []
    pages = 0
    while True:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found += body[items]
        pages += 1
        link = answer.headers.get("link")
        if link is None:
            assert body["next"] is None or body.get("caught_up")
            return found, pages
        target, rel = link.split(";")
        assert rel.strip() == 'rel="next"' and target.startswith("<") and target.endswith(">")
        url = target[1:-1]
        query = parse_qs(urlsplit(url).query)
        cursor = "start" if "start" in query else "after"
        assert query[cursor] == [str(body["next"])]  # the body's cursor is the link's


def test_a_timeline_walked_in_pages_is_the_whole_timeline(
    served: tuple[TestClient, Demo],
) -> None:
    client, demo = served
    base = f"/v1/cycles/{demo.cycle}/timeline"
    whole = client.get(base, params={"limit": MAX_LIMIT}).json()
    assert whole["next"] is None and len(whole["timeline"]) > 100
    paged, pages = walk(client, f"{base}?limit=40", "timeline")
    assert paged == whole["timeline"] and pages == -(-len(paged) // 40)
    # Filters are kept from page to page.
    decisions, _ = walk(client, f"{base}?limit=5&type=decision.issued,decision.revised", "timeline")
    assert decisions and {a["type"] for a in decisions} <= {"decision.issued", "decision.revised"}
    assert decisions == [
        a for a in whole["timeline"] if a["type"] in ("decision.issued", "decision.revised")
    ]


def test_a_cadres_timeline_pages_too(served: tuple[TestClient, Demo]) -> None:
    client, demo = served
    base = f"/v1/cycles/{demo.cycle}/cadres/{demo.cadres[5].id}/timeline"
    whole = client.get(base, params={"limit": MAX_LIMIT}).json()["timeline"]
    assert walk(client, f"{base}?limit=3", "timeline")[0] == whole


def test_the_feed_and_the_log_page_by_position(served: tuple[TestClient, Demo]) -> None:
    client, _ = served
    events, _ = walk(client, "/v1/events?limit=64", "events")
    by_after, _ = walk(client, "/v1/log/entries?after=-1&limit=64", "entries")
    by_start, _ = walk(client, "/v1/log/entries?start=0&limit=64", "entries")
    assert [e["data"]["index"] for e in events] == list(range(len(events)))
    assert by_after == by_start and [e["index"] for e in by_start] == list(range(len(events)))
    # The log's contract: ``start`` and a ``next`` that is the next start.
    page = client.get("/v1/log/entries", params={"start": 2, "limit": 3}).json()
    assert [e["index"] for e in page["entries"]] == [2, 3, 4] and page["next"] == 5
    page = client.get("/v1/log/entries", params={"after": 2, "limit": 3}).json()
    assert [e["index"] for e in page["entries"]] == [3, 4, 5] and page["next"] == 5


def test_keyed_lists_take_the_last_key_as_cursor(served: tuple[TestClient, Demo]) -> None:
    client, demo = served
    cycles = client.get("/v1/cycles", params={"limit": 1}).json()
    assert [c["cycle"] for c in cycles["cycles"]] == [demo.cycle] and cycles["next"] is None
    after = client.get("/v1/cycles", params={"after": demo.cycle}).json()
    assert after["cycles"] == [] and after["next"] is None
    complaints = client.get(f"/v1/cycles/{demo.cycle}/complaints").json()["complaints"]
    assert complaints
    first = complaints[0]["event"]
    rest = client.get(f"/v1/cycles/{demo.cycle}/complaints", params={"after": first}).json()
    assert rest["complaints"] == complaints[1:]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/log/entries",
        "/v1/events",
        "/v1/cycles",
        "/v1/cycles/{cycle}/timeline",
        "/v1/cycles/{cycle}/complaints",
        "/v1/cycles/{cycle}/cadres/{cadre}/timeline",
    ],
)
def test_every_list_has_the_same_limit_and_refuses_a_bad_cursor(
    served: tuple[TestClient, Demo], path: str
) -> None:
    client, demo = served
    url = path.format(cycle=demo.cycle, cadre=demo.cadres[0].id)
    assert client.get(url, params={"limit": MAX_LIMIT}).status_code == 200
    for params in ({"limit": MAX_LIMIT + 1}, {"limit": 0}):
        _refused(client, url, params)
    # On a list keyed by items, a cursor of the right form that names nothing: only the
    # list's state says so. On a list of events it is no position at all.
    keyed = path in ("/v1/cycles", "/v1/cycles/{cycle}/complaints")
    slug = "unknown-cursor" if keyed else "invalid-request"
    _refused(client, url, {"after": "not-a-cursor-anywhere"}, slug)


def _refused(
    client: TestClient, url: str, params: dict[str, Any], slug: str = "invalid-request"
) -> None:
    answer = client.get(url, params=params)
    assert answer.status_code == 400, (params, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"/problems/{slug}"
