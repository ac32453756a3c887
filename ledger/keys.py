"""Ed25519 keys in the C2SP signed-note text forms.

A verifier key is ``name+keyid+base64(0x01 ‖ public key)``; a signer key is
``PRIVATE+KEY+name+keyid+base64(0x01 ‖ seed)``. The key ID is the first four bytes
of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), so a key ID names both key and holder.

A witness's Ed25519 key is the same kind of key under signature type 0x04 (C2SP
tlog-cosignature): its verifier key is ``name+keyid+base64(0x04 ‖ public key)`` and its
key ID hashes 0x04 instead of 0x01, so that a cosignature can never pass for a plain
note signature by the same key, nor the other way round.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from nacl.bindings import crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError

from ledger import sodium_sign
from ledger.ed25519 import public_key_problem

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04  # C2SP tlog-cosignature, Ed25519


class KeyFormatError(ValueError):
    """Key text that is not a well-formed C2SP Ed25519 key."""


class WeakKeyError(KeyFormatError):
    """A well-formed key the registry does not take (``ledger.ed25519``): small order,
    outside the prime-order group, off the curve or non-canonically encoded."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"weak Ed25519 public key ({reason})")
        self.reason = reason


def key_id(name: str, public: bytes, alg: int = ALG_ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def check_key_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise KeyFormatError(f"key name {name!r} must be non-empty, without '+' or spaces")


def verify_signature(public: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification by raw public key: valid iff libsodium accepts it.

    libsodium (PyNaCl's bundled copy) is the acceptance rule of docs/SPEC.md §2 — it
    refuses S ≥ L, small-order R and A and a non-canonical A, which OpenSSL does not —
    and it costs half the CPU of OpenSSL's verification on this project's machines
    (bench/verify.py). Signing stays with ``cryptography``: both make the same
    deterministic RFC 8032 signatures. The C call releases the GIL, so the verifier's
    threads run on every core."""
    if len(signature) != 64 or len(public) != 32:
        # crypto_sign_open takes signature ‖ message: a short signature would borrow
        # bytes of the message.
        return False
    try:
        crypto_sign_open(signature + message, public)
    except BadSignatureError:
        return False
    return True


@dataclass(frozen=True)
class VerifierKey:
    """Somebody's public key, under the name they sign as.

    ``alg`` is the signature type: 0x01 for notes and statements, 0x04 for a witness's
    cosignatures (verified by ``ledger.cosignature``, never by ``verify`` alone)."""

    name: str
    public: bytes
    alg: int = ALG_ED25519

    @cached_property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public, self.alg)

    def verify(self, signature: bytes, message: bytes) -> bool:
        return verify_signature(self.public, signature, message)

    def check_strong(self) -> VerifierKey:
        """This key, if it is one the registry takes (docs/SPEC.md §2); else
        ``WeakKeyError``. Not part of ``parse``: a parse in a verifier's hot loop must
        stay cheap, and a weak key's signatures fail the acceptance rule anyway."""
        reason = public_key_problem(self.public)
        if reason is not None:
            raise WeakKeyError(reason)
        return self

    @cached_property
    def text(self) -> str:
        """``name+keyid+base64``; cached, since every sealed event spells it out."""
        blob = base64.b64encode(bytes([self.alg]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str, alg: int = ALG_ED25519) -> VerifierKey:
        """Parse a verifier key of signature type ``alg`` (any other type is refused)."""
        name, _, rest = text.partition("+")
        hex_id, _, blob = rest.partition("+")
        check_key_name(name)
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as e:
            raise KeyFormatError("key is not valid base64") from e
        if len(raw) != 33 or raw[0] != alg:
            raise KeyFormatError(
                f"not an Ed25519 key of type 0x{alg:02x} (expected 0x{alg:02x} and 32 bytes)"
            )
        key = cls(name, raw[1:], alg)
        if len(hex_id) != 8 or key.key_id.hex() != hex_id.lower():
            raise KeyFormatError("key ID does not match name and key")
        return key


@dataclass(frozen=True)
class SignerKey:
    """A private key. Held by a person or by the log; never by the server for a person."""

    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        check_key_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> SignerKey:
        check_key_name(name)
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @cached_property
    def verifier(self) -> VerifierKey:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def sign(self, message: bytes) -> bytes:
        # Through libsodium, at about half OpenSSL's CPU, keeping the GIL (the log signs
        # a checkpoint per batch, between two commits: ``ledger.sodium_sign``). Ed25519
        # signatures are deterministic (RFC 8032): both give the same bytes.
        return sodium_sign.sign(message, self._sodium_secret)

    @cached_property
    def _sodium_secret(self) -> bytes:
        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return crypto_sign_seed_keypair(seed)[1]

    def __str__(self) -> str:
        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        prefix = "PRIVATE+KEY+"
        text = text.strip()
        if not text.startswith(prefix):
            raise KeyFormatError("signer key must start with PRIVATE+KEY+")
        name, _, rest = text[len(prefix) :].partition("+")
        hex_id, _, blob = rest.partition("+")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as e:
            raise KeyFormatError("key is not valid base64") from e
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise KeyFormatError("not an Ed25519 key (expected 0x01 and 32 bytes)")
        key = cls.from_seed(name, raw[1:])
        if key.verifier.key_id.hex() != hex_id.lower():
            raise KeyFormatError("key ID does not match name and key")
        return key


@lru_cache(maxsize=65536)
def cached_verifier_key(text: str) -> VerifierKey:
    """``VerifierKey.parse`` for hot loops that meet the same few signers again and again."""
    return VerifierKey.parse(text)
