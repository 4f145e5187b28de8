"""Ordering FHIR date, dateTime and time values as FHIRPath compares them.

Values are compared one precision at a time, from the year (or the hour) down
to the finest precision both have; seconds and their fraction are one
precision. The first difference decides. If every shared precision is equal
and one value goes further than the other, the order is unknown (None, as
FHIRPath's comparison is empty): `2024` is neither before nor after
`2024-06-01`, while `2025` is after it. Two dateTimes with a time of day (R4
then requires a zone) are compared as instants, so `2024-01-01T11:00:00+02:00`
is before `2024-01-01T10:00:00Z` and equals `2024-01-01T09:00:00Z`; a date
against a dateTime compares the dateTime's calendar date as written. A
date and a dateTime compare with each other (FHIRPath converts the date); a
time compares only with a time.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["order"]

_DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:\d{2}))?)?)?"
)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)")

#: (kind, the values down to its precision, the zone offset in minutes or None).
_Parsed = tuple[str, tuple[Decimal, ...], int | None]


def order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 as `left` is before, at or after `right`; None if they do not compare
    (not both dates/dateTimes or both times, malformed, or unknown at their precisions).
    """
    first, second = _parse(left), _parse(right)
    if first is None or second is None or first[0] != second[0]:
        return None
    if first[2] is not None and second[2] is not None:
        one, other = _instant(first), _instant(second)
        if one is None or other is None:
            return None
        return (one > other) - (one < other)
    for one, other in zip(first[1], second[1], strict=False):
        if one != other:
            return 1 if one > other else -1
    return 0 if len(first[1]) == len(second[1]) else None


def _parse(value: Any) -> _Parsed | None:
    if type(value) is not str:
        return None
    found = _TIME.fullmatch(value)
    if found is not None:
        return "time", tuple(Decimal(part) for part in found.groups()), None
    found = _DATE_TIME.fullmatch(value)
    if found is None:
        return None
    *parts, zone = found.groups()
    values = tuple(Decimal(part) for part in parts if part is not None)
    return "date", values, None if zone is None else _offset(zone)


def _offset(zone: str) -> int:
    if zone == "Z":
        return 0
    minutes = int(zone[1:3]) * 60 + int(zone[4:6])
    return -minutes if zone[0] == "-" else minutes


def _instant(parsed: _Parsed) -> Decimal | None:
    """Seconds since 0001-01-01T00:00:00Z of a dateTime with a time and zone."""
    year, month, day, hour, minute, second = parsed[1]
    try:
        days = date(int(year), int(month), int(day)).toordinal()
    except ValueError:  # a day the calendar lacks (R4's regex allows 2023-02-31)
        return None
    offset = parsed[2] or 0
    return days * 86_400 + (hour * 60 + minute - offset) * 60 + second
