"""The Ed25519 acceptance rule (docs/SPEC.md §2) and the keys the registry takes.

Three judges must agree on every edge case of tests/data/ed25519_edge_cases.json: the
project's verifier (``ledger.keys.verify_signature``), PyNaCl's libsodium called
directly, and the rule as the specification writes it, implemented here from its text in
plain integer arithmetic. An independent verifier that passes these cases agrees with
the ledger's verdicts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from typing import Any

import pytest
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError

from ledger.ed25519 import (
    MIXED_ORDER,
    NON_CANONICAL,
    NOT_ON_CURVE,
    SMALL_ORDER,
    L,
    P,
    add,
    decode,
    encode,
    key_problem,
    multiply,
    public_key_problem,
)
from ledger.keys import SignerKey, VerifierKey, WeakKeyError, key_id, verify_signature
from tests.evaluation import World
from tests.paths import DATA, ROOT

CASES_FILE = DATA / "ed25519_edge_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())["cases"]
B = decode(bytes.fromhex("58" + "66" * 31))

# SPEC §2: the y values (sign bit ignored) refused for R and A — the 8 points of small
# order (y = 0, 1, p − 1 and the two y of the points of order 8) and the non-canonical
# encodings p and p + 1 of y = 0 and y = 1.
Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
SMALL_ORDER_Y = {0, 1, P - 1, P, P + 1, Y8, P - Y8}


def spec_rule(public: bytes, signature: bytes, message: bytes) -> bool:
    """docs/SPEC.md §2, step by step."""
    if len(public) != 32 or len(signature) != 64:
        return False
    r_bytes, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= L:  # 1. S canonical
        return False
    y_r = int.from_bytes(r_bytes, "little") & (2**255 - 1)
    y_a = int.from_bytes(public, "little") & (2**255 - 1)
    if y_r in SMALL_ORDER_Y or y_a in SMALL_ORDER_Y:  # 2. neither of small order
        return False
    if y_a >= P:  # 3. A canonical
        return False
    a = decode(public)  # 4. A on the curve
    if a is None or B is None:
        return False
    k = int.from_bytes(hashlib.sha512(r_bytes + public + message).digest(), "little") % L
    minus_ka = multiply(k, a)
    minus_ka = ((-minus_ka[0]) % P, minus_ka[1], minus_ka[2], (-minus_ka[3]) % P)
    return encode(add(multiply(s, B), minus_ka)) == r_bytes  # 5. cofactorless, bytes


def libsodium(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        crypto_sign_open(signature + message, public)
    except BadSignatureError:
        return False
    return True


def _bytes(case: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    return tuple(bytes.fromhex(case[k]) for k in ("public", "signature", "message"))  # type: ignore[return-value]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_judge_agrees_on_the_edge_cases(case: dict[str, Any]) -> None:
    public, signature, message = _bytes(case)
    assert libsodium(public, signature, message) is case["valid"], case["why"]
    assert verify_signature(public, signature, message) is case["valid"], case["why"]
    assert spec_rule(public, signature, message) is case["valid"], case["why"]
    assert (public_key_problem(public) is None) is case["registrable"]


def test_the_cases_cover_what_openssl_accepts_and_the_rule_refuses() -> None:
    """The reason for the rule: OpenSSL takes small-order keys and R values. Every such
    case has a key the registry refuses — except R = identity, which only the holder of
    a good key can make, and which every verifier of this project refuses."""
    names = {c["name"] for c in CASES}
    assert {"s-plus-l", "r-identity", "a-order-8", "a-non-canonical", "a-mixed-order-k0"} <= names
    lenient = [c for c in CASES if c["openssl"] and not c["valid"]]
    assert {c["name"] for c in lenient if c["registrable"]} <= {"r-identity"}
    assert all(not c["registrable"] for c in CASES if c["name"].startswith("a-"))


def _generator() -> Any:
    sys.path.insert(0, str(DATA))
    try:
        import ed25519_edge_cases as generator
    finally:
        sys.path.pop(0)
    return generator


def test_the_vectors_file_is_what_its_generator_makes() -> None:
    generator = _generator()
    made = [{k: v for k, v in c.items() if k != "openssl"} for c in generator.cases()]
    assert made == [{k: v for k, v in c.items() if k != "openssl"} for c in CASES]


def test_honest_keys_are_strong() -> None:
    for i in range(20):
        key = SignerKey.from_seed("a", hashlib.sha256(bytes([i])).digest()).verifier
        assert public_key_problem(key.public) is None
        assert key.check_strong() is key


def _points() -> list[bytes]:
    """Encodings to hold libsodium's key check to the arithmetic: honest keys, each
    plus every point of small order (mixed order), the small-order points themselves,
    their sign-bit and non-canonical spellings, and bytes that are no point."""
    torsion = next(decode(bytes.fromhex(c["public"])) for c in CASES if c["name"] == "a-order-8")
    assert torsion is not None
    small = [multiply(k, torsion) for k in range(8)]
    found = [bytes.fromhex(c["public"]) for c in CASES]
    for i in range(12):
        honest = SignerKey.from_seed("a", hashlib.sha256(b"mixed" + bytes([i])).digest())
        point = decode(honest.verifier.public)
        assert point is not None
        found += [encode(add(point, t)) for t in small]
    for t in small:
        found.append(encode(t))
        found.append((int.from_bytes(encode(t), "little") | 1 << 255).to_bytes(32, "little"))
    for y in (0, 1, 2, 3, P - 1, P, P + 1, P + 18, 2**255 - 1):
        found += [y.to_bytes(32, "little"), (y | 1 << 255).to_bytes(32, "little")]
    found += [hashlib.sha256(bytes([i])).digest() for i in range(64)]
    return found


def test_libsodium_takes_exactly_the_keys_the_rule_takes() -> None:
    """``public_key_problem`` lets libsodium's point check take a key without the
    arithmetic: it must take no key the rule refuses (and, as the same rule, refuse none
    it takes), or a forged registry would replay differently."""
    points = _points()
    assert {key_problem(p) for p in points} >= {None, SMALL_ORDER, MIXED_ORDER, NON_CANONICAL}
    for public in points:
        verdict = key_problem(public)
        assert crypto_core_ed25519_is_valid_point(public) is (verdict is None), public.hex()
        assert public_key_problem(public) == verdict


def test_weak_keys_are_named_by_their_weakness() -> None:
    by_name = {c["name"]: bytes.fromhex(c["public"]) for c in CASES}
    assert public_key_problem(by_name["a-identity"]) == SMALL_ORDER
    assert public_key_problem(by_name["a-order-8"]) == SMALL_ORDER
    assert public_key_problem(by_name["a-identity-sign-bit"]) == SMALL_ORDER
    assert public_key_problem(by_name["a-identity-non-canonical"]) == NON_CANONICAL
    assert public_key_problem(by_name["a-non-canonical"]) == NON_CANONICAL
    assert public_key_problem(by_name["a-not-on-curve"]) == NOT_ON_CURVE
    assert public_key_problem(by_name["a-mixed-order-k0"]) == MIXED_ORDER
    with pytest.raises(WeakKeyError) as caught:
        VerifierKey("a", by_name["a-order-8"]).check_strong()
    assert caught.value.reason == SMALL_ORDER


def _key_text(name: str, public: bytes) -> str:
    blob = base64.b64encode(b"\x01" + public).decode()
    return f"{name}+{key_id(name, public).hex()}+{blob}"


WEAK = [c for c in CASES if not c["registrable"]]


@pytest.mark.parametrize("case", WEAK, ids=[c["name"] for c in WEAK])
def test_the_registry_refuses_a_weak_key(case: dict[str, Any]) -> None:
    """An insider registers a small-order key for a colleague — then anyone could sign
    as them — or a mixed-order one on which verifiers may disagree."""
    w = World()
    weak = _key_text("a", bytes.fromhex(case["public"]))
    refused = w.refused("weak-key", "root", "person.registered", person="a", name="A", key=weak)
    assert refused.extensions.get("field") == "key"
    assert "a" not in w.model.registry.people
    w.enrol("b")
    weak_b = _key_text("b", bytes.fromhex(case["public"]))
    w.refused("weak-key", "root", "key.registered", person="b", key=weak_b)
    assert weak_b not in w.model.registry.people["b"].keys


def test_a_key_holders_identity_r_signature_is_refused_at_submission() -> None:
    """The one signature OpenSSL and WebCrypto take for a registered key and the rule
    refuses: R = the identity, S = k·a, made by the key's holder — so that a ledger
    admitting it could be faulted by a libsodium verifier, or the reverse. Submission
    uses the rule, so such a statement never enters the log."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ledger.errors import Rejected
    from ledger.statement import parse_submission, sign_statement
    from tests.unit.test_statement import KEY, statement

    generator = _generator()
    seed = hashlib.sha256(b"nguyen.van.a").digest()  # tests.unit.test_statement's KEY
    a, _prefix, public = generator.secret(seed)
    assert public == KEY.verifier.public
    signed = sign_statement(statement(), KEY)
    r = (1).to_bytes(32, "little")
    k = generator.h(r, public, signed.canonical) % L
    forged = r + (k * a % L).to_bytes(32, "little")
    Ed25519PublicKey.from_public_bytes(public).verify(forged, signed.canonical)  # OpenSSL: ✓
    submission = {**signed.submission(), "signature": base64.b64encode(forged).decode()}
    with pytest.raises(Rejected) as caught:
        parse_submission(json.dumps(submission).encode())
    assert caught.value.problem.slug == "bad-signature"
    parse_submission(
        json.dumps(signed.submission()).encode()
    )  # the honest signature of the same statement


def test_a_forged_statement_under_a_small_order_key_is_refused() -> None:
    """Anyone can make an OpenSSL-valid signature for a small-order key: the ledger's
    verifier (libsodium) refuses it before the registry is even asked."""
    case = next(c for c in CASES if c["name"] == "a-order-8")
    public, signature, message = _bytes(case)
    assert case["openssl"] is True
    assert not VerifierKey("a", public).verify(signature, message)


# -- the browser ----------------------------------------------------------------------

STATIC = ROOT / "api" / "ui" / "static"


def test_the_web_ui_gives_the_rules_verdict_on_every_edge_case() -> None:
    """The page checks signatures with WebCrypto, which alone takes small-order keys and
    R values; with verify.js's checks on the bytes its verdict is the rule's on every
    case. (WebCrypto's own verdicts are kept in the result, to show the checks matter.)"""
    from tests.browser import chromium

    origin = "http://localhost:8765"  # never dialled: every request is answered below

    def answer(route: Any) -> None:
        name = route.request.url.removeprefix(origin + "/")
        if name.endswith(".js"):
            body, kind = (STATIC / name).read_text(), "text/javascript"
        else:
            body, kind = "<!doctype html><title>edge cases</title>", "text/html"
        route.fulfill(status=200, body=body, content_type=kind)

    with chromium() as browser:
        context = browser.new_context()
        context.route(f"{origin}/**", answer)
        page = context.new_page()
        page.goto(f"{origin}/blank.html")
        verdicts = page.evaluate(
            """async (cases) => {
              const v = await import('/verify.js');
              const hex = (s) => new Uint8Array((s.match(/../g) || []).map((b) => parseInt(b, 16)));
              const out = [];
              for (const c of cases) {
                const [pk, sig, msg] = [hex(c.public), hex(c.signature), hex(c.message)];
                let raw;
                try {
                  const key = await crypto.subtle.importKey(
                    'raw', pk, { name: 'Ed25519' }, false, ['verify']);
                  raw = await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
                } catch (e) {
                  raw = null;
                }
                out.push([c.name, await v.ed25519(pk, sig, msg), raw]);
              }
              return out;
            }""",
            CASES,
        )
        context.close()
    assert [(name, ours) for name, ours, _raw in verdicts] == [
        (c["name"], c["valid"]) for c in CASES
    ]
    webcrypto = {name: raw for name, _ours, raw in verdicts}
    # WebCrypto alone is as lenient as OpenSSL where it matters: the checks are needed.
    assert webcrypto["r-identity"] is True and webcrypto["a-order-8"] is True


def test_the_weak_key_problem_is_explained_in_both_languages() -> None:
    from api.problems import describe

    described = describe("weak-key")
    assert described is not None
    assert described["title_vi"] and described["title_en"]
    assert described["explanation_vi"] and described["explanation_en"]


def test_a_weak_witness_or_root_key_is_refused_where_it_is_read() -> None:
    """The log's trust anchors meet the same bar as registered keys."""
    from cadreledger.config import ConfigError
    from cadreledger.genesis import RULES_VERSION, read_genesis
    from ledger.cosignature import parse_cosigner_key
    from ledger.keys import ALG_COSIGNATURE_V1

    weak = bytes.fromhex(next(c for c in CASES if c["name"] == "a-order-8")["public"])
    witness = VerifierKey("w.example/1", weak, ALG_COSIGNATURE_V1)
    with pytest.raises(WeakKeyError):
        parse_cosigner_key(witness.text)
    log = SignerKey.generate("log.example")
    meta = {
        "origin": "log.example",
        "log_key": log.verifier.text,
        "rules": RULES_VERSION,
        "root_keys": json.dumps([_key_text("root", weak)]),
    }
    with pytest.raises(ConfigError, match="weak"):
        read_genesis(meta)
    meta["root_keys"] = json.dumps([SignerKey.generate("root").verifier.text])
    assert read_genesis(meta).log_key == log.verifier
