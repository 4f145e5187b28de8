"""FHIR JSON in and out: strict parsing (the FHIR JSON rules) and fast serialization."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from service.errors import InvalidRequest, PayloadTooDeep
from service.fhir.outcome import IssueType

__all__ = ["MAX_DEPTH", "dumps", "loads"]

#: The deepest JSON nesting accepted anywhere (request bodies, batch entries, site writes,
#: contained and inline Questionnaires, the catalogue): objects and arrays, the outermost
#: counting 1. A Questionnaire's item nesting takes two levels per group, so this allows
#: ~28 groups deep inside a Parameters body; what is deeper is refused when parsed (400
#: too-costly), before any recursive code (model parser, validator, serializer) sees it.
MAX_DEPTH = 64


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


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


#: orjson writes 64-bit integers at most; FHIR integers are 32-bit and decimals are
#: meant to hold 18 significant digits, so anything wider is refused on the way in.
_INT_LIMIT = 2**63 - 1


def _int(text: str) -> int:
    value = int(text)
    if abs(value) > _INT_LIMIT:
        raise ValueError(f"integer {text[:40]} is out of range")
    return value


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


def _check_depth(value: Any) -> None:
    """PayloadTooDeep if objects and arrays nest deeper than MAX_DEPTH; iterative, and it
    looks once at each element: a fraction of what parsing the body took (FUZZING.md)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise PayloadTooDeep(f"Body nests objects and arrays deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            below += [child for child in children if type(child) is dict or type(child) is list]
        level = below


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
