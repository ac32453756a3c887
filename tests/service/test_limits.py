"""Request size limits and rate limiting: refusals as RFC 9457 problems, before the work."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from access.tokens import AccessStore
from api.app import create_app
from api.problems import PROBLEM_JSON
from api.rate_limit import DEFERRED, Decision, RateLimit, RatePolicy, TokenBuckets
from cadreledger.service import Ledger
from tests.conftest import People
from tests.evaluation import CADRES
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


@pytest.fixture
def bare(tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Ledger:
    return open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    assert body["detail_vi"] and body["detail_en"]
    return body


# -- body size ---------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_anything_runs(
    bare: Ledger, people: People
) -> None:
    with TestClient(create_app(bare, max_body=2000)) as client:
        body = json.dumps({**people.statement().submission(), "pad": "x" * 3000}).encode()
        answer = client.post(
            "/v1/statements", content=body, headers={"content-type": "application/json"}
        )
        assert problem(answer, 413, "payload-too-large")["limit"] == 2000
        # An endpoint that never reads a body refuses it too, as a problem.
        refused = client.request("GET", "/healthz", content=b"x" * 2001)
        problem(refused, 413, "payload-too-large")
        assert client.post("/v1/statements", json=people.statement().submission()).is_success
    assert bare.size() == 1


def test_a_chunked_body_is_counted_as_it_arrives(bare: Ledger, people: People) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):  # 100 KiB offered, 1 KiB at a time, no Content-Length
            yield b" " * 1024

    with TestClient(create_app(bare, max_body=4096)) as client:
        answer = client.post(
            "/v1/statements", content=chunks(), headers={"content-type": "application/json"}
        )
        body = problem(answer, 413, "payload-too-large")
        assert body["limit"] == 4096
    assert bare.size() == 0


def test_the_default_limit_leaves_room_for_a_statement(bare: Ledger, people: People) -> None:
    with TestClient(create_app(bare)) as client:
        big = people.statement(note="Nhận xét " * 5000)  # ~50 KB, under 64 KiB canonical
        assert client.post("/v1/statements", json=big.submission()).status_code == 201


# -- rate limiting -----------------------------------------------------------------------


def test_a_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(RatePolicy(rate=2, burst=3), clock=lambda: now[0])
    assert [buckets.take("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = buckets.take("a")
    assert refused.retry_after == 1 and refused.remaining == 0 and refused.full_in == 2
    assert buckets.take("b").allowed  # one bucket per key
    now[0] = 0.5  # one token back
    assert buckets.take("a").allowed and not buckets.take("a").allowed
    now[0] = 100.0  # never more than the burst
    assert [buckets.take("a").allowed for _ in range(4)] == [True, True, True, False]


def test_buckets_are_bounded_and_the_idlest_forgotten() -> None:
    buckets = TokenBuckets(RatePolicy(rate=1, burst=1), clock=lambda: 0.0, max_buckets=3)
    for key in "abcd":
        buckets.take(key)
    assert list(buckets.buckets) == ["b", "c", "d"]


def test_over_the_limit_a_caller_gets_429_with_retry_after_and_ratelimit_fields(
    bare: Ledger,
) -> None:
    policy = RatePolicy(rate=0.5, burst=2)
    with TestClient(create_app(bare, rate=policy)) as client:
        first = client.get("/v1/log/key")
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == '"default";q=2;w=4'
        assert first.headers["ratelimit"].startswith('"default";r=1;t=')
        assert client.get("/v1/log/checkpoint").status_code == 200
        refused = client.get("/v1/log/key", headers={"accept-language": "en"})
        body = problem(refused, 429, "rate-limited")
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= math.ceil(1 / policy.rate) and body["retry_after"] == wait
        assert refused.headers["ratelimit"].startswith('"default";r=0;t=')
        assert "retry" in str(body["detail"]).lower()
        # Probes are never counted: an orchestrator must see the service alive.
        assert client.get("/healthz").status_code == 200
        assert "ratelimit" not in client.get("/healthz").headers


def test_a_worker_refuses_a_bucket_it_was_told_is_empty_without_asking_or_working() -> None:
    """Where another process holds the buckets (an HTTP worker asks the writer), a
    refusal says when the caller's bucket has a token again; until then the worker
    answers 429 itself, with the figures the holder would give, before the statement is
    parsed and its signature checked, and without asking. Over the limit, a caller
    used to cost the workers a signature check a request all the same."""
    now = [0.0]
    policy = RatePolicy(rate=0.5, burst=2)
    held = TokenBuckets(policy, clock=lambda: now[0])  # the writer's
    asked: list[str] = []
    worked: list[str] = []

    async def decide(key: str) -> Decision:
        asked.append(key)
        return held.take(key)

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        worked.append(scope["path"])  # the parse and the signature check
        if scope["path"] == "/v1/statements":
            await scope[DEFERRED].take()
        await PlainTextResponse("ok", 201)(scope, receive, send)

    app = RateLimit(
        endpoint, policy, lambda: now[0], decide=decide, defer={("POST", "/v1/statements")}
    )
    client = TestClient(app)
    statuses = [client.post("/v1/statements", content=b"{}").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert len(asked) == len(worked) == 3
    now[0] = 1.0  # half a token back: the writer would refuse, for one second more
    refused = client.post("/v1/statements", content=b"{}")
    problem(refused, 429, "rate-limited")
    assert refused.headers["retry-after"] == "1"
    assert client.get("/v1/log/key").status_code == 429  # every endpoint: one bucket
    assert len(asked) == len(worked) == 3, "asked or worked for a bucket known empty"
    assert not held.take(asked[0]).allowed  # the holder agrees
    now[0] = 4.0
    assert client.post("/v1/statements", content=b"{}").status_code == 201
    assert client.get("/v1/log/key").status_code == 201
    assert len(asked) == 5


def test_signed_in_people_have_buckets_of_their_own(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    """With authentication on, the bucket is the person's (``request.state.identity``),
    not the address's: one person over the limit does not stop another."""
    ledger, world = evaluation_ledger(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, open_ledger)
    run_cycle(world)
    access = AccessStore(ledger.store)
    first, _ = access.issue(CADRES[0])
    second, _ = access.issue(CADRES[1])
    app = create_app(ledger, access=access, rate=RatePolicy(rate=0.01, burst=2))
    with TestClient(app) as client:

        def read(token: str | None) -> int:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            path = f"/v1/people/{CADRES[0]}" if token else "/v1/log/key"
            return client.get(path, headers=headers).status_code

        assert [read(first) for _ in range(3)] == [200, 200, 429]
        assert [read(second) for _ in range(3)] == [200, 200, 429]
        # Anonymous callers share their address's bucket, apart from the people's.
        assert [read(None) for _ in range(3)] == [200, 200, 429]


def test_the_openapi_document_names_the_limits(bare: Ledger) -> None:
    with TestClient(create_app(bare)) as client:
        doc = client.get("/openapi.json").json()
    submit = doc["paths"]["/v1/statements"]["post"]["responses"]
    assert {"400", "413", "429"} <= set(submit)
    assert set(submit["429"]["headers"]) == {"Retry-After", "RateLimit", "RateLimit-Policy"}
    for operations in doc["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"]
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"] == {
                        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
    assert "HTTPValidationError" not in doc["components"]["schemas"]
