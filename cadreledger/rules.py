"""The evaluation rules, plugged into the ledger's single writer.

The sequencer asks for a verdict on each statement of a batch, in log order, and
keeps what was admitted only once the batch commits. The model behind it is built
by replaying the stored events at start-up, and caught up again whenever the writer
reloads (after a failed batch, or when another writer moved the log on).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain.acts import Act
from domain.model import Draft, Model
from ledger.sequencer import RulesBatch
from ledger.statement import SignedStatement
from ledger.store import LogStore
from projections.source import stored_acts


class EvaluationRules:
    def __init__(self, root_keys: Iterable[str]) -> None:
        self.root_keys = tuple(root_keys)
        self.model = Model(self.root_keys)

    def load(self, store: LogStore, size: int) -> None:
        if self.model.position > size:  # the log shrank under us: start again
            self.model = Model(self.root_keys)
        for act in stored_acts(store, self.model.position, size):
            self.model.replay(act)

    def begin(self, after: RulesBatch | None = None) -> _Batch:
        if after is None:
            return _Batch(self.model.begin())
        assert isinstance(after, _Batch)
        return _Batch(after.draft.begin())


class _Batch:
    def __init__(self, draft: Draft) -> None:
        self.draft = draft

    def admit(
        self, signed: SignedStatement, event_hash: bytes, index: int, logged_at: datetime
    ) -> None:
        self.draft.handle(
            Act(signed.statement, str(signed.signer), event_hash.hex(), index, logged_at)
        )

    def commit(self) -> None:
        self.draft.commit()
