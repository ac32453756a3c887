"""The one-way arrows between the rooms (docs/architecture.md), read from the source.

Every module's imports are parsed with ``ast`` — deferred imports inside functions too,
since a late import is still an arrow. The rooms, lowest first:

    ledger  ←  domain  ←  projections  ←  api, cadreledger (the wiring)

A room may import any room below it, never one above. ``api`` and ``cadreledger`` are the
top floor together: the service wires the API, the API calls the service.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.paths import ROOT

ROOMS = ("ledger", "domain", "projections", "api", "cadreledger")

# What each room must never import (its own room and those below are fine).
FORBIDDEN: dict[str, frozenset[str]] = {
    "ledger": frozenset({"domain", "projections", "api", "cadreledger"}),
    "domain": frozenset({"projections", "api", "cadreledger"}),
    "projections": frozenset({"api", "cadreledger"}),
}

# The rules are pure: the log gives them the time, the store gives them the facts.
DOMAIN_NO_IO = frozenset(
    {
        "sqlite3",
        "psycopg",
        "psycopg_pool",
        "socket",
        "httpx",
        "aiohttp",
        "nats",
        "requests",
        "urllib.request",
        "subprocess",
    }
)
# Calls that read the machine's clock; ``datetime.fromisoformat`` and friends are fine.
CLOCK_CALLS = frozenset(
    {
        ("time", "time"),
        ("time", "time_ns"),
        ("time", "monotonic"),
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
    }
)


class Arrow(NamedTuple):
    """Where a module imports something (or reads a clock), and what."""

    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line} imports {self.target}"


def modules(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def imports(path: Path) -> list[Arrow]:
    """Every absolute module a file imports, wherever the import statement sits."""
    found: list[Arrow] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Arrow(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Arrow(path, node.lineno, node.module))
            # ``from time import time`` reads the clock as surely as ``time.time()``
            found += [
                Arrow(path, node.lineno, f"{node.module}.{alias.name}") for alias in node.names
            ]
    return found


def clock_reads(path: Path) -> list[Arrow]:
    """``time.time()``, ``datetime.now()``… — attribute calls on a clock's module or class."""
    found: list[Arrow] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in CLOCK_CALLS
        ):
            found.append(Arrow(path, node.lineno, f"{node.func.value.id}.{node.func.attr}()"))
    return found


def test_every_room_is_on_the_map() -> None:
    """A new top-level package must be given its place in the arrows (and the docs)."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ROOMS)


def test_the_map_in_the_docs_is_this_one() -> None:
    """docs/architecture.md gives each room a row naming the rooms it must not import."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`/"): line.split("|")[4]
        for line in text.splitlines()
        if line.startswith("| `") and line.split("|")[1].strip().strip("`/") in ROOMS
    }
    assert set(rows) == set(ROOMS)
    for room, forbidden in FORBIDDEN.items():
        named = {r for r in ROOMS if f"`{r}`" in rows[room]}
        assert named == forbidden, f"docs/architecture.md says {room}/ must not import {named}"


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_arrows_point_down(room: str) -> None:
    wrong = [
        str(arrow)
        for path in modules(room)
        for arrow in imports(path)
        if arrow.target.split(".")[0] in FORBIDDEN[room]
    ]
    assert not wrong, f"{room}/ imports a room above it:\n" + "\n".join(wrong)


def test_domain_does_no_io() -> None:
    wrong = [
        str(arrow)
        for path in modules("domain")
        for arrow in imports(path)
        if arrow.target in DOMAIN_NO_IO or arrow.target.split(".")[0] in DOMAIN_NO_IO
    ]
    assert not wrong, "domain/ reaches for I/O:\n" + "\n".join(wrong)


def test_domain_reads_no_clock() -> None:
    """Time comes from the log (``Act.time``): the rules never ask the machine what time it is."""
    wrong = [
        str(arrow)
        for path in modules("domain")
        for arrow in clock_reads(path) + imports(path)
        if arrow.target.endswith("()")
        or arrow.target in ("time.time", "time.time_ns", "time.monotonic")
    ]
    assert not wrong, "domain/ reads the machine's clock:\n" + "\n".join(wrong)


def test_the_map_sees_a_wrong_arrow(tmp_path: Path) -> None:
    """The parser finds deferred imports and clock reads, so a green test means something."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\n"
        "def f():\n"
        "    from api.app import build\n"
        "    from time import time as now\n"
        "    return datetime.now(), time.time()\n"
    )
    targets = {a.target for a in imports(sample)}
    assert {"api.app", "time.time"} <= targets
    assert {a.target for a in clock_reads(sample)} == {"datetime.now()", "time.time()"}


def test_rules_register_their_problems_by_name() -> None:
    """The domain's refusals live in its own catalogue; the API lists the catalogues it serves."""
    import api.app  # noqa: F401 - every module that declares a problem, imported
    from api.problems import CATALOGUES, find
    from domain.problems import DOMAIN_PROBLEMS, QUOTA_EXCEEDED
    from ledger.errors import PROBLEMS

    # Importing the rules, the access store or the rate limiter changed no other list.
    assert not {"quota-exceeded", "forbidden", "rate-limited"} & set(PROBLEMS.by_slug)
    assert DOMAIN_PROBLEMS in CATALOGUES and find("quota-exceeded") is QUOTA_EXCEEDED
    slugs = [slug for catalogue in CATALOGUES for slug in catalogue.by_slug]
    assert len(slugs) == len(set(slugs)), "a slug declared in two catalogues"
