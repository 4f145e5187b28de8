"""FHIR JSON in and out: strict parsing (the FHIR JSON rules) and fast serialization."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from service.errors import InvalidRequest, PayloadTooDeep
from service.fhir.outcome import IssueType

__all__ = ["dumps", "loads"]


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


_WS = " \t\n\r"  # JSON's whitespace, nothing more
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, strict=True
)


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
    if text[end:].strip(_WS):
        raise InvalidRequest(
            "Body has content after the JSON value", issue_type=IssueType.STRUCTURE
        )
    return value


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialize FHIR JSON (UTF-8, no NaN)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
