"""Commands for access: ``init`` (the root of trust's ceremony), ``token`` (issue,
revoke) and ``grant`` (an integrator's cycles).

These are the operator's: they write the access tables directly, as someone who
holds the database may. People sign in themselves with ``POST /v1/auth/tokens``.
Registered on the ``cadreledger`` group by ``cadreledger.cli``.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from domain.registry import STANDING_ROLES


@click.group()
def token() -> None:
    """Access tokens for the HTTP service (mã truy cập)."""


@token.command("issue")
@click.option("--person", required=True, help="a person in the key registry")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(STANDING_ROLES),
    help="a standing role, for a log without a registry (a bare log) only; may repeat",
)
@click.option("--hours", default=12.0, show_default=True, help="how long the token lives")
@click.pass_context
def issue(ctx: click.Context, person: str, roles: tuple[str, ...], hours: float) -> None:
    """Print a new token for PERSON (only its hash is stored: keep it safe)."""
    from access.tokens import AccessStore
    from cadreledger.cli import CannotRun, open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        if ledger.rules is not None and roles:
            # Roles there are the registry's, granted by signed statements and revocable:
            # a role written into a token would stand beside them, and nothing revokes it.
            raise CannotRun(
                "--role is for a bare log only: on an evaluation ledger roles are granted "
                "in the key registry (role.granted), where revoking them closes the door"
            )
        if ledger.rules is not None:
            ledger.projector.catch_up()
            if person not in ledger.projector.model.registry.people:
                raise CannotRun(f"{person!r} is not in the key registry")
        text, expires = AccessStore(ledger.store).issue(
            person, roles=frozenset(roles), ttl=timedelta(hours=hours)
        )
    until = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
    click.echo(f"# {person}, hết hạn / expires {until}", err=True)
    click.echo(text)


@token.command("revoke")
@click.option("--person", required=True)
@click.pass_context
def revoke(ctx: click.Context, person: str) -> None:
    """Revoke every token of PERSON."""
    from access.tokens import AccessStore
    from cadreledger.cli import open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        count = AccessStore(ledger.store).revoke_person(person)
    click.echo(f"đã thu hồi / revoked {count} token(s) of {person}")


@click.command()
@click.option("--person", required=True, help="an integrator")
@click.option("--cycle", "cycles", required=True, multiple=True, help="a cycle id; may repeat")
@click.option("--withdraw", is_flag=True, help="take the grants back")
@click.pass_context
def grant(ctx: click.Context, person: str, cycles: tuple[str, ...], withdraw: bool) -> None:
    """Let an integrator read the events of these cycles (or stop it)."""
    from access.tokens import AccessStore
    from cadreledger.cli import open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        access = AccessStore(ledger.store)
        for cycle in cycles:
            (access.withdraw if withdraw else access.grant)(person, cycle)
        click.echo(f"{person}: {', '.join(sorted(access.grants(person))) or '—'}")


@click.command()
@click.option(
    "--root-key-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="make the root of trust's key pair and write its PRIVATE key here (a removable "
    "medium, an offline machine): the service never needs it",
)
@click.option(
    "--root-key",
    "root_key",
    help="or: the root's verifier key made elsewhere (`cadreledger keygen root`), or @FILE",
)
@click.option("--bare", is_flag=True, help="a bare log: no registry, no evaluation rules")
@click.pass_context
def init(ctx: click.Context, root_key_out: Path | None, root_key: str | None, bare: bool) -> None:
    """Create a new ledger (genesis). For an evaluation ledger, the root of trust's
    ceremony: its private key goes where --root-key-out says (or stays wherever it was
    made, with --root-key), and only its verifier key is kept for the service and fixed
    in the ledger. The root then signs the first registrations (a registrar, organisers)
    with `cadreledger sign --key …` and goes back offline."""
    from cadreledger.cli import CannotRun, _read_key, open_ledger
    from cadreledger.service import ROOT_NAME, Ledger
    from ledger.keys import KeyFormatError, SignerKey

    settings = ctx.obj
    try:
        Ledger(settings, writer=False).close()
    except Exception:
        pass  # nothing there yet: as it should be
    else:
        raise CannotRun(f"{settings.db} already holds a ledger: its genesis is fixed")
    if bare:
        ctx.obj = dataclasses.replace(settings, rules=False)
    elif (root_key_out is None) == (root_key is None):
        raise CannotRun("give one of --root-key-out PATH or --root-key KEY (or --bare)")
    else:
        public = settings.root_key_path()
        if public.exists():
            raise CannotRun(f"{public} exists: remove it, or name another root key file")
        try:
            if root_key_out is not None:
                private = SignerKey.generate(ROOT_NAME)
                fd = os.open(root_key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(str(private) + "\n")
                verifier = private.verifier
            else:
                verifier = _read_key(str(root_key))
            public.parent.mkdir(parents=True, exist_ok=True)
            public.write_text(str(verifier) + "\n")  # public: nothing secret in it
        except (OSError, KeyFormatError) as e:
            raise CannotRun(str(e)) from e
    with open_ledger(ctx, writer=True) as ledger:
        click.echo(
            f"Sổ cái mới / new ledger: {settings.db}; khóa nhật ký / log key {ledger.log_key}"
        )
        if ledger.root_keys:
            click.echo(f"Gốc tin cậy / root of trust: {ledger.root_keys[0]}")
            click.echo(f"  khóa công khai / verifier key: {settings.root_key_path()}")
        if root_key_out is not None:
            click.echo(
                f"  khóa bí mật / PRIVATE key: {root_key_out} — cất ngoại tuyến / keep it "
                "offline; the service never needs it"
            )


COMMANDS = (init, token, grant)
