"""C2SP signed notes: a text, a blank line, and one signature line per signer.

A signature line is ``— <key name> <base64(key ID ‖ signature)>``. Only signatures by
keys the reader knows count; unknown signers are carried along but never trusted.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ledger.keys import SignerKey, VerifierKey

EM_DASH = "\u2014"


class NoteError(ValueError):
    """A note that is malformed, or carries no valid signature from a trusted key."""


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign(text: str, *signers: SignerKey) -> str:
    """The signed note for ``text`` (which must end in a newline)."""
    _check_text(text)
    message = text.encode()
    sigs = tuple(NoteSignature(k.name, k.verifier.key_id, k.sign(message)) for k in signers)
    return str(Note(text, sigs))


def parse(note: str) -> Note:
    if not note.isascii():
        try:
            note.encode()
        except UnicodeEncodeError as e:  # stored bytes that were not UTF-8 (ledger.store)
            raise NoteError("note is not UTF-8 text") from e
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line before the signatures")
    text = note[: split + 1]
    _check_text(text)
    signatures = []
    for line in note[split + 2 :].splitlines():
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(prefix) :].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as e:  # binascii.Error, or a plain ValueError for non-ASCII text
            raise NoteError("signature is not valid base64") from e
        if len(raw) < 5 or not name:
            raise NoteError("signature line too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("note has no signatures")
    return Note(text, tuple(signatures))


def open_note(note: str, *trusted: VerifierKey) -> tuple[Note, list[VerifierKey]]:
    """Parse ``note`` and return it with the trusted keys whose signatures verify.

    A signature by a trusted key that does not verify is an error, not an omission:
    it means the note was altered.
    """
    parsed = parse(note)
    message = parsed.text.encode()
    by_id = {(k.name, k.key_id): k for k in trusted}
    verified: list[VerifierKey] = []
    for sig in parsed.signatures:
        key = by_id.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(sig.signature, message):
            raise NoteError(f"signature by {key.name} does not verify")
        verified.append(key)
    if not verified:
        raise NoteError("no signature by a trusted key")
    return parsed, verified


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and hold no blank line")
