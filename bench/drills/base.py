"""A real evaluation ledger to drill on, and what a drill needs to know about it.

``build`` writes one through the real service code (``cadreledger.service.Ledger``):
registrations, a QĐ 366 cycle with scores and decisions, newcomers registered under
load, in batches of varied sizes so that checkpoints fall at irregular sizes, and the
read model. ``Snapshot`` is what the harness remembers of it before anyone tampers:
every event in commit order, the checkpoints, and the tree heads an auditor who ran
``verify`` would remember.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drills.scenario import Scenario
from cadreledger.config import Settings
from cadreledger.service import Ledger
from ledger.checkpoint import Checkpoint
from ledger.envelope import Event
from ledger.keys import SignerKey
from ledger.sequencer import Landed
from ledger.statement import SignedStatement


@dataclass(frozen=True)
class Keys:
    """Where a drill database's keys live (the log's, the root of trust's)."""

    folder: Path

    @property
    def log(self) -> Path:
        return self.folder / "log.key"

    @property
    def root(self) -> Path:
        return self.folder / "root.key"

    def settings(self, url: str, **options: Any) -> Settings:
        return Settings(db=url, log_key_file=str(self.log), root_key_file=str(self.root), **options)

    def log_signer(self) -> SignerKey:
        return SignerKey.parse(self.log.read_text())


def submit_in_batches(
    ledger: Ledger, statements: Sequence[SignedStatement], rng: random.Random, most: int = 24
) -> list[Landed]:
    """Queue statements in runs of 1…``most`` and wait for each run: the sequencer
    commits each run as one or a few batches, so checkpoints land at varied sizes."""
    assert ledger.sequencer is not None
    landed: list[Landed] = []
    i = 0
    while i < len(statements):
        run = statements[i : i + rng.randint(1, most)]
        futures: list[Future[Landed]] = [ledger.sequencer.submit(s) for s in run]
        landed += [f.result(timeout=60) for f in futures]
        i += len(run)
    return landed


def build(
    url: str,
    keys: Keys,
    *,
    cadres: int = 40,
    panel: int = 3,
    decided: int = 10,
    newcomers: int = 60,
    seed: int = 7,
    rotate: bool = False,
) -> Scenario:
    """A finished evaluation ledger at ``url``, its keys in ``keys.folder``; with
    ``rotate``, the log's key is rotated once the ballots are in."""
    rng = random.Random(seed)
    world = Scenario(cadres=cadres, panel=panel, seed=seed)
    keys.folder.mkdir(parents=True, exist_ok=True)
    keys.root.write_text(str(world.root) + "\n")
    with Ledger(keys.settings(url)) as ledger:
        submit_in_batches(ledger, world.opening(), rng, most=60)
        world.review(lambda s: ledger.append(s).event_hash.hex())
        ballots = [s for scorer in world.panel for s in world.scores(scorer)]
        rng.shuffle(ballots)  # the panel scores in any order
        submit_in_batches(ledger, ballots, rng, most=60)
    if rotate:
        rotate_log_key(url, keys)
    with Ledger(keys.settings(url)) as ledger:
        for cadre in world.cadres[:decided]:
            for signed in world.decide(cadre):
                ledger.append(signed)
        submit_in_batches(ledger, world.newcomers(newcomers), rng)
        ledger.projector.catch_up()
        report = ledger.verify()
        if not report.ok:
            raise RuntimeError(f"the drill's own ledger does not verify: {report.to_json()}")
    return world


def rotate_log_key(url: str, keys: Keys) -> None:
    """``cadreledger rotate-log-key``, as an operator runs it with the service stopped."""
    from click.testing import CliRunner

    from cadreledger.cli import main

    env = {"CADRELEDGER_LOG_KEY_FILE": str(keys.log), "CADRELEDGER_ROOT_KEY_FILE": str(keys.root)}
    result = CliRunner().invoke(main, ["--db", url, "rotate-log-key"], env=env)
    if result.exit_code != 0:
        raise RuntimeError(f"rotate-log-key failed: {result.output}")


@dataclass
class Snapshot:
    """What the harness knows of a database before tampering with it."""

    url: str
    keys: Keys
    events: list[tuple[int, str, int, bytes]]  # notification id, stream, version, envelope
    checkpoints: list[tuple[int, str]]
    documents: list[str]
    log_key: str
    heads: list[tuple[int, bytes]] = field(default_factory=list)  # what an auditor remembers

    @classmethod
    def take(cls, url: str, keys: Keys) -> Snapshot:
        with Ledger(keys.settings(url), writer=False) as ledger:
            events = list(ledger.store.iter_events())
            checkpoints = list(ledger.store.iter_checkpoints())
            try:
                rows = ledger.store.query("SELECT name FROM projection_docs ORDER BY name")
                documents = [str(r["name"]) for r in rows]
            except Exception:
                documents = []
            log_key = str(ledger.log_key)
        heads = [(size, _root(note)) for size, note in checkpoints]
        return cls(url, keys, events, checkpoints, documents, log_key, heads)

    @property
    def size(self) -> int:
        return len(self.events)

    def statements(self) -> list[SignedStatement]:
        """The signed statements, in log order, as a tamperer could lift them."""
        return [lift(raw) for *_, raw in self.events]


def lift(raw: bytes) -> SignedStatement:
    event = Event.parse(raw)
    return SignedStatement(event.statement, event.statement_bytes, event.signer, event.signature)


def _root(note: str) -> bytes:
    text = note[: note.index("\n\n") + 1]
    return Checkpoint.parse_text(text).root


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
