"""The fast paths of a replay give what the plain ones give.

A replay of the ledger's own store reads envelopes as admitted events, a page ahead
(``projections.source``); a rebuild encodes each document once for the table and the
digest (``projections.views``); a tally's mean is rounded in integers
(``domain.cycle``). Each is checked here against the slower reading it replaces.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadreledger.service import Ledger
from domain.cycle.scoring import _mean
from ledger.canonical import canonical_bytes
from ledger.envelope import AdmittedEvent, EnvelopeError, Event
from projections import source
from projections.views import digest, encoded, encoded_digest
from tests.service.test_domain_ledger import evaluation_ledger, run_cycle


@pytest.fixture
def played(db_url: str, tmp_path: Path, open_ledger: Callable[..., Ledger]) -> Ledger:
    """A ledger holding one evaluation cycle, played through the rules."""
    ledger, w = evaluation_ledger(db_url, tmp_path, open_ledger)
    run_cycle(w)
    return ledger


def test_admitted_acts_are_the_stored_acts(played: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, size = played, played.size()
    monkeypatch.setattr(source, "PAGE", 7)  # many pages: the read-ahead path, cut mid-page
    for start, stop in ((0, size), (3, size - 5), (9, 16), (size - 2, size), (4, 4), (5, 2)):
        expected = list(source.stored_acts(ledger.store, start, stop))
        assert list(source.admitted_acts(ledger.store, start, stop)) == expected
        assert [a.position for a in expected] == list(range(start, max(start, stop)))


def test_an_admitted_event_reads_as_the_strict_parse_does(played: Ledger) -> None:
    for _index, _stream, _version, raw in played.store.entries(0, played.size()):
        strict, admitted = Event.parse(raw), AdmittedEvent.read(raw)
        assert admitted.statement == strict.statement
        assert admitted.signer == str(strict.signer)
        assert admitted.hash == strict.hash


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(statement=JSON)
def test_an_admitted_reading_decodes_canonical_json_as_pythons_decoder_does(
    statement: Any,
) -> None:
    """``AdmittedEvent.read`` decodes with orjson; anything a stored envelope can hold
    (canonical JSON: no floats, safe integers, any text) reads as ``json`` reads it."""
    raw = canonical_bytes({"signer": "k", "statement": statement})
    assert AdmittedEvent.read(raw).statement == json.loads(raw)["statement"]


@pytest.mark.parametrize("raw", [b"", b"\xff", b"[]", b"{}", b'{"statement": {}}', b"null"])
def test_what_is_not_an_envelope_is_still_refused(raw: bytes) -> None:
    with pytest.raises(EnvelopeError):
        AdmittedEvent.read(raw)


@pytest.mark.parametrize(
    "docs",
    [
        {},
        {"registry": {"people": {}}, "cycle/2026-a": {"subjects": {"x": [1, "Đông Sơn"]}}},
        # Names beyond U+E000 sort differently in UTF-16 than by code point.
        {"a\ue000": 1, "a\U0001f600": 2, "refused": [{"k\ue001": None, "k\U0001f601": True}]},
    ],
)
def test_a_digest_of_encoded_documents_is_the_digest(docs: dict[str, Any]) -> None:
    whole = hashlib.sha256(canonical_bytes(docs)).hexdigest()
    assert encoded_digest(encoded(docs)) == digest(docs) == whole


@given(st.lists(st.integers(-(10**7), 10**7), min_size=1, max_size=80))
def test_a_mean_is_rounded_half_up_as_decimal_rounds_it(values: list[int]) -> None:
    exact = Decimal(sum(values)) / Decimal(len(values))
    assert _mean(values) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
