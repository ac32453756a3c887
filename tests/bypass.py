"""A writer with the log's own key but without the rules: the operator going around them.

The insider's strongest move against the ledger: stop the service's writer and seal acts
the rules would refuse. Tests and fixtures use it to show the verifier names them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cadreledger.service import Ledger
from domain.streams import stream_for
from ledger.keys import SignerKey
from ledger.sequencer import Sequencer
from ledger.statement import SignedStatement
from ledger.tiles import TileHashReader


def bypass(
    ledger: Ledger,
    log_key: SignerKey,
    clock: Callable[[], datetime],
    route: Callable[[SignedStatement], str] | None = None,
    **options: Any,
) -> Sequencer:
    """Stop ``ledger``'s writer and start one of the operator's own on its store, signing
    checkpoints with ``log_key`` and routing statements as the service does."""
    assert ledger.sequencer is not None
    ledger.sequencer.stop()
    rogue = Sequencer(
        ledger.store,
        log_key,
        TileHashReader(ledger.store),
        route or (lambda s: stream_for(s.statement)),
        clock=clock,
        **options,
    )
    rogue.start()
    return rogue
