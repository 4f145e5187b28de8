"""The compiler's short paths give what its general paths give, on random collections.

- arithmetic on one number each side (`_operators._two_numbers`) against the same
  operators with that test switched off;
- `round(<constant>)`, its places checked when compiled, against `round(%places)`;
- chains that start with a variable and apply functions of their input alone
  (`%v.sum()`, called directly) against the same chain through `select($this)`, a step;
- `sum()` on numbers against adding them up as fhirpath.js does.

Results, or the error's type and text, must be identical.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.fhirpath import Env, FhirPathError, compile_expression
from service.fhirpath import _functions as functions
from service.fhirpath import _operators as operators

NUMBERS = st.one_of(
    st.integers(-(2**1100), 2**1100),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-10, 10),
)
ITEMS = st.one_of(NUMBERS, st.booleans(), st.text(max_size=3), st.just({"a": 1}))
COLLECTIONS = st.lists(ITEMS, max_size=3) | st.lists(NUMBERS, min_size=1, max_size=1)


def _outcome(source: str, **variables: list[Any]) -> Any:
    try:
        return ("ok", compile_expression(source).evaluate([{}], Env({}, variables=variables)))
    except (FhirPathError, OverflowError) as exc:
        return (type(exc), str(exc))


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN and types compared too (1 and 1.0 differ)."""
    if a[0] != "ok" or b[0] != "ok":
        return bool(a == b)
    left, right = a[1], b[1]
    return len(left) == len(right) and all(
        type(x) is type(y) and (x == y or (_nan(x) and _nan(y)))
        for x, y in zip(left, right, strict=True)
    )


def _nan(value: Any) -> bool:
    return type(value) is float and math.isnan(value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["+", "-", "*", "/"]), COLLECTIONS, COLLECTIONS)
def test_arithmetic_on_two_numbers_as_in_general(op: str, a: list[Any], b: list[Any]) -> None:
    source = f"%a {op} %b"
    fast = _outcome(source, a=a, b=b)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(operators, "_two_numbers", lambda left, right: False)
        general = _outcome(source, a=a, b=b)
    assert _same(fast, general), (fast, general)


@settings(max_examples=300, deadline=None)
@given(COLLECTIONS, st.sampled_from([0, 1, 2, 5, 308, 309, 400, -1, 1.5, True, "2"]))
def test_round_to_a_constant_as_to_a_variable(x: list[Any], places: Any) -> None:
    literal = {bool: "true", str: "'2'"}.get(type(places), repr(places))
    fast = _outcome(f"%x.round({literal})", x=x)
    general = _outcome("%x.round(%places)", x=x, places=[places])
    assert _same(fast, general), (fast, general)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["sum()", "count()", "first()", "tail().count()", "avg()", "max()"]),
    st.lists(ITEMS, max_size=4),
)
def test_a_variable_chain_as_through_a_step(functions_: str, v: list[Any]) -> None:
    fast = _outcome(f"%v.{functions_}", v=v)
    general = _outcome(f"%v.select($this).{functions_}", v=v)
    assert _same(fast, general), (fast, general)


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBERS, max_size=5))
def test_sum_adds_as_fhirpath_js(numbers: list[Any]) -> None:
    try:
        found = functions.sum_(numbers)
    except OverflowError:
        return  # a huge integer plus a float: both ways raise (the evaluation's failure)
    if not numbers:
        assert found == []
        return
    total = numbers[0]
    for item in numbers[1:]:
        total = item + total
    finite = math.isfinite(total) if type(total) is float else abs(total) <= functions._LARGEST
    assert _same(("ok", found), ("ok", [total] if finite else []))
