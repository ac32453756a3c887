"""A PostgreSQL cluster of the drill's own, to crash without touching the shared server.

``initdb`` in a temporary folder, ``pg_ctl start`` on a free loopback port, and
``pg_ctl stop -m immediate``: PostgreSQL's own crash — no checkpoint, no clean
shutdown, the write-ahead log replayed on the next start. What a power cut does to the
database server, short of the disk's own cache.

Needs PostgreSQL's server programs: ``CADRELEDGER_PG_BIN``, else ``pg_config
--bindir``, else ``/usr/lib/postgresql/*/bin``. Run as root, they run as the
``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.drills.crash import free_port


def server_programs() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, if this machine has one."""
    candidates = [os.environ.get("CADRELEDGER_PG_BIN", "")]
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class PrivateCluster:
    def __init__(self, programs: Path) -> None:
        # A folder of its own: the server's user must reach it (a test's tmp_path may
        # sit in a folder only root can enter).
        self.root = Path(tempfile.mkdtemp(prefix="cadreledger-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.programs = programs
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_postgres, str(self.programs / program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "drill")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would: the next start replays the write-ahead log."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop (if running) and remove the cluster."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/drill"
