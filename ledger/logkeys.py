"""The log's keys over time: rotating the log key without breaking older checkpoints.

A log signs its checkpoints with one key at a time. To retire it, the log records a
**rotation**: a C2SP signed note

    cadreledger.org/log-key-rotation/v1
    <origin>
    <tree size>
    <old verifier key>
    <new verifier key>

signed by the old key *and* by the new one. Checkpoints up to and including that
tree size stay signed by the old key; every later one is signed by the new key. The
old key's signature says the new key is the log's; the new key's says the old one was,
up to that size. So whoever trusts either key — pinned from the genesis, or learned
from today's ``GET /v1/log/key`` — can follow the chain both ways, and a checkpoint
verifies only under the key that was in force at its size: a retired key cannot sign
a later checkpoint, nor the new key an earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.keys import KeyFormatError, SignerKey, VerifierKey
from ledger.note import NoteError, open_note, sign

HEADER = "cadreledger.org/log-key-rotation/v1"


class RotationError(ValueError):
    """A rotation note, or a chain of them, that does not hold."""


@dataclass(frozen=True)
class Rotation:
    origin: str
    size: int  # the last tree size the old key signs
    old: VerifierKey
    new: VerifierKey

    def text(self) -> str:
        return f"{HEADER}\n{self.origin}\n{self.size}\n{self.old}\n{self.new}\n"

    def sign(self, old: SignerKey, new: SignerKey) -> str:
        if old.verifier != self.old or new.verifier != self.new:
            raise RotationError("a rotation is signed by the old key and the new key it names")
        return sign(self.text(), old, new)

    @classmethod
    def open(cls, note: str) -> Rotation:
        """Read a rotation note and check that both keys it names signed it."""
        try:
            text = note[: note.rindex("\n\n") + 1]
            header, origin, size, old, new = text.rstrip("\n").split("\n")
            if header != HEADER or not (size.isascii() and size.isdigit()):
                raise RotationError("not a log key rotation")
            rotation = cls(origin, int(size), VerifierKey.parse(old), VerifierKey.parse(new))
            _, signed_by = open_note(note, rotation.old, rotation.new)
        except (ValueError, KeyFormatError, NoteError) as e:
            raise RotationError(f"rotation note: {e}") from e
        if set(signed_by) != {rotation.old, rotation.new}:
            raise RotationError("a rotation must be signed by both the old and the new key")
        if rotation.old.name != origin or rotation.new.name != origin:
            raise RotationError("both keys must be named as the log's origin")
        if rotation.old == rotation.new:
            raise RotationError("a rotation must change the key")
        return rotation


class LogKeys:
    """Which key signs the checkpoint of which tree size."""

    def __init__(self, first: VerifierKey, rotations: Sequence[Rotation] = ()) -> None:
        self.first = first
        self.rotations = list(rotations)

    @classmethod
    def follow(cls, anchor: VerifierKey, notes: Sequence[str]) -> LogKeys:
        """The chain the rotation notes (in size order) make, which must hold ``anchor``:
        a key the caller trusts (pinned, or the genesis key recorded in the database)."""
        rotations = [Rotation.open(note) for note in notes]
        first = rotations[0].old if rotations else anchor
        for before, after in pairwise(rotations):
            if after.old != before.new:
                raise RotationError(
                    f"the rotation at size {after.size} does not start from the key in force"
                )
            if after.size <= before.size:
                raise RotationError(
                    f"rotation sizes do not grow ({before.size}, then {after.size})"
                )
        keys = cls(first, rotations)
        if anchor not in keys.keys:
            raise RotationError(f"the log's key rotations never name the trusted key {anchor}")
        return keys

    @property
    def keys(self) -> list[VerifierKey]:
        return [self.first, *(r.new for r in self.rotations)]

    @property
    def current(self) -> VerifierKey:
        return self.keys[-1]

    def key_for(self, size: int) -> VerifierKey:
        """The key that signs a checkpoint of ``size`` leaves."""
        key = self.first
        for rotation in self.rotations:
            if size <= rotation.size:
                break
            key = rotation.new
        return key

    def open(self, note: str) -> Checkpoint:
        """Verify a signed checkpoint by the key in force at the size it states."""
        try:
            size = int(note.split("\n", 2)[1])
        except (IndexError, ValueError) as e:
            raise CheckpointError("checkpoint has no tree size line") from e
        return open_checkpoint(note, self.key_for(size))
