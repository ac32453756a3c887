"""The stored event: a signed statement wrapped into its stream's hash chain.

The envelope is the RFC 8785 canonical JSON object

    {"v": 2, "stream": …, "version": n, "prev": hex(hash of event n-1) | null,
     "logged_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
     "statement": {…}, "signer": "name+keyid+base64", "signature": base64}

stored byte for byte; the event hash is SHA-256 of those bytes, and the Merkle leaf
is SHA-256(0x00 ‖ event hash). ``logged_at`` is the log's time (thời điểm ghi sổ): when
the sequencer admitted the event, inside what the event hash covers, so nobody can
change it afterwards. Every time rule is judged by it, never by the signer's
``issued_at``. Envelopes of version 1 (written before the log kept its time) have no
``logged_at``: they still parse and verify, and the verifier says their time rules
were judged by ``issued_at`` only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.canonical import canonical_bytes, canonical_value, safe_int
from ledger.errors import Rejected
from ledger.keys import KeyFormatError, VerifierKey, cached_verifier_key
from ledger.statement import SignedStatement

ENVELOPE_VERSION = 2  # what the sequencer writes
ENVELOPE_FIELDS_V1 = frozenset(
    {"v", "stream", "version", "prev", "statement", "signer", "signature"}
)
ENVELOPE_FIELDS = ENVELOPE_FIELDS_V1 | {"logged_at"}
# The log's time as stored: UTC, always six digits of microseconds, so that the text
# compares as the time does and has one spelling.
# ``ledger_meta`` key: how far (seconds, either way) issued_at may be from logged_at.
MAX_CLOCK_SKEW_META = "max_clock_skew"
LOGGED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9._:/@-]{0,199}$")
TOPIC = "cadreledger:event/v1"  # the eventsourcing topic of every stored event


class EnvelopeError(ValueError):
    """Stored bytes that are not a well-formed canonical envelope."""


def wrap(
    stream: str,
    version: int,
    prev: bytes | None,
    signed: SignedStatement,
    logged_at: datetime | str | None = None,
) -> bytes:
    """The canonical envelope bytes for ``signed`` as event ``version`` of ``stream``,
    admitted by the log at ``logged_at`` (the sequencer always gives it, as the text
    ``format_logged_at`` spells; without it, a version 1 envelope)."""
    return envelope_bytes(
        stream,
        version,
        prev.hex() if prev else None,
        signed.canonical,
        str(signed.signer),
        base64.b64encode(signed.signature).decode(),
        format_logged_at(logged_at) if isinstance(logged_at, datetime) else logged_at,
    )


def format_logged_at(moment: datetime) -> str:
    """The log's time as an envelope holds it (``LOGGED_AT``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_logged_at(text: str) -> datetime:
    """``format_logged_at``'s inverse; ``ValueError`` for any other spelling."""
    if not LOGGED_AT.fullmatch(text):
        raise ValueError(f"not a log time: {text!r}")
    return datetime.fromisoformat(text).astimezone(UTC)


def envelope_bytes(
    stream: str,
    version: int,
    prev: str | None,
    statement: bytes,
    signer: str,
    signature: str,
    logged_at: str | None = None,
) -> bytes:
    """The envelope's RFC 8785 form, laid out directly: JCS orders its keys logged_at,
    prev, signature, signer, statement, stream, v, version, and ``statement`` is already
    canonical, so it is spliced in instead of being serialised a second time. Without
    ``logged_at`` it is a version 1 envelope (what logs wrote before they kept time)."""
    if logged_at is None:
        head, v = b'{"prev":', b',"v":1,"version":'
    else:
        head, v = b'{"logged_at":' + _json(logged_at) + b',"prev":', b',"v":2,"version":'
    return b"".join(
        (
            head,
            _json(prev),
            b',"signature":',
            _json(signature),
            b',"signer":',
            _json(signer),
            b',"statement":',
            statement,
            b',"stream":',
            _json(stream),
            v,
            str(version).encode(),
            b"}",
        )
    )


def _json(value: str | None) -> bytes:
    if value is None:
        return b"null"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return b'"' + value.encode() + b'"'  # nothing to escape: the common case, fast
    return json.dumps(value, ensure_ascii=False).encode()


def event_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


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
    statement_bytes: bytes
    logged_at: datetime | None = None  # None in a version 1 envelope

    @property
    def hash(self) -> bytes:
        return event_hash(self.raw)

    def to_json(self) -> dict[str, Any]:
        envelope: dict[str, Any] = json.loads(self.raw)
        return envelope

    @classmethod
    def parse(cls, raw: bytes) -> Event:
        # Canonical bytes, as every honest envelope is, are known so at once; any other
        # bytes take Python's strict decoder and the re-encoding below, which say why.
        obj = canonical_value(raw)
        canonical = obj is not None
        if obj is None:
            obj = _strict_decode(raw)
        if not isinstance(obj, dict) or obj.get("v") not in (1, 2) or isinstance(obj["v"], bool):
            raise EnvelopeError(f"unknown envelope version {obj.get('v')!r}")  # true == 1
        if obj.keys() != (ENVELOPE_FIELDS if obj["v"] == 2 else ENVELOPE_FIELDS_V1):
            raise EnvelopeError("not an envelope: wrong set of fields")
        logged_at = None
        if obj["v"] == 2:
            try:
                logged_at = parse_logged_at(obj["logged_at"])
            except (TypeError, ValueError) as e:
                raise EnvelopeError(
                    "logged_at is not a log time YYYY-MM-DDTHH:MM:SS.ffffffZ"
                ) from e
        stream, version, prev = obj["stream"], obj["version"], obj["prev"]
        signer_text, signature_text = obj["signer"], obj["signature"]
        if not isinstance(stream, str) or not STREAM_NAME.fullmatch(stream):
            raise EnvelopeError("stream name is malformed")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise EnvelopeError("version is not a positive integer")
        if prev is not None and (not isinstance(prev, str) or len(prev) != 64):
            raise EnvelopeError("prev is not a 64-digit hex hash or null")
        statement = obj["statement"]
        if not isinstance(statement, dict):
            raise EnvelopeError("statement is not an object")
        if not isinstance(signer_text, str) or not isinstance(signature_text, str):
            raise EnvelopeError("signer and signature must be strings")
        try:
            signer = cached_verifier_key(signer_text)
            signature = base64.b64decode(signature_text, validate=True)
            prev_bytes = bytes.fromhex(prev) if prev is not None else None
        except (KeyFormatError, ValueError) as e:
            raise EnvelopeError(f"signer, signature or prev is malformed: {e}") from e
        if prev_bytes is not None and prev_bytes.hex() != prev:
            raise EnvelopeError("prev is not lower-case hex")
        if not canonical:
            try:
                canonical = canonical_bytes(obj) == raw
            except UnicodeEncodeError as e:  # an escaped lone surrogate: JSON, not UTF-8
                raise EnvelopeError(f"a string has no UTF-8 form: {e.reason}") from e
            if not canonical:
                raise EnvelopeError("bytes are not the RFC 8785 canonical form")
        if not raw.isascii() and not unicodedata.is_normalized("NFC", raw.decode()):
            raise EnvelopeError("text is not Unicode NFC")
        statement_bytes = raw[
            raw.index(_STATEMENT_KEY) + len(_STATEMENT_KEY) : raw.rindex(_STREAM_KEY)
        ]
        return cls(
            raw,
            stream,
            version,
            prev_bytes,
            statement,
            signer,
            signature,
            statement_bytes,
            logged_at,
        )


@dataclass(frozen=True, slots=True)
class AdmittedEvent:
    """An event read back from the ledger's own store, for a replay through the rules.

    The sequencer checked its form, signature and place in the chain before it stored
    it, and ``cadreledger verify`` checks them again (V1–V4) with ``Event.parse``; a
    replay needs only the statement, who signed it and the event hash, so ``read``
    decodes the JSON and checks nothing else (with orjson: a replay decodes every stored
    envelope, and the strictness ``Event.parse`` needs of Python's decoder is not asked
    here). Bytes from anywhere else — a request, a bundle, another ledger, the
    verifier's reading of a store — take ``Event.parse``."""

    raw: bytes
    statement: dict[str, Any]
    signer: str  # the signer's verifier key text, as stored
    logged_at: datetime | None  # None in a version 1 envelope

    @property
    def hash(self) -> bytes:
        return event_hash(self.raw)

    @classmethod
    def read(cls, raw: bytes) -> AdmittedEvent:
        try:
            envelope = orjson.loads(raw)
            logged = envelope.get("logged_at")
            at = None if logged is None else datetime.fromisoformat(logged).astimezone(UTC)
            return cls(raw, envelope["statement"], envelope["signer"], at)
        except (
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
        ) as e:  # not even an envelope's shape
            raise EnvelopeError(f"not a stored envelope: {e!r}") from e


def _strict_decode(raw: bytes) -> Any:
    try:
        return _READER.decode(raw.decode("utf-8"))
    except EnvelopeError:
        raise
    except Rejected as e:  # an integer outside ±(2**53 - 1)
        raise EnvelopeError(e.detail_en) from e
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeError(f"not UTF-8 JSON: {e}") from e


def _no_float(literal: str) -> Any:
    # Statements never hold floats (parse_strict refuses them), so stored ones are forged;
    # and "1.0" would pass the canonical-form check below, which is not JCS ("1").
    raise EnvelopeError(f"floating-point number {literal} in an envelope")


# ``Event.parse``'s reader, built once (``json.loads`` with options builds one per call).
_READER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float, parse_int=safe_int)
# In canonical bytes JCS's key order puts the statement between these two keys, and
# it is canonical itself (JCS is compositional), so it can be cut out rather than
# encoded again. The first ',"statement":' is the envelope's: only logged_at, prev,
# signature and signer come before it, strings whose quotes would be escaped. The last ',"stream":'
# is the envelope's: only the stream name, v and version come after it.
_STATEMENT_KEY = b',"statement":'
_STREAM_KEY = b',"stream":'
