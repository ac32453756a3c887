"""``cadreledger tiles export``: the log as static C2SP tlog-tiles files.

Registered on the ``cadreledger`` group by ``cadreledger.cli``; exit codes as there:
0 = done, 1 = a check failed (nothing more written), 2 = could not run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_FAILED = 1


@click.group()
def tiles() -> None:
    """The log as C2SP tlog-tiles (served by `serve` under /v1/log/)."""


@tiles.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--envelopes",
    is_flag=True,
    help="also write tile/envelopes/…: every statement (sealed texts stay sealed). "
    "Publish such a directory only where /v1/log/entries may be read",
)
@click.pass_context
def export(ctx: click.Context, directory: Path, envelopes: bool) -> None:
    """Write the log's checkpoint, tiles and entry bundles into DIRECTORY, at the paths
    the service serves them under /v1/log/, for a static web server, object store or
    CDN. Run it again to add what is new (nothing already written is rewritten)."""
    from cadreledger.cli import open_ledger
    from evidence.tile_export import ExportError, export_tiles

    with open_ledger(ctx, writer=False) as ledger:
        try:
            done = export_tiles(
                ledger, directory, envelopes=envelopes, say=lambda t: click.echo(t, err=True)
            )
        except ExportError as e:
            click.echo(f"KHÔNG ĐẠT / FAIL: {e}", err=True)
            sys.exit(EXIT_FAILED)
    click.echo(
        f"ĐẠT / OK: checkpoint {done.size} (trước / before: {done.previous}); "
        f"{done.tiles} tiles, {done.bundles} bundles written to {directory}"
    )


COMMANDS = [tiles]
