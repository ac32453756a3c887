"""C2SP tlog-cosignature (Ed25519, v1) and the tlog-witness ``add-checkpoint`` exchange.

A cosignature is a signed-note line ``— <witness name> base64(key ID ‖ timestamp ‖
signature)``: key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], timestamp a u64
big-endian POSIX time, and the Ed25519 signature is over

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text, every line of it>

It says: as of that time, the largest consistent tree the witness has seen for this
origin has this root. A witness therefore never cosigns a checkpoint that does not
extend, by a verified consistency proof, the last one it cosigned — and a log that
shows two histories to two parties cannot get both cosigned.

Everything here is pure: the witness's storage and HTTP live in ``witness.witness``
and ``api.witness``; the log's side in ``witness.witnessing``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint_note
from ledger.keys import ALG_COSIGNATURE_V1, SignerKey, VerifierKey, verify_signature
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from ledger.note import Note, NoteError, NoteSignature, open_note, parse

HEADER = "cosignature/v1"
MAX_TIMESTAMP = 2**63 - 1
MAX_PROOF_LINES = 63  # tlog-witness: a client MUST NOT send more
MAX_REQUEST_BYTES = 64 * 1024  # a checkpoint, 63 hashes and a few signatures fit many times
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class CosignatureError(ValueError):
    """A cosignature line that is malformed or does not verify."""


# -- keys and signatures ---------------------------------------------------------------


def cosigner_key(key: SignerKey) -> VerifierKey:
    """The verifier key (signature type 0x04) for cosignatures made with ``key``."""
    return VerifierKey(key.name, key.verifier.public, ALG_COSIGNATURE_V1)


def parse_cosigner_key(text: str) -> VerifierKey:
    """A witness's verifier key, ``name+keyid+base64(0x04 ‖ public key)``; a weak key
    (docs/SPEC.md §2) is refused, as the registry refuses one."""
    return VerifierKey.parse(text.strip(), ALG_COSIGNATURE_V1).check_strong()


def signed_message(text: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: the header, the time, then the checkpoint text."""
    return f"{HEADER}\ntime {timestamp}\n{text}".encode()


def cosign(key: SignerKey, text: str, timestamp: int) -> NoteSignature:
    """The cosignature by ``key`` on the checkpoint note text ``text`` at ``timestamp``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError("timestamp out of range")
    Checkpoint.parse_text(text)  # a cosignature only ever speaks of a checkpoint
    signature = key.sign(signed_message(text, timestamp))
    blob = timestamp.to_bytes(8, "big") + signature
    return NoteSignature(key.name, cosigner_key(key).key_id, blob)


def is_by(witness: VerifierKey, signature: NoteSignature) -> bool:
    """Whether a signature line claims to be by ``witness`` (same name and key ID)."""
    return signature.name == witness.name and signature.key_id == witness.key_id


def verify_cosignature(witness: VerifierKey, text: str, signature: NoteSignature) -> int:
    """The timestamp of ``signature`` if it is ``witness``'s valid cosignature on ``text``."""
    if witness.alg != ALG_COSIGNATURE_V1:
        raise CosignatureError(f"{witness.name} is not a cosigner key (type 0x04)")
    if not is_by(witness, signature):
        raise CosignatureError(f"the signature is not by {witness.name}")
    if len(signature.signature) != 8 + 64:
        raise CosignatureError("a cosignature is 8 bytes of time and 64 of signature")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise CosignatureError("cosignature timestamp exceeds 2^63 - 1")
    if not verify_signature(
        witness.public, signature.signature[8:], signed_message(text, timestamp)
    ):
        raise CosignatureError(f"the cosignature by {witness.name} does not verify")
    return timestamp


def parse_lines(text: str) -> list[NoteSignature]:
    """Signature lines (a witness's 200 answer, or the tail of a signed note)."""
    if not text.endswith("\n"):
        raise CosignatureError("signature lines must end in a newline")
    try:
        # A note with a placeholder text parses exactly the signature lines we were given.
        return list(parse("x\n\n" + text).signatures)
    except NoteError as e:
        raise CosignatureError(str(e)) from e


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint checked against the log's key, and what each witness said of it."""

    checkpoint: Checkpoint
    note: Note
    valid: dict[VerifierKey, int]  # witness → timestamp
    invalid: dict[VerifierKey, str]  # witness → why its line does not verify

    def missing(self, witnesses: Iterable[VerifierKey]) -> list[VerifierKey]:
        return [w for w in witnesses if w not in self.valid]


def check_cosignatures(
    text: str, lines: Iterable[NoteSignature], witnesses: Iterable[VerifierKey]
) -> tuple[dict[VerifierKey, int], dict[VerifierKey, str]]:
    """Which ``witnesses`` validly cosigned the checkpoint text ``text`` among ``lines``.

    Returns (witness → timestamp) for the valid, and (witness → why) for witnesses with a
    line that claims them but never verifies. Lines by other keys are ignored (C2SP:
    they MUST be), never counted."""
    lines = list(lines)
    valid: dict[VerifierKey, int] = {}
    invalid: dict[VerifierKey, str] = {}
    for witness in witnesses:
        for line in lines:
            if not is_by(witness, line):
                continue
            try:
                valid[witness] = verify_cosignature(witness, text, line)
            except CosignatureError as e:
                invalid.setdefault(witness, str(e))
            else:
                invalid.pop(witness, None)
                break
    return valid, invalid


def open_cosigned(signed: str, log_key: VerifierKey, witnesses: Iterable[VerifierKey]) -> Cosigned:
    """Verify a checkpoint by the log's key, then every line by a listed witness."""
    checkpoint, note = open_checkpoint_note(signed, log_key)
    valid, invalid = check_cosignatures(note.text, note.signatures, witnesses)
    return Cosigned(checkpoint, note, valid, invalid)


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses a reader trusts, and how many of them must cosign."""

    witnesses: tuple[VerifierKey, ...]
    threshold: int

    def __post_init__(self) -> None:
        if len(set(self.witnesses)) != len(self.witnesses):
            raise ValueError("a witness is listed twice")
        if any(w.alg != ALG_COSIGNATURE_V1 for w in self.witnesses):
            raise ValueError("witness keys must be cosigner keys (type 0x04)")
        if not 1 <= self.threshold <= len(self.witnesses):
            raise ValueError(
                f"threshold {self.threshold} must be between 1 and the {len(self.witnesses)} "
                "witnesses listed"
            )


def with_signatures(signed: str, extra: Iterable[NoteSignature]) -> str:
    """``signed`` with ``extra`` lines appended, one line per (name, key ID) at most."""
    note = parse(signed)
    seen = {(s.name, s.key_id) for s in note.signatures}
    lines = list(note.signatures)
    for s in extra:
        if (s.name, s.key_id) not in seen:
            seen.add((s.name, s.key_id))
            lines.append(s)
    return str(Note(note.text, tuple(lines)))


# -- add-checkpoint ----------------------------------------------------------------------


class WitnessError(Exception):
    """A refusal, with the HTTP status tlog-witness prescribes for it.

    ``known`` is set for a 409 about the old size: the size of the latest checkpoint the
    witness cosigned (answered as ``text/x.tlog.size``). ``suspicious``: the refusal may
    show the log misbehaving (a proof that fails, a second root for a size already
    cosigned), so the request is worth keeping. ``fork``: that second root — a 409 too,
    but a conflict of histories, not of sizes."""

    def __init__(
        self,
        status: int,
        en: str,
        vi: str,
        known: int | None = None,
        suspicious: bool = False,
        fork: bool = False,
    ) -> None:
        super().__init__(en)
        self.status, self.en, self.vi, self.known = status, en, vi, known
        self.suspicious, self.fork = suspicious, fork

    def body(self) -> str:
        if self.known is not None:
            return f"{self.known}\n"
        return f"{self.vi} / {self.en}\n"


def _bad(en: str, vi: str) -> WitnessError:
    return WitnessError(400, en, vi)


@dataclass(frozen=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request: old size, consistency proof, signed checkpoint."""

    old: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim

    def body(self) -> bytes:
        lines = [f"old {self.old}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.checkpoint).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessError(413, "request too large", "yêu cầu quá lớn")
        try:
            text = body.decode()
        except UnicodeDecodeError as e:
            raise _bad("request is not UTF-8", "yêu cầu không phải UTF-8") from e
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise _bad("no empty line before the checkpoint", "thiếu dòng trống trước checkpoint")
        first, *hashes = head.split("\n")
        number = first.removeprefix("old ")
        if (
            number == first
            or not (number.isascii() and number.isdigit())
            or (number != "0" and number.startswith("0"))
        ):
            raise _bad("the first line must be 'old <size>'", "dòng đầu phải là 'old <kích thước>'")
        if len(hashes) > MAX_PROOF_LINES:
            raise _bad("more than 63 proof lines", "quá 63 dòng bằng chứng")
        proof = []
        for line in hashes:
            try:
                h = base64.b64decode(line, validate=True)
            except binascii.Error as e:
                raise _bad("a proof line is not base64", "dòng bằng chứng không phải base64") from e
            if len(h) != HASH_SIZE:
                raise _bad("a proof hash is not 32 bytes", "băm bằng chứng không đủ 32 byte")
            proof.append(h)
        return cls(int(number), tuple(proof), checkpoint)

    @property
    def origin(self) -> str:
        return self.checkpoint.split("\n", 1)[0]


@dataclass(frozen=True)
class TreeHead:
    """What a witness keeps per log: the latest checkpoint it cosigned (size 0 at first)."""

    size: int
    root: bytes

    @classmethod
    def empty(cls) -> TreeHead:
        return cls(0, EMPTY_ROOT)


def decide(
    request: AddCheckpoint,
    log_keys: Mapping[str, Sequence[VerifierKey]],
    latest: Mapping[str, TreeHead],
) -> tuple[Checkpoint, str]:
    """The witness's judgement of ``request``: the checkpoint to record and cosign (and
    its note text), or a ``WitnessError`` with the status tlog-witness prescribes.

    ``log_keys``: per origin, the log keys the witness trusts; ``latest``: per origin, the
    tree head it last cosigned (missing = never). The caller must record the new head
    only if the stored one is still ``latest[origin]`` (compare-and-swap), else answer
    409 with what is stored now: two requests from one old size never both win.
    """
    origin = request.origin
    keys = log_keys.get(origin)
    if not keys:
        raise WitnessError(404, f"unknown log {origin!r}", f"không theo dõi sổ cái {origin!r}")
    try:
        parse(request.checkpoint)
    except NoteError as e:
        raise _bad(f"malformed checkpoint note: {e}", "checkpoint không đúng định dạng") from e
    try:
        note, _ = open_note(request.checkpoint, *keys)
    except NoteError as e:
        raise WitnessError(
            403,
            f"no valid signature by the log's key: {e}",
            "không có chữ ký hợp lệ của sổ cái",
        ) from e
    try:
        checkpoint = Checkpoint.parse_text(note.text)
    except CheckpointError as e:
        raise _bad(f"malformed checkpoint: {e}", "checkpoint không đúng định dạng") from e
    if request.old > checkpoint.size:
        raise _bad(
            f"old size {request.old} exceeds the checkpoint's size {checkpoint.size}",
            f"kích thước cũ {request.old} lớn hơn kích thước checkpoint {checkpoint.size}",
        )
    head = latest.get(origin, TreeHead.empty())
    if request.old != head.size:
        raise WitnessError(
            409,
            f"the latest cosigned size is {head.size}",
            f"kích thước đã đồng ký gần nhất là {head.size}",
            known=head.size,
        )
    if request.old == 0:
        if request.proof:
            raise WitnessError(
                422, "a proof from size 0 must be empty", "bằng chứng từ kích thước 0 phải rỗng"
            )
    elif request.old == checkpoint.size and checkpoint.root != head.root:
        # The same size with another root: the log shows two histories. A 409 still (the
        # spec's), but never with the size content type: a client must not take a fork
        # for a stale size and retry from it.
        raise WitnessError(
            409,
            f"size {head.size} was cosigned with another root hash: the log shows two "
            "histories (a fork)",
            f"kích thước {head.size} đã được đồng ký với gốc khác: "
            "sổ cái có hai lịch sử (rẽ nhánh)",
            suspicious=True,
            fork=True,
        )
    else:
        try:
            verify_consistency(
                head.size, checkpoint.size, head.root, checkpoint.root, request.proof
            )
        except ProofError as e:
            raise WitnessError(
                422,
                f"consistency proof from {head.size} to {checkpoint.size} fails: {e}",
                f"bằng chứng nhất quán từ {head.size} đến {checkpoint.size} không hợp lệ",
                suspicious=True,
            ) from e
    return checkpoint, note.text
