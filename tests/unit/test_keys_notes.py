"""Ed25519 keys, C2SP signed notes and checkpoints against published vectors."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_sign

from ledger import note, sodium_sign
from ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.keys import KeyFormatError, SignerKey, VerifierKey, key_id
from ledger.note import EM_DASH, NoteError, open_note
from tests.conftest import examples
from tests.paths import DATA

VECTORS = DATA / "testvectors"
SIGNED_NOTE = VECTORS / "signed-note.json"


def _cases() -> list[Any]:
    cases = json.loads(SIGNED_NOTE.read_text())["cases"]
    return [pytest.param(c, id=f"case{i + 1}") for i, c in enumerate(cases)]


def _with_skey() -> list[Any]:
    return [p for p in _cases() if p.values[0] is None or "skey" in p.values[0]]


def _signed(case: dict[str, Any]) -> str:
    name = case["vkey"].split("+")[0]
    return f"{case['text']}\n{EM_DASH} {name} {case['signature_b64']}\n"


def _flip(data: bytes, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- signed-note.json ------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases())
def test_verifier_key_text_and_key_id(case: dict[str, Any]) -> None:
    key = VerifierKey.parse(case["vkey"])
    name, hex_id, blob = case["vkey"].split("+", 2)
    raw = base64.b64decode(blob)
    assert key.name == name and key.public == raw[1:]
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    assert key.key_id == expected_id == bytes.fromhex(hex_id)
    assert key_id(name, key.public) == expected_id
    assert str(key) == case["vkey"]


@pytest.mark.parametrize("case", _with_skey())
def test_signer_key_reproduces_vkey_and_signature(case: dict[str, Any]) -> None:
    key = SignerKey.parse(case["skey"])
    assert str(key.verifier) == case["vkey"]
    assert str(key) == case["skey"]
    assert key.verifier.key_id.hex() == case["skey"].split("+")[3]

    signed = note.sign(case["text"], key)
    assert signed.startswith(case["text"] + "\n")
    last = signed.splitlines()[-1]
    prefix = f"{EM_DASH} {key.name} "
    assert last.startswith(prefix)
    assert last[len(prefix) :] == case["signature_b64"]  # Ed25519 is deterministic
    assert signed == _signed(case)


@pytest.mark.parametrize("case", _cases())
def test_published_signature_opens(case: dict[str, Any]) -> None:
    key = VerifierKey.parse(case["vkey"])
    parsed, verified = open_note(_signed(case), key)
    assert parsed.text == case["text"]
    assert verified == [key]
    (sig,) = parsed.signatures
    assert sig.key_id == key.key_id
    assert base64.b64encode(sig.key_id + sig.signature).decode() == case["signature_b64"]


@pytest.mark.parametrize("case", _cases())
def test_published_note_tampered(case: dict[str, Any]) -> None:
    key = VerifierKey.parse(case["vkey"])
    signed = _signed(case)

    changed_text = signed.replace(case["text"], case["text"].replace(" ", "  ", 1), 1)
    assert changed_text != signed
    with pytest.raises(NoteError, match="does not verify"):
        open_note(changed_text, key)

    raw = base64.b64decode(case["signature_b64"])
    for i in (4, 20, len(raw) - 1):  # bytes of the signature itself, not the key ID
        bad = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        line = f"{EM_DASH} {key.name} {base64.b64encode(bad).decode()}\n"
        with pytest.raises(NoteError, match="does not verify"):
            open_note(case["text"] + "\n" + line, key)

    stranger = SignerKey.from_seed(key.name, bytes(32)).verifier  # same name, other key
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(signed, stranger)


# --- RFC 8032 section 7.1 --------------------------------------------------------------

RFC8032 = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="TEST 1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="TEST 2",
    ),
    pytest.param(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        id="TEST 3",
    ),
    pytest.param(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        id="TEST SHA(abc)",
    ),
]


def test_rfc8032_sha_abc_message_is_sha512_of_abc() -> None:
    assert RFC8032[3].values[2] == hashlib.sha512(b"abc").hexdigest()


@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300))
def test_libsodium_signs_as_openssl_does(seed: bytes, message: bytes) -> None:
    """The log signs through libsodium, keeping the GIL; Ed25519 is deterministic, so its
    signature is OpenSSL's (``cryptography``) and PyNaCl's byte for byte, for any key
    and message."""
    key = SignerKey.from_seed("log", seed)
    signature = key.sign(message)
    assert signature == key.private.sign(message)
    assert signature == crypto_sign(message, key._sodium_secret)[:64]


def test_the_log_signs_through_libsodium_with_the_gil_held() -> None:
    """PyNaCl ships libsodium with ``crypto_sign_detached`` exported: the log calls it
    itself (else this machine's runs would test only the fallback), and refuses a
    secret of the wrong size rather than reading past it."""
    assert sodium_sign.CRYPTO_SIGN_DETACHED is not None
    key = SignerKey.from_seed("log", b"\x07" * 32)
    with pytest.raises(ValueError, match="64 bytes"):
        sodium_sign.sign(b"checkpoint", key._sodium_secret[:32])


def test_a_signature_keeps_the_gil() -> None:
    """While the log signs, no other thread runs Python: the signing thread does not
    wait to take the GIL back. (PyNaCl's own call gives it up: the other thread runs.)"""
    key = SignerKey.from_seed("log", b"\x07" * 32)
    ran = 0
    stop = threading.Event()

    def other() -> None:
        nonlocal ran
        while not stop.is_set():
            ran += 1

    thread = threading.Thread(target=other)
    thread.start()
    try:
        time.sleep(0.01)
        before = ran
        for _ in range(50):
            key.sign(b"m" * 200)
        kept = ran - before
        before = ran
        for _ in range(50):  # each gives the GIL up, taken back after a switch interval
            crypto_sign(b"m" * 200, key._sodium_secret)
        given_up = ran - before
    finally:
        stop.set()
        thread.join()
    assert kept * 5 < given_up


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_ed25519(secret: str, public: str, message: str, signature: str) -> None:
    key = SignerKey.from_seed("rfc8032", bytes.fromhex(secret))
    msg, sig = bytes.fromhex(message), bytes.fromhex(signature)
    assert key.verifier.public.hex() == public
    assert key.sign(msg) == sig
    verifier = VerifierKey("rfc8032", bytes.fromhex(public))
    assert verifier == key.verifier
    assert verifier.verify(sig, msg)
    assert not verifier.verify(_flip(sig, 3), msg)
    assert not verifier.verify(_flip(sig, 500), msg)
    assert not verifier.verify(sig, msg + b"\x00")
    assert not verifier.verify(sig[:-1], msg)
    # The key's text forms round-trip.
    assert SignerKey.parse(str(key)).verifier == verifier
    assert VerifierKey.parse(str(verifier)) == verifier


# --- Key text forms --------------------------------------------------------------------

ALICE = SignerKey.from_seed("alice", bytes(range(32)))
BOB = SignerKey.from_seed("bob", bytes(range(1, 33)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "alice",
        "alice+00000000+AAAA",
        "+" + str(ALICE.verifier).split("+", 1)[1],  # no name
        "bad name+" + str(ALICE.verifier).split("+", 1)[1],
        str(ALICE.verifier).replace("+", "+0", 1),  # 9-digit key ID
        str(BOB.verifier).replace("bob+", "alice+", 1),  # ID for another name
        str(ALICE.verifier)[:-4],  # truncated key
        str(ALICE.verifier)[:-1] + "*",  # not base64
        str(ALICE.verifier).replace("+A", "+B", 1),  # algorithm byte is not 0x01
    ],
)
def test_verifier_key_rejects(text: str) -> None:
    with pytest.raises(KeyFormatError):
        VerifierKey.parse(text)


def test_signer_key_rejects() -> None:
    good = str(ALICE)
    for text in (
        good.removeprefix("PRIVATE+KEY+"),
        good.replace(ALICE.verifier.key_id.hex(), "0" * 8),
    ):
        with pytest.raises(KeyFormatError):
            SignerKey.parse(text)
    with pytest.raises(KeyFormatError):
        SignerKey.from_seed("with space", bytes(32))


# --- Notes -----------------------------------------------------------------------------


def test_note_with_several_signers() -> None:
    text = "hello\nworld\n"
    signed = note.sign(text, ALICE, BOB)
    parsed, verified = open_note(signed, BOB.verifier)
    assert parsed.text == text and verified == [BOB.verifier]
    assert [s.name for s in parsed.signatures] == ["alice", "bob"]
    _, both = open_note(signed, ALICE.verifier, BOB.verifier)
    assert both == [ALICE.verifier, BOB.verifier]
    assert str(note.parse(signed)) == signed


def test_note_unknown_key_only() -> None:
    signed = note.sign("hello\n", ALICE)
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(signed, BOB.verifier)
    with pytest.raises(NoteError):
        open_note(signed)


def test_note_trusted_signature_that_fails_is_an_error() -> None:
    """An unknown signer is skipped, but a broken signature by a trusted key is refused."""
    signed = note.sign("hello\n", ALICE, BOB)
    lines = signed.split("\n")
    name, blob = lines[-2].split(" ")[1:]
    raw = base64.b64decode(blob)
    lines[-2] = f"{EM_DASH} {name} {base64.b64encode(raw[:4] + _flip(raw[4:])).decode()}"
    tampered = "\n".join(lines)
    assert tampered != signed
    open_note(tampered, ALICE.verifier)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, ALICE.verifier, BOB.verifier)


@pytest.mark.parametrize(
    "signed",
    [
        "hello\n",  # no signatures at all
        "hello\n\n",
        "hello\n\n" + f"{EM_DASH} alice AAAA\n",  # too short
        "hello\n\n" + f"{EM_DASH} alice not*base64\n",
        "hello\n\n" + f"- alice {base64.b64encode(bytes(68)).decode()}\n",  # no em dash
        "hello\n\n" + f"{EM_DASH}  {base64.b64encode(bytes(68)).decode()}\n",  # no name
        "hello\n\n" + f"{EM_DASH} alice {base64.b64encode(bytes(68)).decode()}",  # no final \n
    ],
)
def test_malformed_notes(signed: str) -> None:
    with pytest.raises(NoteError):
        open_note(signed, ALICE.verifier)


@pytest.mark.parametrize("text", ["", "no newline", "blank\n\nline\n"])
def test_sign_refuses_bad_text(text: str) -> None:
    with pytest.raises(NoteError):
        note.sign(text, ALICE)


# --- Checkpoints -----------------------------------------------------------------------

LOG = SignerKey.from_seed("example.org/ledger", hashlib.sha256(b"log").digest())
ROOT = hashlib.sha256(b"root").digest()

_line = st.text(
    alphabet=st.characters(exclude_characters="\n", exclude_categories=["Cs"]), min_size=1
)


@settings(max_examples=examples(150), deadline=None)
@given(
    origin=_line,
    size=st.integers(min_value=0, max_value=2**64),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3).map(tuple),
)
def test_checkpoint_text_round_trip(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse_text(cp.text()) == cp


def test_checkpoint_text_layout() -> None:
    cp = Checkpoint("example.org/ledger", 42, ROOT, ("ext one",))
    origin, size, root, ext, end = cp.text().split("\n")
    assert (origin, size, base64.b64decode(root), ext, end) == (
        "example.org/ledger",
        "42",
        ROOT,
        "ext one",
        "",
    )


def test_open_checkpoint() -> None:
    cp = Checkpoint(LOG.name, 7, ROOT)
    signed = cp.sign(LOG)
    assert open_checkpoint(signed, LOG.verifier) == cp
    assert signed.startswith(cp.text() + "\n" + EM_DASH + " " + LOG.name + " ")


def test_open_checkpoint_rejects_other_origin_and_keys() -> None:
    cp = Checkpoint(LOG.name, 7, ROOT)
    # Signed by the log's key, but stating another log's origin.
    other_origin = Checkpoint("other.example/log", 7, ROOT).sign(LOG)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(other_origin, LOG.verifier)
    # Signed by another key, under the same name or another.
    impostor = SignerKey.from_seed(LOG.name, bytes(32))
    with pytest.raises(CheckpointError):
        open_checkpoint(cp.sign(impostor), LOG.verifier)
    with pytest.raises(CheckpointError):
        open_checkpoint(cp.sign(ALICE), LOG.verifier)
    # The log's own checkpoint, but checked against another log's key.
    other_log = SignerKey.from_seed("other.example/log", bytes(32))
    with pytest.raises(CheckpointError):
        open_checkpoint(cp.sign(LOG), other_log.verifier)
    # Altered after signing.
    tampered = cp.sign(LOG).replace("\n7\n", "\n8\n", 1)
    with pytest.raises(CheckpointError):
        open_checkpoint(tampered, LOG.verifier)


_ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "origin\n",
        f"origin\n1\n{_ROOT_B64}",  # no final newline
        f"origin\n01\n{_ROOT_B64}\n",  # leading zero
        f"origin\n-1\n{_ROOT_B64}\n",
        f"origin\n1.0\n{_ROOT_B64}\n",
        f"origin\n\n{_ROOT_B64}\n",
        f"origin\n\u0663\n{_ROOT_B64}\n",  # ARABIC-INDIC DIGIT THREE: not ASCII decimal
        f"origin\n\u00b2\n{_ROOT_B64}\n",  # SUPERSCRIPT TWO: isdigit(), but int() fails
        f"origin\n1\n{_ROOT_B64[:-4]}\n",  # 30 bytes
        f"origin\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
        "origin\n1\nnot base64!\n",
    ],
)
def test_checkpoint_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse_text(text)
