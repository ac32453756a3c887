"""Ed25519 signing through libsodium, keeping the GIL.

PyNaCl (through cffi) and ``cryptography`` both give up the GIL around a signature, as
a library should around C code. But a signature takes ~20 µs, and a thread that gives
up the GIL gets it back only once the threads that took it meanwhile let go: the writer
signs a checkpoint for every batch, between one commit and the next, and with 32
submitting threads it waited 0.6 ms for the GIL on average, a third of the time between
two SQLite commits (docs/benchmarks.md). So the log signs by calling the very function
PyNaCl calls, libsodium's ``crypto_sign_detached`` in the library PyNaCl ships, through
``ctypes.PyDLL``, whose calls keep the GIL. Where that library does not export it, the
signature is PyNaCl's own call. Ed25519 signatures are deterministic (RFC 8032): every
path gives the same bytes, which the tests hold to.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable

from nacl.bindings import crypto_sign

SIGNATURE_BYTES = 64
SECRET_BYTES = 64  # libsodium's secret key: the seed, then the public key


def _detached() -> Callable[..., int] | None:
    """PyNaCl's libsodium's ``crypto_sign_detached``, called with the GIL held."""
    spec = importlib.util.find_spec("nacl._sodium")
    if spec is None or spec.origin is None:
        return None
    try:
        function = ctypes.PyDLL(spec.origin).crypto_sign_detached
    except (OSError, AttributeError):
        return None
    # int crypto_sign_detached(unsigned char *sig, unsigned long long *siglen_p,
    #                          const unsigned char *m, unsigned long long mlen,
    #                          const unsigned char *sk)
    function.argtypes = (
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_ulonglong,
        ctypes.c_char_p,
    )
    function.restype = ctypes.c_int
    return function


CRYPTO_SIGN_DETACHED = _detached()


def sign(message: bytes, secret: bytes) -> bytes:
    """The Ed25519 signature of ``message`` by libsodium's 64-byte ``secret``."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"an Ed25519 secret key is {SECRET_BYTES} bytes, not {len(secret)}")
    if CRYPTO_SIGN_DETACHED is None:
        return crypto_sign(message, secret)[:SIGNATURE_BYTES]
    signature = ctypes.create_string_buffer(SIGNATURE_BYTES)
    if CRYPTO_SIGN_DETACHED(signature, None, message, len(message), secret) != 0:
        raise RuntimeError("libsodium could not sign")
    return signature.raw
