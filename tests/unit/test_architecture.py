"""The one-way arrows between the rooms (docs/architecture.md), read from the source.

Every module's imports are parsed with ``ast`` — deferred imports inside functions too,
since a late import is still an arrow. The rooms, lowest first:

    ledger  ←  domain  ←  projections  ←  access, witness  ←  streams, evidence
            ←  api, cadreledger (the wiring)

A room may import any room below it, never one above nor one beside it. ``api`` and
``cadreledger`` are the top floor together: the service wires the API, the API calls the
service. The subsystems (access, witness, streams, evidence) are handed the service by the
wiring and name only what they ask of it, as protocols: an import under
``if TYPE_CHECKING:`` is an arrow too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.paths import ROOT

ROOMS = (
    "ledger",
    "domain",
    "projections",
    "access",
    "witness",
    "streams",
    "evidence",
    "api",
    "cadreledger",
)
TOP = frozenset({"api", "cadreledger"})

# What each room must never import (its own room and those below are fine).
FORBIDDEN: dict[str, frozenset[str]] = {
    "ledger": frozenset(ROOMS) - {"ledger"},
    "domain": frozenset(ROOMS) - {"ledger", "domain"},
    "projections": frozenset(ROOMS) - {"ledger", "domain", "projections"},
    "access": frozenset({"witness", "streams", "evidence"}) | TOP,
    "witness": frozenset({"access", "streams", "evidence"}) | TOP,
    "streams": frozenset({"witness", "evidence"}) | TOP,
    "evidence": frozenset({"access", "streams"}) | TOP,
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
# Where SQL is written: each table's statements in the one repository module that owns it.
REPOSITORIES = frozenset(
    {
        "ledger/store.py",  # the log's tables
        "ledger/store_sqlite.py",  # the log's tables, SQLite's own SQL
        "ledger/store_postgres.py",  # the log's tables, PostgreSQL's own SQL
        "ledger/vault.py",  # sealed texts
        "projections/readmodel.py",  # the read model's documents and position
        "access/repository.py",  # tokens, grants
        "streams/webhooks/repository.py",  # endpoints, deliveries, the scanner's cursor
        "witness/cosignatures.py",  # the log's cosignatures
        "witness/state.py",  # a witness's own memory
    }
)
SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|LISTEN|NOTIFY|PRAGMA)\s")


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


def wrong_arrows(room: str, arrows: list[Arrow]) -> list[Arrow]:
    """The arrows out of ``room`` that point up or sideways."""
    return [arrow for arrow in arrows if arrow.target.split(".")[0] in FORBIDDEN[room]]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_arrows_point_down(room: str) -> None:
    wrong = wrong_arrows(room, [arrow for path in modules(room) for arrow in imports(path)])
    assert not wrong, f"{room}/ imports a room above or beside it:\n" + "\n".join(map(str, wrong))


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


def test_a_type_only_import_is_an_arrow_too(tmp_path: Path) -> None:
    """Naming the service for a type is still an arrow up: a subsystem declares a protocol."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cadreledger.service import Ledger\n"
        "    from domain.model import Model\n"
    )
    wrong = {(a.line, a.target) for a in wrong_arrows("streams", imports(sample))}
    assert wrong == {(3, "cadreledger.service"), (3, "cadreledger.service.Ledger")}


def test_rules_register_their_problems_by_name() -> None:
    """The domain's refusals live in its own catalogue; the API lists the catalogues it serves."""
    import api.app  # noqa: F401 - every module that declares a problem, imported
    from api.problems import CATALOGUES, find
    from domain.problems import DOMAIN_PROBLEMS, QUOTA_EXCEEDED
    from ledger.errors import PROBLEMS

    # Importing the rules, the access store, the webhooks or the rate limiter changed no
    # other list.
    assert not {"quota-exceeded", "forbidden", "rate-limited", "webhook-target-not-public"} & set(
        PROBLEMS.by_slug
    )
    assert DOMAIN_PROBLEMS in CATALOGUES and find("quota-exceeded") is QUOTA_EXCEEDED
    slugs = [slug for catalogue in CATALOGUES for slug in catalogue.by_slug]
    assert len(slugs) == len(set(slugs)), "a slug declared in two catalogues"


def sql_lines(path: Path) -> list[int]:
    """Where a module writes an SQL statement (a string that starts like one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]


def test_sql_lives_in_named_places() -> None:
    """Every table's SQL is in its repository; nothing else grows any."""
    writing = {
        str(path.relative_to(ROOT)) for room in ROOMS for path in modules(room) if sql_lines(path)
    }
    assert writing - REPOSITORIES == set(), "SQL outside a repository module"


def test_the_sql_finder_finds_sql(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'store.query("SELECT 1 AS one")\n'
        "x = 'Selected by the panel'\n"
        'store.execute(\n    "UPDATE t SET a = ?"\n    " WHERE b = ?", (1, 2))\n'
    )
    assert sql_lines(sample) == [1, 4]


# -- the API's routes: module-level functions, handed the service (issue 20 item 7) ------

ROUTE_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "api_route", "route"})
# What the service keeps to itself: the API asks its public methods (and the read
# model's, ``Ledger.queries``) instead.
SERVICE_INSIDES = frozenset({"store", "projector", "sequencer", "vault", "reader", "log_keys"})


def nested_routes(path: Path) -> list[int]:
    """Where a route is declared inside a function (a closure over what the function was
    given, made anew for each app) rather than at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[int] = []
    for outer in ast.walk(tree):
        if not isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(outer):
            if inner is outer or not isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in inner.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    found.append(decorator.lineno)
    return sorted(set(found))


def attributes(tree: ast.AST) -> Iterator[tuple[str, ast.Attribute]]:
    """Every ``owner.attr`` read, with the name its owner goes by (``ledger`` for both
    ``ledger.store`` and ``self.ledger.store``; empty for a call's result)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            if isinstance(owner, ast.Name):
                yield owner.id, node
            else:
                yield (owner.attr if isinstance(owner, ast.Attribute) else ""), node


def service_insides(path: Path) -> list[str]:
    """Where a module reads a private part of the service: ``ledger.store``,
    ``self.ledger.projector``, ``ledger._x`` …"""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return sorted(
        f"{node.lineno} ledger.{node.attr}"
        for owner, node in attributes(tree)
        if owner == "ledger" and (node.attr in SERVICE_INSIDES or node.attr.startswith("_"))
    )


def test_routes_are_module_level() -> None:
    """Every route is a module-level function on a module-level router, handed what it
    needs by dependencies (api/depends.py) — not one of a factory's closures."""
    nested = {
        str(path.relative_to(ROOT)): lines
        for path in modules("api")
        if (lines := nested_routes(path))
    }
    assert nested == {}, "routes declared inside a function"


def test_the_api_asks_the_service() -> None:
    """The API reads the service through its public methods, never its store, read
    model, writer or vault."""
    insides = {
        str(path.relative_to(ROOT)): found
        for path in modules("api")
        if (found := service_insides(path))
    }
    assert insides == {}


def test_the_route_finders_find(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "router = APIRouter()\n"
        "@router.get('/a')\n"
        "def a(ledger): return ledger.size()\n"
        "def make(ledger):\n"
        "    @router.post('/b', status_code=201)\n"
        "    async def b(): return ledger.store.meta()\n"
        "    @app.delete\n"
        "    def c(): return self.ledger._writer()\n"
        "    return router\n"
    )
    assert nested_routes(sample) == [5, 7]
    assert service_insides(sample) == [
        "6 ledger.store",
        "8 ledger._writer",
    ]


# -- the log's own tables and plumbing stay in ledger/ (issue 20 item 2) -----------------

# eventsourcing's recorder and its datastore are what ``LogStore`` is built over, not a
# way round it: outside ledger/ only the service names one, to open its store.
STORE_INSIDES = frozenset({"recorder", "datastore"})
OPENS_THE_STORE = {"cadreledger/service.py": ["self.app.recorder"]}
# The log's writes (a batch, the writers' lock, genesis and its settings, a key
# rotation) are the service's alone; the rooms read the store, and write their own tables.
LOG_WRITES = frozenset(
    {"writer_lock", "commit", "forgetting", "init_meta", "meta_once", "add_log_key_rotation"}
)
WRITES_THE_LOG = frozenset({"cadreledger/service.py"})
# eventsourcing makes the events table, named after the application (cadreledger/service.py).
EVENTS_TABLE = "cadreledger_events"
# A table as SQL names it: after the word that introduces one, or quoted (a catalogue's
# lookup); a mention in prose is neither.
NAMED_IN_SQL = r"(?:\b(?:FROM|JOIN|INTO|UPDATE|TABLE|EXISTS)\s+(?:\w+\.)?|')({tables})\b"


def _strings(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def log_tables() -> frozenset[str]:
    """The tables ledger/ creates, and eventsourcing's events table."""
    made = {
        name
        for path in modules("ledger")
        for node in _strings(ast.parse(path.read_text(encoding="utf-8")))
        for name in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", node.value)
    }
    return frozenset(made | {EVENTS_TABLE})


def store_reaches(path: Path, tables: frozenset[str], where: str) -> list[str]:
    """Where a module gets round ``LogStore``: eventsourcing's recorder or datastore, a
    private attribute of a store, the log's writes, or SQL naming one of the log's tables
    (a string that is such a table's name alone counts: it is there to be put in SQL)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    for owner, node in attributes(tree):
        on_store = owner.endswith("store")
        expression = ast.unparse(node)
        inside = node.attr in STORE_INSIDES and expression not in OPENS_THE_STORE.get(where, [])
        private = on_store and node.attr.startswith("_") and not node.attr.startswith("__")
        writes = on_store and node.attr in LOG_WRITES and where not in WRITES_THE_LOG
        if inside or private or writes:
            found.append(f"{node.lineno} {expression}")
    in_sql = re.compile(NAMED_IN_SQL.format(tables="|".join(sorted(tables))), re.IGNORECASE)
    for node in _strings(tree):
        if node.value in tables:
            found.append(f"{node.lineno} SQL on {node.value}")
        elif named := in_sql.search(node.value):
            found.append(f"{node.lineno} SQL on {named.group(1)}")
    return sorted(found, key=lambda f: (int(f.split()[0]), f))


def test_the_log_is_read_through_its_store() -> None:
    """Outside ledger/, the log's tables are read through ``LogStore``'s named methods
    and written by the service alone; a room's repository runs SQL on its own tables
    through the store's public ``query``/``execute``/``transaction``, never through
    eventsourcing's recorder or datastore, and never on the log's tables."""
    tables = log_tables()
    assert {"ledger_checkpoints", "ledger_leaves", "ledger_log_keys", EVENTS_TABLE} <= tables
    reaching = {
        where: found
        for room in ROOMS
        if room != "ledger"
        for path in modules(room)
        if (found := store_reaches(path, tables, where := str(path.relative_to(ROOT))))
    }
    assert reaching == {}, "modules outside ledger/ that get round the log's store"


def test_the_store_reach_finder_finds(tmp_path: Path) -> None:
    """Today's escapes, as they were before issue 20 closed them, and the disguises an
    insider would try next; a repository's SQL on its own table, and a prose mention of
    a log table, are not reaches."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(ledger, store, self):\n"
        "    datastore = ledger.store.recorder.datastore\n"
        "    postgres = isinstance(ledger.store.recorder, object)\n"
        '    store.query("SELECT note FROM ledger_checkpoints WHERE size = ?", (1,))\n'
        "    with ledger.store.writer_lock():\n"
        "        ledger.store.add_log_key_rotation(1, 'note')\n"
        "    table = 'cadreledger_events'\n"
        "    self.store._tuples('x', ())\n"
        '    store.query(f"select * from {table}")\n'
        '    store.query("SELECT * FROM webhook_cursor")\n'
        '    """The rotation is stored in ``ledger_log_keys``."""\n'
        "    store.query(\"SELECT to_regclass('ledger_tiles') AS t\")\n"
        "    return self.app.recorder\n"
    )
    assert store_reaches(sample, log_tables(), "streams/sample.py") == [
        "2 ledger.store.recorder",
        "2 ledger.store.recorder.datastore",
        "3 ledger.store.recorder",
        "4 SQL on ledger_checkpoints",
        "5 ledger.store.writer_lock",
        "6 ledger.store.add_log_key_rotation",
        "7 SQL on cadreledger_events",
        "8 self.store._tuples",
        "12 SQL on ledger_tiles",
        "13 self.app.recorder",
    ]
    # The service may open its store from the application's recorder, and write the log.
    assert store_reaches(sample, log_tables(), "cadreledger/service.py") == [
        "2 ledger.store.recorder",
        "2 ledger.store.recorder.datastore",
        "3 ledger.store.recorder",
        "4 SQL on ledger_checkpoints",
        "7 SQL on cadreledger_events",
        "8 self.store._tuples",
        "12 SQL on ledger_tiles",
    ]
