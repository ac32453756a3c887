"""docker-compose.yml and the Dockerfile, checked as files (Docker does not run here):
the services, their health checks and start order, and settings the program knows."""

from __future__ import annotations

import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from cadreledger.cli import main
from cadreledger.config_file import ENV_PREFIX, settings_keys
from tests.paths import ROOT


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_one_command_brings_up_postgres_nats_and_the_service(compose: dict[str, Any]) -> None:
    services = {n: s for n, s in compose["services"].items() if "profiles" not in s}
    assert set(services) == {"db", "nats", "ledger"}  # the rest only in optional profiles
    for name, service in compose["services"].items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and len(check["test"]) > 1, name
        assert check["retries"] >= 10, name
    assert services["ledger"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "nats": {"condition": "service_healthy"},
    }
    assert "-js" in services["nats"]["command"]  # JetStream on
    assert "js-enabled-only=true" in " ".join(services["nats"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["ledger"]["healthcheck"]["test"])


def test_the_service_reaches_the_other_two_by_their_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["ledger"]["environment"]
    db = urlsplit(env["CADRELEDGER_DB"])
    assert db.scheme == "postgresql" and db.hostname == "db"
    assert db.password == services["db"]["environment"]["POSTGRES_PASSWORD"]
    assert db.path.lstrip("/") == services["db"]["environment"]["POSTGRES_DB"]
    nats = urlsplit(env["CADRELEDGER_NATS"])
    assert (nats.scheme, nats.hostname, nats.port) == ("nats", "nats", 4222)
    assert env["CADRELEDGER_HOST"] == "0.0.0.0"
    assert services["ledger"]["ports"] == [f"{env['CADRELEDGER_PORT']}:8000"]


def test_every_variable_the_compose_file_sets_is_one_the_program_reads(
    compose: dict[str, Any],
) -> None:
    known = {ENV_PREFIX + key.upper() for key in settings_keys()} | _option_variables(main)
    env = compose["services"]["ledger"]["environment"]
    assert set(env) <= known, set(env) - known
    command = compose["services"]["ledger"]["command"]
    assert command[0] == "cadreledger" and command[1] in main.commands
    # Every key the service makes or needs outlives the container: it is on a volume.
    mounts = [v.split(":")[1] for v in compose["services"]["ledger"]["volumes"]]
    for name, value in env.items():
        if name.endswith("_KEY_FILE"):
            assert any(value.startswith(m + "/") for m in mounts), name
    for volume in ("pgdata", "natsdata", "keys"):
        assert volume in compose["volumes"]


def test_the_image_holds_every_package_and_its_data() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \1$", dockerfile, re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, packages - copied
    for package, globs in project["tool"]["setuptools"].get("package-data", {}).items():
        folder = ROOT / package.replace(".", "/")
        assert package.split(".")[0] in copied
        assert any(list(folder.glob(g)) for g in globs), package  # the data is there
    assert re.search(r"^COPY pyproject.toml README.md \./$", dockerfile, re.MULTILINE)
    assert "pip install --no-cache-dir ." in dockerfile
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.MULTILINE)
    assert "EXPOSE 8000" in dockerfile


def test_the_replica_profile_adds_a_standby_and_a_read_only_service(
    compose: dict[str, Any],
) -> None:
    """``docker compose --profile replica up``: a hot standby made from the primary with
    pg_basebackup, and ``serve --read-only`` on it, naming the primary for writes."""
    services = compose["services"]
    standby, reader = services["db-replica"], services["ledger-replica"]
    assert standby["profiles"] == reader["profiles"] == ["replica"]
    assert standby["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert standby["environment"]["PRIMARY_HOST"] == "db"
    assert (
        standby["environment"]["PGPASSWORD"] == services["db"]["environment"]["POSTGRES_PASSWORD"]
    )
    script = standby["entrypoint"][0]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in standby["volumes"]}
    entrypoint = (ROOT / mounted[script]).read_text()
    assert "pg_basebackup" in entrypoint and " -R " in entrypoint and "hot_standby=on" in entrypoint
    primary_init = [v.split(":")[0] for v in services["db"]["volumes"] if "initdb.d" in v]
    assert "host replication" in (ROOT / primary_init[0]).read_text()
    env = reader["environment"]
    assert urlsplit(env["CADRELEDGER_DB"]).hostname == "db-replica"
    assert reader["command"] == ["cadreledger", "serve", "--read-only"]
    assert env["CADRELEDGER_PRIMARY"].endswith(services["ledger"]["ports"][0].split(":")[0])
    known = {ENV_PREFIX + key.upper() for key in settings_keys()} | _option_variables(main)
    assert set(env) <= known, set(env) - known
    assert reader["depends_on"]["ledger"] == {"condition": "service_healthy"}  # tables made
    assert reader["ports"] != services["ledger"]["ports"]
    assert "pgreplica" in compose["volumes"]


def _option_variables(group: click.Group) -> set[str]:
    found: set[str] = set()
    for command in group.commands.values():
        if isinstance(command, click.Group):
            found |= _option_variables(command)
            continue
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            for name in [envvar] if isinstance(envvar, str) else list(envvar or ()):
                found.add(name)
    # Read outside click: the webhook signing key's file (streams.webhooks.key_path).
    found.add("CADRELEDGER_WEBHOOK_KEY_FILE")
    return found
