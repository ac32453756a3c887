"""What the streams ask of the log service, as protocols: the wiring hands the service
(``cadreledger.service.Ledger``) in, and the streams name only what they use of it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from access.tokens import ServedLog
from ledger.keys import VerifierKey
from ledger.store import LogStore

__all__ = ["StreamSettings", "StreamedLog"]


class StreamSettings(Protocol):
    """The settings a stream reads: the database (the webhooks' lock file sits beside a
    SQLite one) and the log key's path (the webhook key sits beside it)."""

    @property
    def db(self) -> str: ...

    def key_path(self) -> Path: ...


class StreamedLog(ServedLog, Protocol):
    """The log as the streams read it: its store and key, its size and a wake-up when it
    grows, its settings; and (``ServedLog``) the registry as it stands, for who may
    still receive."""

    @property
    def store(self) -> LogStore: ...

    @property
    def log_key(self) -> VerifierKey: ...

    @property
    def settings(self) -> StreamSettings: ...

    def size(self) -> int: ...

    def wait_beyond(self, size: int, timeout: float) -> int: ...
