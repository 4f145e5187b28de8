"""FHIR R4 primitive types in JSON: the JSON type each takes and its R4 format.

Formats are the R4 regexes (http://hl7.org/fhir/R4/datatypes.html#primitive), matched in
full, plus what a regex cannot say: int32 bounds, days that exist, base64 length, an
XHTML `<div>`. Empty and blank strings are never valid (R4 JSON: no empty values).
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date
from typing import Any

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.rules import Rule

__all__ = ["PRIMITIVES", "check_primitive", "value_error"]


_URIS = frozenset({"uri", "url", "canonical"})
_SPACE = re.compile(r"\s+")
_PATTERNS = r4.FORMATS
_STRINGS = frozenset({*_PATTERNS, "string", "markdown", "xhtml"})
_DAYS = frozenset({"date", "dateTime", "instant"})
_INTEGERS = {"integer": -(2**31), "unsignedInt": 0, "positiveInt": 1}  # the least; int32 max
#: The R4 primitive types, by their names in StructureDefinitions.
PRIMITIVES = frozenset({*_STRINGS, *_INTEGERS, "decimal", "boolean"})


def value_error(rule: Rule, code: IssueType, text: str) -> Issue:
    """What is wrong with a value, as an error its caller places (`expression`, `location`)."""
    return Issue(IssueSeverity.ERROR, code, text, rule=rule)


def check_primitive(kind: str, value: Any) -> Issue | None:
    """What is wrong with `value` as an R4 `kind` (a name in PRIMITIVES), or None."""
    if kind in _STRINGS:  # most primitives are
        if type(value) is not str:
            return _wrong("a string")
        shortcut = _SHORTCUTS.get(kind)
        return None if shortcut is not None and shortcut(value) else _string(kind, value)
    json_type = type(value)  # exact: a bool is no integer, in JSON or in FHIR
    if kind == "boolean":
        return None if json_type is bool else _wrong("true or false")
    if kind == "decimal":
        if json_type is int or (json_type is float and math.isfinite(value)):
            return None
        return _wrong("a number") if json_type is not float else _invalid("a finite number")
    least = _INTEGERS[kind]
    if json_type is not int:
        return _wrong("an integer")
    return None if least <= value < 2**31 else _invalid(f"{kind}: {least} to 2147483647")


# Shortcuts for the common values of some kinds: True only where `_string` finds nothing
# wrong, decided by a few string methods in C rather than a regex; anything else is left
# to `_string`. Blank means what `str.strip` strips: `str.isspace` tests the same set
# (Py_UNICODE_ISSPACE), as does the regexes' `\s`; a non-empty run of printable ASCII
# other than the space holds no whitespace at all.
def _text(value: str) -> bool:
    """string, markdown: not blank."""
    return value != "" and not value.isspace()


def _word(value: str) -> bool:
    """Printable ASCII without a space: what code's regex (words between single spaces) takes."""
    return value != "" and value.isascii() and value.isprintable() and " " not in value


def _uri(value: str) -> bool:
    """uri, url, canonical: no whitespace, and no `urn:uuid:` or `urn:oid:` (`_urn`'s)."""
    return _word(value) and not value.startswith(_URN_PREFIXES)


_SHORTCUTS = {"string": _text, "markdown": _text, "code": _word}
_SHORTCUTS |= dict.fromkeys(_URIS, _uri)


def _string(kind: str, value: str) -> Issue | None:
    if not value.strip():
        return _EMPTY
    pattern = _PATTERNS.get(kind)
    if pattern is not None and not pattern.fullmatch(value):
        return _invalid(f"a valid {kind}")
    if kind in _URIS and value.startswith("urn:"):
        return _urn(value)
    if kind in _DAYS and len(value) >= 10 and not _calendar(value):
        return _invalid("a calendar date")
    if kind == "base64Binary" and len(_SPACE.sub("", value)) % 4:
        return _invalid("valid base64 (a multiple of 4 characters)")
    if kind == "xhtml" and not (value.lstrip().startswith("<div") and value.rstrip()[-1] == ">"):
        return _invalid("an XHTML <div> (txt-1)")
    return None


def _urn(value: str) -> Issue | None:
    """A `urn:uuid:` or `urn:oid:` uri is the R4 uuid or oid it names (datatypes.html: "uuid:
    a UUID expressed as a URI (urn:uuid:...), lowercase"; "oid: an OID represented as a URI
    (urn:oid:...)"), whatever element holds it; other URNs are any uri.
    """
    for kind, prefix in _URNS:
        if value.startswith(prefix) and not _PATTERNS[kind].fullmatch(value):
            return _invalid(f"a valid {kind} (urn:{kind}:...)")
    return None


_URNS = (("uuid", "urn:uuid:"), ("oid", "urn:oid:"))
_URN_PREFIXES = tuple(prefix for _, prefix in _URNS)


# The texts below come from a fixed set (kinds and formats), never from the value checked:
# each issue is built once and shared (an Issue is immutable), as errors can come by the
# hundred in one response.
@functools.cache
def _wrong(wanted: str) -> Issue:
    return value_error(rules.QR_INVALID_TYPE, IssueType.STRUCTURE, f"must be {wanted} in JSON")


@functools.cache
def _invalid(wanted: str) -> Issue:
    return value_error(rules.QR_INVALID_VALUE, IssueType.VALUE, f"must be {wanted}")


_EMPTY = value_error(rules.QR_EMPTY_VALUE, IssueType.VALUE, "must not be empty or blank")


def _calendar(value: str) -> bool:
    """A day that exists (the regex lets 2023-02-30 through)."""
    try:
        date.fromisoformat(value[:10])  # YYYY-MM-DD, as the regex has made sure
    except ValueError:
        return False
    return True
