"""Sealed texts and crypto-shredding (issue 5): commitments in the ledger, texts beside it.

A comment, reason or complaint ground is signed as a salted commitment; its text is
disclosed beside the statement, checked, and kept encrypted under its data subject's
key. ``cadreledger erase`` destroys that key: the texts are gone for good, and every
signature, chain, proof, bundle and read model still checks out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pythonjsonlogger.json import JsonFormatter

from api.app import create_app
from api.observability import _RequestIdFilter
from cadreledger.cli import main
from cadreledger.config import ConfigError, Settings
from cadreledger.demo import COMMENTS
from cadreledger.service import Ledger
from domain.privacy import data_subject
from evidence.bundle import export, verify_file, write
from ledger.canonical import canonical_bytes
from ledger.checkpoint import open_checkpoint
from ledger.errors import Rejected
from ledger.keys import SignerKey
from ledger.merkle import verify_consistency
from ledger.receipt import Receipt
from ledger.statement import SignedStatement, parse_submission, sign_statement
from ledger.texts import Disclosure, SealedText, Sealer, commit, commitments, sealed_value
from ledger.vault import Revealed
from tests.evaluation import ADVISORY, AUTHORITY, CADRES, CHAIR, CYCLE, INSPECTION, UNIT, World
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle

COMPLAINANT = CADRES[3]
GROUNDS = "Thiếu điểm."  # short on purpose: the kind of text one might try to guess
TABLES = (
    "ledger_meta",
    "ledger_leaves",
    "ledger_checkpoints",
    "ledger_nonces",
    "ledger_data_keys",
    "ledger_texts",
    "ledger_erasures",
    "projection_docs",
)


# -- the commitment, pure -----------------------------------------------------------------


def test_a_commitment_is_hmac_of_the_nfc_text_under_a_fresh_salt() -> None:
    sealer = Sealer()
    value = sealer.seal("Cần chủ động hơn.")
    ((commitment, disclosure),) = sealer.texts.items()
    assert value == {"sealed": commitment} and len(disclosure.salt) == 32
    expected = hmac.new(disclosure.salt, "Cần chủ động hơn.".encode(), hashlib.sha256)
    assert commitment == expected.hexdigest()
    # The same words under another salt commit to something else: a guess of a short
    # text cannot be confirmed from the ledger without the salt, which is erased with it.
    again = Sealer()
    assert again.seal("Cần chủ động hơn.") != value
    assert commit(secrets.token_bytes(32), "Cần chủ động hơn.") != commitment
    # Decomposed input is sealed in NFC (what the service checks the commitment over).
    decomposed = Sealer()
    decomposed.seal(unicodedata.normalize("NFD", "Cần chủ động hơn."))
    assert next(iter(decomposed.texts.values())).text == "Cần chủ động hơn."
    # Never printed: neither a disclosure's nor a revealed text's words.
    assert "Cần" not in repr(disclosure) and disclosure.salt.hex() not in repr(disclosure)
    assert "Cần" not in repr(Revealed("revealed", "Cần chủ động hơn."))


def test_a_sealed_value_has_exactly_one_shape() -> None:
    good = "ab" * 32
    assert sealed_value({"sealed": good}) == SealedText(good)
    assert sealed_value({"text": "x"}) is None and sealed_value("x") is None
    for bad in ({"sealed": good.upper()}, {"sealed": good[:-2]}, {"sealed": good, "x": 1}):
        with pytest.raises(Rejected) as caught:
            sealed_value(bad)
        assert caught.value.problem.slug == "invalid-sealed-value"
    nested = {"a": [{"b": {"sealed": good}}, {"sealed": "cd" * 32}], "c": {"sealed": good}}
    assert commitments(nested) == [good, "cd" * 32]


# -- intake: all or nothing ---------------------------------------------------------------


def _statement(actor: str, cadre: str = "tran.thi.binh", **body: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "note.made",
        "actor": actor,
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nonce": secrets.token_urlsafe(16),
        "cycle": "2026-test",
        "cadre": cadre,
        **body,
    }


def _encode(submission: dict[str, Any]) -> bytes:
    return json.dumps(submission, ensure_ascii=False).encode()


def _raw(statement: dict[str, Any], key: SignerKey, texts: Any = None) -> bytes:
    """A submission signed by hand, past the client library's own checks."""
    body = {
        "statement": statement,
        "signer": str(key.verifier),
        "signature": base64.b64encode(key.sign(canonical_bytes(statement))).decode(),
    }
    return _encode(body if texts is None else {**body, "texts": texts})


def _count(ledger: Ledger, table: str) -> int:
    return int(ledger.store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])


def test_intake_refuses_a_submission_whose_texts_do_not_fit_and_stores_nothing(
    db_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = open_ledger(db_url)
    key = SignerKey.generate("an")

    def sealed(text: str = "Cần chủ động hơn.") -> tuple[dict[str, Any], SignedStatement]:
        sealer = Sealer()
        signed = sign_statement(_statement("an", text=sealer.seal(text)), key, sealer.texts)
        return signed.submission(), signed

    def refused(body: bytes, slug: str) -> None:
        with pytest.raises(Rejected) as caught:
            ledger.submit(body)
        assert caught.value.problem.slug == slug, caught.value.detail_en
        assert caught.value.detail_vi and caught.value.detail_en
        assert ledger.size() == 0
        assert _count(ledger, "ledger_texts") == _count(ledger, "ledger_data_keys") == 0

    submission, signed = sealed()
    ((commitment, disclosure),) = signed.texts.items()
    other = base64.b64encode(secrets.token_bytes(32)).decode()
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {**submission, "texts": {commitment: {**disclosure.to_json(), "text": "Khác."}}},
            "disclosure-mismatch",
        ),
        (
            {**submission, "texts": {commitment: {**disclosure.to_json(), "salt": other}}},
            "disclosure-mismatch",
        ),
        ({k: v for k, v in submission.items() if k != "texts"}, "undisclosed-text"),
        ({**submission, "texts": {}}, "undisclosed-text"),
        (
            {**submission, "texts": {**submission["texts"], "ab" * 32: disclosure.to_json()}},
            "invalid-disclosure",
        ),
        (
            {**submission, "texts": {commitment: {"salt": "c2hvcnQ=", "text": "x"}}},
            "invalid-disclosure",
        ),
        (
            {**submission, "texts": {commitment: {**disclosure.to_json(), "extra": 1}}},
            "invalid-disclosure",
        ),
        ({**submission, "texts": []}, "invalid-disclosure"),
    ]
    for body, slug in cases:
        refused(_encode(body), slug)
    # Decomposed Vietnamese is refused, not silently normalised (docs/SPEC.md §1).
    nfd = {commitment: {**disclosure.to_json(), "text": unicodedata.normalize("NFD", "Cần.")}}
    refused(_encode({**submission, "texts": nfd}), "non-nfc-string")
    # A blank text cannot hide behind a commitment: a sealed reason is a reason given.
    with pytest.raises(Rejected):  # a client is told first …
        sealed("   ")
    blank = Disclosure(secrets.token_bytes(32), "   ")
    statement = _statement("an", text={"sealed": blank.commitment})
    texts = {blank.commitment: blank.to_json()}
    refused(_raw(statement, key, texts), "invalid-disclosure")  # … and intake anyway
    # Something that looks sealed but is not is refused: nothing hides behind the name.
    refused(_raw(_statement("an", text={"sealed": "not hex"}), key), "invalid-sealed-value")

    # The submission that fits is stored with its text; a retry stores nothing more.
    body = _encode(submission)
    first, retry = ledger.submit(body), ledger.submit(body)
    assert not first.duplicate and retry.duplicate and retry.index == first.index
    assert _count(ledger, "ledger_texts") == _count(ledger, "ledger_data_keys") == 1
    assert ledger.reveal([commitment])[commitment] == Revealed("revealed", "Cần chủ động hơn.")
    # Plain strings stay accepted (old clients, and texts that are not personal).
    ledger.submit(_encode(sign_statement(_statement("an", text="Công khai."), key).submission()))
    assert ledger.size() == 2 and _count(ledger, "ledger_texts") == 1


def test_a_batch_whose_texts_cannot_be_written_stores_none_of_its_events(
    db_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """Texts and events commit in one transaction: no event without its text."""
    ledger = open_ledger(db_url)
    key = SignerKey.generate("an")
    # Every row written to ledger_texts is refused (a batch without texts writes none).
    if db_url.startswith("sqlite"):
        refuse = (
            "CREATE TRIGGER away BEFORE INSERT ON ledger_texts"
            " BEGIN SELECT RAISE(ABORT, 'away'); END"
        )
        allow = "DROP TRIGGER away"
    else:
        refuse = "ALTER TABLE ledger_texts ADD CONSTRAINT away CHECK (false) NOT VALID"
        allow = "ALTER TABLE ledger_texts DROP CONSTRAINT away"
    ledger.store.execute(refuse)
    sealer = Sealer()
    signed = sign_statement(_statement("an", text=sealer.seal("Nhận xét.")), key, sealer.texts)
    with pytest.raises(Rejected) as caught:
        ledger.append(signed)
    assert caught.value.problem.slug == "unavailable"
    assert ledger.size() == 0 and ledger.store.count_events() == 0
    assert _count(ledger, "ledger_data_keys") == 0  # the key made for it went too
    ledger.append(sign_statement(_statement("an", text="Không niêm phong."), key))  # plain: fine
    ledger.store.execute(allow)
    receipt = ledger.append(signed)
    assert receipt.index == 1 and not receipt.duplicate
    (commitment,) = signed.texts
    assert ledger.reveal([commitment])[commitment].text == "Nhận xét."
    assert ledger.verify().ok


def test_a_new_text_after_an_erasure_gets_a_new_key(
    db_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = open_ledger(db_url)
    key = SignerKey.generate("an")

    def note(text: str, cadre: str = "binh") -> str:
        sealer = Sealer()
        statement = _statement("an", cadre=cadre, text=sealer.seal(text))
        ledger.append(sign_statement(statement, key, sealer.texts))
        return next(iter(sealer.texts))

    before, other = note("Trước khi xóa."), note("Người khác.", cadre="chau")
    erasure = ledger.erase("binh", "Đơn yêu cầu xóa số 12/2026")
    assert (erasure.subject, erasure.keys, erasure.texts) == ("binh", 1, 1)
    after = note("Sau khi xóa.")
    texts = ledger.reveal([before, other, after])
    assert texts[before].erased and texts[before].text is None
    assert texts[other].text == "Người khác." and texts[after].text == "Sau khi xóa."
    again = ledger.erase("binh", "Đơn thứ hai")
    assert (again.keys, again.texts) == (1, 1)  # the new key and its one text
    assert [e.reason for e in ledger.vault.erasures("binh")] == [
        "Đơn yêu cầu xóa số 12/2026",
        "Đơn thứ hai",
    ]
    with pytest.raises(ValueError):
        ledger.erase("binh", "   ")
    assert ledger.verify().ok


def test_the_data_key_file_is_made_once_and_must_stay_the_ledgers(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(url)
    path = tmp_path / "log.datakey"  # beside the log's key (the fixture's log.key)
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    sealer = Sealer()
    statement = _statement("an", text=sealer.seal("Bí mật."))
    ledger.append(sign_statement(statement, SignerKey.generate("an"), sealer.texts))
    ledger.close()
    (commitment,) = sealer.texts
    kept = path.read_bytes()

    path.unlink()
    with pytest.raises(ConfigError, match=r"data key file .* is missing"):
        open_ledger(url)
    reader = open_ledger(url, writer=False)  # a reader without it: texts unavailable
    assert reader.reveal([commitment])[commitment].status == "unavailable"
    reader.close()
    path.write_text("cadreledger-data-key-v1:" + base64.b64encode(bytes(32)).decode() + "\n")
    with pytest.raises(ConfigError, match="not this ledger's"):
        open_ledger(url)
    path.write_bytes(kept)
    assert open_ledger(url).reveal([commitment])[commitment].text == "Bí mật."


def test_a_ciphertext_moved_to_another_row_does_not_open(
    tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    key, sealed = SignerKey.generate("an"), []
    for text in ("Một.", "Hai."):
        sealer = Sealer()
        ledger.append(sign_statement(_statement("an", text=sealer.seal(text)), key, sealer.texts))
        sealed.append(next(iter(sealer.texts)))
    boxes = {
        r["commitment"]: bytes(r["box"])
        for r in ledger.store.query("SELECT commitment, box FROM ledger_texts")
    }
    ledger.store.execute(
        "UPDATE ledger_texts SET box = ? WHERE commitment = ?", (boxes[sealed[1]], sealed[0])
    )
    texts = ledger.reveal(sealed)
    assert texts[sealed[0]].status == "unavailable" and texts[sealed[1]].text == "Hai."


# -- a whole cycle, sealed; then one cadre's data erased -----------------------------------


def sealed_cycle(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> tuple[Ledger, World, list[Receipt]]:
    """``run_cycle`` with every free text sealed, decisions for all, publication, and a
    complaint upheld and re-decided; every receipt kept."""
    ledger, plain = evaluation_ledger(db_url, tmp_path, open_ledger)
    receipts: list[Receipt] = []

    def submit(signed: SignedStatement) -> str:
        receipt = ledger.append(signed)
        receipts.append(receipt)
        return receipt.event_hash.hex()

    w = World(submit=submit, root=plain.keys["root"], seal=True, clock=plain.time)
    run_cycle(w)
    w.propose_and_decide(CADRES[0], "HTT", reason="Vượt tỷ lệ.", quota=True)
    for sid, level in ((CADRES[1], "HTT"), (CADRES[2], "HTT"), (CADRES[3], "HT")):
        w.propose_and_decide(sid, level)
    w.propose_and_decide(CADRES[4], "KHT")
    w.on(AUTHORITY, "result.published")
    ledger.projector.catch_up()
    decision = ledger.projector.model.cycles[CYCLE].evaluations[COMPLAINANT].decision
    assert decision is not None
    complaint = w.on(
        COMPLAINANT, "complaint.filed", cadre=COMPLAINANT, against=decision.event, grounds=GROUNDS
    )
    w.on(INSPECTION, "complaint.accepted", cadre=COMPLAINANT, complaint=complaint)
    resolved = w.on(
        INSPECTION,
        "complaint.resolved",
        cadre=COMPLAINANT,
        complaint=complaint,
        upheld=True,
        finding="Bỏ sót sản phẩm.",
    )
    w.on(
        AUTHORITY,
        "decision.revised",
        cadre=COMPLAINANT,
        level="HTT",
        supersedes=decision.event,
        cause=resolved,
        total="72",
        reason="Theo kết luận giải quyết khiếu nại.",
    )
    return ledger, w, receipts


def subjects_of(ledger: Ledger) -> dict[str, str]:
    """commitment → data subject, for every text sealed in the log."""
    found = {}
    for entry in ledger.entries(0, 10_000):
        statement = json.loads(entry["envelope"])["statement"]
        for commitment in commitments(statement):
            found[commitment] = data_subject(statement)
    return found


def dump(ledger: Ledger) -> bytes:
    """Every stored row of every table, as bytes: what someone with the database holds."""
    rows = [r for t in TABLES for r in ledger.store.query(f"SELECT * FROM {t}")]
    rows += ledger.store.query(f"SELECT * FROM {ledger.store.events_table}")
    return b"\n".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for r in rows
        for v in dict(r).values()
    )


@pytest.fixture
def cycle(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> tuple[Ledger, World, list[Receipt]]:
    return sealed_cycle(db_url, tmp_path, open_ledger)


def test_sealed_texts_are_kept_encrypted_and_opened_only_on_the_way_out(
    cycle: tuple[Ledger, World, list[Receipt]],
) -> None:
    ledger, w, _ = cycle
    texts = {c: d.text for c, d in w.sealed.items()}
    assert GROUNDS in texts.values() and len(texts) > 10
    ledger.projector.catch_up()
    model = ledger.projector.model
    reason = model.cycles[CYCLE].evaluations[CADRES[0]].decision.reason  # type: ignore[union-attr]
    assert isinstance(reason, SealedText) and texts[reason.commitment] == "Vượt tỷ lệ."
    assert set(subjects_of(ledger)) == set(texts)  # every sealed value was disclosed

    # At rest: no text, no salt, in any table — the log, the read model, the vault.
    ledger.projector.catch_up()
    stored = dump(ledger)
    for disclosure in w.sealed.values():
        assert disclosure.text.encode() not in stored
        for salt in (disclosure.salt, base64.b64encode(disclosure.salt), disclosure.salt.hex()):
            assert (salt if isinstance(salt, bytes) else salt.encode()) not in stored
    docs = json.dumps(ledger.projector.read_model.docs())
    assert reason.commitment in docs  # the read model holds the commitment only

    # Read back through the service, and through the API.
    opened = ledger.reveal(texts)
    assert {c: r.text for c, r in opened.items()} == texts
    with TestClient(create_app(ledger)) as client:
        page = client.get(f"/v1/cycles/{CYCLE}").json()
        assert page["subjects"][CADRES[0]]["decision"]["reason"] == {
            "sealed": reason.commitment,
            "text": "Vượt tỷ lệ.",
            "erased": False,
        }
        timeline = client.get(f"/v1/cycles/{CYCLE}/cadres/{COMPLAINANT}/timeline").json()
        filed = next(s for s in timeline["timeline"] if s["type"] == "complaint.filed")
        assert filed["fields"]["grounds"]["text"] == GROUNDS
        at = client.get(f"/v1/cycles/{CYCLE}", params={"at": str(ledger.size() - 1)}).json()
        revised = at["subjects"][COMPLAINANT]["decision"]["reason"]
        assert revised["text"] == "Theo kết luận giải quyết khiếu nại."
        # The log itself, and its integrators, carry commitments only.
        entries = client.get("/v1/log/entries", params={"limit": 1000}).text
        assert GROUNDS not in entries and "Vượt tỷ lệ." not in entries


def test_erasure_leaves_every_check_proof_bundle_and_read_model_intact(
    cycle: tuple[Ledger, World, list[Receipt]], db_url: str, tmp_path: Path
) -> None:
    ledger, w, receipts = cycle
    subjects = subjects_of(ledger)
    theirs = {c for c, s in subjects.items() if s == COMPLAINANT}
    others = set(subjects) - theirs
    grounds = next(c for c in theirs if w.sealed[c].text == GROUNDS)
    assert len(theirs) >= 4 and others  # report, grounds, finding, reasons; and the rest
    digest = ledger.projector.rebuild()
    before = dump(ledger)

    runner = CliRunner(
        env={
            "CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key"),
            "CADRELEDGER_ROOT_KEY_FILE": str(tmp_path / "root.key"),
        }
    )
    reason = "Đơn yêu cầu xóa dữ liệu cá nhân số 7/2026"
    result = runner.invoke(
        main, ["--db", db_url, "erase", "--subject", COMPLAINANT, "--reason", reason, "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["subject"] == COMPLAINANT and record["reason"] == reason
    assert record["keys"] == 1 and record["texts"] == len(theirs)
    missing = runner.invoke(main, ["--db", db_url, "erase", "--subject", "x", "--reason", " "])
    assert missing.exit_code == 2

    # The texts: the complainant's gone (both languages say so), everyone else's there.
    opened = ledger.reveal(subjects)
    assert all(opened[c].erased and opened[c].text is None for c in theirs)
    assert all(opened[c].text == w.sealed[c].text for c in others)
    # Their salts went with the key: nothing stored lets a guess be confirmed.
    after = dump(ledger)
    salt = w.sealed[grounds].salt
    assert salt not in after and base64.b64encode(salt) not in after
    for guess_salt in (b"", bytes(32), hashlib.sha256(GROUNDS.encode()).digest()):
        assert commit(guess_salt, GROUNDS) != grounds
    assert hashlib.sha256(GROUNDS.encode()).hexdigest() != grounds
    # What changed is the vault's keys and the erasure record: nothing signed.
    assert {e["envelope"] for e in ledger.entries(0, 10_000)} <= {
        x.decode() for x in before.split(b"\n") if x.startswith(b'{"logged_at"')
    }

    # Every check, V1–V9.
    report = ledger.verify()
    statuses = {c.id: c.status for c in report.checks.values()}
    assert report.ok and statuses.pop("V7") == "not_applicable"
    assert set(statuses.values()) == {"pass"} and {"V8", "V9"} <= set(statuses)
    verified = runner.invoke(main, ["--db", db_url, "verify", "--no-remember"])
    assert verified.exit_code == 0, verified.output
    # Every receipt's inclusion proof, and consistency to the log as it is now.
    checkpoint = open_checkpoint(ledger.checkpoint(), ledger.log_key)
    for receipt in receipts:
        receipt.verify(ledger.log_key)
        earlier = open_checkpoint(receipt.checkpoint, ledger.log_key)
        proof = ledger.consistency(earlier.size, checkpoint.size)
        verify_consistency(earlier.size, checkpoint.size, earlier.root, checkpoint.root, proof)
    # The evidence bundle exports and verifies offline.
    bundle = write(export(ledger, CYCLE, COMPLAINANT))
    assert verify_file(bundle, ledger.log_key, ledger.root_keys).ok
    assert grounds in bundle.decode() and GROUNDS not in bundle.decode()
    # The read model rebuilds to the same state: it never held the texts.
    assert ledger.projector.rebuild() == digest

    with TestClient(create_app(ledger)) as client:
        page = client.get(f"/v1/cycles/{CYCLE}").json()
        shown = page["subjects"][COMPLAINANT]["decision"]["reason"]
        assert shown["erased"] is True and shown["text"] is None
        assert "xóa" in shown["notice_vi"] and "erased" in shown["notice_en"]
        kept = page["subjects"][CADRES[0]]["decision"]["reason"]
        assert kept["text"] == "Vượt tỷ lệ." and kept["erased"] is False


def test_domain_models_hold_commitments_not_texts() -> None:
    """The pure rules, sealed: a sealed reason counts as given; a blank plain one does not."""
    w = World(seal=True)
    w.open()
    w.roster()
    w.review()
    w.score_all({CADRES[0]: 92, UNIT: 85, CHAIR: 88})
    w.propose_and_decide(UNIT, "HTT")
    w.propose_and_decide(CHAIR, "HTT")
    w.on(ADVISORY, "appraisal.proposed", cadre=CADRES[0], level="HTT", reason="Lý do.", quota=True)
    decision = w.model.cycles[CYCLE].evaluations[CADRES[0]].proposal
    assert decision is not None and isinstance(decision.reason, SealedText)
    w.seal = False
    w.refused_on("reason-required", CHAIR, "scoring.reopened", cadre=CADRES[0], reason=" ")


# -- the logs never see a text -------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log record of every logger, formatted as the service's JSON logs are."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def test_neither_text_nor_salt_reaches_the_logs(
    tmp_path: Path, open_ledger: Callable[..., Ledger], captured: io.StringIO
) -> None:
    ledger, plain = evaluation_ledger(f"sqlite:///{tmp_path / 'l.db'}", tmp_path, open_ledger)
    secret = "Có biểu hiện suy thoái về tư tưởng chính trị."  # sensitive (NĐ 13/2023)
    with TestClient(create_app(ledger)) as client:

        def submit(signed: SignedStatement) -> str:
            response = client.post("/v1/statements", json=signed.submission())
            assert response.status_code == 201, response.text
            return str(response.json()["event_hash"])

        w = World(submit=submit, root=plain.keys["root"], seal=True, clock=plain.time)
        w.open()
        w.roster()
        w.review()
        meeting = w.on(CHAIR, "meeting.held", date="2026-11-02", attendees=[CHAIR, CADRES[1]])
        w.on(CADRES[1], "comment.made", cadre=CADRES[0], meeting=meeting, text=secret)
        salts = [d.salt for c, d in w.sealed.items() if d.text == secret]
        # A refused one too: the same text under a commitment it does not match.
        sealer = Sealer()
        statement = w.statement(
            CADRES[1], "comment.made", {"cycle": CYCLE, "cadre": CADRES[0], "meeting": meeting}
        )
        statement["text"] = sealer.seal(secret)
        signed = sign_statement(statement, w.key(CADRES[1]), sealer.texts)
        body = signed.submission()
        ((commitment, disclosure),) = sealer.texts.items()
        body["texts"] = {commitment: {**disclosure.to_json(), "text": secret + " "}}
        refused = client.post("/v1/statements", json=body)
        assert refused.status_code == 400
        assert refused.json()["type"] == "/problems/disclosure-mismatch"
        salts.append(disclosure.salt)
        assert client.get(f"/v1/cycles/{CYCLE}/cadres/{CADRES[0]}").status_code == 200
    logged = captured.getvalue()
    assert '"message": "request"' in logged and "/v1/statements" in logged  # it did capture
    for form in (secret, json.dumps(secret)[1:-1]):  # as is, and as JSON logs escape it
        assert form not in logged
    for salt in salts:
        assert base64.b64encode(salt).decode() not in logged and salt.hex() not in logged


# -- clients ---------------------------------------------------------------------------------


def test_cadreledger_sign_seals_the_fields_it_is_told_to(tmp_path: Path) -> None:
    key = SignerKey.generate("nguyen.van.an")
    (tmp_path / "an.key").write_text(str(key) + "\n")
    statement = _statement("nguyen.van.an", text="Góp ý thẳng thắn.", reason="")
    (tmp_path / "s.json").write_text(json.dumps(statement, ensure_ascii=False))
    result = CliRunner().invoke(
        main,
        [
            "sign",
            "--key",
            str(tmp_path / "an.key"),
            "--seal",
            "text",
            "--seal",
            "reason",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    submission = json.loads(result.output)
    assert "Góp ý" not in json.dumps(submission["statement"], ensure_ascii=False)
    assert submission["statement"]["reason"] == ""  # nothing to seal in a blank text
    signed = parse_submission(result.output.encode())
    ((commitment, disclosure),) = signed.texts.items()
    assert submission["statement"]["text"] == {"sealed": commitment}
    assert disclosure == Disclosure(disclosure.salt, "Góp ý thẳng thắn.")


def test_the_data_key_lives_beside_the_logs_key(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'x.db'}", rules=False)
    with Ledger(settings) as ledger:
        assert ledger.vault.can_store
    assert settings.data_key_path() == tmp_path / "x.db.datakey"
    assert Settings(db="postgresql://u@h/db").data_key_path().name == "cadreledger-db.datakey"


def test_the_demo_seals_its_texts_and_can_erase_one_persons(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner(env={"CADRELEDGER_LOG_KEY_FILE": str(tmp_path / "log.key")})
    demo = runner.invoke(main, ["--db", db, "demo", "--cadres", "30"])
    assert demo.exit_code == 0, demo.output
    hint = next(line for line in demo.output.splitlines() if " erase --subject " in line)
    subject = hint.split("--subject ")[1].split()[0]  # the complainant, as the demo says
    with Ledger(Settings(db=db, log_key_file=str(tmp_path / "log.key")), writer=False) as ledger:
        subjects = subjects_of(ledger)
        entries = json.dumps(ledger.entries(0, 10_000), ensure_ascii=False)
        for text in (*COMMENTS, "Bỏ sót 02 sản phẩm quy đổi; đề nghị xếp loại lại."):
            assert text not in entries
        kinds = {
            json.loads(e["envelope"])["statement"]["type"]
            for e in ledger.entries(0, 10_000)
            if commitments(json.loads(e["envelope"])["statement"])
        }
        assert {"comment.made", "complaint.filed", "decision.revised"} <= kinds
        assert all(r.text for r in ledger.reveal(subjects).values())
        theirs = [c for c, s in subjects.items() if s == subject]
        assert len(theirs) >= 4  # self-assessment, grounds, finding, the revised decision's reason
    erased = runner.invoke(
        main, ["--db", db, "erase", "--subject", subject, "--reason", "yêu cầu xóa"]
    )
    assert erased.exit_code == 0, erased.output
    with Ledger(Settings(db=db, log_key_file=str(tmp_path / "log.key")), writer=False) as ledger:
        assert all(r.erased for r in ledger.reveal(theirs).values())
    verified = runner.invoke(main, ["--db", db, "verify", "--no-remember"])
    assert verified.exit_code == 0 and "ĐẠT / PASS" in verified.output
