"""Throwaway databases for drills: SQLite files and PostgreSQL databases, and fast copies.

A PostgreSQL database is created through an admin connection (``CADRELEDGER_TEST_PG``,
default ``postgresql://postgres@127.0.0.1:5432/test``) and dropped afterwards, also
on errors. A copy of a PostgreSQL database is ``CREATE DATABASE … TEMPLATE``; of an
SQLite database, a copy of its file. ``Sql`` is the tamperer's raw connection: plain
SQL with ``?`` marks on either database, outside the application.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("CADRELEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_url(name: str, admin: str = PG_ADMIN) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


def pg_available(admin: str = PG_ADMIN) -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(admin, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {admin}: {e}"


def _admin(sql: str, admin: str = PG_ADMIN) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def create_pg(prefix: str = "drill", template: str | None = None) -> str:
    """A new PostgreSQL database (a copy of ``template``'s database if given): its URL."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    source = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    _admin(f'CREATE DATABASE "{name}"{source}')
    return pg_url(name)


def drop_pg(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextmanager
def scratch_pg(prefix: str = "drill", template: str | None = None) -> Iterator[str]:
    url = create_pg(prefix, template)
    try:
        yield url
    finally:
        drop_pg(url)


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def copy_sqlite(source: str, target: Path) -> str:
    """A copy of a closed SQLite database (with its WAL, if one was left): its URL."""
    src = sqlite_path(source)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{target}{suffix}")
    return f"sqlite:///{target}"


@contextmanager
def copy_of(url: str, workdir: Path) -> Iterator[str]:
    """A throwaway copy of the database at ``url`` (closed, nobody connected)."""
    if url.startswith("sqlite:///"):
        target = workdir / f"copy-{secrets.token_hex(4)}.db"
        try:
            yield copy_sqlite(url, target)
        finally:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        return
    with scratch_pg("drill_copy", template=url) as copy:
        yield copy


class Sql:
    """A raw connection for playing the attacker: ``?`` marks on SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.postgres = not url.startswith("sqlite:///")
        self.conn: Any
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.events = "cadreledger_events"
            self.nid = "notification_id"
        else:
            self.conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
            self.events = "stored_events"
            self.nid = "rowid"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        return int(cursor.rowcount)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(self._sql(sql), tuple(params)).fetchall()]

    def blob(self, value: Any) -> bytes:
        return bytes(value)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Sql:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
