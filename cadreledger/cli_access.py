"""Commands for access: ``token`` (issue, revoke) and ``grant`` (an integrator's cycles).

These are the operator's: they write the access tables directly, as someone who
holds the database may. People sign in themselves with ``POST /v1/auth/tokens``.
Registered on the ``cadreledger`` group by ``cadreledger.cli``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    from cadreledger.access import AccessStore
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
    from cadreledger.access import AccessStore
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
    from cadreledger.access import AccessStore
    from cadreledger.cli import open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        access = AccessStore(ledger.store)
        for cycle in cycles:
            (access.withdraw if withdraw else access.grant)(person, cycle)
        click.echo(f"{person}: {', '.join(sorted(access.grants(person))) or '—'}")


COMMANDS = (token, grant)
