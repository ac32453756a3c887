"""Which Ed25519 public keys the registry takes, and the rule a signature must meet.

A signature is valid if and only if libsodium's ``crypto_sign_verify_detached`` accepts
it (docs/SPEC.md §2 spells the rule out so that any other verifier can agree). That rule
refuses, beyond the RFC 8032 equation: S ≥ L, an R or A of small order, and a
non-canonical A. OpenSSL (and so ``cryptography``) and WebCrypto in browsers skip those
checks, so a key holder could make a signature that one verifier takes and another
refuses. The registry therefore takes only keys that every verifier treats alike: a
canonical encoding of a point of the prime-order subgroup other than the identity —
exactly the keys an honest Ed25519 key generator makes.

The rule is written here in plain integer arithmetic, which also says why a key is
refused. It runs once per registered key, never per signature — but a replay of a big
registry meets thousands of keys (9,720 at a million events, ~1.7 ms each), so an honest
key is first put to libsodium's ``crypto_core_ed25519_is_valid_point``, the same rule
(canonical, on the curve, in the prime-order subgroup, not of small order) in C: what it
accepts is taken at once, anything else goes through the arithmetic, which decides.
"""

from __future__ import annotations

from nacl.bindings import crypto_core_ed25519_is_valid_point

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

# Extended coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, xy = T/Z.
Point = tuple[int, int, int, int]
IDENTITY: Point = (0, 1, 1, 0)

# Why a public key is refused; the registry's messages name these.
NON_CANONICAL = "non-canonical"
NOT_ON_CURVE = "not-on-curve"
SMALL_ORDER = "small-order"
MIXED_ORDER = "mixed-order"


def add(p: Point, q: Point) -> Point:
    """RFC 8032 §5.1.4 point addition (complete: works for doubling and the identity)."""
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def multiply(k: int, p: Point) -> Point:
    result = IDENTITY
    while k:
        if k & 1:
            result = add(result, p)
        p = add(p, p)
        k >>= 1
    return result


def is_identity(p: Point) -> bool:
    return p[0] % P == 0 and (p[1] - p[2]) % P == 0


def decode(encoded: bytes) -> Point | None:
    """RFC 8032 §5.1.3 decoding; None for a non-canonical y, a y off the curve, or the
    sign bit set on x = 0."""
    if len(encoded) != 32:
        return None
    n = int.from_bytes(encoded, "little")
    y, sign = n & (2**255 - 1), n >> 255
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    elif v * x * x % P != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def encode(p: Point) -> bytes:
    zi = pow(p[2], P - 2, P)
    x, y = p[0] * zi % P, p[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def public_key_problem(public: bytes) -> str | None:
    """Why ``public`` is not a key the registry takes, or None if it is (``key_problem``:
    libsodium first takes the honest keys)."""
    if len(public) == 32 and crypto_core_ed25519_is_valid_point(bytes(public)):
        return None  # tests/unit/test_ed25519.py holds libsodium's verdict to key_problem's
    return key_problem(public)


def key_problem(public: bytes) -> str | None:
    """Why ``public`` is not a key the registry takes, or None if it is: the rule itself.

    Taken: the canonical encoding (y < p, no sign bit on x = 0) of a point A on the curve
    with [L]A the identity and A not the identity — a point of the prime-order subgroup.
    """
    if len(public) != 32:
        return NOT_ON_CURVE
    n = int.from_bytes(public, "little")
    if n & (2**255 - 1) >= P:
        return NON_CANONICAL
    point = decode(public)
    if point is None:
        # decode() refuses only two things here: x = 0 with the sign bit, which is y = ±1
        # (the identity and the point of order 2), or a y with no x on the curve.
        y = n & (2**255 - 1)
        return SMALL_ORDER if y in (1, P - 1) else NOT_ON_CURVE
    if is_identity(multiply(8, point)):
        return SMALL_ORDER
    if not is_identity(multiply(L, point)):
        return MIXED_ORDER
    return None
