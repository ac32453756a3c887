"""Coverage-guided fuzzing (atheris, libFuzzer) of the canonical-form and bundle parsers.

    python -m bench.drills fuzz --seconds 600

Two targets, each in a process of its own (libFuzzer owns the process):

- ``canonical``: ``ledger.canonical.parse_strict`` and ``ledger.statement.parse_submission``
  on any bytes raise nothing but ``Rejected``; what ``parse_strict`` accepts has only NFC
  strings, and its canonical bytes parse back to the same value and the same bytes.
- ``bundle``: ``evidence.bundle.verify_file`` (``ledger.bundle.parse_bundle`` first)
  on any bytes returns a report or raises ``BundleError``, nothing else.

The seed corpus is a few valid submissions and a small genuine bundle, exported from a
ledger built for the purpose. This module imports no project code at the top: the worker
imports it under atheris' instrumentation, so that coverage is measured there.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS = ("canonical", "bundle")
INSTRUMENTED = ["ledger", "evidence.bundle", "domain", "projections"]
_STATS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)", re.M)


@dataclass
class Run:
    target: str
    seconds: int
    executions: int
    edges: int
    features: int
    crashes: int
    output_tail: str

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "output_tail"} | (
            {"output_tail": self.output_tail} if self.crashes else {}
        )


def seed(corpus: Path, target: str, workdir: Path) -> None:
    """A few valid inputs for ``target`` in ``corpus``."""
    import json

    corpus.mkdir(parents=True, exist_ok=True)
    if target == "canonical":
        from bench.drills.scenario import Scenario

        world = Scenario(cadres=2, panel=1, seed=3)
        for i, signed in enumerate(world.opening()[:4]):
            data = json.dumps(signed.submission(), ensure_ascii=False).encode()
            (corpus / f"seed-{i}").write_bytes(data)
        (corpus / "seed-texts").write_bytes(
            '{"a": [1, -2, "Nguyễn", {"b": null, "c": true}], "d": "\\u00e9"}'.encode()
        )
        return
    from bench.drills.base import Keys, build
    from cadreledger.service import Ledger
    from evidence.bundle import export, write

    keys = Keys(workdir / "keys")
    url = f"sqlite:///{workdir / 'fuzz.db'}"
    world = build(url, keys, cadres=2, panel=1, decided=1, newcomers=1, seed=3)
    with Ledger(keys.settings(url)) as ledger:
        ledger.projector.catch_up()
        data = write(export(ledger, world.cycle))
    (corpus / "seed-bundle").write_bytes(json.dumps(json.loads(data)).encode())


def run(target: str, seconds: int, workdir: Path) -> Run:
    """Fuzz ``target`` for ``seconds`` in a child process; its figures."""
    corpus = workdir / f"corpus-{target}"
    seed(corpus, target, workdir)
    artifacts = workdir / f"crashes-{target}"
    artifacts.mkdir(exist_ok=True)
    for old in artifacts.iterdir():
        old.unlink()
    command = [
        sys.executable,
        "-m",
        "bench.drills.fuzz",
        target,
        str(corpus),
        f"-max_total_time={seconds}",
        f"-artifact_prefix={artifacts}/",
        "-rss_limit_mb=2048",
        "-max_len=200000",
        "-print_final_stats=1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
    output = done.stdout + done.stderr
    stats = _STATS.findall(output)
    executions, edges, features = (int(x) for x in stats[-1]) if stats else (0, 0, 0)
    final = re.search(r"stat::number_of_executed_units: (\d+)", output)
    if final:
        executions = int(final.group(1))
    crashes = len(list(artifacts.iterdir())) + (1 if done.returncode != 0 else 0)
    uncaught = output.find("=== Uncaught Python exception")  # what the crash was
    tail = output[uncaught : uncaught + 3000] if uncaught >= 0 else output[-3000:]
    return Run(target, seconds, executions, edges, features, crashes, tail)


def run_all(seconds: int, workdir: Path | None = None) -> list[Run]:
    """Every target, ``seconds`` split between them."""
    share = max(1, seconds // len(TARGETS))
    with tempfile.TemporaryDirectory(prefix="cadreledger-fuzz-") as tmp:
        base = workdir or Path(tmp)
        runs = []
        for target in TARGETS:
            (base / target).mkdir(parents=True, exist_ok=True)
            runs.append(run(target, share, base / target))
        return runs


# -- the worker: runs under libFuzzer ------------------------------------------------------


def _canonical_target() -> Any:
    from ledger.canonical import canonical_bytes, parse_strict
    from ledger.errors import Rejected
    from ledger.statement import MAX_SUBMISSION_BYTES, parse_submission

    def one(data: bytes) -> None:
        try:
            value = parse_strict(data, max_bytes=MAX_SUBMISSION_BYTES)
        except Rejected:
            value = None
        if value is not None:
            _all_nfc(value)
            canonical = canonical_bytes(value)
            again = parse_strict(canonical, max_bytes=len(canonical))
            if again != value or canonical_bytes(again) != canonical:
                raise AssertionError(f"canonical form does not round-trip: {canonical[:200]!r}")
        with contextlib.suppress(Rejected):
            parse_submission(data)

    return one


def _all_nfc(value: Any) -> None:
    import unicodedata

    if isinstance(value, str) and not unicodedata.is_normalized("NFC", value):
        raise AssertionError(f"a non-NFC string was accepted: {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _all_nfc(k)
            _all_nfc(v)
    elif isinstance(value, list):
        for v in value:
            _all_nfc(v)


def _bundle_target() -> Any:
    from evidence.bundle import verify_file
    from ledger.bundle import BundleError

    def one(data: bytes) -> None:
        with contextlib.suppress(BundleError):
            verify_file(data)

    return one


def worker(argv: list[str]) -> None:
    import atheris  # type: ignore[import-untyped]

    target, rest = argv[0], argv[1:]
    with atheris.instrument_imports(include=INSTRUMENTED):
        one = _canonical_target() if target == "canonical" else _bundle_target()
    atheris.Setup([sys.argv[0], *rest], one)
    atheris.Fuzz()


if __name__ == "__main__":
    worker(sys.argv[1:])
