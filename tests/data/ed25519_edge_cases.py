"""Generate tests/data/ed25519_edge_cases.json: Ed25519 signatures on the edges of the
acceptance rule of docs/SPEC.md §2 (valid iff libsodium's crypto_sign_verify_detached
accepts it).

The cases follow the edge cases studied in "Taming the many EdDSAs" (Chalkias, Garillot,
Nikolaenko, CT-RSA 2020) — small-order public keys and R values, non-canonical S, R and
A encodings, mixed-order keys and the cofactorless equation — built here from their
definitions with plain integer arithmetic (ledger/ed25519.py), so that nothing depends on
the library under test. Every case is a real signature that some Ed25519 verifier
accepts or that differs from an honest one in exactly one respect.

Each case records:
  ``valid``       — the verdict of the acceptance rule (what libsodium says);
  ``registrable`` — whether the registry takes the public key (ledger.ed25519);
  ``openssl``     — what OpenSSL (the ``cryptography`` package) said when this file was
                    generated: for information only, it is not the rule.

Run: ``python tests/data/ed25519_edge_cases.py`` (deterministic: the same file each time).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.ed25519 import (
    L,
    P,
    Point,
    add,
    decode,
    encode,
    is_identity,
    multiply,
    public_key_problem,
)

OUT = Path(__file__).with_suffix(".json")

B = decode(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))
assert B is not None


def h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def secret(seed: bytes) -> tuple[int, bytes, bytes]:
    """RFC 8032 §5.1.5: the secret scalar, the nonce prefix and the public key."""
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:], encode(multiply(a, B))


def le(n: int) -> bytes:
    return n.to_bytes(32, "little")


def neg(p: Point) -> Point:
    return ((-p[0]) % P, p[1], p[2], (-p[3]) % P)


def point_of_order_8() -> Point:
    """A point of order 8: the y of libsodium's small-order list (order 8)."""
    y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
    t = decode(le(y))
    assert t is not None and is_identity(multiply(8, t)) and not is_identity(multiply(4, t))
    return t


T8 = point_of_order_8()


def honest(seed: bytes, message: bytes) -> tuple[bytes, bytes]:
    """An RFC 8032 signature: (public key, signature)."""
    a, prefix, public = secret(seed)
    r = h(prefix, message) % L
    big_r = encode(multiply(r, B))
    s = (r + h(big_r, public, message) % L * a) % L
    return public, big_r + le(s)


def case(
    name: str, why: str, public: bytes, signature: bytes, message: bytes, valid: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "why": why,
        "public": public.hex(),
        "signature": signature.hex(),
        "message": message.hex(),
        "valid": valid,
        "registrable": public_key_problem(public) is None,
        "openssl": openssl(public, signature, message),
    }


def openssl(public: bytes, signature: bytes, message: bytes) -> bool | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    except ValueError:
        return None  # not even a key to OpenSSL
    return True


def with_k(public: bytes, big_r: bytes, want: int, modulus: int, label: bytes) -> bytes:
    """A message whose challenge k = H(R ‖ A ‖ M) mod L is ≡ ``want`` mod ``modulus``."""
    for i in range(10_000):
        message = label + b" #" + str(i).encode()
        if h(big_r, public, message) % L % modulus == want:
            return message
    raise AssertionError("no such message")


def cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seed = hashlib.sha256(b"cadreledger edge cases").digest()
    a, prefix, public = secret(seed)
    message = b"cadreledger: an honest statement"
    pk, sig = honest(seed, message)
    out.append(case("valid", "an honest RFC 8032 signature", pk, sig, message, True))
    rfc_pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    rfc_sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    out.append(case("rfc8032-test1", "RFC 8032 §7.1 test 1", rfc_pk, rfc_sig, b"", True))
    out.append(case("wrong-message", "one byte more", pk, sig, message + b"!", False))

    s = int.from_bytes(sig[32:], "little")
    out.append(
        case(
            "s-plus-l",
            "non-canonical S: S + L satisfies the equation too (malleability), S ≥ L refused",
            pk,
            sig[:32] + le(s + L),
            message,
            False,
        )
    )
    out.append(
        case(
            "s-plus-15l",
            "non-canonical S with its top bits set: S + 15·L < 2²⁵⁶",
            pk,
            sig[:32] + le(s + 15 * L),
            message,
            False,
        )
    )

    # R = the identity: [S]B = R + [k]A holds with S = k·a. Only the key holder can make
    # it, for a key the registry takes: OpenSSL accepts it, libsodium refuses (R small).
    for big_r, name, why in (
        (le(1), "r-identity", "small-order R (the identity), made by the key holder: S = k·a"),
        (
            le(1 | (1 << 255)),
            "r-identity-sign-bit",
            "R = the identity with the sign bit set on x = 0 (non-canonical)",
        ),
        (le(P + 1), "r-non-canonical-identity", "R = the identity encoded as y = p + 1"),
    ):
        k = h(big_r, public, message) % L
        out.append(case(name, why, public, big_r + le(k * a % L), message, False))

    # Small-order public keys: with A of order n | 8, [k]A = O whenever n | k, so S = r,
    # R = [r]B verifies for a message found by trying: anyone can "sign" as such a key.
    r = h(b"edge-case nonce") % L
    big_r = encode(multiply(r, B))
    small_keys = [
        ("a-identity", le(1), 1),
        ("a-order-2", le(P - 1), 2),
        ("a-order-4", le(0), 4),
        ("a-order-8", encode(T8), 8),
        ("a-order-8-negated", encode(neg(T8)), 8),
        ("a-identity-non-canonical", le(P + 1), 1),
        ("a-order-4-non-canonical", le(P), 4),
        ("a-identity-sign-bit", le(1 | (1 << 255)), 1),
    ]
    for name, key, order in small_keys:
        forged = with_k(key, big_r, 0, order, b"anyone signs as " + name.encode())
        out.append(
            case(
                name,
                f"small-order public key (order {order}): forged without a secret, S = r",
                key,
                big_r + le(r),
                forged,
                False,
            )
        )
    # A small-order R with a small-order A: R = T (order 8), S = 0 needs [k]A = -T.
    t_key = encode(T8)
    for i in range(10_000):
        m = b"small R and small A #" + str(i).encode()
        k = h(encode(neg(T8)), t_key, m) % L
        if k % 8 == 1:  # [k]T8 = T8 = -R with R = -T8
            out.append(
                case(
                    "r-and-a-small-order",
                    "R and A both of order 8, S = 0: [0]B = R + [k]A",
                    t_key,
                    encode(neg(T8)) + le(0),
                    m,
                    False,
                )
            )
            break

    # A mixed-order key A' = A + T8 (the honest secret, plus a point of order 8).
    # Cofactorless [S]B = R + [k]A' holds iff [k]T8 = O, that is 8 | k.
    mixed = encode(add(multiply(a, B), T8))
    for want, valid, why in (
        (0, True, "mixed-order key (A + T8), 8 | k: the cofactorless equation holds"),
        (
            1,
            False,
            "mixed-order key (A + T8), k ≡ 1 mod 8: the cofactorless equation fails "
            "(a cofactored verifier, [8][S]B = [8]R + [8][k]A, would accept)",
        ),
    ):
        rr = h(prefix, b"mixed", bytes([want])) % L
        big_rr = encode(multiply(rr, B))
        m = with_k(mixed, big_rr, want, 8, b"mixed-order key")
        k = h(big_rr, mixed, m) % L
        out.append(
            case(f"a-mixed-order-k{want}", why, mixed, big_rr + le((rr + k * a) % L), m, valid)
        )

    # A y with no x on the curve.
    y = 2
    while decode(le(y)) is not None:
        y += 1
    out.append(case("a-not-on-curve", f"y = {y} has no x on the curve", le(y), sig, message, False))

    # A non-canonical encoding of a large-order point (y + p for a small y on the curve):
    # nobody knows its secret, so the signature is an honest one with this A's bytes.
    y = 2
    while decode(le(y)) is None:
        y += 1
    out.append(
        case(
            "a-non-canonical",
            f"A encoded as y = p + {y} (non-canonical); the signature is an honest one's",
            le(P + y),
            sig,
            message,
            False,
        )
    )
    # R is compared byte for byte with the encoding of [S]B − [k]A.
    off_curve = 2
    while decode(le(off_curve)) is not None:
        off_curve += 1
    for name, why, bad_r in (
        ("r-sign-flipped", "R with its sign bit flipped (−R)", sig[:31] + bytes([sig[31] ^ 0x80])),
        ("r-not-on-curve", f"R with y = {off_curve}, no point", le(off_curve)),
    ):
        out.append(case(name, why, pk, bad_r + sig[32:], message, False))
    return out


def main() -> None:
    data = {
        "about": (
            "Ed25519 edge cases for the acceptance rule of docs/SPEC.md §2; generated by "
            "tests/data/ed25519_edge_cases.py. 'valid' is the rule (libsodium); "
            "'registrable' whether the registry takes the key; 'openssl' what OpenSSL said, "
            "for information. Hex: public key, signature (R ‖ S), message."
        ),
        "cases": cases(),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
