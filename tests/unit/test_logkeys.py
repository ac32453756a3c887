"""Log key rotations: the note, the chain, and which key signs which size."""

from __future__ import annotations

import pytest

from ledger.checkpoint import Checkpoint, CheckpointError
from ledger.keys import SignerKey
from ledger.logkeys import LogKeys, Rotation, RotationError
from ledger.note import sign

ORIGIN = "example.org/log"


def keys(n: int) -> list[SignerKey]:
    return [SignerKey.generate(ORIGIN) for _ in range(n)]


def rotation(old: SignerKey, new: SignerKey, size: int) -> str:
    return Rotation(ORIGIN, size, old.verifier, new.verifier).sign(old, new)


def test_a_rotation_note_names_both_keys_and_is_signed_by_both() -> None:
    a, b = keys(2)
    opened = Rotation.open(rotation(a, b, 10))
    assert (opened.size, opened.old, opened.new) == (10, a.verifier, b.verifier)


@pytest.mark.parametrize("signers", ["old", "new"])
def test_one_signature_is_not_enough(signers: str) -> None:
    a, b = keys(2)
    text = Rotation(ORIGIN, 10, a.verifier, b.verifier).text()
    with pytest.raises(RotationError):
        Rotation.open(sign(text, a if signers == "old" else b))


def test_an_altered_note_does_not_open() -> None:
    a, b = keys(2)
    note = rotation(a, b, 10).replace("\n10\n", "\n11\n")
    with pytest.raises(RotationError):
        Rotation.open(note)


def test_each_size_has_the_key_in_force() -> None:
    a, b, c = keys(3)
    chain = LogKeys.follow(a.verifier, [rotation(a, b, 10), rotation(b, c, 20)])
    assert chain.keys == [a.verifier, b.verifier, c.verifier]
    assert [chain.key_for(s) for s in (0, 10, 11, 20, 21)] == [
        a.verifier,
        a.verifier,
        b.verifier,
        b.verifier,
        c.verifier,
    ]
    assert chain.current == c.verifier


def test_any_key_of_the_chain_anchors_it_and_a_stranger_does_not() -> None:
    a, b = keys(2)
    notes = [rotation(a, b, 10)]
    assert LogKeys.follow(b.verifier, notes).key_for(5) == a.verifier  # the new key vouches back
    with pytest.raises(RotationError):
        LogKeys.follow(SignerKey.generate(ORIGIN).verifier, notes)


@pytest.mark.parametrize("broken", ["gap", "sizes"])
def test_a_chain_must_link_and_grow(broken: str) -> None:
    a, b, c = keys(3)
    if broken == "gap":  # the second rotation does not start from the key in force
        notes = [rotation(a, b, 10), rotation(a, c, 20)]
    else:
        notes = [rotation(a, b, 10), rotation(b, c, 10)]
    with pytest.raises(RotationError):
        LogKeys.follow(a.verifier, notes)


def test_a_checkpoint_opens_only_under_the_key_in_force_at_its_size() -> None:
    a, b = keys(2)
    chain = LogKeys.follow(a.verifier, [rotation(a, b, 10)])
    root = b"\x01" * 32
    assert chain.open(Checkpoint(ORIGIN, 10, root).sign(a)).size == 10
    assert chain.open(Checkpoint(ORIGIN, 11, root).sign(b)).size == 11
    with pytest.raises(CheckpointError):
        chain.open(Checkpoint(ORIGIN, 11, root).sign(a))  # the retired key, too late
    with pytest.raises(CheckpointError):
        chain.open(Checkpoint(ORIGIN, 9, root).sign(b))  # the new key, too early
