"""Commands for integrators: ``follow``, ``publish`` (NATS JetStream), ``webhooks``.

Registered on the ``cadreledger`` group by ``cadreledger.cli``; exit codes as there:
0 = done, 1 = a check failed, 2 = could not run.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

EXIT_FAILED, EXIT_CANNOT_RUN = 1, 2


class CannotRun(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


def _say(text: str) -> None:
    click.echo(text, err=True)


@click.command()
@click.argument("url")
@click.option(
    "--log-key",
    required=True,
    help="the log's verifier key (name+keyid+base64), or @FILE: the only thing trusted",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="follow.state.json",
    show_default=True,
    help="where the position and the last accepted checkpoint are kept",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="append each verified event here as a JSON line (exactly once across restarts)",
)
@click.option("--type", "types", multiple=True, help="only these statement types (may repeat)")
@click.option("--cycle", help="only this cycle's events")
@click.option("--unit", help="only this unit's events")
@click.option(
    "--transport",
    type=click.Choice(["sse", "poll", "tiles"]),
    default="sse",
    show_default=True,
    help="Server-Sent Events, pages of /v1/events, or C2SP tlog-tiles: then URL is the "
    "tile prefix (the service's …/v1/log, a static export's URL, or a directory)",
)
@click.option("--until", type=int, help="stop once every position below this is handled")
@click.option("--once", is_flag=True, help="stop when caught up")
@click.option(
    "--token",
    envvar="CADRELEDGER_TOKEN",
    help="an access token (an integrator's, or an auditor's) for a service that asks for one",
)
def follow(
    url: str,
    log_key: str,
    state_path: Path,
    output: Path | None,
    types: tuple[str, ...],
    cycle: str | None,
    unit: str | None,
    transport: str,
    until: int | None,
    once: bool,
    token: str | None,
) -> None:
    """Follow the events of the service at URL, verifying each one (signature,
    inclusion in a checkpoint signed by --log-key, consistency of checkpoints); stop
    with exit 1 on the first discrepancy."""
    import httpx

    from ledger.keys import KeyFormatError, VerifierKey
    from streams.follow import CannotFollow, Discrepancy, Follower
    from streams.follow_tiles import TileFollower

    try:
        text = Path(log_key[1:]).read_text() if log_key.startswith("@") else log_key
        key = VerifierKey.parse(text.strip())
    except (OSError, KeyFormatError) as e:
        raise CannotRun(f"--log-key: {e}") from e
    filters: dict[str, Any] = {"types": sorted(types), "cycle": cycle, "unit": unit}
    try:
        follower = (TileFollower if transport == "tiles" else Follower)(
            url,
            key,
            state_path,
            output=output,
            filters=filters,
            transport=transport,
            say=_say,
            client=httpx.Client(
                timeout=httpx.Timeout(10.0, read=60.0),
                headers={"Authorization": f"Bearer {token}"} if token else None,
            ),
        )
    except CannotFollow as e:
        raise CannotRun(str(e)) from e
    try:
        done = follower.run(until=until, once=once)
    except Discrepancy as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAILED)
    except CannotFollow as e:
        raise CannotRun(str(e)) from e
    finally:
        follower.close()
    size = follower.checkpoint.size if follower.checkpoint else 0
    _say(
        f"ĐẠT / OK: {done} sự kiện đã kiểm tra / events verified; position "
        f"{follower.state.position}; checkpoint {size}"
    )


@click.command()
@click.option("--nats", "nats_url", default="nats://127.0.0.1:4222", show_default=True)
@click.option("--stream", default="CADRELEDGER", show_default=True, help="JetStream stream")
@click.option(
    "--subject-prefix",
    default="cadreledger.events",
    show_default=True,
    help="subjects are PREFIX.<statement type>",
)
@click.option("--until", type=int, help="stop once every position below this is published")
@click.pass_context
def publish(
    ctx: click.Context, nats_url: str, stream: str, subject_prefix: str, until: int | None
) -> None:
    """Publish every event to NATS JetStream exactly once, in order (Nats-Msg-Id = event
    hash); resumes from the stream's last message after any stop or crash."""
    import asyncio

    from cadreledger.cli import open_ledger
    from streams.feed import Feed
    from streams.nats import NatsSettings, Publisher

    with open_ledger(ctx.find_root(), writer=False) as ledger:
        publisher = Publisher(
            ledger, Feed(ledger), NatsSettings(nats_url, stream, subject_prefix), say=_say
        )
        try:
            done = asyncio.run(publisher.run(until=until))
        except KeyboardInterrupt:
            done = publisher.published
        except OSError as e:
            raise CannotRun(f"NATS {nats_url}: {e}") from e
    _say(f"đã đăng / published {done} events; position {publisher.position}")


@click.group()
def webhooks() -> None:
    """Webhook delivery (Standard Webhooks; registrations are statements on the ledger)."""


@webhooks.command("run")
@click.option(
    "--allow-private",
    is_flag=True,
    help="let deliveries reach loopback and private addresses (tests, closed networks)",
)
@click.option("--max-attempts", default=8, show_default=True, help="then a dead letter")
@click.option("--backoff", default=2.0, show_default=True, help="seconds before the 2nd attempt")
@click.pass_context
def webhooks_run(
    ctx: click.Context, allow_private: bool, max_attempts: int, backoff: float
) -> None:
    """Deliver webhooks from this database until stopped (one dispatcher per database;
    another waits). Runs beside ``serve``, or inside it with ``serve --webhooks``."""
    import asyncio
    import signal

    from access.tokens import AccessStore
    from api.auth import standing_roles
    from cadreledger.cli import open_ledger
    from streams.feed import EventHub, Feed
    from streams.webhooks import Dispatcher, RetryPolicy, WebhookKeys, key_path

    with open_ledger(ctx.find_root(), writer=False) as ledger:
        keys = WebhookKeys.load_or_create(key_path(ledger.settings))
        hub = EventHub(ledger, Feed(ledger))
        # As ``serve`` does: an integrator receives only the cycles granted to it.
        entitled = (
            AccessStore(ledger.store).entitlement(partial(standing_roles, ledger))
            if ledger.rules is not None
            else None
        )
        dispatcher = Dispatcher(
            ledger,
            hub.feed,
            keys,
            RetryPolicy(max_attempts=max_attempts, base=backoff),
            allow_private=allow_private,
            say=_say,
            entitled=entitled,
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            hub.start()
            await dispatcher.run(stop)

        try:
            asyncio.run(main())
        finally:
            hub.stop()
    _say(f"webhooks: {dispatcher.attempts} lần gửi / attempts")


@webhooks.command("list")
@click.pass_context
def webhooks_list(ctx: click.Context) -> None:
    """Registrations the dispatcher has read, with their deliveries by state."""
    import json

    from cadreledger.cli import open_ledger
    from streams.webhooks import DeliveryStore

    with open_ledger(ctx.find_root(), writer=False) as ledger:
        store = DeliveryStore(ledger)
        for endpoint in store.endpoints().values():
            row = {**endpoint.to_json(), "deliveries": store.counts(endpoint.id)}
            click.echo(json.dumps(row, ensure_ascii=False))


@webhooks.command("redeliver")
@click.argument("webhook")
@click.pass_context
def webhooks_redeliver(ctx: click.Context, webhook: str) -> None:
    """Put WEBHOOK's dead letters back to pending, their attempts reset."""
    from cadreledger.cli import open_ledger
    from streams.webhooks import DeliveryStore

    with open_ledger(ctx.find_root(), writer=False) as ledger:
        count = DeliveryStore(ledger).redeliver(webhook)
    _say(f"{count} thư chết được gửi lại / dead letters queued again")


COMMANDS = [follow, publish, webhooks]
