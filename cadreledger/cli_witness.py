"""The ``witness`` command: an independent C2SP tlog-witness for one or more logs.

Registered on the ``cadreledger`` group by ``cadreledger.cli``; exit codes as there:
0 = done, 2 = could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ledger.cosignature import WitnessPolicy, parse_cosigner_key
from ledger.keys import KeyFormatError, SignerKey, VerifierKey

EXIT_CANNOT_RUN = 2


class CannotRun(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


def read_key_arg(text: str) -> str:
    """A key given inline, or ``@FILE``."""
    return Path(text[1:]).read_text().strip() if text.startswith("@") else text.strip()


def parse_log(spec: str) -> tuple[str, VerifierKey]:
    """``ORIGIN=KEY`` or just ``KEY`` (the origin is then the key's name)."""
    origin, sep, key_text = spec.partition("=")
    if not sep:
        origin, key_text = "", spec
    key = VerifierKey.parse(read_key_arg(key_text))
    return origin or key.name, key


@click.command()
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the witness's private key (from `cadreledger keygen NAME -o FILE`; NAME is the "
    "witness's name, e.g. witness.example.org/w1). Use it for nothing else.",
)
@click.option(
    "--log",
    "logs",
    multiple=True,
    help="a log to witness: ORIGIN=KEY or KEY (origin = the key's name); KEY may be @FILE; "
    "may repeat",
)
@click.option(
    "--logs-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="logs to witness, one ORIGIN=KEY or KEY per line (# starts a comment)",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="witness.db",
    show_default=True,
    help="SQLite file holding the latest cosigned checkpoint per log",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True)
@click.option("--print-key", is_flag=True, help="print the witness's verifier key and exit")
def witness(
    key_file: Path,
    logs: tuple[str, ...],
    logs_file: Path | None,
    state_path: Path,
    host: str,
    port: int,
    print_key: bool,
) -> None:
    """Run a C2SP tlog-witness (POST /add-checkpoint): cosign each checkpoint of the
    configured logs that is consistent with the last one it cosigned, and never one that
    is not. Prints its verifier key (type 0x04), which logs and verifiers pin."""
    from ledger.cosignature import cosigner_key

    try:
        key = SignerKey.parse(key_file.read_text())
    except (OSError, KeyFormatError) as e:
        raise CannotRun(f"--key: {e}") from e
    verifier = cosigner_key(key)
    if print_key:
        click.echo(str(verifier))
        return
    specs = list(logs)
    if logs_file is not None:
        for line in logs_file.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                specs.append(line)
    if not specs:
        raise CannotRun("no log to witness: give --log ORIGIN=KEY or --logs-file")
    try:
        watched = [parse_log(spec) for spec in specs]
    except (OSError, KeyFormatError) as e:
        raise CannotRun(f"--log: {e}") from e

    import uvicorn

    from api.witness import create_witness_app
    from witness.state import WitnessState
    from witness.witness import Witness

    state = WitnessState(state_path)
    service = Witness(key, watched, state)
    click.echo(f"nhân chứng / witness: {verifier}", err=True)
    for origin, log_key in watched:
        click.echo(f"  theo dõi / watching {origin}: {log_key}", err=True)
    try:
        uvicorn.run(create_witness_app(service), host=host, port=port, log_level="info")
    finally:
        state.close()


COMMANDS = [witness]


# -- verify's witness policy (the options are added to ``cadreledger verify``) -----------


def witness_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--witness KEY`` (repeatable) and ``--witness-threshold N`` for ``verify``."""
    command = click.option(
        "--witness-threshold",
        type=int,
        help="how many of the --witness keys must have cosigned the latest checkpoint "
        "(default: all of them)",
    )(command)
    return click.option(
        "--witness",
        "witnesses",
        multiple=True,
        help="a witness's verifier key (name+keyid+base64, type 0x04), or @FILE: V7 requires "
        "its cosignature on the latest checkpoint; may repeat",
    )(command)


def witness_policy(witnesses: tuple[str, ...], threshold: int | None) -> WitnessPolicy | None:
    """The policy the options state, or None (V7 not applicable); ``CannotRun`` if bad."""
    if not witnesses:
        if threshold is not None:
            raise CannotRun("--witness-threshold needs at least one --witness")
        return None
    try:
        keys = tuple(parse_cosigner_key(read_key_arg(w)) for w in witnesses)
        return WitnessPolicy(keys, len(keys) if threshold is None else threshold)
    except (OSError, ValueError) as e:  # KeyFormatError is a ValueError
        raise CannotRun(f"--witness: {e}") from e


def verify_with_policy(ledger: Any, policy: WitnessPolicy | None) -> dict[str, Any]:
    """The ``Ledger.verify`` options that make V7 check ``policy`` on this database."""
    if policy is None:
        return {}
    from witness.cosignatures import CosignatureStore

    return {"witness_policy": policy, "cosignatures": CosignatureStore(ledger.store).lines}
