"""Signed statements: what a person asserts, signed with their own key.

A statement is a JSON object ``{v, type, actor, issued_at, nonce, ...body}``. Its
signature is Ed25519 over its RFC 8785 canonical bytes, by a key whose name is the
actor. A submission carries the statement, the signer's verifier key and the
signature; the ledger keeps all three verbatim.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.canonical import canonical_bytes, parse_strict, validate
from ledger.errors import (
    BAD_SIGNATURE,
    INVALID_KEY,
    INVALID_STATEMENT,
    SIGNER_MISMATCH,
    UNKNOWN_VERSION,
    Rejected,
)
from ledger.keys import KeyFormatError, SignerKey, VerifierKey, cached_verifier_key
from ledger.texts import Disclosure, check_disclosures, disclosures_json, parse_disclosures

SUPPORTED_VERSIONS = frozenset({1})
MAX_STATEMENT_BYTES = 64 * 1024
MAX_TEXTS_BYTES = 128 * 1024  # the sealed texts disclosed beside the statement
MAX_SUBMISSION_BYTES = MAX_STATEMENT_BYTES + MAX_TEXTS_BYTES + 1024

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_ACTOR = re.compile(r"^[a-z0-9][a-z0-9._@/-]{0,127}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
REQUIRED = ("v", "type", "actor", "issued_at", "nonce")


@dataclass(frozen=True)
class SignedStatement:
    """A statement with its signer and signature, checked and canonicalised, and the
    texts it seals (``ledger.texts``), checked against their commitments."""

    statement: dict[str, Any]
    canonical: bytes
    signer: VerifierKey
    signature: bytes
    texts: Mapping[str, Disclosure] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def actor(self) -> str:
        return str(self.statement["actor"])

    @property
    def nonce(self) -> str:
        return str(self.statement["nonce"])

    @property
    def type(self) -> str:
        return str(self.statement["type"])

    @property
    def digest(self) -> bytes:
        """SHA-256 of the canonical statement: what makes a retry recognisable."""
        return hashlib.sha256(self.canonical).digest()

    def submission(self) -> dict[str, Any]:
        submission = {
            "statement": self.statement,
            "signer": str(self.signer),
            "signature": base64.b64encode(self.signature).decode(),
        }
        if self.texts:
            submission["texts"] = disclosures_json(self.texts)
        return submission


def check_statement(statement: Any) -> dict[str, Any]:
    """Check the envelope fields every statement has; return it unchanged."""
    if not isinstance(statement, dict):
        raise _invalid("$", "phải là một đối tượng JSON", "must be a JSON object")
    if "v" not in statement:
        raise _invalid("v", "bị thiếu", "is missing")
    version = statement["v"]
    # Type first: an object or a list is unhashable, and a bool is an int to Python.
    if (
        not isinstance(version, int)
        or isinstance(version, bool)
        or version not in SUPPORTED_VERSIONS
    ):
        raise Rejected(
            UNKNOWN_VERSION,
            f"Phiên bản tuyên bố {version!r} không được hỗ trợ (hỗ trợ: 1).",
            f"Statement version {version!r} is not supported (supported: 1).",
            supported=sorted(SUPPORTED_VERSIONS),
        )
    for field in REQUIRED:
        if field not in statement:
            raise _invalid(field, "bị thiếu", "is missing")
    checks = (
        ("type", _TYPE, "dạng a.b_c", "like a.b_c"),
        ("actor", _ACTOR, "là định danh chữ thường", "a lower-case identifier"),
        ("nonce", _NONCE, "16–64 ký tự base64url", "16–64 base64url characters"),
        ("issued_at", _TIME, "thời điểm UTC RFC 3339", "an RFC 3339 UTC time"),
    )
    for field, pattern, vi, en in checks:
        value = statement[field]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _invalid(field, f"phải {vi}", f"must be {en}")
    try:
        datetime.fromisoformat(statement["issued_at"])
    except ValueError as e:
        raise _invalid("issued_at", "không phải ngày giờ có thật", "is not a real time") from e
    return statement


def parse_submission(data: bytes) -> SignedStatement:
    """Untrusted bytes to a verified signed statement, or ``Rejected`` with the cause."""
    return _verified(parse_strict(data, max_bytes=MAX_SUBMISSION_BYTES))


def _verified(submission: Any) -> SignedStatement:
    if not isinstance(submission, dict) or set(submission) - {"texts"} != {
        "statement",
        "signer",
        "signature",
    }:
        raise _invalid(
            "$",
            "phải có đúng ba trường statement, signer, signature (và có thể texts)",
            "must have exactly the fields statement, signer, signature (and maybe texts)",
        )
    statement = check_statement(submission["statement"])
    canonical = canonical_bytes(statement)
    if len(canonical) > MAX_STATEMENT_BYTES:
        raise _invalid(
            "statement",
            f"dài quá {MAX_STATEMENT_BYTES} byte",
            f"is longer than {MAX_STATEMENT_BYTES} bytes",
        )
    signer_text, signature_text = submission["signer"], submission["signature"]
    try:
        signer = cached_verifier_key(str(signer_text))
    except KeyFormatError as e:
        raise Rejected(
            INVALID_KEY,
            f"Khóa người ký không hợp lệ: {e}.",
            f"The signer key is invalid: {e}.",
        ) from e
    if signer.name != statement["actor"]:
        raise Rejected(
            SIGNER_MISMATCH,
            f"Khóa ký mang tên {signer.name!r} nhưng người thực hiện là {statement['actor']!r}.",
            f"The key is named {signer.name!r} but the actor is {statement['actor']!r}.",
        )
    try:
        signature = base64.b64decode(str(signature_text), validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text (a plain ValueError)
        raise _bad_signature() from e
    if len(signature) != 64 or not signer.verify(signature, canonical):
        raise _bad_signature()
    disclosed = parse_disclosures(submission["texts"]) if "texts" in submission else {}
    texts = check_disclosures(statement, disclosed, canonical)
    return SignedStatement(statement, canonical, signer, signature, texts)


def sign_statement(
    statement: dict[str, Any], key: SignerKey, texts: Mapping[str, Disclosure] | None = None
) -> SignedStatement:
    """Sign as ``key``'s holder, with the disclosures of the texts it seals (a
    ``ledger.texts.Sealer``'s). For clients, the demo and tests; the server never does."""
    check_statement(statement)
    validate(statement)
    canonical = canonical_bytes(statement)
    checked = check_disclosures(statement, texts or {}, canonical)
    return SignedStatement(statement, canonical, key.verifier, key.sign(canonical), checked)


def _invalid(field: str, vi: str, en: str) -> Rejected:
    return Rejected(
        INVALID_STATEMENT,
        f"Trường {field} của tuyên bố {vi}.",
        f"The statement field {field} {en}.",
        field=field,
    )


def _bad_signature() -> Rejected:
    return Rejected(
        BAD_SIGNATURE,
        "Chữ ký Ed25519 không khớp với bản chuẩn hóa RFC 8785 của tuyên bố.",
        "The Ed25519 signature does not verify over the statement's RFC 8785 bytes.",
    )
