"""The HTTP contract: docs/api.md's endpoints, receipts a client can check, problem+json."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cadreledger.service import Ledger
from ledger.checkpoint import open_checkpoint
from ledger.envelope import Event
from ledger.keys import VerifierKey
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.statement import MAX_SUBMISSION_BYTES, SignedStatement
from tests.conftest import People


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as c:
        yield c


def post(client: TestClient, signed: SignedStatement, **headers: str) -> Any:
    return client.post("/v1/statements", json=signed.submission(), headers=headers)


def raw_post(client: TestClient, body: bytes, **headers: str) -> Any:
    return client.post(
        "/v1/statements", content=body, headers={"content-type": "application/json", **headers}
    )


def unhash(items: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in items]


def test_a_client_can_check_its_receipt_with_only_public_endpoints(
    client: TestClient, people: People
) -> None:
    response = post(client, people.statement())
    assert response.status_code == 201
    receipt = response.json()
    for _ in range(4):
        assert post(client, people.statement(cadre="other")).status_code == 201

    key = VerifierKey.parse(client.get("/v1/log/key").text.strip())
    note = client.get("/v1/log/checkpoint")
    assert note.headers["content-type"].startswith("text/plain")
    latest = open_checkpoint(note.text, key)
    assert latest.size == 5

    first = open_checkpoint(receipt["checkpoint"], key)
    verify_inclusion(
        receipt["index"],
        first.size,
        leaf_hash(bytes.fromhex(receipt["event_hash"])),
        unhash(receipt["inclusion_proof"]),
        first.root,
    )
    proof = client.get("/v1/log/proof/inclusion", params={"index": 0, "size": 5}).json()
    verify_inclusion(
        0, 5, leaf_hash(bytes.fromhex(receipt["event_hash"])), unhash(proof["proof"]), latest.root
    )
    consistency = client.get("/v1/log/proof/consistency", params={"from": 1, "to": 5}).json()
    verify_consistency(1, 5, first.root, latest.root, unhash(consistency["proof"]))
    assert receipt["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\nindex 0\n")


def test_entries_show_hash_and_full_envelope(client: TestClient, people: People) -> None:
    for i in range(3):
        post(client, people.statement(cadre=f"c{i}"))
    page = client.get("/v1/log/entries", params={"start": 1, "limit": 2}).json()
    assert [e["index"] for e in page["entries"]] == [1, 2]
    assert page["next"] == 3
    entry = page["entries"][0]
    event = Event.parse(entry["envelope"].encode())
    assert event.hash.hex() == entry["event_hash"]
    assert event.stream == entry["stream"] == "cycle/2025-qd366-test/cadre/c1"
    assert event.statement["note"] == "Hoàn thành tốt nhiệm vụ"


def test_retry_is_200_with_the_same_receipt(client: TestClient, people: People) -> None:
    signed = people.statement()
    first, again = post(client, signed), post(client, signed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["event_hash"] == first.json()["event_hash"]
    assert again.json()["duplicate"] is True


REJECTIONS = [
    ("malformed-json", b'{"statement": ', 400),
    ("duplicate-key", b'{"statement": {}, "statement": {}, "signer": "", "signature": ""}', 400),
    ("float-not-allowed", b'{"statement": {"v": 1.0}, "signer": "", "signature": ""}', 400),
    ("not-utf8", b'{"statement": "\xff"}', 400),
    ("invalid-statement", b'{"statement": {"v": 1}}', 400),
    ("unknown-statement-version", b'{"statement": {"v": 9}, "signer": "", "signature": ""}', 400),
]


@pytest.mark.parametrize(("slug", "body", "status"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_bad_input_is_a_problem_and_stores_nothing(
    client: TestClient, ledger: Ledger, slug: str, body: bytes, status: int
) -> None:
    response = raw_post(client, body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["detail"] == problem["detail_vi"] and problem["detail_en"]
    assert ledger.size() == 0
    assert client.get(problem["type"]).status_code == 200


def test_signature_problems(client: TestClient, ledger: Ledger, people: People) -> None:
    signed = people.statement()
    body = signed.submission()
    body["statement"]["tasks"] = 70
    assert raw_post(client, json.dumps(body).encode()).json()["type"] == "/problems/bad-signature"

    body = people.statement().submission()
    body["signer"] = str(people.key("someone.else").verifier)
    response = raw_post(client, json.dumps(body).encode(), **{"accept-language": "en"})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/signer-mismatch"
    assert response.json()["detail"] == response.json()["detail_en"]
    assert ledger.size() == 0


def test_non_nfc_text_is_refused(client: TestClient, ledger: Ledger, people: People) -> None:
    decomposed = "Hoa\u0300n tha\u0300nh"  # "Hoàn thành", with combining accents
    body = json.dumps(people.statement().submission(), ensure_ascii=False)
    body = body.replace("Hoàn thành", decomposed)
    response = raw_post(client, body.encode())
    assert response.json()["type"] == "/problems/non-nfc-string"
    assert ledger.size() == 0


def test_nonce_reuse_is_409(client: TestClient, people: People) -> None:
    first = people.statement()
    post(client, first)
    response = post(client, people.statement(nonce=first.nonce, tasks=1))
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/nonce-reused"


def test_oversized_request_is_413(client: TestClient, ledger: Ledger) -> None:
    response = raw_post(client, b'{"x": "' + b"a" * MAX_SUBMISSION_BYTES + b'"}')
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/payload-too-large"
    assert ledger.size() == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/log/proof/inclusion", {"index": 5, "size": 3}),
        ("/v1/log/proof/inclusion", {"index": 0, "size": 99}),
        ("/v1/log/proof/consistency", {"from": 2, "to": 1}),
        ("/v1/log/proof/consistency", {"from": 0, "to": 1}),
        ("/v1/log/proof/inclusion", {"index": "x", "size": 1}),
        ("/v1/log/entries", {"limit": 100_000}),
    ],
)
def test_bad_proof_requests_are_400(
    client: TestClient, people: People, path: str, params: dict[str, Any]
) -> None:
    for _ in range(3):
        post(client, people.statement())
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


def test_openapi_lists_the_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/log/checkpoint",
        "/v1/log/key",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/consistency",
        "/v1/log/entries",
        "/v1/statements",
    ):
        assert path in paths
