"""The benchmarks' PostgreSQL CPU (``bench._common.BackendsCPU``) is the CPU of the
backends serving the benchmark's own database: not another database's on the same
server, and a backend that ends within the phase is reported, not silently dropped."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from bench import _common as C
from tests.conftest import PG_ADMIN

pytestmark = pytest.mark.postgres

# About a quarter of a second of one core for a PostgreSQL backend.
BURN = "SELECT count(*) FROM generate_series(1, 3000000)"


def backend_seconds(conn: psycopg.Connection[tuple[object, ...]]) -> float:
    """CPU seconds of ``conn``'s backend so far, from ``/proc``."""
    return C.cpu_seconds(conn.info.backend_pid)


def test_counts_this_databases_backends_and_no_other(pg_url: str) -> None:
    with (
        psycopg.connect(pg_url, autocommit=True) as before,
        psycopg.connect(pg_url, autocommit=True) as ends,
        psycopg.connect(PG_ADMIN, autocommit=True) as elsewhere,
    ):
        if not os.path.exists(f"/proc/{before.info.backend_pid}"):
            pytest.skip("PostgreSQL is not on this machine: no /proc for its backends")
        phase = C.BackendsCPU(pg_url)
        start = backend_seconds(before)
        before.execute(BURN)  # open when the phase starts
        with psycopg.connect(pg_url, autocommit=True) as during:
            during.execute(BURN)  # opened within the phase, still open at its end
            foreign = backend_seconds(elsewhere)
            elsewhere.execute(BURN)  # another database on the same server
            foreign = backend_seconds(elsewhere) - foreign
            gone = ends.info.backend_pid
            ends.close()  # open when the phase starts, gone at its end
            deadline = time.monotonic() + 10
            while os.path.exists(f"/proc/{gone}") and time.monotonic() < deadline:
                time.sleep(0.01)
            ours = backend_seconds(before) - start + backend_seconds(during)
            found = phase.stop()

    assert found.backends == 3
    assert found.ended == 1
    assert foreign > 0.1 and ours > 0.2
    # /proc counts in clock ticks; the two readings of each backend are ticks apart.
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert ours - 4 * tick <= found.seconds <= ours + 4 * tick
    assert found.us_per(1000) == pytest.approx(found.seconds * 1000)


def test_sqlite_has_no_database_backends(tmp_path: object) -> None:
    found = C.BackendsCPU(f"sqlite:///{tmp_path}/x.db").stop()
    assert (found.seconds, found.backends, found.ended) == (0.0, 0, 0)
