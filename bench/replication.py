"""A PostgreSQL primary and its streaming replica, both private, for tests and benchmarks.

The primary is ``bench.drills.cluster.PrivateCluster`` (``initdb`` in a temporary folder,
on a free loopback port): ``initdb`` already sets ``wal_level = replica``, ten WAL
senders, and — with ``-A trust`` — ``pg_hba.conf`` lines letting replication connect
over 127.0.0.1. The replica is ``pg_basebackup -R`` of it (a ``standby.signal`` and
``primary_conninfo``: a hot standby), started on a free port of its own. Never the
machine's shared server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.drills.cluster import PrivateCluster
from bench.drills.crash import free_port


class Replicated:
    """``primary`` (database ``drill``) and a hot standby of it; ``stop`` removes both."""

    def __init__(self, programs: Path) -> None:
        self.primary = PrivateCluster(programs)
        self.replica_data = self.primary.root / "replica"
        self.replica_log = self.primary.root / "replica.log"
        self.replica_port = free_port()

    def start(self) -> Replicated:
        self.primary.create()
        self.primary._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.replica_data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        options = (
            f"-p {self.replica_port} -k {self.replica_data} -c listen_addresses=127.0.0.1"
            " -c hot_standby=on"
        )
        self.primary._run(
            "pg_ctl",
            *("-D", str(self.replica_data), "-l", str(self.replica_log)),
            *("-o", options, "-w", "start"),
        )
        return self

    @property
    def replica_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.replica_port}/drill"

    def sql(self, url: str, statement: str) -> object:
        """One statement on either server (autocommit); its first value."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None

    def wait_replayed(self, timeout: float = 60) -> None:
        """Until the replica has applied everything the primary has written so far."""
        import time

        wanted = self.sql(self.primary.url, "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while not self.sql(
            self.replica_url, f"SELECT pg_last_wal_replay_lsn() >= '{wanted}'::pg_lsn"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replica has not replayed up to {wanted}")
            time.sleep(0.05)

    def pause_replay(self) -> None:
        """The replica stops applying the primary's WAL (it still receives it): lag."""
        self.sql(self.replica_url, "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql(self.replica_url, "SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        if (self.replica_data / "postmaster.pid").exists():
            self.primary._run("pg_ctl", "-D", str(self.replica_data), "-m", "fast", "-w", "stop")
        self.primary.stop()  # removes the whole folder, the replica's too
        shutil.rmtree(self.replica_data, ignore_errors=True)
