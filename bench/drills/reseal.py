"""The insider's tool: rewrite a log from a list of signed statements, wrapped anew.

Someone with write access to the database *and* the log's private key can throw the
stored log away and write another: each statement chained onto its stream, the index,
the tiles, a checkpoint per batch signed with the log's key, the nonce index. The
result passes V1–V7 on its own. What still catches it: checkpoints somebody kept (V6,
``--checkpoint`` or the verifier's memory), witnesses (V7), the rules (V8), and the
nonce index for a statement logged twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent

from domain.streams import stream_for
from ledger.checkpoint import Checkpoint
from ledger.envelope import TOPIC, EnvelopeError, Event, event_hash, wrap
from ledger.keys import SignerKey
from ledger.merkle import EMPTY_ROOT, leaf_hash
from ledger.statement import SignedStatement
from ledger.store import BatchRows, LogStore
from ledger.tiles import TreeBuilder

TABLES = ("ledger_leaves", "ledger_tiles", "ledger_checkpoints", "ledger_nonces")


def reseal(
    store: LogStore, statements: Sequence[SignedStatement], log_key: SignerKey, batch: int = 10
) -> None:
    """Replace every event of ``store`` by ``statements``, wrapped in batches of ``batch``.

    A statement that repeats an earlier one (same actor and nonce) is stored again as an
    event, but gets no second nonce row: the table's primary key forbids it, as it would
    stop the tamperer."""
    # The log times the events had: a statement stored before keeps its own (so that its
    # event hash, which later statements cite, is unchanged if its place is).
    kept: dict[tuple[str, str], datetime] = {}
    for _index, _stream, _version, stored in store.entries(0, 1 << 40):
        try:
            event = Event.parse(stored)
        except EnvelopeError:
            continue  # already tampered with: it has no time to keep
        key = (str(event.statement.get("actor")), str(event.statement.get("nonce")))
        if event.logged_at is not None:
            kept.setdefault(key, event.logged_at)
    for table in (store.events_table, *TABLES):
        store.execute(f"DELETE FROM {table}")
    genesis = Checkpoint(log_key.name, 0, EMPTY_ROOT).sign(log_key)
    store.execute("INSERT INTO ledger_checkpoints (size, note) VALUES (?, ?)", (0, genesis))
    heads: dict[str, tuple[int, bytes]] = {}
    nonces: set[tuple[str, str]] = set()
    tree = TreeBuilder.empty()
    # The log's time, as the insider forges it for a statement not stored before: its
    # own issued_at (never going back), which every log-time check (V10) then accepts.
    logged: datetime | None = None
    for start in range(0, len(statements), batch):
        events: list[StoredEvent] = []
        rows = BatchRows()
        for signed in statements[start : start + batch]:
            stream = stream_for(signed.statement)
            version, prev = heads.get(stream, (0, None))
            issued = datetime.fromisoformat(signed.statement["issued_at"]).astimezone(UTC)
            at = kept.get((signed.actor, signed.nonce), issued)
            logged = at if logged is None else max(logged, at)
            raw = wrap(stream, version + 1, prev, signed, logged)
            index = tree.size
            tree.append(leaf_hash(event_hash(raw)))
            heads[stream] = (version + 1, event_hash(raw))
            events.append(
                StoredEvent(
                    originator_id=stream, originator_version=version + 1, topic=TOPIC, state=raw
                )
            )
            rows.leaves.append((index, stream, version + 1))
            if (signed.actor, signed.nonce) not in nonces:
                nonces.add((signed.actor, signed.nonce))
                rows.nonces.append((signed.actor, signed.nonce, signed.digest, index))
        rows.tiles = tree.take_dirty()
        rows.checkpoint = (
            tree.size,
            Checkpoint(log_key.name, tree.size, tree.root()).sign(log_key),
        )
        store.commit(events, rows)
