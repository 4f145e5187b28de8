"""FHIRPath functions over plain collections, shared by the compiler and the interpreter.

Each takes the input collection (and evaluated arguments) and returns a new
collection. Behaviour follows fhirpath.js 5.x: aggregates of an empty input are
empty (`{}.sum()` is `{}`, not 0), decimals are IEEE doubles, `round` rounds
halves towards +infinity like JavaScript's Math.round.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any

from ._errors import FhirPathError
from ._values import compare, is_number, js_round

__all__ = [
    "abs_",
    "avg",
    "ceiling",
    "finite",
    "floor",
    "max_",
    "min_",
    "places_of",
    "round_",
    "round_places",
    "single",
    "sum_",
    "to_decimal",
    "to_integer",
    "truncate",
    "weight",
]

_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?", re.ASCII)


def finite(value: float) -> list[Any]:
    """A numeric result as a collection: overflow (infinity) is empty, per the FHIRPath spec.

    An integer beyond the range of a double is Infinity in fhirpath.js, so empty too; that
    also keeps repeated squaring (`%v * %v`) from building integers of millions of digits.
    """
    if type(value) is int:
        return [value] if -_LARGEST <= value <= _LARGEST else []
    return [value] if math.isfinite(value) else []


_LARGEST = int(sys.float_info.max)


def _numbers(items: list[Any], function: str) -> list[Any]:
    for item in items:
        kind = type(item)  # is_number, inlined: sum() and friends check every item
        if kind is not int and kind is not float:
            raise FhirPathError(f"{function}() expects numbers, got {item!r}")
    return items


def _one_number(items: list[Any], function: str) -> Any:
    if len(items) > 1:
        raise FhirPathError(f"{function}() expects a single number, got {len(items)} items")
    return _numbers(items, function)[0]


def sum_(items: list[Any]) -> list[Any]:
    """sum(): the total of numbers, added left to right as fhirpath.js does; empty if none."""
    if not items:
        return []
    total = _numbers(items, "sum")[0]
    for item in items[1:]:
        total = item + total  # fhirpath.js: $this + $total (the same in IEEE arithmetic)
    if type(total) is float:  # finite(), inlined for the common case
        return [total] if math.isfinite(total) else []
    return finite(total)


def avg(items: list[Any]) -> list[Any]:
    """avg(): the mean of numbers; empty if none."""
    total = sum_(items)
    return finite(total[0] / len(items)) if total else []


def _extreme(items: list[Any], function: str, sign: int) -> list[Any]:
    if not items:
        return []
    best = items[0]
    for item in items[1:]:
        if compare(item, best) == sign:  # a later item wins only if strictly better
            best = item
    if not (is_number(best) or type(best) is str):
        raise FhirPathError(f"{function}() expects numbers or strings, got {best!r}")
    return [best]


def min_(items: list[Any]) -> list[Any]:
    """min(): the smallest number or string; empty if none."""
    return _extreme(items, "min", -1)


def max_(items: list[Any]) -> list[Any]:
    """max(): the largest number or string; empty if none."""
    return _extreme(items, "max", 1)


def weight(items: list[Any], lookup: Callable[[Any], float | int | None]) -> list[Any]:
    """SDC weight() (formerly ordinal()): the weights of the items that have one."""
    weights = []
    for item in items:
        found = lookup(item)
        if found is not None:
            weights.append(found)
    return weights


def single(items: list[Any]) -> list[Any]:
    """single(): the input if it has at most one item, else an error."""
    if len(items) > 1:
        raise FhirPathError(f"single() expects at most one item, got {len(items)}")
    return items


def to_decimal(items: list[Any]) -> list[Any]:
    """toDecimal(): numbers, booleans (1/0) and decimal strings as a Decimal."""
    if len(items) > 1:
        raise FhirPathError(f"toDecimal() expects a single item, got {len(items)}")
    if not items:
        return []
    value = items[0]
    if value is True or value is False or is_number(value):
        return [float(value)]
    if type(value) is str and _DECIMAL.fullmatch(value):
        return [float(value)]
    return []


def to_integer(items: list[Any]) -> list[Any]:
    """toInteger(): integers, booleans (1/0) and integer strings as an Integer."""
    if len(items) > 1:
        raise FhirPathError(f"toInteger() expects a single item, got {len(items)}")
    if not items:
        return []
    value = items[0]
    if value is True or value is False or type(value) is int:
        return [int(value)]
    if type(value) is str and _INTEGER.fullmatch(value):
        return [int(value)]
    return []  # a Decimal is not an Integer, even 2.0


def round_(items: list[Any], precision: list[Any] | None = None) -> list[Any]:
    """round([precision]): JavaScript rounding (halves up) to `precision` decimal places."""
    if not items:
        return []
    value = _one_number(items, "round")
    if not precision:
        return [value] if type(value) is int else _integral(items, "round", _js_round_int)
    return round_places(value, places_of(precision))


def round_places(value: Any, places: int) -> list[Any]:
    """round(places) of one number, `places` already checked (0 or more)."""
    if type(value) is int and not finite(value):
        return []
    scaled = value * 10.0 ** min(places, _MAX_PLACES)
    if places > _MAX_PLACES or math.isinf(scaled):
        # No digit that far down: a double holds about 17 significant digits.
        return finite(float(value))
    return finite(js_round(scaled) / 10.0**places)


#: 10.0 ** 309 is past the largest double.
_MAX_PLACES = 308
_KINDS = {bool: "a boolean", str: "a string", float: "a decimal"}


def places_of(precision: list[Any]) -> int:
    """round()'s number of decimal places: one integer, 0 or more (the FHIRPath spec)."""
    if len(precision) != 1 or type(precision[0]) is not int:
        kind = (
            f"{len(precision)} items"
            if len(precision) != 1
            else _KINDS.get(type(precision[0]), "that value")
        )
        raise FhirPathError(f"round() takes an integer number of decimal places, not {kind}")
    if precision[0] < 0:
        raise FhirPathError(f"round() rounds to 0 or more decimal places, not {precision[0]}")
    return int(precision[0])


def _js_round_int(value: float) -> int:
    return int(js_round(value))


def abs_(items: list[Any]) -> list[Any]:
    """abs(): the absolute value."""
    return [abs(_one_number(items, "abs"))] if items else []


def _integral(items: list[Any], function: str, to_int: Callable[[float], int]) -> list[Any]:
    if not items:
        return []
    value = _one_number(items, function)
    if type(value) is int:
        return [value]
    return [to_int(value)] if math.isfinite(value) else []


def floor(items: list[Any]) -> list[Any]:
    """floor(): the greatest integer not above the input."""
    return _integral(items, "floor", math.floor)


def ceiling(items: list[Any]) -> list[Any]:
    """ceiling(): the least integer not below the input."""
    return _integral(items, "ceiling", math.ceil)


def truncate(items: list[Any]) -> list[Any]:
    """truncate(): the integer part of the input."""
    return _integral(items, "truncate", math.trunc)
