"""A cadre's personal bundle, checked offline as an insider would try to rig it.

The cadre gets only the events that touched their own result; ``cadreledger verify``
checks them (signatures, chains, inclusion, checkpoints, log time, each signer's key
against the registry) and says plainly what it could not check. Each tampering below
must turn the report red at the check that catches it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.service import Ledger
from evidence.personal_bundle import FORMAT, export_personal, verify_personal, write_personal
from ledger.bundle import BundleError
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint
from ledger.keys import SignerKey
from ledger.statement import sign_statement
from tests.bypass import bypass
from tests.evaluation import CADRES, CYCLE, PANEL, World
from tests.paths import FIXTURES
from tests.service.test_bundles import check_published, published
from tests.service.test_domain_ledger import evaluation_ledger, keyed_cli, run_cycle

CADRE = CADRES[0]
PERSONAL = FIXTURES / "personal"


@pytest.mark.parametrize("name", published(PERSONAL))
def test_published_personal_fixtures(name: str) -> None:
    """Each tampered fixture fails the check it names, keys pinned (see
    tests/fixtures/make_personal_bundles.py); the forged key fails V11 alone."""
    failing = check_published(PERSONAL, name, verify_personal)
    if name == "forged-key.json":
        assert failing == {"V11"}


@pytest.fixture
def evaluated(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> tuple[Ledger, World, Path]:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    return ledger, w, tmp_path


def personal(ledger: Ledger) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(write_personal(export_personal(ledger, CYCLE, CADRE)))
    return found


def verdict(doc: dict[str, Any], **pins: Any) -> dict[str, str]:
    report = verify_personal(json.dumps(doc).encode(), **pins)
    return {cid: c.status for cid, c in report.checks.items()}


def failing(doc: dict[str, Any], **pins: Any) -> set[str]:
    return {cid for cid, status in verdict(doc, **pins).items() if status == "fail"}


def test_the_cadres_own_record_verifies_and_says_what_it_could_not_check(
    evaluated: tuple[Ledger, World, Path],
) -> None:
    ledger, _, tmp_path = evaluated
    doc = personal(ledger)
    assert doc["format"] == FORMAT == "cadreledger-personal-bundle/1"
    streams = {json.loads(e["envelope"])["stream"] for e in doc["events"]}
    assert streams == set(doc["streams"])
    assert streams == {"registry", f"cycle/{CYCLE}", f"cycle/{CYCLE}/cadre/{CADRE}"}
    # Nothing of anyone else's record: no other subject's stream, no ballot about them.
    for e in doc["events"]:
        assert json.loads(e["envelope"])["statement"].get("cadre") in (None, CADRE)
    assert set(verdict(doc).values()) <= {"pass", "not_applicable"}, verdict(doc)

    saved = tmp_path / "mine.json"
    saved.write_text(json.dumps(doc, ensure_ascii=False))
    out = CliRunner().invoke(main, ["verify", str(saved)])
    assert out.exit_code == 0, out.output
    for said in (
        "V11 key-registry",
        "ĐẠT / PASS",
        f"Gói hồ sơ cá nhân của {CADRE}",
        "KHÔNG kiểm tra được / NOT checked",
        "Other people's acts",
        "Hành vi của người khác",
        "The quota",
        "Completeness",
        "V8 (every act admitted by the rules",
        "The log key was taken from the bundle itself",
        "The root keys were taken from the bundle itself",
    ):
        assert said in out.output, (said, out.output)
    # Pinned keys: the report no longer warns that they came from the bundle.
    log_key, root = str(ledger.log_key), json.loads(saved.read_text())["personal"]["root_keys"]
    out = CliRunner().invoke(
        main, ["verify", "--log-key", log_key, "--root-key", root[0], str(saved)]
    )
    assert out.exit_code == 0, out.output
    assert "taken from the bundle itself" not in out.output
    # From the command line too, for a cadre who asks the operator for it.
    url = ledger.settings.db
    ledger.close()
    runner = keyed_cli(tmp_path)
    again = tmp_path / "again.json"
    export = ["--db", url, "export", "--cycle", CYCLE, "--cadre", CADRE, "-o", str(again)]
    made = runner.invoke(main, [*export, "--personal"])
    assert made.exit_code == 0, made.output
    assert json.loads(again.read_text())["format"] == FORMAT
    assert runner.invoke(main, ["verify", str(again)]).exit_code == 0
    other = ["--db", url, "export", "--cycle", CYCLE, "--cadre", "nobody", "--personal"]
    missing = runner.invoke(main, [*other, "-o", str(again)])
    assert missing.exit_code == 2 and "nobody" in missing.output


def test_each_tampering_fails_the_check_that_catches_it(
    evaluated: tuple[Ledger, World, Path],
) -> None:
    ledger, _, _ = evaluated
    good = personal(ledger)

    def envelope(doc: dict[str, Any], i: int) -> dict[str, Any]:
        return dict(json.loads(doc["events"][i]["envelope"]))

    def put(doc: dict[str, Any], i: int, env: dict[str, Any]) -> None:
        doc["events"][i]["envelope"] = canonical_bytes(env).decode()

    own = [
        i
        for i, e in enumerate(good["events"])
        if json.loads(e["envelope"])["stream"] == f"cycle/{CYCLE}/cadre/{CADRE}"
    ]
    ballot = next(i for i in own if envelope(good, i)["statement"]["type"] == "score.submitted")

    # A score about the cadre changed after signing.
    doc = json.loads(json.dumps(good))
    env = envelope(doc, ballot)
    env["statement"]["tasks"] = 1
    put(doc, ballot, env)
    assert {"V2", "V4"} <= failing(doc)

    # An event taken out of the middle of the cadre's stream.
    doc = json.loads(json.dumps(good))
    del doc["events"][own[1]]
    assert "V3" in failing(doc)

    # The cadre's whole stream left out, and unlisted: the bundle must list it.
    doc = json.loads(json.dumps(good))
    doc["events"] = [e for i, e in enumerate(doc["events"]) if i not in own]
    doc["streams"] = [s for s in doc["streams"] if "/cadre/" not in s]
    assert "V3" in failing(doc)

    # Another cadre's stream listed as if it were this one's: the same.
    doc = json.loads(json.dumps(good))
    doc["personal"]["cadre"] = CADRES[1]
    assert "V3" in failing(doc)

    # An inclusion proof altered.
    doc = json.loads(json.dumps(good))
    proof = doc["events"][ballot]["proof"]
    proof[0] = base64.b64encode(bytes(32)).decode()
    assert "V4" in failing(doc)

    # The checkpoint signed by another key of the same name, which the bundle names.
    doc = json.loads(json.dumps(good))
    other = SignerKey.generate(ledger.log_key.name)
    size, root = int(doc["checkpoint"].split("\n")[1]), doc["checkpoint"].split("\n")[2]
    doc["checkpoint"] = Checkpoint(other.verifier.name, size, base64.b64decode(root)).sign(other)
    assert "V5" in failing(doc)
    doc["log_key"] = str(other.verifier)  # the forger's key carried along: pinning catches it
    assert "V5" in failing(doc, pinned=ledger.log_key)
    assert "V5" not in failing(doc)

    # A root of trust other than the log's: no registry event, no key, stands.
    doc = json.loads(json.dumps(good))
    assert "V11" in failing(doc, root_keys=[str(SignerKey.generate("root").verifier)])

    # A registrar's registration of the cadre's scorer dropped from the registry.
    doc = json.loads(json.dumps(good))
    registered = next(
        i
        for i, e in enumerate(doc["events"])
        if json.loads(e["envelope"])["statement"].get("type") == "person.registered"
        and json.loads(e["envelope"])["statement"].get("person") == PANEL[0]
    )
    del doc["events"][registered]
    assert {"V3", "V11"} <= failing(doc)

    # Not a personal bundle at all.
    with pytest.raises(BundleError):
        verify_personal(json.dumps({**good, "format": "cadreledger-bundle/1"}).encode())


def test_a_ballot_signed_with_a_key_never_registered_to_the_scorer_fails(
    evaluated: tuple[Ledger, World, Path],
) -> None:
    """The log's operator seals, around the rules, a ballot about the cadre signed by a
    fresh key named after a real panel member: the signature verifies, the event is in
    the log — and V11 says the key was never that person's."""
    ledger, w, tmp_path = evaluated
    log_key = SignerKey.parse((tmp_path / "log.key").read_text())
    rogue = bypass(ledger, log_key, w.time)
    forged = SignerKey.generate(PANEL[0])
    body = {"cycle": CYCLE, "cadre": CADRE, "general": 10, "tasks": 10}
    rogue.append(sign_statement(w.statement(PANEL[0], "score.submitted", body), forged))
    rogue.stop()
    ledger.sequencer = None  # stopped; the projector and export only read
    doc = personal(ledger)
    found = verdict(doc)
    assert found["V2"] == found["V4"] == found["V3"] == "pass", found
    assert found["V11"] == "fail", found
    report = verify_personal(json.dumps(doc).encode())
    first = report.checks["V11"].first
    assert first is not None and PANEL[0] in first.reason_en
