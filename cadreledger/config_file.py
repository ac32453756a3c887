"""Where settings come from (tệp cấu hình): the command line, the environment, a TOML file.

Every setting has one name: the file's key ``max_batch`` is the environment's
``CADRELEDGER_MAX_BATCH`` (and, where there is one, the option ``--max-batch``). What
is given on the command line wins over the environment, which wins over the file,
which wins over the defaults. The file is ``--config FILE`` or ``CADRELEDGER_CONFIG``:

    db = "postgresql://ledger@db:5432/cadreledger"
    origin = "bto.dongson.vn/log"
    log_key_file = "/keys/log.key"
    rate_limit = 20.0      # requests per second per person or address; 0 = off
    witnesses = ["https://w1.example.vn/=w1.example.vn+1a2b3c4d+AQ…"]

Keys are the fields of ``Settings`` and the names of options that read a
``CADRELEDGER_*`` variable (``witnesses``, ``audit_key``, ``state_dir``…). A key the
program does not know is an error, never silently ignored: a typo must not leave a
setting at its default.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from cadreledger.config import ConfigError, Settings

ENV_PREFIX = "CADRELEDGER_"
FIXED_AT_GENESIS = frozenset({"rules"})  # the database says which it is


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def read_config(path: str | Path) -> dict[str, Any]:
    """The file's settings, by key; ``ConfigError`` if it is not TOML or not flat."""
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read the configuration file {path}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not TOML: {e}") from e
    for key, value in values.items():
        if isinstance(value, dict):
            raise ConfigError(f"{path}: [{key}] — settings are top-level keys, not tables")
    return values


def settings_keys() -> list[str]:
    return [f.name for f in fields(Settings) if f.name not in FIXED_AT_GENESIS]


def load_settings(
    file: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    source: str = "the configuration file",
    **given: Any,
) -> Settings:
    """Settings from ``given`` (the command line; ``None`` = not given), then ``env``
    (``CADRELEDGER_*``, empty = unset), then ``file``, then the defaults."""
    env = os.environ if env is None else env
    file = file or {}
    types = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    for key in settings_keys():
        kind = _scalar(types[key])
        if env.get(env_name(key)):
            values[key] = _from_text(kind, env[env_name(key)], env_name(key))
        elif key in file:
            values[key] = _from_file(kind, file[key], f"{source}: {key}")
    values.update({k: v for k, v in given.items() if v is not None})
    return Settings(**values)


def option_defaults(group: click.Group, file: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Click's ``default_map`` for ``group``'s commands, from the file's keys that name
    an option's ``CADRELEDGER_*`` variable (so click ranks them below that variable).
    Every key must be a setting or such an option."""
    known = set(settings_keys())
    found = _defaults(group, file, known)
    unknown = sorted(set(file) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown setting(s) {', '.join(unknown)}; known: " + ", ".join(sorted(known))
        )
    return found


def _defaults(group: click.Group, file: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            nested = _defaults(command, file, known)
            if nested:
                found[name] = nested
            continue
        mine = {}
        for param in command.params:
            for variable in _envvars(param):
                key = variable.removeprefix(ENV_PREFIX).lower()
                if variable.startswith(ENV_PREFIX) and key in file and param.name:
                    mine[param.name] = file[key]
                    known.add(key)
        if mine:
            found[name] = mine
    return found


def _envvars(param: click.Parameter) -> Iterable[str]:
    given = getattr(param, "envvar", None)
    if isinstance(given, str):
        return [given]
    return list(given or ())


def _scalar(hint: Any) -> type:
    """``str | None`` → ``str``: the type a value must have."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = args[0] if args else hint
    assert isinstance(kind, type)
    return kind


def _from_text(kind: type, text: str, where: str) -> Any:
    if kind is bool:  # bool("false") is True: read the words
        word = text.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}={text!r} is not true or false")
    try:
        return kind(text)
    except ValueError as e:
        raise ConfigError(f"{where}={text!r} is not {_article(kind)}") from e


def _from_file(kind: type, value: Any, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} = {value!r} is not {_article(kind)}")
    return value


def _article(kind: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        kind, kind.__name__
    )
