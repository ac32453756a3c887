"""The crash drill: ``cadreledger serve`` killed with SIGKILL under load, restarted.

Checks, after every run: each acknowledged statement is stored once where its receipt
says; nothing is stored twice; an unacknowledged statement is wholly there or not at
all; every checkpoint a client saw is consistent with the final one; ``cadreledger
verify`` exits 0. On PostgreSQL the service's connections are also cut from the
server's side while it writes; with ``CADRELEDGER_DRILL_PG_SERVER=1`` a private
PostgreSQL cluster (initdb) is crashed too (``pg_ctl stop -m immediate``) — never the
shared server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.drills import CI, crash, scaled
from bench.drills.cluster import server_programs
from bench.drills.databases import Sql
from cadreledger.service import Ledger
from tests.conftest import IN_CI

pytestmark = pytest.mark.drill


def _check(figures: crash.Figures, kills: int) -> None:
    print(f"\ncrash drill: {json.dumps(figures.to_json(), ensure_ascii=False)}")
    assert figures.problems == []
    assert figures.refused == []
    assert figures.verify_exit == 0
    assert figures.kills == kills
    assert figures.acknowledged > 0
    assert figures.unanswered + figures.unavailable > 0  # the crashes were felt
    # Every checkpoint a client saw was proven consistent with the final one.
    assert figures.consistency_proofs == figures.checkpoints_seen > 0


def test_sqlite_service_killed_under_load(tmp_path: Path, drill_scale: float) -> None:
    kills = scaled(CI["kills"], drill_scale)
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    figures = crash.Drill(url, tmp_path, crash.Plan(kills=kills)).run()
    _check(figures, kills)


@pytest.mark.postgres
def test_postgres_service_killed_and_cut_off(
    pg_url: str, tmp_path: Path, drill_scale: float
) -> None:
    kills = scaled(CI["kills"] - 1, drill_scale)
    plan = crash.Plan(kills=kills, terminations=scaled(CI["terminations"], drill_scale))
    figures = crash.Drill(pg_url, tmp_path, plan).run()
    _check(figures, kills)
    assert figures.terminations > 0


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_http_workers_and_their_writer_killed_under_load(
    kind: str, tmp_path: Path, drill_scale: float, request: pytest.FixtureRequest
) -> None:
    """``serve --workers 2``: SIGKILL of a worker (the writer lives on, a new worker
    takes the port) and of the writer itself (its workers leave, all start again)."""
    url = (
        f"sqlite:///{tmp_path / 'crash.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    kills = scaled(1, drill_scale)
    plan = crash.Plan(kills=kills, workers=2, worker_kills=scaled(3, drill_scale))
    figures = crash.Drill(url, tmp_path, plan).run()
    _check(figures, kills)
    assert figures.worker_kills == plan.worker_kills


@pytest.mark.skipif(
    not IN_CI and (os.environ.get("CADRELEDGER_DRILL_PG_SERVER") != "1" or not server_programs()),
    reason="crashing a private PostgreSQL cluster needs CADRELEDGER_DRILL_PG_SERVER=1 and initdb",
)
def test_postgres_server_crashed_under_load(tmp_path: Path) -> None:
    """PostgreSQL itself killed mid-batch (a private cluster of its own, never the shared
    server): in CI always; on a laptop when asked for."""
    assert server_programs() is not None, "CI=true but PostgreSQL's initdb is not installed"
    plan = crash.Plan(kills=1, terminations=1, server_crashes=3)
    with crash.database("postgres-private", tmp_path) as (url, server):
        figures = crash.Drill(url, tmp_path, plan, server).run()
    _check(figures, 1)
    assert figures.server_crashes == 3


def test_the_checks_notice_a_lost_or_half_written_statement(tmp_path: Path) -> None:
    """The drill can fail: an acknowledged statement that is not where its receipt says,
    and a given-up one whose event is gone but whose nonce row stayed, are reported."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    drill = crash.Drill(url, tmp_path, crash.Plan(cadres=3, newcomers=2))
    work = drill.prepare()
    (_, ballots), (_, newcomers) = work[0], work[-1]
    with Ledger(drill.keys.settings(url)) as ledger:
        receipt = ledger.append(ballots[0]).to_json()
        half = ledger.append(newcomers[0])
    receipt["event_hash"] = "00" * 32  # the receipt names an event that is not there
    drill.receipts.append((ballots[0], receipt))
    drill.abandoned.append(newcomers[0])
    with Sql(url) as sql:  # the event lost, its nonce row left behind
        sql.execute(
            "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = ?",
            (half.stream, half.version),
        )
    drill._check_stored()
    found = " | ".join(drill.figures.problems)
    assert f"acknowledged statement at {receipt['index']} is not stored there" in found
    assert "half-written" in found
    assert drill.figures.verify_exit == 1
