"""Evidence bundles: exported from a real database, verified offline; published fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.service import Ledger
from evidence.bundle import export, verify_file, write
from ledger.keys import SignerKey, VerifierKey
from ledger.verifier import Report
from tests.evaluation import CADRES, CYCLE
from tests.paths import FIXTURES
from tests.service.test_domain_ledger import evaluation_ledger, keyed_cli, run_cycle

BUNDLES = FIXTURES / "bundles"


def published(folder: Path) -> list[str]:
    """The fixtures published in ``folder``, as its expected.json names them."""
    return sorted(json.loads((folder / "expected.json").read_text()))


def check_published(
    folder: Path, name: str, verify: Callable[[bytes, VerifierKey, list[str]], Report]
) -> set[str]:
    """Verify the published fixture ``name`` with its keys pinned: it comes out as
    ``folder``'s expected.json says (a good one passes every check but the witnesses',
    none being asked for; a tampered one fails the check named). The checks that failed."""
    expected = json.loads((folder / "expected.json").read_text())[name]
    keys = json.loads((folder / "keys.json").read_text())
    report = verify(
        (folder / name).read_bytes(), VerifierKey.parse(keys["log_key"]), keys["root_keys"]
    ).to_json()
    assert report["ok"] is expected["ok"], report["first_bad"]
    failing = {c["id"] for c in report["checks"] if c["status"] == "fail"}
    if expected["ok"]:
        statuses = {c["id"]: c["status"] for c in report["checks"]}
        assert statuses.pop("V7") == "not_applicable"  # no witness policy given
        assert not failing and set(statuses.values()) == {"pass"}
    else:
        assert expected["check"] in failing
        assert report["first_bad"] is not None
    return failing


@pytest.mark.parametrize("name", published(BUNDLES))
def test_published_fixtures(name: str) -> None:
    """Each tampered fixture fails the check it names (see tests/fixtures/make_bundles.py)."""
    check_published(BUNDLES, name, verify_file)


def test_export_then_verify_offline(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    bundle = export(ledger, CYCLE, CADRES[0])
    data = write(bundle)
    assert {e.index for e in bundle.events} == set(range(ledger.size()))  # all of one cycle
    assert "registry" in bundle.streams and f"cycle/{CYCLE}" in bundle.streams
    report = verify_file(data, ledger.log_key, ledger.root_keys).to_json()
    assert report["ok"], report["first_bad"]
    assert report["evaluation"] == {"cycle": CYCLE, "cadre": CADRES[0]}

    # Offline: no database at all, through the command line.
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    runner = CliRunner(env={"CADRELEDGER_DB": "postgresql://nobody@127.0.0.1:1/none"})
    ok = runner.invoke(main, ["verify", "--log-key", str(ledger.log_key), str(path)])
    assert ok.exit_code == 0, ok.output
    wrong = str(SignerKey.generate(ledger.log_key.name).verifier)
    pinned_wrong = runner.invoke(main, ["verify", "--json", "--log-key", wrong, str(path)])
    assert pinned_wrong.exit_code == 1
    assert json.loads(pinned_wrong.output)["first_bad"]["check"] in ("V4", "V5")
    (tmp_path / "garbage.json").write_text('{"format": "something else"}')
    assert runner.invoke(main, ["verify", str(tmp_path / "garbage.json")]).exit_code == 2


def test_export_command(db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]) -> None:
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    ledger.close()
    runner = keyed_cli(tmp_path)
    out = tmp_path / "case.json"
    made = runner.invoke(main, ["--db", db_url, "export", "--cycle", CYCLE, "-o", str(out)])
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["verify", str(out)]).exit_code == 0
    missing = runner.invoke(main, ["--db", db_url, "export", "--cycle", "nope", "-o", str(out)])
    assert missing.exit_code == 2 and "nope" in missing.output


def test_a_bundle_carries_its_checkpoints_cosignatures(
    db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]
) -> None:
    from ledger.checkpoint import open_checkpoint
    from ledger.cosignature import WitnessPolicy, cosign, cosigner_key
    from witness.cosignatures import CosignatureStore

    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    ledger.projector.catch_up()
    witness, stranger = SignerKey.generate("w1.example"), SignerKey.generate("w2.example")
    size = ledger.size()
    text = open_checkpoint(ledger.checkpoint(), ledger.log_key).text()
    store = CosignatureStore(ledger.store)
    store.ensure()
    store.add(size, cosigner_key(witness), cosign(witness, text, 1_790_000_000))
    data = write(export(ledger, CYCLE))

    def v7(*keys: SignerKey) -> dict[str, object]:
        policy = WitnessPolicy(tuple(cosigner_key(k) for k in keys), len(keys))
        report = verify_file(data, ledger.log_key, ledger.root_keys, policy).to_json()
        return next(c for c in report["checks"] if c["id"] == "V7")

    assert v7(witness)["status"] == "pass", v7(witness)["first_failure"]
    missing = v7(witness, stranger)
    assert missing["status"] == "fail" and "w2.example" in missing["first_failure"]["reason_en"]
