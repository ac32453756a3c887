"""RFC 8785 canonical bytes, and the strict parser's refusals."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from api.problems import render
from ledger.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    canonical_bytes,
    canonical_value,
    parse_strict,
    safe_int,
    validate,
)
from ledger.errors import Rejected
from tests.conftest import examples

LIMIT = 64 * 1024


def _reject(data: bytes, slug: str, max_bytes: int = LIMIT) -> Rejected:
    with pytest.raises(Rejected) as info:
        parse_strict(data, max_bytes=max_bytes)
    e = info.value
    assert e.problem.slug == slug, e.detail_en
    assert e.detail_vi.strip() and e.detail_en.strip()
    problem = render(e, "en")
    assert problem["type"].endswith("/" + slug) and problem["detail"] == e.detail_en
    assert render(e)["detail"] == e.detail_vi
    return e


# --- RFC 8785 §3.2.2: the sample object ------------------------------------------------

RFC_SAMPLE = rb"""{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_SAMPLE_OUT = (
    b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)


def test_rfc8785_sample_with_reference_encoder() -> None:
    """The reference encoder itself reproduces the RFC's output (floats and all)."""
    assert rfc8785.dumps(json.loads(RFC_SAMPLE)) == RFC_SAMPLE_OUT


def test_rfc8785_sample_refused_for_its_floats() -> None:
    _reject(RFC_SAMPLE, "float-not-allowed")


def test_rfc8785_sample_without_floats() -> None:
    data = RFC_SAMPLE.replace(
        b"[333333333.33333329, 1E30, 4.50,\n              2e-3, 0.000000000000000000000000001]",
        b"[333333333, -0, 4, 9007199254740991, -9007199254740991]",
    )
    assert data != RFC_SAMPLE
    value = parse_strict(data, max_bytes=LIMIT)
    expected = (
        b'{"literals":[null,true,false],'
        b'"numbers":[333333333,0,4,9007199254740991,-9007199254740991],'
        b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_bytes(value) == expected == rfc8785.dumps(value)


# --- RFC 8785 §3.2.3: sorting by UTF-16 code units -------------------------------------

RFC_SORTING = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",  # "\ud83d\ude00" in the RFC's JSON
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}


def test_rfc8785_sorting_example() -> None:
    out = canonical_bytes(RFC_SORTING)
    assert list(json.loads(out).values()) == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",  # U+1F600 is D83D DE00 in UTF-16: before U+FB33
        "Hebrew Letter Dalet With Dagesh",
    ]
    assert out == rfc8785.dumps(RFC_SORTING)
    assert out.startswith(b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control",')
    # Code-point order (what json.dumps(sort_keys=True) gives) differs here.
    by_code_point = json.dumps(
        RFC_SORTING, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()
    assert out != by_code_point and sorted(out) == sorted(by_code_point)
    # Also nested, and with the keys parsed from the RFC's JSON text.
    text = json.dumps(RFC_SORTING)
    assert "\\ud83d\\ude00" in text
    assert canonical_bytes({"a": [json.loads(text)]}) == rfc8785.dumps({"a": [RFC_SORTING]})


def test_large_integers() -> None:
    """Safe integers encode as JCS does; unsafe ones never reach the encoder: both the
    validator and the parser hook (used on stored envelopes) refuse them."""
    for n in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 10**15, 1234567890123456):
        assert canonical_bytes({"n": n}) == rfc8785.dumps({"n": n})
    for n in (MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**20):
        for refuse in (lambda n: validate([n]), lambda n: safe_int(str(n))):
            with pytest.raises(Rejected) as info:
                refuse(n)
            assert info.value.problem.slug == "integer-out-of-range"


# --- Property: the fast path equals the reference encoder ------------------------------

_text = st.text().filter(lambda s: unicodedata.is_normalized("NFC", s))
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | _text
)


def _json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=25,
    )


@settings(max_examples=examples(400), deadline=None)
@given(_json(st.text()))
def test_canonical_bytes_equals_rfc8785(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


_ascii_keys = st.text(alphabet=st.characters(max_codepoint=0x7F))


@settings(max_examples=examples(200), deadline=None)
@given(_json(_ascii_keys))
def test_parse_strict_accepts_canonical_output(value: Any) -> None:
    data = canonical_bytes(value)
    assert parse_strict(data, max_bytes=len(data)) == value
    # Any JSON spelling of the value parses to it and canonicalises back.
    spaced = json.dumps(value, indent=2).encode()
    assert canonical_bytes(parse_strict(spaced, max_bytes=len(spaced) + 1)) == data


# --- canonical_value: a quick yes that the strict readers would say too --------------

# What ``Event.parse`` falls back on: Python's decoder with the envelope's hooks.
_STRICT_READER = json.JSONDecoder(
    parse_float=lambda s: pytest.fail(f"float {s}"),
    parse_constant=lambda s: pytest.fail(f"constant {s}"),
    parse_int=safe_int,
)


def _strict_canonical(data: bytes) -> Any:
    """The value, if the strict path (Python's decoder, then the re-encoding) takes
    ``data`` as canonical bytes; ``...`` if it refuses them, for whatever reason."""
    try:
        value = _STRICT_READER.decode(data.decode())
        depth_ok = _depth(value) <= MAX_DEPTH
        return value if depth_ok and canonical_bytes(value) == data else ...
    except (ValueError, Rejected, RecursionError, pytest.fail.Exception):
        return ...


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_orjson_escapes_every_code_point_as_canonical_bytes() -> None:
    """canonical_value's yes rests on orjson spelling strings as canonical_bytes does:
    all of them, one code point at a time (lone surrogates have no UTF-8 form)."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert orjson.dumps(chars) == json.dumps(chars, ensure_ascii=False).encode().replace(
        b", ", b","
    )
    assert orjson.dumps(chars) == canonical_bytes(chars)


_below_e000 = st.text(alphabet=st.characters(max_codepoint=0xDFFF, exclude_categories=["Cs"]))


@settings(max_examples=examples(400), deadline=None)
@given(_json(_below_e000))
def test_canonical_value_knows_canonical_bytes(value: Any) -> None:
    """Every canonical encoding of a plain value gets the quick yes, unless it holds
    characters at or above U+E000 (where JCS's key order may not be orjson's)."""
    data = canonical_bytes(value)
    assert _strict_canonical(data) == value
    if max(data, default=0) < 0xEE:
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == data
        assert canonical_value(data) == value
    else:
        assert canonical_value(data) is None


_wild_scalars = (
    _scalars
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers()
    | st.text()  # NFD, lone surrogates, anything
)
_wild = st.recursive(
    _wild_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@st.composite
def _spellings(draw: st.DrawFn) -> bytes:
    """Bytes near canonical ones: other spellings of wild values, with the slips a forger
    or a broken writer makes."""
    value = draw(_wild)
    try:
        data = canonical_bytes(value)
    except (Rejected, UnicodeEncodeError, TypeError, ValueError):
        data = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    kind = draw(st.sampled_from(["as-is", "ascii", "spaced", "byte", "insert", "dup", "num"]))
    if kind == "ascii":
        data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    elif kind == "spaced":
        data = json.dumps(value, sort_keys=True).encode("utf-8", "surrogatepass")
    elif kind in ("byte", "insert") and data:
        at = draw(st.integers(0, len(data) - 1))
        new = bytes([draw(st.integers(0, 255))])
        data = data[:at] + new + data[at + (kind == "byte") :]
    elif kind == "dup" and data.startswith(b"{") and len(data) > 2:
        data = b'{"a":1,"a":1,' + data[1:]
    elif kind == "num":
        data = data.replace(b"1", draw(st.sampled_from([b"1.0", b"1e0", b"-0", b"01", b"1E0"])))
    return data


@settings(max_examples=examples(2000), deadline=None)
@given(_spellings())
def test_canonical_value_says_yes_only_where_the_strict_path_does(data: bytes) -> None:
    """Duplicate keys, floats in any spelling, unsafe integers, -0, escapes, spaces,
    lone surrogates, bytes that are not UTF-8: whatever the strict path refuses gets no
    quick yes; what gets one, the strict path reads as the same value."""
    quick = canonical_value(data)
    if quick is not None:
        assert _strict_canonical(data) == quick


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":1}',
        b'{"a":1,"a":2}',
        b'{"a":1.0}',
        b'{"a":1e0}',
        b'{"a":10000000000000000}',
        b'{"a":9007199254740992}',
        b'{"a":-9007199254740992}',
        b'{"a":18446744073709551616}',
        b'{"a":-0}',
        b'{"a":NaN}',
        b'{"a":"\\ud800"}',
        b'{"a":"\\u00e9"}',
        b'{"a":"\xff"}',
        b'{"a": 1}',
        b'{"b":1,"a":2}',
        b'\xef\xbb\xbf{"a":1}',
        b'{"\xee\x80\x80":1}',
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b"[" * 1100 + b"]" * 1100,
    ],
)
def test_canonical_value_no_quick_yes(data: bytes) -> None:
    assert canonical_value(data) is None


def test_canonical_value_edges_it_takes() -> None:
    deepest = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert canonical_value(deepest[1:-1]) == _strict_canonical(deepest[1:-1]) != ...
    for n in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0):
        data = b'{"a":%d}' % n
        assert canonical_value(data) == {"a": n} == _strict_canonical(data)


# --- Refusals, each with its own problem -----------------------------------------------

DECOMPOSED = "Nguye\u0302\u0303n"  # e + combining circumflex + combining tilde
PRECOMPOSED = unicodedata.normalize("NFC", DECOMPOSED)


def test_vietnamese_nfc_and_nfd() -> None:
    assert PRECOMPOSED == "Nguy\u1ec5n" != DECOMPOSED
    ok = json.dumps({"name": PRECOMPOSED}, ensure_ascii=False).encode()
    assert parse_strict(ok, max_bytes=LIMIT) == {"name": PRECOMPOSED}
    for ensure_ascii in (False, True):  # raw UTF-8 or \u escapes: the same string
        bad = json.dumps({"name": DECOMPOSED}, ensure_ascii=ensure_ascii).encode()
        e = _reject(bad, "non-nfc-string")
        assert e.extensions["path"] == "$.name"
    _reject(json.dumps([[DECOMPOSED]]).encode(), "non-nfc-string")


@pytest.mark.parametrize(
    ("data", "slug"),
    [
        pytest.param(b'{"a":1,"a":2}', "duplicate-key", id="duplicate"),
        pytest.param(b'{"a":{"b":1,"b":1}}', "duplicate-key", id="duplicate-nested"),
        pytest.param(b"1.5", "float-not-allowed", id="float"),
        pytest.param(b'{"x":1e3}', "float-not-allowed", id="exponent"),
        pytest.param(b"[1E-3]", "float-not-allowed", id="negative-exponent"),
        pytest.param(b"1.0", "float-not-allowed", id="integral-float"),
        pytest.param(b"NaN", "float-not-allowed", id="nan"),
        pytest.param(b'{"x":[Infinity]}', "float-not-allowed", id="infinity"),
        pytest.param(b"-Infinity", "float-not-allowed", id="minus-infinity"),
        pytest.param('{"tên":1}'.encode(), "non-ascii-key", id="non-ascii-key"),
        pytest.param(b'{"a":{"\\u00e9":1}}', "non-ascii-key", id="non-ascii-key-escaped"),
        pytest.param(b'"\xff"', "not-utf8", id="invalid-utf8"),
        pytest.param(b'"\xc3"', "not-utf8", id="truncated-utf8"),
        pytest.param(b'"\xed\xa0\x80"', "not-utf8", id="utf8-surrogate"),
        pytest.param(b'{"a":', "malformed-json", id="truncated"),
        pytest.param(b"", "malformed-json", id="empty"),
        pytest.param(b"{'a':1}", "malformed-json", id="single-quotes"),
        pytest.param(b"[1,]", "malformed-json", id="trailing-comma"),
        pytest.param(b"[1] [2]", "malformed-json", id="two-values"),
        pytest.param(b"[" * (MAX_DEPTH + 2) + b"]" * (MAX_DEPTH + 2), "malformed-json", id="deep"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "malformed-json", id="very-deep"),
        pytest.param(b"9007199254740992", "integer-out-of-range", id="2**53"),
        pytest.param(b"[-9007199254740992]", "integer-out-of-range", id="-2**53"),
        pytest.param(b'{"n":' + b"9" * 400 + b"}", "integer-out-of-range", id="huge"),
    ],
)
def test_parse_strict_rejects(data: bytes, slug: str) -> None:
    _reject(data, slug, max_bytes=len(data) + 1)


def test_parse_strict_limits() -> None:
    data = json.dumps({"x": "a" * 100}).encode()
    assert parse_strict(data, max_bytes=len(data)) == {"x": "a" * 100}
    e = _reject(data, "payload-too-large", max_bytes=len(data) - 1)
    assert e.extensions["limit"] == len(data) - 1
    assert e.problem.status == 413
    # The deepest nesting allowed is accepted.
    deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert parse_strict(deep, max_bytes=LIMIT) is not None
    for n in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER):
        assert parse_strict(str(n).encode(), max_bytes=LIMIT) == n


def test_each_refusal_has_its_own_problem() -> None:
    samples = {
        "duplicate-key": b'{"a":1,"a":2}',
        "float-not-allowed": b"1.5",
        "non-nfc-string": json.dumps(DECOMPOSED).encode(),
        "non-ascii-key": '{"é":1}'.encode(),
        "not-utf8": b"\xff",
        "malformed-json": b"{",
        "integer-out-of-range": str(2**53).encode(),
    }
    seen = {_reject(data, slug).problem.slug for slug, data in samples.items()}
    seen.add(_reject(b"[]", "payload-too-large", max_bytes=1).problem.slug)
    assert len(seen) == len(samples) + 1
