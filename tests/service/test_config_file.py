"""Settings from a TOML file, the environment and the command line, in that rising order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cadreledger.cli import main
from cadreledger.config import ConfigError, Settings
from cadreledger.config_file import load_settings, option_defaults, read_config
from tests.paths import DOCS

FILE = """\
db = "sqlite:///from-file.db"
origin = "file.example.vn/log"
max_batch = 250
rate_limit = 5          # an integer where a number is wanted is fine
rate_burst = 7
witnesses = ["http://127.0.0.1:9/=w.example.vn+01020304+AQ"]
port = 8123
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cadreledger.toml"
    path.write_text(FILE)
    return path


@pytest.fixture
def probe() -> Iterator[click.Command]:
    """A throw-away subcommand that prints what the CLI resolved."""

    @click.command("probe-settings")
    @click.pass_context
    def probe(ctx: click.Context) -> None:
        settings: Settings = ctx.obj
        serve = (ctx.parent.default_map or {}).get("serve", {}) if ctx.parent else {}
        click.echo(json.dumps({"settings": settings.__dict__, "serve": serve}))

    main.add_command(probe)
    yield probe
    main.commands.pop("probe-settings")


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    clean = {k: None for k in ("CADRELEDGER_DB", "CADRELEDGER_ORIGIN", "CADRELEDGER_CONFIG")}
    return CliRunner().invoke(main, list(args), env={**clean, **(env or {})})


def test_the_file_gives_defaults_the_environment_and_the_command_line_override(
    config: Path, probe: click.Command
) -> None:
    result = run("--config", str(config), "probe-settings")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert (
        got["settings"]
        | {
            "db": "sqlite:///from-file.db",
            "origin": "file.example.vn/log",
            "max_batch": 250,
            "rate_limit": 5.0,
            "rate_burst": 7,
        }
        == got["settings"]
    )
    assert got["serve"] == {
        "witnesses": ["http://127.0.0.1:9/=w.example.vn+01020304+AQ"],
        "port": 8123,
    }

    env = {"CADRELEDGER_ORIGIN": "env.example.vn/log", "CADRELEDGER_MAX_BATCH": "300"}
    got = json.loads(
        run("--config", str(config), "--db", "sqlite:///cli.db", "probe-settings", env=env).output
    )["settings"]
    assert (got["db"], got["origin"], got["max_batch"]) == (
        "sqlite:///cli.db",
        "env.example.vn/log",
        300,
    )
    # CADRELEDGER_CONFIG names the file as --config does.
    got = json.loads(run("probe-settings", env={"CADRELEDGER_CONFIG": str(config)}).output)
    assert got["settings"]["origin"] == "file.example.vn/log"


def test_an_option_from_the_file_ranks_below_its_variable_and_the_command_line(
    config: Path,
) -> None:
    defaults = option_defaults(main, read_config(config), str(config))
    assert defaults["serve"]["port"] == 8123
    serve = main.commands["serve"]
    ctx = click.Context(main, default_map=defaults)
    made = serve.make_context("serve", [], parent=ctx)
    assert made.params["port"] == 8123
    made = serve.make_context("serve", ["--port", "9000"], parent=ctx)
    assert made.params["port"] == 9000


def test_without_a_file_the_defaults_hold(probe: click.Command) -> None:
    got = json.loads(run("probe-settings").output)["settings"]
    assert got == Settings().__dict__


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('dbb = "sqlite:///typo.db"\n', "unknown setting(s) dbb"),
        ('max_batch = "many"\n', "max_batch = 'many' is not an integer"),
        ("rate_limit = true\n", "rate_limit = True is not a number"),
        ("[serve]\nport = 1\n", "not tables"),
        ("db = \n", "is not TOML"),
    ],
)
def test_a_bad_file_stops_the_command_with_exit_2(
    tmp_path: Path, text: str, complaint: str, probe: click.Command
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("--config", str(path), "probe-settings")
    assert result.exit_code == 2 and complaint in result.output, result.output


def test_a_bad_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="CADRELEDGER_RATE_BURST='lots' is not an integer"):
        load_settings({}, {"CADRELEDGER_RATE_BURST": "lots"})
    assert load_settings({}, {"CADRELEDGER_LOG_KEY_FILE": ""}).log_key_file is None
    assert load_settings({"pool_size": 3}, {}).pool_size == 3


def test_the_example_in_the_operations_guide_is_a_valid_file(tmp_path: Path) -> None:
    guide = (DOCS / "operations.md").read_text()
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    values = read_config(_written(tmp_path, example))
    defaults = option_defaults(main, values, "docs/operations.md")
    assert defaults["serve"]["host"] == "0.0.0.0" and defaults["serve"]["nats_url"]
    settings = load_settings(values, {})
    assert (settings.rate_limit, settings.rate_burst) == (20.0, 40)


def _written(where: Path, text: str) -> Path:
    path = where / "example.toml"
    path.write_text(text)
    return path
