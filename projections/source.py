"""The log's stored events, read back as the acts the rules judge."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from domain.acts import Act
from ledger.envelope import EnvelopeError, Event
from ledger.store import LogStore

PAGE = 2000


def stored_acts(
    store: LogStore, start: int, stop: int, unreadable: Callable[[int], None] | None = None
) -> Iterator[Act]:
    """The stored events ``start`` ≤ index < ``stop`` as acts, in log order.

    An event that is not a readable envelope raises ``EnvelopeError``, unless
    ``unreadable`` is given: then it is told the position and the event is skipped
    (the verifier's V1 names it; the rules' check must still run over the rest)."""
    position = start
    while position < stop:
        rows = store.entries(position, min(PAGE, stop - position))
        if not rows:
            return
        for index, _stream, _version, raw in rows:
            try:
                event = Event.parse(raw)
            except EnvelopeError:
                if unreadable is None:
                    raise
                unreadable(index)
                continue
            yield Act(event.statement, str(event.signer), event.hash.hex(), index)
        position = rows[-1][0] + 1
