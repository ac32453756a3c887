"""Sealed texts (văn bản niêm phong): a commitment in the signed statement, the text beside it.

A free text about a person may be given, anywhere in a statement, as the sealed value

    {"sealed": hex(HMAC-SHA256(key = salt, message = UTF-8 of the NFC text))}

with a fresh random 32-byte salt. The signature covers the commitment, so the signer
is bound to the text; the text itself travels beside the statement, unsigned, in the
submission's ``texts`` member — ``{"<commitment>": {"salt": base64, "text": "…"}}`` —
and is kept encrypted outside the log, where it can be destroyed (see ``ledger.vault``)
without touching a single signed byte. The salt makes the commitment hiding: without
it, a short text (a level, "đồng ý") cannot be confirmed by guessing.

Intake refuses the whole submission unless every sealed value has a disclosure that
matches it, every disclosure belongs to a sealed value, and each text is NFC, not
blank and at most ``MAX_TEXT_CHARS`` long — so a sealed reason is always a reason given.
An object with a ``sealed`` member is a sealed value and nothing else: any other shape
is refused, so nothing can hide behind the name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import PROBLEMS, Rejected

SEALED = "sealed"
SALT_BYTES = 32
MAX_TEXT_CHARS = 20_000  # as the domain's plain texts
MAX_TEXTS = 64  # disclosures per submission
_COMMITMENT = re.compile(r"[0-9a-f]{64}")

_p = PROBLEMS.add
INVALID_SEALED_VALUE = _p(
    "invalid-sealed-value",
    400,
    "Giá trị niêm phong không hợp lệ",
    "Invalid sealed value",
)
UNDISCLOSED_TEXT = _p(
    "undisclosed-text",
    400,
    "Thiếu văn bản cho giá trị niêm phong",
    "A sealed value has no disclosed text",
)
INVALID_DISCLOSURE = _p(
    "invalid-disclosure", 400, "Văn bản kèm theo không hợp lệ", "Invalid text disclosure"
)
DISCLOSURE_MISMATCH = _p(
    "disclosure-mismatch",
    400,
    "Văn bản không khớp cam kết đã ký",
    "The disclosed text does not match its signed commitment",
)


@dataclass(frozen=True)
class SealedText:
    """A text committed to but not written into the statement: its commitment (hex)."""

    commitment: str

    def to_json(self) -> dict[str, str]:
        return {SEALED: self.commitment}


@dataclass(frozen=True)
class Disclosure:
    """What opens a commitment. Never printed: ``repr`` shows neither salt nor text."""

    salt: bytes = field(repr=False)
    text: str = field(repr=False)

    @property
    def commitment(self) -> str:
        return commit(self.salt, self.text)

    def to_json(self) -> dict[str, str]:
        return {"salt": base64.b64encode(self.salt).decode(), "text": self.text}


def commit(salt: bytes, text: str) -> str:
    """The commitment to ``text`` under ``salt``: HMAC-SHA256, hex."""
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def sealed_value(value: Any) -> SealedText | None:
    """``value`` as a sealed value; ``None`` if it is not one; refused if it only looks like one."""
    if not isinstance(value, dict) or SEALED not in value:
        return None
    commitment = value[SEALED]
    if len(value) != 1 or not isinstance(commitment, str) or not _COMMITMENT.fullmatch(commitment):
        raise Rejected(
            INVALID_SEALED_VALUE,
            'Giá trị niêm phong phải có đúng dạng {"sealed": "<64 ký tự hex thường>"}.',
            'A sealed value must be exactly {"sealed": "<64 lower-case hex digits>"}.',
        )
    return SealedText(commitment)


def commitments(value: Any) -> list[str]:
    """Every commitment sealed anywhere in ``value``, first occurrence first."""
    return list(dict.fromkeys(_walk(value)))


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        found = sealed_value(value)
        if found is not None:
            yield found.commitment
            return
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def parse_disclosures(texts: Any) -> dict[str, Disclosure]:
    """A submission's ``texts`` member, read (not yet held to the statement)."""
    if not isinstance(texts, dict) or len(texts) > MAX_TEXTS:
        raise _invalid(
            f"texts phải là đối tượng tối đa {MAX_TEXTS} mục {{cam kết: {{salt, text}}}}",
            f"texts must be an object of at most {MAX_TEXTS} {{commitment: {{salt, text}}}}",
        )
    found: dict[str, Disclosure] = {}
    for commitment, item in texts.items():
        if not _COMMITMENT.fullmatch(commitment):
            raise _invalid(
                "khóa của texts phải là cam kết (64 ký tự hex thường)",
                "each key of texts must be a commitment (64 lower-case hex digits)",
            )
        if not isinstance(item, dict) or set(item) != {"salt", "text"}:
            raise _invalid(
                "mỗi mục của texts phải có đúng hai trường salt, text",
                "each entry of texts must have exactly the fields salt, text",
                commitment=commitment,
            )
        try:
            salt = base64.b64decode(str(item["salt"]), validate=True)
        except binascii.Error:
            salt = b""
        if len(salt) != SALT_BYTES:
            raise _invalid(
                f"salt phải là {SALT_BYTES} byte ngẫu nhiên, mã base64",
                f"salt must be {SALT_BYTES} random bytes in base64",
                commitment=commitment,
            )
        text = item["text"]
        if not isinstance(text, str):
            raise _invalid("text phải là chuỗi", "text must be a string", commitment=commitment)
        found[commitment] = Disclosure(salt, text)
    return found


def check_disclosures(
    statement: Mapping[str, Any], texts: Mapping[str, Disclosure], canonical: bytes | None = None
) -> dict[str, Disclosure]:
    """Hold the disclosures to the statement's sealed values; return them, or refuse.

    ``canonical`` (the statement's bytes) lets a statement with nothing sealed skip the walk."""
    sealed = (
        [] if canonical is not None and b'"sealed"' not in canonical else commitments(statement)
    )
    if not sealed and not texts:
        return {}
    undisclosed = [c for c in sealed if c not in texts]
    if undisclosed:
        raise Rejected(
            UNDISCLOSED_TEXT,
            f"Tuyên bố niêm phong {len(undisclosed)} văn bản mà không kèm văn bản (texts).",
            f"The statement seals {len(undisclosed)} text(s) without disclosing them (texts).",
            commitments=undisclosed,
        )
    unused = sorted(set(texts) - set(sealed))
    if unused:
        raise _invalid(
            "có văn bản không ứng với giá trị niêm phong nào trong tuyên bố",
            "discloses a text for no sealed value in the statement",
            commitments=unused,
        )
    for commitment in sealed:
        disclosure = texts[commitment]
        text = disclosure.text
        if not unicodedata.is_normalized("NFC", text):
            raise _invalid(
                "văn bản chưa ở dạng Unicode NFC; hãy chuẩn hóa NFC trước khi niêm phong",
                "a text is not in Unicode NFC; normalise it before sealing",
                commitment=commitment,
            )
        if not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise _invalid(
                f"văn bản niêm phong không được trống và tối đa {MAX_TEXT_CHARS} ký tự",
                f"a sealed text must not be blank and at most {MAX_TEXT_CHARS} characters",
                commitment=commitment,
            )
        if len(disclosure.salt) != SALT_BYTES:
            raise _invalid(f"salt phải là {SALT_BYTES} byte", f"salt must be {SALT_BYTES} bytes")
        if not hmac.compare_digest(disclosure.commitment, commitment):
            raise Rejected(
                DISCLOSURE_MISMATCH,
                "Văn bản và salt kèm theo không cho ra cam kết đã ký "
                "HMAC-SHA256(salt, văn bản NFC).",
                "The disclosed salt and text do not give the signed commitment "
                "HMAC-SHA256(salt, NFC text).",
                commitment=commitment,
            )
    return {c: texts[c] for c in sealed}


def disclosures_json(texts: Mapping[str, Disclosure]) -> dict[str, dict[str, str]]:
    return {c: d.to_json() for c, d in texts.items()}


class Sealer:
    """A client's helper: seals texts for one statement and keeps their disclosures."""

    def __init__(self) -> None:
        self.texts: dict[str, Disclosure] = {}

    def seal(self, text: str) -> dict[str, str]:
        """The sealed value to put in the statement instead of ``text`` (made NFC)."""
        disclosure = Disclosure(secrets.token_bytes(SALT_BYTES), unicodedata.normalize("NFC", text))
        commitment = disclosure.commitment
        self.texts[commitment] = disclosure
        return {SEALED: commitment}

    def seal_fields(self, body: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
        """``body`` with each non-blank string at one of ``names`` sealed (top level)."""
        return {
            k: self.seal(v) if k in names and isinstance(v, str) and v.strip() else v
            for k, v in body.items()
        }


def _invalid(vi: str, en: str, **extensions: Any) -> Rejected:
    return Rejected(
        INVALID_DISCLOSURE, f"Phần texts: {vi}.", f"The texts member: {en}.", **extensions
    )
