"""FHIR JSON in and out: strict parsing (the FHIR JSON rules) and fast serialization."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from service.errors import InvalidRequest, PayloadTooDeep
from service.fhir.outcome import IssueType

__all__ = ["MAX_CONTAINERS", "MAX_DEPTH", "MAX_VALUES", "dumps", "loads"]

#: The deepest JSON nesting accepted anywhere (request bodies, batch entries, site writes,
#: contained and inline Questionnaires, the catalogue): objects and arrays, the outermost
#: counting 1. A Questionnaire's item nesting takes two levels per group, so this allows
#: ~28 groups deep inside a Parameters body; what is deeper is refused when parsed (400
#: too-costly), before any recursive code (model parser, validator, serializer) sees it.
MAX_DEPTH = 64
#: The most objects and arrays a body may hold (counted as `{` and `[` bytes before parsing,
#: strings included): each costs ~60 bytes of memory once parsed, so 5 MB of `[{},{},...]`
#: would take ~170 MB. A legitimate body needs ~30 bytes of text per object at least, so
#: the default RAPPORT_MAX_BODY_BYTES (5 MiB) holds fewer than this anyway.
MAX_CONTAINERS = 250_000
#: The most values (array items and object members, counted as `,` bytes) a body may hold:
#: 5 MB of `["a","a",...]` is 1.25 million strings, ~140 MB once parsed. A FHIR value takes
#: ~20 bytes of text on average (`"code":"LA6568-5",`), so 5 MiB holds ~250,000 of them.
MAX_VALUES = 500_000


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # FHIR JSON: "objects never have duplicate property names" (RFC 8259 leaves it open).
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _OutOfRange:
    """A number parsed as out of range, left in place so its path can be named."""

    __slots__ = ("what",)
    #: How many were ever made: a parse that made none needs no walk to find one (another
    #: thread's parse moving it only costs this one a walk that finds nothing).
    made = 0

    def __init__(self, what: str) -> None:
        self.what = what
        _OutOfRange.made += 1


def _float(text: str) -> float | _OutOfRange:
    value = float(text)
    return _OutOfRange(f"the number {text[:40]}") if math.isinf(value) else value


#: orjson writes 64-bit integers at most; FHIR integers are 32-bit and decimals are
#: meant to hold 18 significant digits, so anything wider is refused on the way in.
_INT_LIMIT = 2**63 - 1
_INT_DIGITS = len(str(_INT_LIMIT))


def _int(text: str) -> int | _OutOfRange:
    digits = len(text.lstrip("-"))
    # Counted before converting: Python refuses to convert more than 4,300 digits.
    if digits > _INT_DIGITS or abs(value := int(text)) > _INT_LIMIT:
        return _OutOfRange(f"a {digits}-digit integer")
    return value


#: How much of a key an error's path quotes (a key may be megabytes long).
_KEY_QUOTED = 40


def _out_of_range(value: Any) -> tuple[str, list[str | int]] | None:
    """The first out-of-range number in `value` (depth already bounded): what, and the keys
    and indices that lead to it. Only those are kept while walking; no path is written for
    the nodes passed, which would cost each item of a list its parents' key length."""
    if isinstance(value, _OutOfRange):
        return value.what, []
    children: Any = (
        value.items() if type(value) is dict else enumerate(value) if type(value) is list else ()
    )
    for step, child in children:
        found = _out_of_range(child)
        if found is not None:
            found[1].append(step)
            return found
    return None


def _path(root: str, steps: list[str | int]) -> str:
    """`steps` (innermost first) as a FHIRPath-like expression, long keys cut short."""
    path = root
    for step in reversed(steps):
        if type(step) is int:
            path += f"[{step}]"
        else:
            key = str(step)
            key = key if len(key) <= _KEY_QUOTED else f"{key[:_KEY_QUOTED]}..."
            path = f"{path}.{key}" if path else key
    return path


def _refuse_out_of_range(value: Any) -> None:
    found = _out_of_range(value)
    if found is None:
        return
    what, steps = found
    root = value.get("resourceType") if type(value) is dict else None
    path = _path(root if type(root) is str else "", steps)
    raise InvalidRequest(
        f"{what[0].upper()}{what[1:]} is out of range: integers have at most {_INT_DIGITS} "
        "digits (64 bits), decimals are finite doubles",
        issue_type=IssueType.STRUCTURE,
        expression=path or None,
    )


_WS = " \t\n\r"  # JSON's whitespace, nothing more
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_constant=_constant,
    parse_float=_float,
    parse_int=_int,
    strict=True,
)
# A \uD800-\uDFFF escape that is not half of a pair: valid JSON text, but not Unicode.
_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<![dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


_LONE = re.compile("[\ud800-\udfff]")


def _holds_surrogate(value: Any) -> bool:
    """Whether any key or string in the parsed value holds a surrogate (the rare slow path)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _LONE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _check_depth(value: Any) -> int:
    """PayloadTooDeep if objects and arrays nest deeper than MAX_DEPTH; else the number of
    object members. Iterative, one look at each element: a fraction of the parse."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = members = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise PayloadTooDeep(f"Body nests objects and arrays deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            children: Any = node
            if type(node) is dict:
                members += len(node)
                children = node.values()
            below += [child for child in children if type(child) is dict or type(child) is list]
        level = below
    return members


#: What the fast parse (orjson) reads differently from FHIR JSON's rules, sent to the strict
#: one: integers of 19 digits or more (orjson turns those past 64 bits into floats), and
#: whitespace between a key and its colon (which the duplicate-key count below relies on).
_SPACED_KEY = re.compile(rb'"[ \t\n\r]+:')
#: Every digit read as "9" (no other byte is one): 19 of them in a row are 19 digits in a row.
_DIGITS_AS_NINES = bytes.maketrans(b"0123456789", b"9" * 10)
_NINETEEN = b"9" * 19


def _fast_unsafe(body: bytes) -> bool:
    """Whether `re.search(rb'[0-9]{19}|"[ \\t\\n\\r]+:', body)` finds anything, by C loops over
    the bytes: that one regex stepped through its alternation at every offset, ~300
    instructions a byte, most of a small body's parse. A key spaced from its colon needs a
    space, tab or line break right before a colon: only a body with such a pair is searched."""
    if _NINETEEN in body.translate(_DIGITS_AS_NINES):
        return True
    if b" :" in body or b"\t:" in body or b"\n:" in body or b"\r:" in body:
        return _SPACED_KEY.search(body) is not None
    return False


def _fast(body: bytes) -> Any:
    """The body parsed by orjson (C, ~10x the stdlib, its own nesting limit), or None when
    only the strict parser can tell what is wrong or exact. Duplicate keys, which orjson
    silently merges, are found by counting: every member ends with `":`, so as many `":`
    in the body as members parsed means no key was dropped (a `":` inside a string only
    makes the count differ, and the strict parser then decides)."""
    if _fast_unsafe(body):
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if _check_depth(value) != body.count(b'":'):
        return None
    return value


def _check_size(body: bytes) -> None:
    """PayloadTooDeep for more objects and arrays, or values, than parsing may build: the
    memory a body takes once parsed is bounded by these counts, not by its byte size."""
    containers = body.count(b"{") + body.count(b"[")
    if containers > MAX_CONTAINERS:
        raise PayloadTooDeep(
            f"Body holds more than {MAX_CONTAINERS} objects and arrays ({containers})"
        )
    values = body.count(b",") + 1
    if values > MAX_VALUES:
        raise PayloadTooDeep(f"Body holds more than {MAX_VALUES} values ({values})")


def loads(body: bytes) -> Any:
    """Parse a request body as FHIR JSON; raise InvalidRequest saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"Body is not valid UTF-8 (byte {exc.start})", issue_type=IssueType.STRUCTURE
        ) from None
    if text.startswith("\ufeff"):
        raise InvalidRequest(
            "Body starts with a byte order mark, which JSON does not allow",
            issue_type=IssueType.STRUCTURE,
        )
    _check_size(body)
    fast = _fast(body)
    if fast is not None:
        return fast
    made = _OutOfRange.made
    try:
        value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip(_WS)))
    except _DuplicateKey as exc:
        raise InvalidRequest(
            f"Duplicate JSON property '{str(exc)[:100]}'", issue_type=IssueType.STRUCTURE
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            issue_type=IssueType.STRUCTURE,
        ) from None
    except ValueError as exc:
        raise InvalidRequest(
            f"Body is not valid JSON: {exc}", issue_type=IssueType.STRUCTURE
        ) from None
    except RecursionError:
        raise PayloadTooDeep("Body is nested too deeply") from None
    _check_depth(value)
    if text[end:].strip(_WS):
        raise InvalidRequest(
            "Body has content after the JSON value", issue_type=IssueType.STRUCTURE
        )
    if "\\u" in text and _SURROGATE.search(text) and _holds_surrogate(value):
        raise InvalidRequest(
            "Body has a lone UTF-16 surrogate escape (\\uD800-\\uDFFF), which is not Unicode",
            issue_type=IssueType.STRUCTURE,
        )
    if _OutOfRange.made != made:
        _refuse_out_of_range(value)
    return value


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialize FHIR JSON (UTF-8, no NaN); InvalidRequest when the value cannot be written.

    orjson refuses integers wider than 64 bits, lone surrogates and nesting deeper than
    254 levels; all of them come from what a client sent, so they are the client's error.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
    except orjson.JSONEncodeError as exc:
        raise PayloadTooDeep(
            f"The result cannot be written as JSON ({str(exc)[:80]}): the request holds "
            "numbers beyond 64 bits, invalid Unicode or nesting deeper than 254 levels"
        ) from None
