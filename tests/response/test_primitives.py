"""The primitive checks' shortcuts equal the general string checks (issue 16).

`check_primitive` decides common string values (not blank; printable ASCII without a space
for code and uri) by a few string methods before the regexes: on random and near-miss
strings of every string kind, it gives exactly what `_string`, the general check, gives.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.response.primitives import _STRINGS, _string, check_primitive

# Whitespace of every kind Python knows (ASCII, the 0x1c-0x1f separators, NBSP, ideographic),
# controls that are not whitespace, and the pieces of URNs and dates.
_PIECES = [" ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u3000", "\x00", "\x7f", "é"]
_PIECES += [
    "urn:",
    "uuid:",
    "oid:",
    "urn:uuid:",
    "urn:oid:",
    "1.2",
    "0f",
    "-",
    "T",
    "Z",
    ":",
    "2026-01-02",
    "<div>",
]
_STRING = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(max_codepoint=0x7F), max_size=12),
    st.lists(st.sampled_from([*_PIECES, "a", "Patient/1"]), max_size=6).map("".join),
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(_STRINGS)), _STRING)
@example("uri", "urn:uuid:x")  # a urn that names a uuid must be one
@example("canonical", "urn:oid:1.x")
def test_string_shortcuts_equal_the_general_check(kind: str, value: str) -> None:
    assert check_primitive(kind, value) == _string(kind, value)


def test_common_values_take_the_shortcut() -> None:
    """What the shortcuts accept is clean; the usual values of a response are among them."""
    for kind, value in [("code", "completed"), ("uri", "urn:ietf:rfc:3986"), ("string", "a b")]:
        assert check_primitive(kind, value) is None
