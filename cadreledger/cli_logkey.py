"""The ``rotate-log-key`` command: a new key signs the log's checkpoints from now on.

The rotation note (``ledger.logkeys``) is signed by the old and the new key and stored
in ``ledger_log_keys``; checkpoints already made keep verifying under the old key.
Then the key file is swapped: the old key is kept beside it as ``….retired-<key ID>``.
The new key is first written beside the file, so a crash between the database and the
files leaves both keys on disk. Run it with the service stopped: a writer that keeps
running would go on signing with the old key.

Registered on the ``cadreledger`` group by ``cadreledger.cli``; exit codes as there:
0 = done, 2 = could not run.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from cadreledger.config import ConfigError, Settings
from ledger.keys import KeyFormatError, SignerKey
from ledger.logkeys import RotationError

EXIT_CANNOT_RUN = 2


class CannotRun(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


@click.command("rotate-log-key")
@click.option(
    "--new-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the new private key (cadreledger keygen ORIGIN -o FILE); default: made here",
)
@click.pass_context
def rotate_log_key(ctx: click.Context, new_key: Path | None) -> None:
    """Đổi khóa ký của sổ cái / rotate the log's signing key. Stop the service first.

    Checkpoints made so far keep verifying under the old key; later ones are signed by
    the new key. Afterwards publish the new verifier key and add it to every witness
    (--log ORIGIN=NEWKEY beside the old one)."""
    from cadreledger.service import Ledger

    settings: Settings = ctx.obj
    path = settings.key_path()
    staged = path.with_name(path.name + ".new")
    try:
        old = SignerKey.parse(path.read_text())
        new = SignerKey.parse(new_key.read_text()) if new_key else SignerKey.generate(old.name)
    except (OSError, KeyFormatError) as e:
        raise CannotRun(str(e)) from e
    if new.name != old.name:
        raise CannotRun(f"the new key must be named as the log's origin ({old.name})")
    try:
        _write_private(staged, str(new) + "\n")
    except FileExistsError as e:
        raise CannotRun(f"{staged} exists: an earlier rotation did not finish") from e
    try:
        with Ledger(settings, writer=False) as ledger:
            rotation = ledger.rotate_log_key(old, new)
    except (ConfigError, RotationError) as e:
        staged.unlink()
        raise CannotRun(str(e)) from e
    retired = path.with_name(f"{path.name}.retired-{old.verifier.key_id.hex()}")
    os.replace(path, retired)
    os.replace(staged, path)
    click.echo(f"khóa mới / new log key: {new.verifier}")
    click.echo(
        f"  ký các điểm kiểm tra sau kích thước / signs checkpoints after size {rotation.size}"
    )
    click.echo(f"  khóa cũ giữ tại / old key kept at {retired}")
    click.echo(
        "Báo cho nhân chứng / tell the witnesses: --log "
        f"{new.verifier.name}={new.verifier} (beside the old key)"
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


COMMANDS = [rotate_log_key]
