"""The text vault (kho văn bản): sealed texts encrypted at rest, one key per data subject.

Each disclosed text (``ledger.texts``) is stored as AES-256-GCM of ``salt ‖ UTF-8 text``
under its data subject's key, with the commitment and the event hash as associated
data, so a ciphertext moved to another row does not open. Subjects' keys are random,
wrapped (AES key wrap, RFC 3394) by the key-encryption key kept in a file beside the
log's key, and written in the same transaction as the batch whose texts need them.

Crypto-shredding (``erase``) destroys a subject's keys: their texts become noise,
salts included, so not even a guess of a short text can be confirmed against its
commitment. Nothing signed changes, so every proof and check still holds.

Keys are looked up under the writer lock for every batch that seals texts, and never
cached by ``reveal``: an erasure in another process takes effect at the next read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from ledger.statement import SignedStatement
from ledger.store import DataKeyRow, LogStore, TextRow
from ledger.texts import SALT_BYTES, commit

log = logging.getLogger(__name__)

KEY_FILE_PREFIX = "cadreledger-data-key-v1:"
_AAD = b"cadreledger sealed text v1\n"
_NONCE_BYTES = 12
_MAX_CACHED_KEYS = 100_000
MAX_REASON_CHARS = 500

SubjectOf = Callable[[Mapping[str, Any]], str]


class DataKeyError(ValueError):
    """The key-encryption key's file is missing, unreadable or not this ledger's."""


# -- the key-encryption key (khóa mã hóa khóa) ------------------------------------------


def create_key_file(path: Path) -> bytes:
    """A new random key-encryption key, written to ``path`` (mode 0600, never overwritten)."""
    kek = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(KEY_FILE_PREFIX + base64.b64encode(kek).decode() + "\n")
    return kek


def read_key_file(path: Path) -> bytes:
    text = path.read_text().strip()
    if not text.startswith(KEY_FILE_PREFIX):
        raise DataKeyError(f"{path} is not a cadreledger data key file")
    try:
        kek = base64.b64decode(text[len(KEY_FILE_PREFIX) :], validate=True)
    except ValueError as e:
        raise DataKeyError(f"{path}: the key is not base64") from e
    if len(kek) != 32:
        raise DataKeyError(f"{path}: the key is not 32 bytes")
    return kek


def key_id(kek: bytes) -> str:
    """What names a key-encryption key without revealing it (recorded in the log's meta)."""
    return hashlib.sha256(b"cadreledger data key id\n" + kek).hexdigest()[:16]


# -- what reading gives ------------------------------------------------------------------

NOTICES = {
    "erased": (
        "Văn bản đã bị xóa theo yêu cầu xóa dữ liệu cá nhân; sổ cái chỉ còn cam kết.",
        "This text was erased on a personal-data deletion request; the ledger keeps only "
        "its commitment.",
    ),
    "unavailable": (
        "Không đọc được văn bản này tại đây (thiếu khóa dữ liệu).",
        "This text cannot be read here (the data key is not available).",
    ),
    "withheld": (
        "Bạn không có quyền xem văn bản này.",
        "You are not allowed to read this text.",
    ),
    "missing": (
        "Không có văn bản nào được lưu cho cam kết này.",
        "No text is stored for this commitment.",
    ),
}


@dataclass(frozen=True)
class Revealed:
    """A sealed text as a reader gets it: the text, or why not (``status``)."""

    status: str  # revealed | erased | unavailable | withheld | missing
    text: str | None = None

    @property
    def erased(self) -> bool:
        return self.status == "erased"

    def __repr__(self) -> str:  # the text stays out of logs and tracebacks
        return f"Revealed(status={self.status!r})"

    def to_json(self, commitment: str) -> dict[str, Any]:
        """``{"sealed", "text", "erased"}``, and a notice in both languages when no text."""
        shown: dict[str, Any] = {"sealed": commitment, "text": self.text, "erased": self.erased}
        if self.text is None:
            shown["notice_vi"], shown["notice_en"] = NOTICES[self.status]
        return shown


WITHHELD = Revealed("withheld")


@dataclass(frozen=True)
class Erasure:
    """One crypto-shredding: whose keys, when, why, and how much became unreadable."""

    subject: str
    erased_at: str
    reason: str
    keys: int
    texts: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- the vault ---------------------------------------------------------------------------


class TextVault:
    """Sealed texts of one ledger database. ``kek`` None: nothing can be stored or read
    (a reader without the key file); ``subject_of`` names a statement's data subject."""

    def __init__(self, store: LogStore, kek: bytes | None, subject_of: SubjectOf) -> None:
        self.store = store
        self.kek = kek
        self.kek_id = key_id(kek) if kek is not None else None
        self.subject_of = subject_of
        self._ciphers: dict[str, AESGCM] = {}  # kid → its subject's cipher (writer only)

    @property
    def can_store(self) -> bool:
        return self.kek is not None

    # -- writing (the sequencer, under the writer lock, inside the batch) --------------

    def seal_batch(
        self, items: Sequence[tuple[SignedStatement, bytes]]
    ) -> tuple[list[DataKeyRow], list[TextRow]]:
        """Rows for a batch's admitted statements with texts (statement, event hash): new
        data keys, and the encrypted texts. Keys are the live ones in the database now."""
        if self.kek is None or self.kek_id is None:
            raise DataKeyError("no data key: this ledger cannot store sealed texts")
        subjects = {id(signed): self.subject_of(signed.statement) for signed, _ in items}
        live = self._live_keys(sorted(set(subjects.values())))
        new_keys: list[DataKeyRow] = []
        now = _now()
        for subject in sorted(set(subjects.values()) - set(live)):
            dek, kid = secrets.token_bytes(32), secrets.token_hex(16)
            new_keys.append(DataKeyRow(kid, subject, self.kek_id, aes_key_wrap(self.kek, dek), now))
            self._remember(kid, dek)
            live[subject] = kid
        texts: list[TextRow] = []
        for signed, event in items:
            subject = subjects[id(signed)]
            kid = live[subject]
            cipher = self._ciphers[kid]
            for commitment, disclosure in signed.texts.items():
                nonce = secrets.token_bytes(_NONCE_BYTES)
                plain = disclosure.salt + disclosure.text.encode()
                box = nonce + cipher.encrypt(nonce, plain, _aad(commitment, event))
                texts.append(TextRow(commitment, event, subject, kid, box))
        return new_keys, texts

    def _live_keys(self, subjects: Sequence[str]) -> dict[str, str]:
        """subject → kid of a key the database holds for it now (unwrapped, cached)."""
        live: dict[str, str] = {}
        for chunk in _chunks(list(subjects), 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                "SELECT kid, subject, kek, wrapped FROM ledger_data_keys"
                f" WHERE subject IN ({marks}) ORDER BY kid",
                chunk,
            )
            for r in rows:
                if r["subject"] in live or r["kek"] != self.kek_id:
                    continue  # a key wrapped by another KEK cannot take new texts
                kid = str(r["kid"])
                if kid not in self._ciphers:
                    assert self.kek is not None
                    self._remember(kid, aes_key_unwrap(self.kek, bytes(r["wrapped"])))
                live[str(r["subject"])] = kid
        return live

    def _remember(self, kid: str, dek: bytes) -> None:
        if len(self._ciphers) > _MAX_CACHED_KEYS:
            self._ciphers.clear()
        self._ciphers[kid] = AESGCM(dek)

    # -- reading -----------------------------------------------------------------------

    def reveal(self, commitments: Iterable[str]) -> dict[str, Revealed]:
        """Each commitment's text, or why there is none. Reads the keys afresh each time."""
        wanted = sorted(set(commitments))
        found: dict[str, Revealed] = {}
        unwrapped: dict[str, AESGCM | None] = {}
        for chunk in _chunks(wanted, 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                "SELECT t.commitment, t.event, t.kid, t.box, k.kek, k.wrapped"
                " FROM ledger_texts t LEFT JOIN ledger_data_keys k ON k.kid = t.kid"
                f" WHERE t.commitment IN ({marks})",
                chunk,
            )
            for r in rows:
                commitment = str(r["commitment"])
                if found.get(commitment, WITHHELD).status == "revealed":
                    continue
                found[commitment] = self._open(r, unwrapped)
        return {c: found.get(c, Revealed("missing")) for c in wanted}

    def subjects(self, commitments: Iterable[str]) -> dict[str, str]:
        """Each stored text's data subject (whose key seals it: the cadre it is about,
        else its author), as recorded when it was sealed."""
        found: dict[str, str] = {}
        for chunk in _chunks(list(commitments), 500):
            rows = self.store.query(
                "SELECT t.commitment, k.subject FROM ledger_texts t"
                " JOIN ledger_data_keys k ON k.kid = t.kid"
                f" WHERE t.commitment IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((str(r["commitment"]), str(r["subject"])) for r in rows)
        return found

    def _open(self, row: Any, unwrapped: dict[str, AESGCM | None]) -> Revealed:
        if row["wrapped"] is None:
            return Revealed("erased")
        kid = str(row["kid"])
        if kid not in unwrapped:
            unwrapped[kid] = None
            if self.kek is not None and row["kek"] == self.kek_id:
                try:
                    unwrapped[kid] = AESGCM(aes_key_unwrap(self.kek, bytes(row["wrapped"])))
                except InvalidUnwrap:
                    log.error("data key %s does not unwrap with this ledger's data key", kid)
        cipher = unwrapped[kid]
        if cipher is None:
            return Revealed("unavailable")
        commitment, box = str(row["commitment"]), bytes(row["box"])
        try:
            plain = cipher.decrypt(
                box[:_NONCE_BYTES], box[_NONCE_BYTES:], _aad(commitment, bytes(row["event"]))
            )
        except InvalidTag:
            log.error("a sealed text's ciphertext does not open: row %s changed", commitment)
            return Revealed("unavailable")
        salt, text = plain[:SALT_BYTES], plain[SALT_BYTES:].decode()
        if not hmac.compare_digest(commit(salt, text), commitment):
            log.error("a sealed text does not match its commitment %s", commitment)
            return Revealed("unavailable")
        return Revealed("revealed", text)

    # -- crypto-shredding --------------------------------------------------------------

    def erase(self, subject: str, reason: str) -> Erasure:
        """Destroy every data key of ``subject`` and record that it was done, when and why.

        Takes the writer lock, so no batch is sealing texts under those keys meanwhile;
        texts the subject gets later are sealed under a new key. Needs no key file."""
        reason = unicodedata.normalize("NFC", reason).strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise ValueError(
                f"lý do xóa phải có và tối đa {MAX_REASON_CHARS} ký tự / the reason for "
                f"erasure must be given and at most {MAX_REASON_CHARS} characters"
            )
        if not subject or len(subject) > 200:
            raise ValueError("chủ thể không hợp lệ / the subject is not valid")
        sql = self.store.sql
        with self.store.writer_lock(), self.store.forgetting() as cursor:
            cursor.execute(
                sql(
                    "SELECT COUNT(*) AS n FROM ledger_texts t JOIN ledger_data_keys k"
                    " ON k.kid = t.kid WHERE k.subject = ?"
                ),
                (subject,),
            )
            texts = int(cursor.fetchall()[0]["n"])
            # Overwrite before deleting: what a page keeps of a deleted row is zeros.
            cursor.execute(
                sql("UPDATE ledger_data_keys SET wrapped = ? WHERE subject = ?"),
                (bytes(40), subject),
            )
            cursor.execute(
                sql("DELETE FROM ledger_data_keys WHERE subject = ? RETURNING kid"), (subject,)
            )
            keys = len(cursor.fetchall())
            erasure = Erasure(subject, _now(), reason, keys, texts)
            cursor.execute(
                sql(
                    "INSERT INTO ledger_erasures (subject, erased_at, reason, keys, texts)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                (subject, erasure.erased_at, reason, keys, texts),
            )
        return erasure

    def erasures(self, subject: str | None = None) -> list[Erasure]:
        rows = self.store.query(
            "SELECT subject, erased_at, reason, keys, texts FROM ledger_erasures"
            + (" WHERE subject = ?" if subject is not None else "")
            + " ORDER BY erased_at",
            (subject,) if subject is not None else (),
        )
        return [
            Erasure(str(r["subject"]), str(r["erased_at"]), str(r["reason"]), r["keys"], r["texts"])
            for r in rows
        ]


def _aad(commitment: str, event: bytes) -> bytes:
    return _AAD + bytes.fromhex(commitment) + event


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
