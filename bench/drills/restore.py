"""The restore drill: PostgreSQL backups restored, and an old one caught rolling history back.

1. A ledger on PostgreSQL is written; an independent witness (``cadreledger witness``,
   a process of its own) cosigns its checkpoint; ``pg_dump`` takes backup B1.
2. The ledger grows; the witness cosigns the new checkpoint, proven consistent with
   the first; an auditor keeps that checkpoint and runs ``verify`` (which remembers
   the tree heads it accepted); ``pg_dump`` takes backup B2.
3. B2 restored into a new database verifies: exit 0, also held to the auditor's
   checkpoint and to the witness's cosignature.
4. B1 restored — older than checkpoints already handed out — is caught: ``verify
   --checkpoint`` with the auditor's checkpoint fails V6 and places the lost events in
   ``[size of B1, size of the checkpoint)``; so does the auditor's remembered state.
5. The operator writes on the restored B1 anyway (a fork). The witness refuses to
   cosign the forked checkpoint (its consistency proof does not lead from what the
   witness cosigned) and keeps the request as evidence; ``verify --witness`` fails V7.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.drills.base import Keys, build, submit_in_batches
from bench.drills.crash import free_port
from bench.drills.databases import create_pg, drop_pg
from bench.drills.scenario import Scenario
from cadreledger.service import Ledger
from ledger.cosignature import cosigner_key, with_signatures
from ledger.keys import SignerKey
from ledger.note import NoteSignature
from witness.state import WitnessState
from witness.witnessing import Refused, WitnessEndpoint, Witnessing


def tools_missing() -> str | None:
    missing = [t for t in ("pg_dump", "pg_restore") if shutil.which(t) is None]
    return f"{', '.join(missing)} not on PATH" if missing else None


@dataclass
class Figures:
    backup_sizes: dict[str, int] = field(default_factory=dict)  # B1, B2 → log size
    verify: dict[str, Any] = field(default_factory=dict)  # case → exit code, first bad
    witness: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


class WitnessProcess:
    """``cadreledger witness`` on a loopback port, watching one log."""

    def __init__(self, workdir: Path, log_key: str) -> None:
        self.key = SignerKey.generate("witness.drill.example/w1")
        self.key_file = workdir / "witness.key"
        self.key_file.write_text(str(self.key) + "\n")
        self.state = workdir / "witness.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.verifier = cosigner_key(self.key)
        command = [sys.executable, "-m", "cadreledger.cli", "witness", "--key", str(self.key_file)]
        command += ["--log", log_key, "--state", str(self.state), "--port", str(self.port)]
        self.log = (workdir / "witness.log").open("ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                httpx.post(f"{self.url}/add-checkpoint", content=b"", timeout=2)
                return
            time.sleep(0.1)
        raise RuntimeError("the witness did not start")

    @property
    def endpoint(self) -> WitnessEndpoint:
        return WitnessEndpoint(self.url, self.verifier)

    def evidence(self) -> list[tuple[int, str, int, str, bytes]]:
        state = WitnessState(self.state)
        try:
            return state.evidence()
        finally:
            state.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def cosign(ledger: Ledger, witness: WitnessProcess) -> NoteSignature:
    """Ask the witness to cosign the ledger's latest checkpoint, as ``serve --witness``
    does (``Refused`` if it will not)."""
    gatherer = Witnessing(ledger, [witness.endpoint])
    gatherer.store.ensure()
    try:
        return gatherer.gather(witness.endpoint, ledger.checkpoint())
    finally:
        gatherer.stop()


def pg_dump(url: str, target: Path) -> None:
    subprocess.run(["pg_dump", "-Fc", "-d", url, "-f", str(target)], check=True, timeout=300)


def pg_restore(dump: Path) -> str:
    """A new database holding the dump: its URL."""
    url = create_pg("drill_restored")
    subprocess.run(
        ["pg_restore", "--no-owner", "-d", url, str(dump)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return url


def verify(url: str, keys: Keys, workdir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``cadreledger verify --json`` with the log key pinned, as an auditor runs it."""
    command = [sys.executable, "-m", "cadreledger.cli", "--db", url, "verify", "--json"]
    command += ["--log-key", str(keys.log_signer().verifier), *args]
    result = subprocess.run(command, capture_output=True, timeout=600, cwd=workdir)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {"error": result.stderr.decode()[-2000:]}
    return result.returncode, report


def _first_bad(report: dict[str, Any]) -> dict[str, Any] | None:
    bad = report.get("first_bad")
    return {k: bad[k] for k in ("check", "position", "until") if k in bad} if bad else None


def run(url: str, workdir: Path, seed: int = 5) -> Figures:
    """The whole drill on the (empty) PostgreSQL database at ``url``."""
    started = time.monotonic()
    figures = Figures()
    rng = random.Random(seed)
    keys = Keys(workdir / "keys")
    world: Scenario = build(url, keys, cadres=20, decided=5, newcomers=20, seed=seed)
    log_key = str(keys.log_signer().verifier)
    witness = WitnessProcess(workdir, log_key)
    restored: list[str] = []
    try:
        # 1. Written, cosigned, backed up.
        with Ledger(keys.settings(url)) as ledger:
            first = workdir / "auditor-checkpoint-1.txt"
            first.write_text(with_signatures(ledger.checkpoint(), [cosign(ledger, witness)]))
            figures.backup_sizes["B1"] = ledger.size()
        pg_dump(url, workdir / "b1.dump")

        # 2. Grown, cosigned again; the auditor keeps that checkpoint and verifies.
        with Ledger(keys.settings(url)) as ledger:
            submit_in_batches(ledger, world.newcomers(40), rng)
            line = cosign(ledger, witness)
            kept = workdir / "auditor-checkpoint-2.txt"
            kept.write_text(with_signatures(ledger.checkpoint(), [line]))
            figures.backup_sizes["B2"] = ledger.size()
        state = workdir / "auditor-state"
        code, _ = verify(url, keys, workdir, "--state-dir", str(state))
        figures.verify["live, auditor's first run"] = {"exit": code}
        pg_dump(url, workdir / "b2.dump")
        w = ["--witness", str(witness.verifier)]

        # 3. The latest backup restored: it verifies, against everything the auditor holds.
        latest = pg_restore(workdir / "b2.dump")
        restored.append(latest)
        code, report = verify(
            latest, keys, workdir, "--checkpoint", str(kept), "--state-dir", str(state), *w
        )
        figures.verify["B2 restored"] = {"exit": code, "first_bad": _first_bad(report)}
        if code != 0:
            figures.problems.append(f"the latest backup does not verify: {report}")

        # 4. The older backup restored: a rollback, caught.
        older = pg_restore(workdir / "b1.dump")
        restored.append(older)
        for case, args in {
            "B1 restored, auditor's checkpoints": (
                *("--checkpoint", str(first), "--checkpoint", str(kept)),
                "--no-remember",
            ),
            "B1 restored, verifier's memory": ("--state-dir", str(state)),
        }.items():
            code, report = verify(older, keys, workdir, *args)
            bad = _first_bad(report)
            figures.verify[case] = {"exit": code, "first_bad": bad}
            b1, b2 = figures.backup_sizes["B1"], figures.backup_sizes["B2"]
            # The lost events are placed from B1's size up to a checkpoint that had them.
            placed = bad is not None and bad.get("check") == "V6" and bad.get("position") == b1
            if code != 1 or not placed or not b1 < (bad or {}).get("until", 0) <= b2:
                figures.problems.append(f"{case}: the rollback is not caught and placed: {report}")

        # 5. Written on anyway: the witness will not cosign the fork.
        with Ledger(keys.settings(older)) as forked:
            extra = figures.backup_sizes["B2"] - figures.backup_sizes["B1"] + 5
            submit_in_batches(forked, world.newcomers(extra), rng)
            try:
                cosign(forked, witness)
                figures.problems.append("the witness cosigned a forked checkpoint")
                figures.witness["fork"] = "cosigned"
            except Refused as e:
                figures.witness["fork"] = f"refused: {e}"
            figures.witness["fork_size"] = forked.size()
        evidence = witness.evidence()
        figures.witness["evidence"] = [(status, reason) for _, _, status, reason, _ in evidence]
        if not any(status == 422 for _, _, status, _, _ in evidence):
            figures.problems.append("the witness kept no evidence of the fork")
        code, report = verify(older, keys, workdir, "--no-remember", *w)
        v7 = next(c for c in report.get("checks", []) if c["id"] == "V7") if code != 2 else {}
        figures.verify["fork, witness policy"] = {"exit": code, "V7": v7.get("status")}
        if code != 1 or v7.get("status") != "fail":
            figures.problems.append(f"verify --witness passed a fork: {report}")
    finally:
        witness.stop()
        for db in restored:
            drop_pg(db)
    figures.seconds = time.monotonic() - started
    return figures
