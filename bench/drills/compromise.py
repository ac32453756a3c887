"""The key-compromise drill: a person's lost key, and the log's own key rotated.

**A person's key.** The chair's key is stolen. The registrar revokes it with
``key.revoked``, effective from the moment it was lost (T), which may be earlier
than the revocation itself. Then:

- a statement signed with the key and submitted after the revocation is refused at
  intake, over HTTP, with the problem type ``/problems/key-revoked`` (403);
- an insider who holds the database *and* the log's key slips such a statement into
  the log anyway and reseals everything (chains, index, tiles, checkpoints), so that
  V1–V7 pass (and V10: the insider gives each event a plausible log time). V8 names
  it: after the revocation, as an act by a revoked key; before it but logged at or
  after T, as an act the revocation would have had to disown (it disowns none, and
  the writer refuses such a revocation: ``revocation-backdated``).

**The log's key.** ``cadreledger rotate-log-key`` replaces the key that signs
checkpoints. Checkpoints signed before keep verifying under the old key — for a
verifier that pins the old key and for one that pins the new — and so do the
witness's cosignatures; a checkpoint the retired key signs for a later size does not.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from bench.drills.base import Keys, Snapshot, build, submit_in_batches
from bench.drills.reseal import reseal
from bench.drills.scenario import CHAIR, REGISTRAR
from cadreledger.cli import main
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint
from ledger.cosignature import AddCheckpoint, cosigner_key, parse_lines, with_signatures
from ledger.keys import SignerKey, VerifierKey
from ledger.statement import SignedStatement
from witness.state import WitnessState
from witness.witness import Witness


@dataclass
class Figures:
    refused_at_intake: dict[str, Any] = field(default_factory=dict)
    slipped_in: dict[str, Any] = field(default_factory=dict)
    rotation: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _checks(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def revoked_key(url: str, workdir: Path, figures: Figures, seed: int = 3) -> None:
    """The person's key: refused at intake, and named by V8 when slipped in anyway."""
    keys = Keys(workdir / "keys")
    world = build(url, keys, cadres=12, decided=2, newcomers=10, seed=seed)
    stolen = world.keys[CHAIR]
    # Lost after the chair's last act, by the log's clock (a loss may be dated back to
    # before its revocation, never after it): the next whole second, once it has passed.
    lost = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(max(0.0, (lost - datetime.now(UTC)).total_seconds()) + 0.05)
    lost_at = lost.strftime("%Y-%m-%dT%H:%M:%SZ")
    with Ledger(keys.settings(url)) as ledger:
        # The thief signs with the key after it was lost; nobody has noticed yet …
        world.clock += timedelta(minutes=1)
        early = world.on(CHAIR, "tally.recorded", cadre=world.cadres[3], ballots=3, total="80")
        # … then the registrar revokes it, effective from when it was lost.
        revocation = world.sign(
            REGISTRAR,
            "key.revoked",
            person=CHAIR,
            key=str(stolen.verifier),
            reason="Máy tính xách tay bị lấy cắp.",
            effective=lost_at,
        )
        receipt = ledger.append(revocation)
        figures.refused_at_intake["revocation_position"] = receipt.index
        # At intake, over HTTP: a statement signed with the revoked key.
        late = world.on(CHAIR, "tally.recorded", cadre=world.cadres[4], ballots=3, total="80")
        with TestClient(create_app(ledger)) as http:
            answer = http.post(
                "/v1/statements",
                content=json.dumps(late.submission(), ensure_ascii=False).encode(),
                headers={"content-type": "application/json"},
            )
        problem = answer.json()
        figures.refused_at_intake.update(status=answer.status_code, type=problem.get("type"))
        if answer.status_code != 403 or problem.get("type") != "/problems/key-revoked":
            figures.problems.append(f"a statement by a revoked key was not refused: {problem}")
        ledger.projector.catch_up()

    # The insider slips statements signed with the stolen key in, and reseals.
    base = Snapshot.take(url, keys)
    statements = base.statements()
    at = figures.refused_at_intake["revocation_position"]
    cases = {
        "after the revocation": (
            at + 1 + random.Random(seed).randrange(len(statements) - at),
            late,
        ),
        "before it, signed after the loss": (at, early),
    }
    for case, (position, slipped) in cases.items():
        figures.slipped_in[case] = _slip(url, keys, workdir, statements, position, slipped)
        found = figures.slipped_in[case]
        if found["V1-V7"] != "pass" or found["V8_position"] != position:
            figures.problems.append(f"slipped in {case}: not named by V8 alone: {found}")


def _slip(
    url: str,
    keys: Keys,
    workdir: Path,
    statements: list[SignedStatement],
    position: int,
    slipped: SignedStatement,
) -> dict[str, Any]:
    """A copy of the ledger with ``slipped`` sealed in at ``position``; its report."""
    from bench.drills.databases import copy_of

    with copy_of(url, workdir) as copy, Ledger(keys.settings(copy), writer=False) as ledger:
        sealed = [*statements[:position], slipped, *statements[position:]]
        reseal(ledger.store, sealed, keys.log_signer())
        ledger.projector.rebuild()  # the insider keeps the read model in step
        report = ledger.verify(pinned=keys.log_signer().verifier).to_json()
    statuses = _checks(report)
    record = report["checks"][[c["id"] for c in report["checks"]].index("V8")]["first_failure"]
    return {
        "position": position,
        "V1-V7": "pass"
        if all(statuses[f"V{i}"] in ("pass", "not_applicable") for i in (*range(1, 8), 10))
        else "fail",
        "V8": statuses["V8"],
        "V8_position": (record or {}).get("position"),
        "V8_reason": (record or {}).get("reason_en"),
        "first_bad": (report["first_bad"] or {}).get("check"),
    }


def rotation(url: str, workdir: Path, figures: Figures, seed: int = 4) -> None:
    """The log's key rotated between two cosigned checkpoints; all of it still verifies."""
    keys = Keys(workdir / "rotation-keys")
    world = build(url, keys, cadres=8, decided=1, newcomers=10, seed=seed)
    rng = random.Random(seed)
    old = keys.log_signer()
    witness_key = SignerKey.generate("witness.drill.example/w2")
    state = WitnessState(workdir / "rotation-witness.db")
    try:
        witness = Witness(witness_key, [(old.name, old.verifier)], state)
        with Ledger(keys.settings(url)) as ledger:
            before = _cosign(witness, ledger, 0)
            size_before = ledger.size()
        runner = CliRunner()
        result = runner.invoke(main, ["--db", url, "rotate-log-key"], env=_env(keys))
        if result.exit_code != 0:
            figures.problems.append(f"rotate-log-key failed: {result.output}")
            return
        new = keys.log_signer()
        figures.rotation["rotated_at_size"] = size_before
        figures.rotation["old_key"], figures.rotation["new_key"] = (
            str(old.verifier),
            str(new.verifier),
        )
        # The witness is told: it now trusts both keys for the origin.
        witness = Witness(witness_key, [(old.name, old.verifier), (new.name, new.verifier)], state)
        with Ledger(keys.settings(url)) as ledger:
            submit_in_batches(ledger, world.newcomers(15), rng)
            after = _cosign(witness, ledger, size_before)  # a proof across the rotation
            figures.rotation["witness_cosigned_across"] = True
        held = [workdir / "held-before.txt", workdir / "held-after.txt"]
        held[0].write_text(before)
        held[1].write_text(after)
        w = str(cosigner_key(witness_key))
        for pinned in ("old", "new"):
            key = old.verifier if pinned == "old" else new.verifier
            code, report = _verify(url, keys, key, *_args(held), "--witness", w)
            figures.rotation[f"verify, {pinned} key pinned"] = {
                "exit": code,
                "checks": _checks(report),
            }
            if code != 0:
                figures.problems.append(f"verify with the {pinned} key pinned failed: {report}")
        # The retired key cannot sign the log's future.
        forged = workdir / "forged.txt"
        size_after = Checkpoint.parse_text(after[: after.index("\n\n") + 1]).size
        root = Checkpoint.parse_text(after[: after.index("\n\n") + 1]).root
        forged.write_text(Checkpoint(old.name, size_after, root).sign(old))
        code, report = _verify(url, keys, old.verifier, "--checkpoint", str(forged))
        figures.rotation["a later checkpoint signed by the retired key"] = {"exit": code}
        if code != 1 or _checks(report)["V6"] != "fail":
            figures.problems.append(
                "a checkpoint signed by the retired key for a later size passed"
            )
        # Nor does the chain survive losing its rotation record.
        with Ledger(keys.settings(url), writer=False) as ledger:
            ledger.store.execute("DELETE FROM ledger_log_keys")
        code, report = _verify(url, keys, old.verifier)
        figures.rotation["rotation record deleted"] = {"exit": code, "checks": _checks(report)}
        if code != 1:
            figures.problems.append("verification passed with the rotation record deleted")
    finally:
        state.close()


def _cosign(witness: Witness, ledger: Ledger, old: int) -> str:
    """The ledger's latest checkpoint with the witness's cosignature (C2SP tlog-witness,
    from the witness's last cosigned size ``old``)."""
    note = ledger.checkpoint()
    size = ledger.size()
    proof = tuple(ledger.consistency(old, size)) if old else ()
    answer = witness.add_checkpoint(AddCheckpoint(old, proof, note).body())
    if answer.status != 200:
        raise RuntimeError(f"the witness refused: {answer.status} {answer.body}")
    return with_signatures(note, parse_lines(answer.body))


def _env(keys: Keys) -> dict[str, str]:
    return {"CADRELEDGER_LOG_KEY_FILE": str(keys.log), "CADRELEDGER_ROOT_KEY_FILE": str(keys.root)}


def _args(held: list[Path]) -> list[str]:
    return [arg for path in held for arg in ("--checkpoint", str(path))]


def _verify(url: str, keys: Keys, pinned: VerifierKey, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        ["--db", url, "verify", "--json", "--no-remember", "--log-key", str(pinned), *args],
        env=_env(keys),
    )
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        return result.exit_code, {"checks": [], "output": result.output}


def run(url: str, rotation_url: str, workdir: Path) -> Figures:
    figures = Figures()
    revoked_key(url, workdir, figures)
    rotation(rotation_url, workdir, figures)
    return figures
