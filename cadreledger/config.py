"""Settings from arguments and the environment, and their translation for eventsourcing."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_DB = "sqlite:///cadreledger.db"
DEFAULT_ORIGIN = "cadreledger.local/log"


class ConfigError(ValueError):
    """Settings that cannot work: a bad database URL, a missing key file."""


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB
    origin: str = DEFAULT_ORIGIN
    log_key_file: str | None = None
    root_key_file: str | None = None
    max_batch: int = 1000
    pool_size: int = 8
    # A new ledger enforces the evaluation rules; False makes a bare log (its own tests,
    # benchmarks of the log alone). Fixed at genesis: the database says which it is.
    rules: bool = True

    @classmethod
    def from_env(cls, db: str | None = None) -> Settings:
        env = os.environ
        settings = cls(
            db=env.get("CADRELEDGER_DB", DEFAULT_DB),
            origin=env.get("CADRELEDGER_ORIGIN", DEFAULT_ORIGIN),
            log_key_file=env.get("CADRELEDGER_LOG_KEY_FILE") or None,
            root_key_file=env.get("CADRELEDGER_ROOT_KEY_FILE") or None,
            max_batch=int(env.get("CADRELEDGER_MAX_BATCH", "1000")),
        )
        return replace(settings, db=db) if db else settings

    @property
    def is_postgres(self) -> bool:
        return self.db.startswith(("postgresql://", "postgres://"))

    def sqlite_path(self) -> str:
        prefix = "sqlite:///"
        if not self.db.startswith(prefix) or len(self.db) == len(prefix):
            raise ConfigError(
                f"database URL {self.db!r} is neither sqlite:///PATH nor postgresql://…"
            )
        return self.db[len(prefix) :]

    def key_path(self) -> Path:
        """Where the log's private key lives: beside the SQLite file, or as configured."""
        return self._beside_db(self.log_key_file, "logkey")

    def root_key_path(self) -> Path:
        """The root of trust's key (private, or just its verifier key), read at genesis."""
        return self._beside_db(self.root_key_file, "rootkey")

    def _beside_db(self, configured: str | None, suffix: str) -> Path:
        if configured:
            return Path(configured)
        if self.is_postgres:
            name = urlsplit(self.db).path.lstrip("/") or "postgres"
            return Path(f"cadreledger-{name}.{suffix}")
        return Path(f"{self.sqlite_path()}.{suffix}")

    def eventsourcing_env(self) -> dict[str, str]:
        common = {"ORIGINATOR_ID_TYPE": "text", "CREATE_TABLE": "yes"}
        if not self.is_postgres:
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.sqlite_path(),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": "ledger.store:SQLiteLedgerRecorder",
            }
        url = urlsplit(self.db)
        if not url.hostname or not url.path.strip("/"):
            raise ConfigError(f"database URL {self.db!r} needs a host and a database name")
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
            "POSTGRES_HOST": url.hostname,
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            # In eventsourcing 9.5 the DB functions drop the table lock: followers have
            # been seen to skip events under concurrent writers. Keep them off.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
            "APPLICATION_RECORDER_TOPIC": "ledger.store:PostgresLedgerRecorder",
        }
