"""The ``cadreledger`` command.

Exit codes (docs/verifier.md): 0 = done / every check passed, 1 = a check failed,
2 = could not run (bad arguments, unreachable database, unreadable input).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import click

from cadreledger import (
    cli_access,
    cli_domain,
    cli_logkey,
    cli_privacy,
    cli_streams,
    cli_tiles,
    cli_witness,
)
from cadreledger.config import ConfigError, Settings
from ledger.keys import KeyFormatError, SignerKey, VerifierKey
from ledger.verifier import Report

EXIT_FAILED, EXIT_CANNOT_RUN = 1, 2
LOOK_AT_IT = """\
Xem kết quả / look at it:
  cadreledger --db {db} verify          # kiểm tra toàn bộ / full verification
  cadreledger --db {db} rebuild         # xếp loại từ đầu / ratings rebuilt: digest
  export TOKEN=$(cadreledger --db {db} token issue --person ubkt.dongson)  # mã truy cập / token
  cadreledger --db {db} serve           # http://127.0.0.1:8000/ui/ (đăng nhập / sign in)
  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v1/cycles/{cycle}
  curl -s http://127.0.0.1:8000/v1/log/checkpoint
"""


class CannotRun(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


def open_ledger(ctx: click.Context, *, writer: bool) -> Any:
    from cadreledger.service import Ledger

    settings: Settings = ctx.obj
    try:
        return Ledger(settings, writer=writer)
    except (ConfigError, KeyFormatError) as e:
        raise CannotRun(str(e)) from e
    except Exception as e:  # an unreachable or unreadable database
        raise CannotRun(f"cannot open {settings.db}: {e}") from e


@click.group()
@click.option(
    "--db",
    envvar="CADRELEDGER_DB",
    default=None,
    help="sqlite:///PATH (default sqlite:///cadreledger.db) or postgresql://user@host:port/db",
)
@click.option(
    "--config",
    "config_file",
    envvar="CADRELEDGER_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    help="a TOML file of settings, keyed as the CADRELEDGER_* variables without the prefix "
    "(the command line wins over the environment, which wins over the file)",
)
@click.pass_context
def main(ctx: click.Context, db: str | None, config_file: Path | None) -> None:
    """cadreledger — sổ cái kiểm toán đánh giá, xếp loại cán bộ / an audit ledger for
    evaluating cadres."""
    from cadreledger.config_file import load_settings, option_defaults, read_config

    try:
        values = read_config(config_file) if config_file else {}
        source = str(config_file)
        ctx.default_map = option_defaults(main, values, source)
        ctx.obj = load_settings(values, source=source, db=db)
    except ConfigError as e:
        raise CannotRun(str(e)) from e


@main.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the private key here (mode 0600) instead of standard output",
)
def keygen(name: str, output: Path | None) -> None:
    """Make an Ed25519 key pair for NAME (a person's id, or the log's origin).

    Prints the verifier key (public, C2SP name+keyid+base64)."""
    try:
        key = SignerKey.generate(name)
    except KeyFormatError as e:
        raise CannotRun(str(e)) from e
    if output:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(str(key) + "\n")
        click.echo(f"private key / khóa bí mật: {output}", err=True)
    else:
        click.echo(str(key))
    click.echo(str(key.verifier))


@main.command()
@click.option(
    "--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--seal",
    "sealed",
    multiple=True,
    metavar="FIELD",
    help="seal this top-level text field (e.g. text, reason): the statement keeps a salted "
    "commitment, the submission discloses the text beside it; may repeat",
)
@click.argument("statement", type=click.File("rb"))
def sign(key_file: Path, sealed: tuple[str, ...], statement: Any) -> None:
    """Sign a STATEMENT (JSON file, - for stdin) with your key; print the submission."""
    from ledger.canonical import parse_strict
    from ledger.errors import Rejected
    from ledger.statement import MAX_STATEMENT_BYTES, sign_statement
    from ledger.texts import Sealer

    try:
        key = SignerKey.parse(key_file.read_text())
        body = parse_strict(statement.read(), max_bytes=MAX_STATEMENT_BYTES)
        sealer = Sealer()
        if sealed and isinstance(body, dict):
            body = sealer.seal_fields(body, frozenset(sealed))
        signed = sign_statement(body, key, sealer.texts)
    except (KeyFormatError, Rejected) as e:
        raise CannotRun(str(e)) from e
    click.echo(json.dumps(signed.submission(), ensure_ascii=False))


@main.command()
@click.option("--seed", default=2025, show_default=True, help="the same seed gives the same people")
@click.option(
    "--cadres",
    default=42,
    show_default=True,
    type=click.IntRange(20, 2000),
    help="how many cadres in the unit (20–2000)",
)
@click.pass_context
def demo(ctx: click.Context, seed: int, cadres: int) -> None:
    """Build a realistic QĐ 366 evaluation cycle, verify it, and say how to look at it."""
    from cadreledger.demo import UNIT_NAME, Demo

    settings: Settings = ctx.obj
    root_path = demo_root_path(settings)
    if not settings.root_key_path().exists() and not root_path.exists():
        # The demo's own ceremony (cadreledger init's): it plays the root of trust, so
        # it keeps the private key, in a file of its own that it names below.
        key = SignerKey.generate("root")
        fd = os.open(root_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(str(key) + "\n")
        settings.root_key_path().write_text(str(key.verifier) + "\n")
    with open_ledger(ctx, writer=True) as ledger:
        try:
            # An older demo database kept the private key in the root key file itself.
            held = root_path if root_path.exists() else settings.root_key_path()
            root = SignerKey.parse(held.read_text())
        except (OSError, KeyFormatError) as e:
            raise CannotRun(
                f"the demo plays the root of trust and needs its private key at {root_path}: {e}"
            ) from e
        click.echo(
            f"Khóa bí mật của gốc tin cậy (bản demo) / the demo's root of trust key: {held} "
            "(for real use: cadreledger init --root-key-out, kept offline)"
        )
        started = time.perf_counter()
        scenario = Demo(ledger, root, seed=seed, size=cadres)
        result = scenario.run()
        elapsed = time.perf_counter() - started
        types = Counter(
            json.loads(e["envelope"])["statement"]["type"]
            for r in scenario.receipts
            for e in ledger.entries(r.index, 1)
        )
        click.echo(
            f"Kỳ đánh giá / cycle: {scenario.cycle} — {UNIT_NAME}, QĐ 366, năm {scenario.year}"
        )
        click.echo(
            f"  {len(scenario.cadres)} cán bộ / cadres; hội đồng / panel "
            f"{len(scenario.panel)}; {len(scenario.receipts)} tuyên bố đã ký / "
            f"signed statements in {elapsed:.1f}s"
        )
        click.echo(
            f"  Trưởng ban / head: {scenario.head.name}; phó / deputies: "
            + ", ".join(d.name for d in scenario.deputies)
        )
        levels = result["levels"]
        click.echo(
            "  Xếp loại / levels: "
            + ", ".join(f"{lv} {levels.get(lv, 0)}" for lv in ("HTXS", "HTT", "HT", "KHT"))
        )
        click.echo(
            f"  Khiếu nại / complaint: {result['complainant'].name} — chấp nhận, xếp loại "
            "lại HTT / upheld, re-decided HTT"
        )
        click.echo("  Sự kiện / events: " + ", ".join(f"{t} {n}" for t, n in sorted(types.items())))
        if ledger.rules is not None:
            ledger.projector.catch_up()  # the read model, so that V9 has something to compare
        report = ledger.verify()
        fairness = report.annexes.get("fairness", {}).get("counts", {})
        if fairness:
            click.echo(
                "  Dấu hiệu cần xem xét (verify --findings-only) / signs to examine: "
                + ", ".join(f"{kind} {n}" for kind, n in fairness.items())
            )
        click.echo(f"Sổ cái / log: {ledger.size()} sự kiện / events; khóa / key {ledger.log_key}")
        _print_summary(report)
        click.echo(LOOK_AT_IT.format(db=ctx.obj.db, cycle=scenario.cycle))
        click.echo(  # the comments, reasons and grounds are sealed: one person's can go
            f"  cadreledger --db {ctx.obj.db} erase --subject {result['complainant'].id} "
            "--reason 'yêu cầu xóa dữ liệu cá nhân'  # xóa văn bản / crypto-shred their texts"
        )
        if not report.ok:
            sys.exit(EXIT_FAILED)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CADRELEDGER_HOST")
@click.option("--port", default=8000, show_default=True, envvar="CADRELEDGER_PORT")
@click.option("--read-only", is_flag=True, help="serve reads only (a replica); no submissions")
@click.option(
    "--primary",
    envvar="CADRELEDGER_PRIMARY",
    help="with --read-only: the primary's URL, named in the answer to every write",
)
@click.option("--heartbeat", default=15.0, show_default=True, help="seconds between SSE heartbeats")
@click.option(
    "--sse-buffer",
    default=1000,
    show_default=True,
    help="events a live SSE client may fall behind before it is told to resume",
)
@click.option(
    "--nats",
    "nats_url",
    envvar="CADRELEDGER_NATS",
    help="also publish every event to NATS JetStream here",
)
@click.option("--nats-stream", default="CADRELEDGER", show_default=True)
@click.option("--nats-subject-prefix", default="cadreledger.events", show_default=True)
@click.option("--webhooks", is_flag=True, help="also deliver webhooks registered on the ledger")
@click.option(
    "--webhooks-allow-private",
    is_flag=True,
    help="let webhooks reach loopback and private addresses (tests, closed networks)",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    envvar="CADRELEDGER_WITNESSES",
    help="ask this C2SP witness to cosign each checkpoint: URL=KEY (submission prefix and "
    "its type-0x04 verifier key); may repeat",
)
@click.option(
    "--audit-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="CADRELEDGER_AUDIT_KEY",
    help="run the full verification on a schedule and append it signed by this auditor key",
)
@click.option(
    "--audit-every", default=86400.0, show_default=True, help="seconds between scheduled audits"
)
@click.option(
    "--open",
    "open_access",
    is_flag=True,
    envvar="CADRELEDGER_OPEN",
    help="serve WITHOUT authentication: anyone who reaches the port reads everything "
    "(a local demo only)",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    envvar="CADRELEDGER_WORKERS",
    help="HTTP worker processes: they serve the port and check signatures, and hand "
    "checked statements to this process's single writer (0: one process does all)",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    read_only: bool,
    primary: str | None,
    heartbeat: float,
    sse_buffer: int,
    nats_url: str | None,
    nats_stream: str,
    nats_subject_prefix: str,
    webhooks: bool,
    webhooks_allow_private: bool,
    witnesses: tuple[str, ...],
    audit_key: Path | None,
    audit_every: float,
    open_access: bool,
    workers: int,
) -> None:
    """Run the HTTP service (OpenAPI at /docs and /openapi.json, the web UI at /ui/).

    Every request needs an access token (``cadreledger token issue``, or
    ``POST /v1/auth/tokens`` signed with one's own key) unless ``--open``."""
    import uvicorn

    from access.tokens import AccessStore
    from api.app import create_app
    from api.auth import standing_roles
    from api.feed import StreamSettings
    from api.observability import json_logging
    from api.rate_limit import RatePolicy
    from cadreledger import http_server
    from evidence.auditor import Schedule
    from streams.feed import EventHub, Feed
    from streams.integrations import Integrations
    from streams.nats import NatsSettings
    from witness.witnessing import Witnessing, parse_witnesses

    settings: Settings = ctx.obj
    writing: dict[str, object] = {"--nats": nats_url, "--webhooks": webhooks}
    writing |= {"--witness": witnesses, "--audit-key": audit_key}
    if read_only and (wanted := [name for name, value in writing.items() if value]):
        raise CannotRun(
            f"{', '.join(wanted)}: the primary's work (they write to the database); "
            "a --read-only server only reads"
        )
    if read_only and workers:
        raise CannotRun("--workers: a --read-only server has no writer to hand statements to")
    nats = NatsSettings(nats_url, nats_stream, nats_subject_prefix) if nats_url else None
    try:
        endpoints = parse_witnesses(witnesses)
        auditor = SignerKey.parse(audit_key.read_text()) if audit_key else None
    except (ValueError, OSError) as e:
        raise CannotRun(f"--witness / --audit-key: {e}") from e
    with (
        open_ledger(ctx, writer=not read_only) as ledger,
        Witnessing(ledger, endpoints),
        Schedule(ledger, auditor, audit_every),
    ):
        ledger.primary = primary
        hub = EventHub(ledger, Feed(ledger))
        access = None if open_access else AccessStore(ledger.store)
        with Integrations(
            ledger,
            hub,
            nats=nats,
            webhooks=webhooks,
            allow_private=webhooks_allow_private,
            entitled=access.entitlement(partial(standing_roles, ledger)) if access else None,
        ) as extra:
            logs = json_logging()
            try:
                if workers:  # they serve HTTP; this process writes (cadreledger.workers)
                    from cadreledger.workers import WorkerOptions, serve_with_workers

                    options = WorkerOptions(heartbeat, sse_buffer, open_access, primary)
                    serve_with_workers(ledger, host, port, workers, options)
                else:
                    app = create_app(
                        ledger,
                        hub=hub,
                        streams=StreamSettings(heartbeat=heartbeat, buffer=sse_buffer),
                        webhook_keys=extra.webhook_keys,
                        access=access,
                        max_body=settings.max_body_bytes,
                        rate=RatePolicy(settings.rate_limit, settings.rate_burst)
                        if settings.rate_limit > 0
                        else None,
                    )
                    uvicorn.run(app, host=host, port=port, **http_server.SETTINGS)
            finally:
                logs.stop()
        hub.stop()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the machine-readable report")
@click.option(
    "--log-key",
    help="the log's verifier key (name+keyid+base64), or @FILE; "
    "without it the key recorded in the database is used",
)
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a signed checkpoint you hold (e.g. from a receipt); may repeat",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CADRELEDGER_STATE_DIR",
    help="where verify remembers the last checkpoint it accepted per log "
    "(default ~/.local/state/cadreledger)",
)
@click.option("--no-remember", is_flag=True, help="neither read nor update remembered state")
@click.option("--workers", type=int, help="signature-checking threads (default: all cores)")
@click.option(
    "--root-key",
    "root_keys",
    multiple=True,
    help="for a bundle: the root of trust's verifier key, or @FILE (default: the bundle's)",
)
@click.option(
    "--findings-only",
    is_flag=True,
    help="print only the fairness findings (signs to examine), every severity, grouped by "
    "person and by scorer; with --json, only their JSON",
)
@click.argument("bundle", required=False, type=click.Path(dir_okay=False, path_type=Path))
@cli_witness.witness_options
@click.pass_context
def verify(
    ctx: click.Context,
    as_json: bool,
    findings_only: bool,
    log_key: str | None,
    checkpoints: tuple[Path, ...],
    state_dir: Path | None,
    no_remember: bool,
    workers: int | None,
    root_keys: tuple[str, ...],
    bundle: Path | None,
    witnesses: tuple[str, ...],
    witness_threshold: int | None,
) -> None:
    """Verify the whole log (V1–V7, and V8–V9 on an evaluation ledger), or with BUNDLE an
    evidence bundle offline, without the database; exit 0 if all pass, 1 if any fails,
    2 if it cannot run."""
    try:
        pinned = _read_key(log_key) if log_key else None
        supplied = [p.read_text() for p in checkpoints]
        roots = [str(_read_key(k)) for k in root_keys]
        data = bundle.read_bytes() if bundle else None
    except (OSError, KeyFormatError) as e:
        raise CannotRun(str(e)) from e
    policy = cli_witness.witness_policy(witnesses, witness_threshold)
    if data is not None:
        from evidence.bundle import verify_file
        from evidence.personal_bundle import is_personal, verify_personal
        from ledger.bundle import BundleError

        check = verify_personal if is_personal(data) else verify_file
        try:
            report = check(data, pinned, roots or None, policy)
        except BundleError as e:
            raise CannotRun(str(e)) from e
        _print_report(report, as_json, findings_only)
        sys.exit(0 if report.ok else EXIT_FAILED)
    with open_ledger(ctx, writer=False) as ledger:
        memory = None if no_remember else Memory.of(state_dir, pinned or ledger.log_keys.first)
        progress = _progress_bar() if sys.stderr.isatty() and not as_json else None
        total = ledger.store.count_events() if progress else 0
        with Memory.recording(memory) as record:
            try:
                report = ledger.verify(
                    pinned=pinned,
                    supplied=supplied,
                    remembered=memory.read() if memory else (),
                    on_accepted=record,
                    workers=workers,
                    progress=(lambda n: progress(n, total)) if progress else None,
                    **cli_witness.verify_with_policy(ledger, policy),
                )
            except Exception as e:  # a stored value no check anticipated: loud, never a pass
                record.discard()
                raise _stopped(e, as_json) from e
            if not report.ok:
                record.discard()
        if progress:
            click.echo("", err=True)
    _print_report(report, as_json, findings_only)
    sys.exit(0 if report.ok else EXIT_FAILED)


def _stopped(error: Exception, as_json: bool) -> CannotRun:
    """Verification stopped part way (exit 2, never a pass): with ``--json`` the report
    says so too, for a caller that reads only standard output."""
    from ledger.verifier import printable

    what = printable(f"{type(error).__name__}: {error}")
    message = f"verification stopped on a stored value it cannot read: {what}"
    if as_json:
        click.echo(json.dumps({"ok": False, "stopped": message}, ensure_ascii=False, indent=2))
    return CannotRun(message)


def demo_root_path(settings: Settings) -> Path:
    """Where ``cadreledger demo`` keeps the private key of the root of trust it plays."""
    public = settings.root_key_path()
    return public.with_name(public.name + ".demo-private")


def _print_report(report: Report, as_json: bool, findings_only: bool) -> None:
    """The whole report, or only its fairness findings (``--findings-only``): as JSON,
    or for people — the checks, then the findings of medium and high severity."""
    from cadreledger.cli_findings import print_findings

    fairness = report.annexes.get("fairness")
    if as_json:
        data = fairness if findings_only else report.to_json()
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not findings_only:
        _print_summary(report)
        if fairness is not None:
            print_findings(fairness, "medium")
        return
    print_findings(fairness)


def _read_key(text: str) -> VerifierKey:
    if text.startswith("@"):
        text = Path(text[1:]).read_text().strip()
    return VerifierKey.parse(text.strip())


class Memory:
    """What ``verify`` remembers of a log between runs: every tree head it accepted.

    A later run must find each of them consistent with the events; a log rewritten
    since (even with fresh, self-consistent checkpoints) is caught, and the first
    remembered head that no longer fits places the first changed event.
    """

    HEADER = "cadreledger verifier memory v1"

    def __init__(self, path: Path, key: VerifierKey) -> None:
        self.path, self.key = path, key

    @classmethod
    def of(cls, state_dir: Path | None, key: VerifierKey) -> Memory:
        base = (
            state_dir
            or Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
            / "cadreledger"
        )
        return cls(base / (hashlib.sha256(str(key).encode()).hexdigest()[:16] + ".heads"), key)

    def read(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with self.path.open() as f:
            if f.readline().strip() != self.HEADER or f.readline().strip() != str(self.key):
                raise CannotRun(f"{self.path} is not verifier memory for this log key")
            for line in f:
                size, root = line.split()
                yield int(size), base64.b64decode(root)

    @staticmethod
    @contextmanager
    def recording(memory: Memory | None) -> Iterator[Recorder]:
        record = Recorder(memory)
        try:
            yield record
        except BaseException:
            record.discard()
            raise
        record.close()


class Recorder:
    """Writes accepted heads to a temporary file that replaces the memory only on success."""

    def __init__(self, memory: Memory | None) -> None:
        self.memory = memory
        self.file: Any = None
        if memory is not None:
            memory.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = memory.path.with_suffix(".tmp")
            self.file = self.tmp.open("w")
            self.file.write(f"{Memory.HEADER}\n{memory.key}\n")

    def __call__(self, size: int, root: bytes) -> None:
        if self.file is not None:
            self.file.write(f"{size} {base64.b64encode(root).decode()}\n")

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.tmp.unlink()
            self.file = None

    def close(self) -> None:
        if self.file is not None and self.memory is not None:
            self.file.close()
            self.tmp.replace(self.memory.path)
            self.file = None


def _progress_bar() -> Any:
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        click.echo(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", err=True, nl=False
        )

    return show


SYMBOL = {"pass": "✓", "fail": "✗", "incomplete": "?", "not_applicable": "–"}
STATUS_VI = {
    "pass": "đạt",
    "fail": "KHÔNG ĐẠT",
    "incomplete": "chưa kiểm tra hết",
    "not_applicable": "không áp dụng",
}


def _print_summary(report: Report) -> None:
    data = report.to_json()
    click.echo(
        f"Kiểm tra sổ cái / verifying log {data['origin']} "
        f"({data['events']} sự kiện / events; khóa / key: {data['log_key_source']})"
    )
    personal = data.get("personal")
    if personal:
        click.echo(
            f"Gói hồ sơ cá nhân của {personal['cadre']}, kỳ {personal['cycle']}: chỉ các sự "
            f"kiện liên quan đến kết quả của chính người này / personal bundle of "
            f"{personal['cadre']}, cycle {personal['cycle']}: only the events that touched "
            "their own result"
        )
    for check in data["checks"]:
        status = check["status"]
        click.echo(
            f"  {SYMBOL[status]} {check['id']} {check['name']}: {STATUS_VI[status]} / "
            f"{status} ({check['checked']} checked)"
        )
        click.echo(f"      {check['title_vi']} / {check['title_en']}")
        first = check["first_failure"]
        if first:
            click.echo(f"      → {first.get('reason_vi')} / {first.get('reason_en')}")
            click.echo(
                "        "
                + ", ".join(
                    f"{k}={first[k]}"
                    for k in (
                        "position",
                        "until",
                        "stream",
                        "version",
                        "event_hash",
                        "checkpoint_size",
                    )
                    if k in first
                )
            )
    first_bad = data["first_bad"]
    if first_bad:
        click.echo(
            f"Sự kiện hỏng đầu tiên / first bad event: check {first_bad['check']}, "
            f"position {first_bad.get('position')}"
        )
    _print_not_checked(data.get("not_checked"))
    click.echo("KẾT QUẢ / RESULT: " + ("ĐẠT / PASS" if report.ok else "KHÔNG ĐẠT / FAIL"))


def _print_not_checked(items: Any) -> None:
    """What a report could not check (a personal bundle's limits), said plainly: a
    PASS covers only the checks above."""
    if not items:
        return
    click.echo("KHÔNG kiểm tra được / NOT checked:")
    for item in items:
        click.echo(f"  – {item['vi']}")
        click.echo(f"    {item['en']}")


for _command in (
    *cli_streams.COMMANDS,
    *cli_domain.COMMANDS,
    *cli_witness.COMMANDS,
    *cli_access.COMMANDS,
    *cli_privacy.COMMANDS,
    *cli_logkey.COMMANDS,
    *cli_tiles.COMMANDS,
):
    main.add_command(_command)

if __name__ == "__main__":
    main()
