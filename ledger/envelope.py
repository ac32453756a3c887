"""The stored event: a signed statement sealed into its stream's hash chain.

The envelope is the RFC 8785 canonical JSON object

    {"v": 1, "stream": …, "version": n, "prev": hex(hash of event n-1) | null,
     "statement": {…}, "signer": "name+keyid+base64", "signature": base64}

stored byte for byte; the event hash is SHA-256 of those bytes, and the Merkle leaf
is SHA-256(0x00 ‖ event hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.errors import Rejected
from ledger.keys import KeyFormatError, VerifierKey, cached_verifier_key
from ledger.merkle import leaf_hash
from ledger.statement import SignedStatement

ENVELOPE_VERSION = 1
ENVELOPE_FIELDS = frozenset({"v", "stream", "version", "prev", "statement", "signer", "signature"})
STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9._:/@-]{0,199}$")
TOPIC = "cadreledger:event/v1"  # the eventsourcing topic of every stored event


class EnvelopeError(ValueError):
    """Stored bytes that are not a well-formed canonical envelope."""


def seal(stream: str, version: int, prev: bytes | None, signed: SignedStatement) -> bytes:
    """The canonical envelope bytes for ``signed`` as event ``version`` of ``stream``."""
    return canonical_bytes(
        {
            "v": ENVELOPE_VERSION,
            "stream": stream,
            "version": version,
            "prev": prev.hex() if prev else None,
            "statement": signed.statement,
            "signer": str(signed.signer),
            "signature": base64.b64encode(signed.signature).decode(),
        }
    )


def event_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def event_leaf(raw: bytes) -> bytes:
    return leaf_hash(event_hash(raw))


@dataclass(frozen=True)
class Event:
    """A stored event, read back and checked for form (not yet for signature or chain)."""

    raw: bytes
    stream: str
    version: int
    prev: bytes | None
    statement: dict[str, Any]
    signer: VerifierKey
    signature: bytes

    @property
    def hash(self) -> bytes:
        return event_hash(self.raw)

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.statement)

    def to_json(self) -> dict[str, Any]:
        envelope: dict[str, Any] = json.loads(self.raw)
        return envelope

    @classmethod
    def parse(cls, raw: bytes) -> Event:
        try:
            text = raw.decode("utf-8")
            obj = json.loads(text, parse_float=_no_float, parse_constant=_no_float)
        except EnvelopeError:
            raise
        except (UnicodeDecodeError, ValueError) as e:
            raise EnvelopeError(f"not UTF-8 JSON: {e}") from e
        if not isinstance(obj, dict) or set(obj) != ENVELOPE_FIELDS:
            raise EnvelopeError("not an envelope: wrong set of fields")
        if obj["v"] != ENVELOPE_VERSION:
            raise EnvelopeError(f"unknown envelope version {obj['v']!r}")
        stream, version, prev = obj["stream"], obj["version"], obj["prev"]
        if not isinstance(stream, str) or not STREAM_NAME.fullmatch(stream):
            raise EnvelopeError("stream name is malformed")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise EnvelopeError("version is not a positive integer")
        if prev is not None and (not isinstance(prev, str) or len(prev) != 64):
            raise EnvelopeError("prev is not a 64-digit hex hash or null")
        statement = obj["statement"]
        if not isinstance(statement, dict):
            raise EnvelopeError("statement is not an object")
        try:
            signer = cached_verifier_key(str(obj["signer"]))
            signature = base64.b64decode(str(obj["signature"]), validate=True)
            prev_bytes = bytes.fromhex(prev) if prev is not None else None
        except (KeyFormatError, ValueError) as e:
            raise EnvelopeError(f"signer, signature or prev is malformed: {e}") from e
        try:
            canonical = canonical_bytes(obj)
        except Rejected as e:  # an integer outside ±(2**53 - 1)
            raise EnvelopeError(e.detail_en) from e
        if canonical != raw:
            raise EnvelopeError("bytes are not the RFC 8785 canonical form")
        if not unicodedata.is_normalized("NFC", text):
            raise EnvelopeError("text is not Unicode NFC")
        return cls(raw, stream, version, prev_bytes, statement, signer, signature)


def _no_float(literal: str) -> Any:
    # Statements never hold floats (parse_strict refuses them), so stored ones are forged;
    # and "1.0" would pass the canonical-form check below, which is not JCS ("1").
    raise EnvelopeError(f"floating-point number {literal} in an envelope")
