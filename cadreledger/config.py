"""Settings (from the command line, the environment and a file: ``config_file``), and
their translation for eventsourcing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_DB = "sqlite:///cadreledger.db"
DEFAULT_ORIGIN = "cadreledger.local/log"
DEFAULT_MAX_BODY_BYTES = 256 * 1024


class ConfigError(ValueError):
    """Settings that cannot work: a bad database URL, a missing key file."""


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB
    origin: str = DEFAULT_ORIGIN
    log_key_file: str | None = None
    root_key_file: str | None = None
    data_key_file: str | None = None
    max_batch: int = 1000
    pool_size: int = 8
    # Seconds to wait for a PostgreSQL connection before giving up (the pool keeps
    # trying until then, even when the server refuses at once).
    connect_timeout: int = 10
    # Processes that parse and verify submissions for the writer (cadreledger.checkers);
    # 0: threads in the writer's own process. Pays off on two cores and more.
    check_processes: int = 0
    # The HTTP service: the largest request body, and requests per second (and at once)
    # per person or client address; a rate of 0 turns rate limiting off.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit: float = 50.0
    rate_burst: int = 100
    # How far (seconds, either way) a statement's issued_at may be from the log's time
    # when it is admitted. Recorded in the ledger by its first writer
    # (``ledger_meta.max_clock_skew``): the verifier judges every event by it, so a writer
    # configured otherwise refuses to start.
    max_clock_skew: int = 300
    # Whether webhook registrations may name loopback, private or link-local targets
    # (tests with a local receiver, a closed network). Off by default; recorded in the
    # ledger by its first writer (``ledger_meta.webhooks_allow_private``), fixed after.
    webhooks_allow_private: bool = False
    # A new ledger enforces the evaluation rules; False makes a bare log (its own tests,
    # benchmarks of the log alone). Fixed at genesis: the database says which it is.
    rules: bool = True

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

    def data_key_path(self) -> Path:
        """The key-encryption key of sealed texts: beside the log's key, or as configured."""
        if self.data_key_file:
            return Path(self.data_key_file)
        return self.key_path().with_suffix(".datakey")

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
                "APPLICATION_RECORDER_TOPIC": "ledger.store_sqlite:SQLiteLedgerRecorder",
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
            "POSTGRES_CONNECT_TIMEOUT": str(self.connect_timeout),
            # In eventsourcing 9.5 the DB functions drop the table lock: followers have
            # been seen to skip events under concurrent writers. Keep them off.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
            "APPLICATION_RECORDER_TOPIC": "ledger.store_postgres:PostgresLedgerRecorder",
        }
