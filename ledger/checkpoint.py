"""C2SP tlog-checkpoint: the signed statement of a log's size and root hash.

<origin>
<tree size, decimal>
<root hash, standard base64>
[extension lines]
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ledger.keys import SignerKey, VerifierKey
from ledger.note import Note, NoteError, open_note, sign


class CheckpointError(ValueError):
    """A checkpoint that is malformed, unsigned, or for another log."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    def sign(self, key: SignerKey) -> str:
        return sign(self.text(), key)

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("checkpoint needs origin, size and root lines")
        origin, size, root, *extensions = lines[:-1]
        if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
            raise CheckpointError("tree size is not a decimal number")
        try:
            raw_root = base64.b64decode(root, validate=True)
        except binascii.Error as e:
            raise CheckpointError("root hash is not base64") from e
        if len(raw_root) != 32:
            raise CheckpointError("root hash is not 32 bytes")
        return cls(origin, int(size), raw_root, tuple(extensions))


def open_checkpoint(signed: str, log_key: VerifierKey) -> Checkpoint:
    """Verify a signed checkpoint by the log's key and return what it states."""
    return open_checkpoint_note(signed, log_key)[0]


def open_checkpoint_note(signed: str, log_key: VerifierKey) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint by the log's key: what it states, and the note itself
    (whose other signature lines a reader may check: ``ledger/cosignature.py``)."""
    try:
        note, _ = open_note(signed, log_key)
    except NoteError as e:
        raise CheckpointError(str(e)) from e
    checkpoint = Checkpoint.parse_text(note.text)
    if checkpoint.origin != log_key.name:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} is not the log {log_key.name!r}"
        )
    return checkpoint, note
