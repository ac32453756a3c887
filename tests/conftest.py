"""Shared fixtures: a ledger on SQLite always, and on PostgreSQL when it is there.

With ``CI=true`` a missing PostgreSQL is an error, never a skip. Each PostgreSQL test
gets a database of its own, created from ``test`` and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from cadreledger.config import Settings
from cadreledger.service import Ledger
from ledger.keys import SignerKey
from ledger.statement import SignedStatement, sign_statement

PG_ADMIN = os.environ.get("CADRELEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {PG_ADMIN}: {e}"


_PG_UNAVAILABLE = _postgres_reason()


# Hypothesis: "thorough" (each property's own number of examples) unless
# HYPOTHESIS_PROFILE=dev, a quick loop while developing: a tenth of the examples, at
# least 5, and no database of failing examples kept between runs. CI (.ci/run) sets
# "thorough" itself, so a developer's environment can never thin it.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "thorough")
settings.register_profile("thorough", settings())
settings.register_profile("dev", max_examples=10, database=None)
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(thorough: int) -> int:
    """``max_examples`` for a property that sets its own: ``thorough`` unless the dev
    profile is loaded (a setting given in ``@settings`` wins over any profile)."""
    return max(5, thorough // 10) if HYPOTHESIS_PROFILE == "dev" else thorough


# What test modules open when they are imported (schemathesis needs its app then): closed
# when the session ends, even if none of the module's tests ran — a writer's thread
# left open would keep pytest from exiting.
AT_SESSION_END: list[Callable[[], None]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while AT_SESSION_END:
        AT_SESSION_END.pop()()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--drill-scale",
        type=float,
        default=float(os.environ.get("CADRELEDGER_DRILL_SCALE", "1")),
        help="multiply the reliability drills' counts (tamperings, kills; CI runs 1)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile = f"cadreledger: Hypothesis profile {HYPOTHESIS_PROFILE!r}"
    if _PG_UNAVAILABLE:
        return [f"cadreledger: SKIPPING PostgreSQL tests — {_PG_UNAVAILABLE}", profile]
    return [f"cadreledger: PostgreSQL tests run against {PG_ADMIN}", profile]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    yield from _fresh_postgres()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _fresh_postgres()


def _fresh_postgres() -> Iterator[str]:
    if _PG_UNAVAILABLE:
        if IN_CI:
            pytest.fail(f"CI=true but {_PG_UNAVAILABLE}")
        pytest.skip(_PG_UNAVAILABLE)
    import psycopg

    name = "cl_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def open_ledger(tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    """Open ledgers on a URL with the keys kept in ``tmp_path``; all closed at the end.

    A new database is a bare log unless ``rules=True``: the ledger's own tests need no
    registered people or evaluation cycles.
    """
    opened: list[Ledger] = []

    def factory(
        url: str,
        *,
        writer: bool = True,
        rules: bool = False,
        clock: Callable[[], datetime] | None = None,
        **settings: Any,
    ) -> Ledger:
        ledger = Ledger(
            Settings(
                db=url,
                log_key_file=str(tmp_path / "log.key"),
                root_key_file=str(tmp_path / "root.key"),
                rules=rules,
                **settings,
            ),
            writer=writer,
            **({} if clock is None else {"clock": clock}),
        )
        opened.append(ledger)
        return ledger

    yield factory
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(db_url: str, open_ledger: Callable[..., Ledger]) -> Ledger:
    return open_ledger(db_url)


class People:
    """Signing keys for test actors, created on first use."""

    def __init__(self) -> None:
        self.keys: dict[str, SignerKey] = {}

    def key(self, actor: str) -> SignerKey:
        if actor not in self.keys:
            self.keys[actor] = SignerKey.generate(actor)
        return self.keys[actor]

    def statement(
        self, actor: str = "nguyen.van.an", cadre: str = "tran.thi.binh", **body: Any
    ) -> SignedStatement:
        statement = {
            "v": 1,
            "type": "score.submitted",
            "actor": actor,
            "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nonce": secrets.token_urlsafe(16),
            "cycle": "2025-qd366-test",
            "cadre": cadre,
            "general": 25,
            "tasks": 60,
            "note": "Hoàn thành tốt nhiệm vụ",
            **body,
        }
        return sign_statement(statement, self.key(actor))


@pytest.fixture
def people() -> People:
    return People()
