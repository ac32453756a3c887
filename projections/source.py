"""The log's stored events, read back as the acts the rules judge.

Two readings, by how far they trust the store. ``stored_acts`` checks every envelope
as bytes from anywhere are checked (``Event.parse``): what the audit reads, since it
must not take the store's word (and the writer as it starts). ``admitted_acts`` reads
them as events this ledger admitted (``AdmittedEvent``): what the ledger's own replays
read — the projector, timelines — since the sequencer checked each one before storing
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from domain.acts import Act
from ledger.envelope import AdmittedEvent, EnvelopeError, Event
from ledger.store import Entry, LogStore

PAGE = 2000


def stored_acts(
    store: LogStore, start: int, stop: int, unreadable: Callable[[int], None] | None = None
) -> Iterator[Act]:
    """The stored events ``start`` ≤ index < ``stop`` as acts, in log order, each
    envelope checked for form.

    An event that is not a readable envelope raises ``EnvelopeError``, unless
    ``unreadable`` is given: then it is told the position and the event is skipped
    (the verifier's V1 names it; the rules' check must still run over the rest)."""
    for index, raw in _entries(store, start, stop):
        try:
            event = Event.parse(raw)
        except EnvelopeError:
            if unreadable is None:
                raise
            unreadable(index)
            continue
        yield Act(event.statement, str(event.signer), event.hash.hex(), index, event.logged_at)


def admitted_acts(store: LogStore, start: int, stop: int) -> Iterator[Act]:
    """The stored events ``start`` ≤ index < ``stop`` as acts, in log order, read as
    events this ledger admitted (``AdmittedEvent``)."""
    for index, raw in _entries(store, start, stop):
        yield admitted_act(raw, index)


def admitted_act(raw: bytes, position: int) -> Act:
    event = AdmittedEvent.read(raw)
    return Act(event.statement, event.signer, event.hash.hex(), position, event.logged_at)


def _entries(store: LogStore, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(position, envelope) of the stored events ``start`` ≤ position < ``stop``."""
    for page in pages(store, start, stop):
        for index, _stream, _version, raw in page:
            yield index, raw


def stream_entries(store: LogStore, streams: Sequence[str], stop: int) -> list[Entry]:
    """Every entry of ``streams`` below position ``stop``, in log order."""
    chunks = [streams[i : i + 500] for i in range(0, len(streams), 500)]
    return sorted(row for chunk in chunks for row in store.entries_of(chunk, stop))


def pages(store: LogStore, start: int, stop: int) -> Iterator[list[Entry]]:
    """The log entries ``start`` ≤ position < ``stop``, a page at a time. Beyond one
    page, the next is read in a thread while this one is handed out: the database works
    (PostgreSQL in its own process, SQLite in C) and the driver waits for it without
    holding the GIL, so a replay's reading costs it little time."""
    if stop <= start:
        return
    if stop - start <= PAGE:
        yield store.entries(start, stop - start)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:
        page = reader.submit(store.entries, start, PAGE)
        while rows := page.result():
            position = rows[-1][0] + 1
            if position < stop:
                page = reader.submit(store.entries, position, min(PAGE, stop - position))
            yield rows
            if position >= stop:
                return
