"""jsonio's check for what the fast parse (orjson) would read differently, against the regex
it replaces: 19 digits in a row, or a key spaced from its colon."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidRequest
from service.fhir import jsonio
from service.fhir.jsonio import _fast_unsafe

#: The rule, as one regex (what `_fast_unsafe` decides without running it on every body).
RULE = re.compile(rb'[0-9]{19}|"[ \t\n\r]+:')

#: Pieces that make the rule's edges likely: runs of digits about 19 long, quotes, the four
#: whitespaces, colons.
_PIECES = st.sampled_from(
    [
        *(b'"', b'"id"', b" ", b"\t", b"\n", b"\r", b":", b",", b"{", b"a"),
        *(b"0", b"6", b"8", b"9", b"12345", b"7" * 9),
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=30).map(b"".join))
def test_the_check_decides_as_the_regex(body: bytes) -> None:
    assert _fast_unsafe(body) == (RULE.search(body) is not None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_the_check_decides_as_the_regex_on_any_bytes(body: bytes) -> None:
    assert _fast_unsafe(body) == (RULE.search(body) is not None)


def test_the_edges() -> None:
    assert not _fast_unsafe(b'{"n": 123456789012345678}')  # 18 digits
    assert _fast_unsafe(b'{"n": 1234567890123456789}')  # 19
    assert _fast_unsafe(b'{"n": 0.12345678901234567890}')
    for space in (b" ", b"\t", b"\n", b"\r", b" \r\n "):
        assert _fast_unsafe(b'{"a"' + space + b": 1}")
    assert not _fast_unsafe(b'{"a": [1 :2]}')  # a spaced colon, but after no key
    assert not _fast_unsafe(b'{"a": "x :y", "b": 1}')  # inside a string, not after a quote


def test_a_spaced_key_still_has_its_duplicates_found() -> None:
    # The fast parse counts `":` to find duplicate keys; a spaced key goes to the strict one.
    body = b'{"resourceType": "Parameters", "id" : "a", "id": "b"}'
    with pytest.raises(InvalidRequest, match="id"):
        jsonio.loads(body)
