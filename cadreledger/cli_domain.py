"""Commands for the evaluation read model: ``rebuild`` and ``project``.

Registered on the ``cadreledger`` group by ``cadreledger.cli``.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click


@click.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Rebuild the ratings read model from zero; print the digest of its state.

    The same events always give the same digest (SHA-256 of the RFC 8785 form of
    every document), whether rebuilt or followed incrementally."""
    from cadreledger.cli import open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        projector = _projector(ledger)
        state = projector.rebuild()
        model = projector.model
        click.echo(
            f"Dựng lại / rebuilt: {model.position} sự kiện / events, "
            f"{len(model.cycles)} kỳ đánh giá / cycles, "
            f"{len(model.registry.people)} người / people, "
            f"{len(model.refused)} vi phạm khi phát lại / refused on replay"
        )
        click.echo(f"digest {state}")


@click.command()
@click.option("--poll", default=0.5, show_default=True, help="seconds between polls (SQLite)")
@click.pass_context
def project(ctx: click.Context, poll: float) -> None:
    """Follow the log and keep the read model current until interrupted.

    Exactly once: each batch's documents and the position they reflect are written in
    one transaction; a restart takes up at that position."""
    from cadreledger.cli import open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        projector = _projector(ledger)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"theo dõi từ / following from position {projector.model.position}", err=True)
        projector.follow(stop, poll)


@click.command()
@click.option("--cycle", required=True, help="the evaluation cycle's id")
@click.option("--cadre", help="the subject the bundle is for (its case file)")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the bundle file to write",
)
@click.option(
    "--personal",
    is_flag=True,
    help="with --cadre: only the events that touched that cadre's result, with what "
    "verifies them (what the cadre may download: docs/SPEC.md §10.1)",
)
@click.pass_context
def export(ctx: click.Context, cycle: str, cadre: str | None, output: Path, personal: bool) -> None:
    """Write a cycle's evidence bundle: one file that `cadreledger verify FILE` checks
    offline — events, signatures, key history, regime profile, checkpoints and proofs."""
    from cadreledger.cli import CannotRun, open_ledger
    from evidence.bundle import export as make_bundle
    from evidence.bundle import write
    from evidence.personal_bundle import export_personal, write_personal
    from ledger.errors import Rejected

    if personal and not cadre:
        raise click.UsageError("--personal needs --cadre")
    with open_ledger(ctx, writer=False) as ledger:
        _projector(ledger)
        try:
            if personal and cadre:
                bundle = export_personal(ledger, cycle, cadre)
                output.write_bytes(write_personal(bundle))
            else:
                bundle = make_bundle(ledger, cycle, cadre)
                output.write_bytes(write(bundle))
        except Rejected as e:
            raise CannotRun(f"{e.detail_vi} / {e.detail_en}") from e
    click.echo(
        f"Gói bằng chứng / evidence bundle: {output} — {len(bundle.events)} sự kiện / events, "
        f"{len(bundle.streams)} luồng / streams, điểm kiểm tra / checkpoint "
        f"{bundle.checkpoint.splitlines()[1]}"
    )


@click.command()
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the auditor's private key (their id must hold the auditor role)",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="save the full report"
)
@click.option("--every", type=float, help="repeat every this many seconds until interrupted")
@click.pass_context
def audit(ctx: click.Context, key_file: Path, output: Path | None, every: float | None) -> None:
    """Run the full verification, sign its summary as the auditor and append it to the
    ledger (audit.reported). Exit 1 if a check failed, 2 if it could not run."""
    from cadreledger.cli import EXIT_FAILED, CannotRun, _print_summary, open_ledger
    from evidence.auditor import run_audit
    from ledger.errors import Rejected
    from ledger.keys import KeyFormatError, SignerKey

    try:
        auditor = SignerKey.parse(key_file.read_text())
    except (OSError, KeyFormatError) as e:
        raise CannotRun(str(e)) from e
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ok = True
    with open_ledger(ctx, writer=True) as ledger:
        while True:
            try:
                report, data, receipt = run_audit(ledger, auditor)
            except Rejected as e:
                raise CannotRun(f"{e.detail_vi} / {e.detail_en}") from e
            if output:
                output.write_bytes(data)
            _print_summary(report)
            click.echo(
                f"Báo cáo kiểm toán đã ghi / audit appended: vị trí / position {receipt.index}, "
                f"băm / hash {receipt.event_hash.hex()}"
            )
            ok = report.ok
            if every is None or stop.wait(every):
                break
    if not ok:
        sys.exit(EXIT_FAILED)


def _projector(ledger: Any) -> Any:
    from cadreledger.cli import CannotRun
    from cadreledger.config import ConfigError

    try:
        return ledger.projector
    except ConfigError as e:
        raise CannotRun(str(e)) from e


COMMANDS = (rebuild, project, export, audit)
