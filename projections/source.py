"""The log's stored events, read back as the acts the rules judge."""

from __future__ import annotations

from collections.abc import Iterator

from domain.acts import Act
from ledger.envelope import Event
from ledger.store import LogStore

PAGE = 2000


def stored_acts(store: LogStore, start: int, stop: int) -> Iterator[Act]:
    """The stored events ``start`` ≤ index < ``stop`` as acts, in log order."""
    position = start
    while position < stop:
        rows = store.entries(position, min(PAGE, stop - position))
        if not rows:
            return
        for index, _stream, _version, raw in rows:
            event = Event.parse(raw)
            yield Act(event.statement, str(event.signer), event.hash.hex(), index)
        position = rows[-1][0] + 1
