"""FHIRPath operators over evaluated operand collections, as fhirpath.js 5.x evaluates them.

Empty propagation: arithmetic and comparison with an empty operand give empty;
`and`/`or`/`implies` use three-valued logic; an operand with more than one item
where one is required is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._env import check_length
from ._errors import FhirPathError
from ._functions import finite
from ._values import compare, distinct, equal, equivalent, is_number, to_boolean

__all__ = ["BINARY", "Operator", "negate"]

Operator = Callable[[list[Any], list[Any]], list[Any]]


def _single(items: list[Any], op: str) -> Any:
    if len(items) > 1:
        raise FhirPathError(f"operator {op} expects single items, got {len(items)}")
    return items[0]


def _numbers(left: list[Any], right: list[Any], op: str) -> tuple[Any, Any]:
    x, y = _single(left, op), _single(right, op)
    if not (is_number(x) and is_number(y)):
        raise FhirPathError(f"operator {op} expects numbers, got {x!r} and {y!r}")
    return x, y


def _two_numbers(left: list[Any], right: list[Any]) -> bool:
    """One number on each side: the arithmetic operators' common case, decided in one call
    (what `_numbers` accepts, without its error paths)."""
    if len(left) != 1 or len(right) != 1:
        return False
    x, y = type(left[0]), type(right[0])
    return (x is int or x is float) and (y is int or y is float)


def plus(left: list[Any], right: list[Any]) -> list[Any]:
    """`+`: numeric addition or string concatenation."""
    if _two_numbers(left, right):
        return finite(left[0] + right[0])
    if not left or not right:
        return []
    x, y = _single(left, "+"), _single(right, "+")
    if type(x) is str and type(y) is str:
        return [_joined(x, y)]
    x, y = _numbers(left, right, "+")
    return finite(x + y)


def minus(left: list[Any], right: list[Any]) -> list[Any]:
    """`-`: numeric subtraction."""
    if _two_numbers(left, right):
        return finite(left[0] - right[0])
    if not left or not right:
        return []
    x, y = _numbers(left, right, "-")
    return finite(x - y)


def times(left: list[Any], right: list[Any]) -> list[Any]:
    """`*`: numeric multiplication."""
    if _two_numbers(left, right):
        return finite(left[0] * right[0])
    if not left or not right:
        return []
    x, y = _numbers(left, right, "*")
    return finite(x * y)


def divide(left: list[Any], right: list[Any]) -> list[Any]:
    """`/`: division, always a Decimal; empty when dividing by zero."""
    if _two_numbers(left, right):
        if right[0] == 0:
            return []
        quotient = left[0] / right[0]
        return [quotient] if math.isfinite(quotient) else []  # finite(), for a float
    if not left or not right:
        return []
    x, y = _numbers(left, right, "/")
    if y == 0:
        return []
    return finite(x / y)


def _truncated_quotient(x: Any, y: Any) -> Any:
    # JavaScript's Math.trunc(x / y); exact for integers.
    if type(x) is int and type(y) is int:
        quotient = abs(x) // abs(y)
        return quotient if (x < 0) == (y < 0) else -quotient
    ratio = x / y
    return math.trunc(ratio) if math.isfinite(ratio) else None


def int_divide(left: list[Any], right: list[Any]) -> list[Any]:
    """`div`: truncated integer division; empty when dividing by zero."""
    if not left or not right:
        return []
    x, y = _numbers(left, right, "div")
    if y == 0:
        return []
    quotient = _truncated_quotient(x, y)
    return [] if quotient is None else [quotient]


def modulo(left: list[Any], right: list[Any]) -> list[Any]:
    """`mod`: the remainder of truncated division (sign of the dividend), as JavaScript's %."""
    if not left or not right:
        return []
    x, y = _numbers(left, right, "mod")
    if y == 0:
        return []
    if type(x) is int and type(y) is int:
        return [x - y * _truncated_quotient(x, y)]
    return finite(math.fmod(x, y))


def concatenate(left: list[Any], right: list[Any]) -> list[Any]:
    """`&`: string concatenation, an empty operand counting as ''."""
    x = _single(left, "&") if left else ""
    y = _single(right, "&") if right else ""
    if type(x) is not str or type(y) is not str:
        raise FhirPathError(f"operator & expects strings, got {x!r} and {y!r}")
    return [_joined(x, y)]


def _joined(x: str, y: str) -> str:
    check_length(len(x) + len(y))  # before building it
    return x + y


def equals(left: list[Any], right: list[Any]) -> list[Any]:
    """`=`: item-by-item equality of two collections; empty if either is empty."""
    if not left or not right:
        return []
    return [len(left) == len(right) and all(map(equal, left, right))]


def not_equals(left: list[Any], right: list[Any]) -> list[Any]:
    """`!=`: the negation of `=`."""
    if not left or not right:
        return []
    return [not (len(left) == len(right) and all(map(equal, left, right)))]


def _equivalent(left: list[Any], right: list[Any]) -> bool:
    return len(left) == len(right) and all(map(equivalent, left, right))


def equivalent_to(left: list[Any], right: list[Any]) -> list[Any]:
    """`~`: equivalence; two empty collections are equivalent."""
    return [_equivalent(left, right)]


def not_equivalent_to(left: list[Any], right: list[Any]) -> list[Any]:
    """`!~`: the negation of `~`."""
    return [not _equivalent(left, right)]


def _ordering(test: Callable[[int], bool], op: str) -> Operator:
    def ordered(left: list[Any], right: list[Any]) -> list[Any]:
        if not left or not right:
            return []
        return [test(compare(_single(left, op), _single(right, op)))]

    ordered.__doc__ = f"`{op}`: ordering of two single numbers, strings or booleans."
    return ordered


def member_of(left: list[Any], right: list[Any]) -> list[Any]:
    """`in`: whether the single left item equals an item on the right."""
    if not left:
        return []
    if not right:
        return [False]
    item = _single(left, "in")
    return [any(equal(other, item) for other in right)]


def contains(left: list[Any], right: list[Any]) -> list[Any]:
    """`contains`: whether the single right item equals an item on the left."""
    if not right:
        return []
    if not left:
        return [False]
    item = _single(right, "contains")
    return [any(equal(other, item) for other in left)]


def union(left: list[Any], right: list[Any]) -> list[Any]:
    """`|`: both collections, without repeats."""
    return distinct(left + right)


def and_(left: list[Any], right: list[Any]) -> list[Any]:
    """`and`: false if either side is false, true if both are true, else empty."""
    x, y = to_boolean(left, "and"), to_boolean(right, "and")
    if x is False or y is False:
        return [False]
    return [True] if x and y else []


def or_(left: list[Any], right: list[Any]) -> list[Any]:
    """`or`: true if either side is true, false if both are false, else empty."""
    x, y = to_boolean(left, "or"), to_boolean(right, "or")
    if x or y:
        return [True]
    return [False] if x is False and y is False else []


def xor(left: list[Any], right: list[Any]) -> list[Any]:
    """`xor`: true if exactly one side is true; empty if either is empty."""
    x, y = to_boolean(left, "xor"), to_boolean(right, "xor")
    return [] if x is None or y is None else [x != y]


def implies(left: list[Any], right: list[Any]) -> list[Any]:
    """`implies`: true if the left is false or the right is true, false if true/false."""
    x, y = to_boolean(left, "implies"), to_boolean(right, "implies")
    if x is False or y is True:
        return [True]
    return [False] if x is True and y is False else []


def negate(operand: list[Any], op: str) -> list[Any]:
    """Unary `-` (or `+`): a single number, negated (or kept)."""
    if len(operand) != 1 or not is_number(operand[0]):
        raise FhirPathError(f"unary {op} expects a single number")
    return [-operand[0]] if op == "-" else operand


#: Every binary operator by its symbol.
BINARY: dict[str, Operator] = {
    "+": plus,
    "-": minus,
    "*": times,
    "/": divide,
    "div": int_divide,
    "mod": modulo,
    "&": concatenate,
    "=": equals,
    "!=": not_equals,
    "~": equivalent_to,
    "!~": not_equivalent_to,
    "<": _ordering(lambda c: c < 0, "<"),
    ">": _ordering(lambda c: c > 0, ">"),
    "<=": _ordering(lambda c: c <= 0, "<="),
    ">=": _ordering(lambda c: c >= 0, ">="),
    "in": member_of,
    "contains": contains,
    "|": union,
    "and": and_,
    "or": or_,
    "xor": xor,
    "implies": implies,
}
