"""Signed statements in, sealed envelopes out, and every way a submission is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import envelope
from ledger.canonical import canonical_bytes
from ledger.envelope import EnvelopeError, Event, event_hash, wrap
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.merkle import leaf_hash
from ledger.statement import (
    MAX_SUBMISSION_BYTES,
    SignedStatement,
    parse_submission,
    sign_statement,
)
from tests.conftest import examples

ACTOR = "nguyen.van.a"
KEY = SignerKey.from_seed(ACTOR, hashlib.sha256(b"nguyen.van.a").digest())
OTHER = SignerKey.from_seed("tran.thi.b", hashlib.sha256(b"tran.thi.b").digest())

COMMENT_NFC = unicodedata.normalize("NFC", "Hoàn thành tốt nhiệm vụ; đồng chí Nguyễn Văn Ánh")
COMMENT_NFD = unicodedata.normalize("NFD", COMMENT_NFC)


def statement(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "type": "evaluation.self_assessment",
        "actor": ACTOR,
        "issued_at": "2025-01-15T08:30:00Z",
        "nonce": "n0nce-AbCdEfGhIjKl",
        "cycle": "2024",
        "score": 92,
        "comment": COMMENT_NFC,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def submission(
    stmt: dict[str, Any], key: SignerKey = KEY, signer: str | None = None
) -> dict[str, Any]:
    """Sign without any checks, the way a careless or hostile client could."""
    return {
        "statement": stmt,
        "signer": str(key.verifier) if signer is None else signer,
        "signature": base64.b64encode(key.sign(canonical_bytes(stmt))).decode(),
    }


def encode(sub: dict[str, Any]) -> bytes:
    return json.dumps(sub, ensure_ascii=False, separators=(",", ":")).encode()


def reject(data: bytes, slug: str) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse_submission(data)
    e = info.value
    assert e.problem.slug == slug, e.detail_en
    assert e.detail_vi.strip() and e.detail_en.strip()
    return e


# --- Round trip ------------------------------------------------------------------------


def test_sign_and_parse_round_trip() -> None:
    stmt = statement()
    signed = sign_statement(stmt, KEY)
    assert signed.canonical == canonical_bytes(stmt)
    assert signed.signer == KEY.verifier and KEY.verifier.verify(signed.signature, signed.canonical)
    assert (signed.actor, signed.nonce, signed.type) == (ACTOR, stmt["nonce"], stmt["type"])

    for data in (encode(signed.submission()), json.dumps(signed.submission(), indent=2).encode()):
        parsed = parse_submission(data)
        assert parsed == signed
        assert parsed.digest == hashlib.sha256(signed.canonical).digest()
    assert submission(stmt) == signed.submission()


def test_key_order_and_spelling_do_not_matter() -> None:
    stmt = statement()
    reordered = dict(reversed(list(stmt.items())))
    sub = submission(stmt)
    sub["statement"] = reordered
    parsed = parse_submission(json.dumps(sub).encode())  # \u escapes for the Vietnamese
    assert parsed.canonical == canonical_bytes(stmt)


def test_vietnamese_nfd_refused_nfc_accepted() -> None:
    assert COMMENT_NFC != COMMENT_NFD
    assert parse_submission(encode(submission(statement(comment=COMMENT_NFC))))
    e = reject(encode(submission(statement(comment=COMMENT_NFD))), "non-nfc-string")
    assert e.extensions["path"] == "$.statement.comment"
    with pytest.raises(Rejected) as info:
        sign_statement(statement(comment=COMMENT_NFD), KEY)
    assert info.value.problem.slug == "non-nfc-string"


# --- Refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 0, "1", True, None])
def test_unknown_version(version: Any) -> None:
    e = reject(encode(submission(statement(v=version))), "unknown-statement-version")
    assert e.extensions["supported"] == [1]


@pytest.mark.parametrize("field", ["v", "type", "actor", "issued_at", "nonce"])
def test_missing_field(field: str) -> None:
    stmt = statement()
    del stmt[field]
    e = reject(encode(submission(stmt)), "invalid-statement")
    assert e.extensions["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nonce", "short"),
        ("nonce", "x" * 65),
        ("nonce", "has spaces in the nonce"),
        ("nonce", "base64+with/slash=="),
        ("nonce", "n0nce-AbCdEfGhIjKl\n"),  # `$` would match before a final newline
        ("nonce", 1234567890123456),
        ("issued_at", "2025-02-30T00:00:00Z"),  # no such day
        ("issued_at", "2025-13-01T00:00:00Z"),
        ("issued_at", "2025-01-01T24:00:00Z"),
        ("issued_at", "2025-01-01T00:00:00+07:00"),  # not UTC
        ("issued_at", "2025-01-01 00:00:00Z"),
        ("issued_at", "2025-01-01T00:00:00"),
        ("issued_at", "2025-01-01T00:00:00Z\n"),
        ("issued_at", 1735689600),
        ("type", "Evaluation"),
        ("type", "evaluation..x"),
        ("type", "evaluation.self_assessment\n"),
        ("actor", ACTOR + "\n"),
        ("actor", "Nguyen"),
    ],
)
def test_malformed_envelope_field(field: str, value: Any) -> None:
    e = reject(encode(submission(statement(**{field: value}))), "invalid-statement")
    assert e.extensions["field"] == field
    with pytest.raises(Rejected):
        sign_statement(statement(**{field: value}), KEY)


def test_statement_not_an_object() -> None:
    sub = submission(statement())
    sub["statement"] = [1, 2]
    reject(encode(sub), "invalid-statement")


def test_signer_mismatch() -> None:
    e = reject(encode(submission(statement(), key=OTHER)), "signer-mismatch")
    assert e.problem.status == 403


def test_bad_signature() -> None:
    sub = submission(statement())
    raw = base64.b64decode(sub["signature"])
    for i in (0, 31, 63):
        bad = dict(sub, signature=base64.b64encode(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :]))
        bad["signature"] = bad["signature"].decode()
        reject(encode(bad), "bad-signature")
    for signature in ("", "not base64!", base64.b64encode(raw[:-1]).decode(), 42):
        reject(encode(dict(sub, signature=signature)), "bad-signature")
    # Signed over something else: the statement changed after signing.
    changed = dict(sub, statement=statement(score=100))
    reject(encode(changed), "bad-signature")
    # A key under the actor's name, but not the actor's key.
    impostor = SignerKey.from_seed(ACTOR, bytes(32))
    reject(encode(dict(sub, signer=str(impostor.verifier))), "bad-signature")


@pytest.mark.parametrize(
    "signer",
    [
        "",
        "nguyen.van.a",
        "nguyen.van.a+00000000+AAAA",
        str(KEY.verifier).replace("+", "+f", 1),
        str(KEY).removeprefix("PRIVATE+KEY+"),  # the private key text, not the public one
        str(KEY.verifier)[:-2],
    ],
)
def test_invalid_key(signer: str) -> None:
    reject(encode(submission(statement(), signer=signer)), "invalid-key")


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s.update(extra=1), id="extra-field"),
        pytest.param(lambda s: s.pop("signer"), id="missing-signer"),
        pytest.param(lambda s: s.pop("signature"), id="missing-signature"),
        pytest.param(lambda s: s.update(Statement=s.pop("statement")), id="renamed"),
    ],
)
def test_submission_fields(mutate: Any) -> None:
    sub = submission(statement())
    mutate(sub)
    reject(encode(sub), "invalid-statement")


def test_submission_must_be_an_object() -> None:
    reject(b"[]", "invalid-statement")
    reject(b'"statement"', "invalid-statement")


def test_strict_json_applies_to_submissions() -> None:
    data = encode(submission(statement()))
    reject(data.replace(b'"score":92', b'"score":92.0'), "float-not-allowed")
    reject(data.replace(b'"score":92', b'"score":92,"score":92'), "duplicate-key")
    reject(data.replace(b'"score":92', b'"score":9007199254740992'), "integer-out-of-range")
    reject(data.replace(b'"score":92', '"điểm":92'.encode()), "non-ascii-key")
    reject(data + b" " * MAX_SUBMISSION_BYTES, "payload-too-large")


# --- The stored envelope ---------------------------------------------------------------

STREAM = "cycle/2024/cadre/nguyen.van.a"
LOGGED = datetime(2025, 1, 15, 8, 30, 1, tzinfo=UTC)


@pytest.fixture
def signed() -> SignedStatement:
    return sign_statement(statement(), KEY)


def test_envelope_round_trip(signed: SignedStatement) -> None:
    first = wrap(STREAM, 1, None, signed)
    event = Event.parse(first)
    assert (event.raw, event.stream, event.version, event.prev) == (first, STREAM, 1, None)
    assert event.statement == signed.statement
    assert event.signer == signed.signer and event.signature == signed.signature
    assert event.statement_bytes == signed.canonical
    assert event.signer.verify(event.signature, event.statement_bytes)
    assert event.hash == event_hash(first) == hashlib.sha256(first).digest()
    assert leaf_hash(event_hash(first)) == leaf_hash(event.hash)
    assert canonical_bytes(event.to_json()) == first
    assert set(event.to_json()) == {
        "v",
        "stream",
        "version",
        "prev",
        "statement",
        "signer",
        "signature",
    }

    second_signed = sign_statement(statement(nonce="another-nonce-0123"), KEY)
    second = wrap(STREAM, 2, event.hash, second_signed)
    event2 = Event.parse(second)
    assert event2.version == 2 and event2.prev == event.hash
    assert event2.to_json()["prev"] == event.hash.hex()


def test_the_statement_is_cut_from_its_place_in_the_envelope() -> None:
    """Keys named like the envelope's inside a statement do not move the cut."""
    nested = {"statement": {"stream": 1}, "stream": "x", "z": [{"statement": 2, "stream": 3}]}
    signed = sign_statement(statement(evidence=nested, stream="y"), KEY)
    event = Event.parse(wrap(STREAM, 1, None, signed))
    assert event.statement_bytes == signed.canonical
    assert event.signer.verify(event.signature, event.statement_bytes)


def _reseal(raw: bytes, **changes: Any) -> bytes:
    obj = json.loads(raw)
    obj.update(changes)
    return canonical_bytes({k: v for k, v in obj.items() if v is not ...})


def test_envelope_rejects_non_canonical_bytes(signed: SignedStatement) -> None:
    raw = wrap(STREAM, 1, None, signed)
    obj = json.loads(raw)
    for variant in (
        json.dumps(obj, ensure_ascii=False, separators=(", ", ": "), sort_keys=True).encode(),
        json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode(),
        raw + b"\n",
        b" " + raw,
        json.dumps(dict(reversed(obj.items())), ensure_ascii=False, separators=(",", ":")).encode(),
        json.dumps(obj, separators=(",", ":"), sort_keys=True).encode(),  # \u escapes
    ):
        assert variant != raw and json.loads(variant) == obj
        with pytest.raises(EnvelopeError, match="canonical"):
            Event.parse(variant)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"extra": 1}, id="extra"),
        pytest.param({"prev": ...}, id="no-prev"),
        pytest.param({"signature": ...}, id="no-signature"),
        pytest.param({"statement": ..., "body": {}}, id="renamed"),
    ],
)
def test_envelope_rejects_other_field_sets(signed: SignedStatement, changes: Any) -> None:
    with pytest.raises(EnvelopeError, match="fields"):
        Event.parse(_reseal(wrap(STREAM, 1, None, signed), **changes))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"version": "1"}, id="version-string"),
        pytest.param({"version": True}, id="version-bool"),
        pytest.param({"version": 0}, id="version-zero"),
        pytest.param({"version": None}, id="version-null"),
        pytest.param({"v": 2}, id="envelope-v2"),
        pytest.param({"v": "1"}, id="envelope-v-string"),
        pytest.param({"v": True}, id="envelope-v-true"),  # == 1 in Python
        pytest.param({"stream": "Not A Stream"}, id="stream"),
        pytest.param({"stream": STREAM + "\n"}, id="stream-newline"),
        pytest.param({"stream": 7}, id="stream-type"),
        pytest.param({"prev": "ab"}, id="prev-short"),
        pytest.param({"prev": "zz" * 32}, id="prev-not-hex"),
        pytest.param({"prev": 0}, id="prev-type"),
        pytest.param({"statement": "text"}, id="statement-type"),
        pytest.param({"signer": "nobody"}, id="signer"),
        pytest.param({"signature": "not base64!"}, id="signature"),
    ],
)
def test_envelope_rejects_bad_values(signed: SignedStatement, changes: dict[str, Any]) -> None:
    with pytest.raises(EnvelopeError):
        Event.parse(_reseal(wrap(STREAM, 1, None, signed), **changes))


def test_envelope_rejects_version_float(signed: SignedStatement) -> None:
    raw = wrap(STREAM, 1, None, signed)
    for spelling in (b'"version":1.0', b'"version":1e0'):
        with pytest.raises(EnvelopeError):
            Event.parse(raw.replace(b'"version":1', spelling))


@pytest.mark.parametrize(
    "value",
    [b"1.5", b"1.0", b"1e400", b"NaN", b"-Infinity", b"9007199254740993", b"-" + b"9" * 30],
)
def test_envelope_rejects_numbers_outside_the_data_model(
    signed: SignedStatement, value: bytes
) -> None:
    """Always an ``EnvelopeError`` (the verifier's V1 catches only that), never a pass.

    ``1.0`` in particular is not RFC 8785 form (that is ``1``), yet the fast encoder
    writes it back unchanged.
    """
    raw = wrap(STREAM, 1, None, signed)
    forged = raw.replace(b'"score":92', b'"score":' + value)
    assert forged != raw
    with pytest.raises(EnvelopeError):
        Event.parse(forged)


def test_envelope_rejects_non_nfc_and_non_utf8(signed: SignedStatement) -> None:
    raw = wrap(STREAM, 1, None, signed)
    nfd = raw.replace(COMMENT_NFC.encode(), COMMENT_NFD.encode())
    assert nfd != raw
    with pytest.raises(EnvelopeError):
        Event.parse(nfd)
    with pytest.raises(EnvelopeError):
        Event.parse(raw.replace(b'"v":1', b'"v":\xff'))
    with pytest.raises(EnvelopeError):
        Event.parse(raw[:-1])


# --- The quick reading of canonical envelopes refuses what the strict one refuses ------


def _outcome(raw: bytes, quick: bool) -> Any:
    """What ``Event.parse`` makes of ``raw``: the event's fields, or the refusal's words;
    with the quick reading of canonical bytes, or (``quick=False``) with only the strict
    decoder and the re-encoding, as before the quick reading existed."""
    with pytest.MonkeyPatch.context() as mp:
        if not quick:
            mp.setattr(envelope, "canonical_value", lambda _data: None)
        try:
            event = Event.parse(raw)
        except EnvelopeError as e:
            return ("refused", str(e))
    return ("read", {k: getattr(event, k) for k in event.__dataclass_fields__})


_SLIPS = [
    (b'"version":1', b'"version":1.0'),
    (b'"version":1', b'"version":1e0'),
    (b'"version":1', b'"version":-0'),
    (b'"score":92', b'"score":92.0'),
    (b'"score":92', b'"score":9007199254740992'),
    (b'"score":92', b'"score":18446744073709551616'),
    (b'"score":92', b'"score":92,"score":92'),
    (b'"score":92', b'"score":NaN'),
    (b'"cycle":"2024"', b'"cycle":"\\u0032024"'),
    (b'"cycle":"2024"', b'"cycle":"\\ud800"'),
    (b'"cycle":"2024"', b'"cycle":["2024"]'),
    (b'"v":2', b'"v":2.0'),
    (b'"v":2', b'"v":true'),
    (b'"prev":null', b'"prev":null,"prev":null'),
    (b'"prev":null', b'"prev": null'),
    ("Hoàn".encode(), unicodedata.normalize("NFD", "Hoàn").encode()),
    ("Hoàn".encode(), b"Ho\\u00e0n"),
    ("Hoàn".encode(), b"Ho\xe0n"),
    (b"{", b"\xef\xbb\xbf{"),
    (b"}", b"} "),
]


@settings(max_examples=examples(1500), deadline=None)
@given(
    slip=st.sampled_from(_SLIPS),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=2),
    deep=st.integers(0, 15),
)
def test_envelope_quick_reading_agrees_with_strict(
    slip: tuple[bytes, bytes], flips: list[tuple[int, int]], deep: int
) -> None:
    """Non-canonical, duplicate-key, float, unsafe-integer, non-NFC, non-UTF-8, deeply
    nested or randomly corrupted envelopes: the quick reading refuses each exactly as
    the strict one does, with the same words, and reads the rest to the same event."""
    body = statement(extra=json.loads("[" * deep + "]" * deep) if deep else ...)
    raw = wrap(STREAM, 3, b"\x07" * 32, sign_statement(body, KEY), logged_at=LOGGED)
    assert _outcome(raw, quick=True) == _outcome(raw, quick=False)
    raw = raw.replace(slip[0], slip[1], 1)
    for at, byte in flips:
        at %= len(raw)
        raw = raw[:at] + bytes([byte]) + raw[at + 1 :]
    assert _outcome(raw, quick=True) == _outcome(raw, quick=False)
