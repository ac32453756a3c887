"""Personal data commands: ``erase`` (crypto-shredding, xóa dữ liệu cá nhân).

Registered on the ``cadreledger`` group by ``cadreledger.cli``.
"""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--subject", required=True, help="the data subject: a cadre's or person's id")
@click.option(
    "--reason",
    required=True,
    help="why (the lawful request it answers, e.g. its reference); recorded, so no "
    "personal data in it",
)
@click.option("--json", "as_json", is_flag=True, help="print the erasure record as JSON")
@click.pass_context
def erase(ctx: click.Context, subject: str, reason: str, as_json: bool) -> None:
    """Crypto-shred SUBJECT's sealed texts: destroy their data keys, for good.

    The texts (comments, reasons, complaint grounds, … about SUBJECT) become unreadable;
    the ledger keeps their commitments, so every signature, hash chain, proof and check
    still holds. The erasure itself is recorded: who, when, why, how many texts. Backups
    made before it still hold the keys wrapped: see docs/operations.md."""
    from cadreledger.cli import CannotRun, open_ledger

    with open_ledger(ctx, writer=False) as ledger:
        try:
            erasure = ledger.erase(subject, reason)
        except ValueError as e:
            raise CannotRun(str(e)) from e
    if as_json:
        click.echo(json.dumps(erasure.to_json(), ensure_ascii=False))
        return
    click.echo(
        f"Đã xóa / erased: {erasure.texts} văn bản niêm phong / sealed texts of {subject} "
        f"({erasure.keys} khóa dữ liệu đã hủy / data keys destroyed) at {erasure.erased_at}"
    )
    if not erasure.keys:
        click.echo(
            "  (không có khóa nào: không còn văn bản nào để xóa / no keys: nothing left to "
            "erase; the request is recorded)"
        )


COMMANDS = (erase,)
