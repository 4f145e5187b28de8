"""matches() and replaceMatches(): fhirpathpy's results, and the regex guard on their patterns.

A pattern that can backtrack without bound (`^(a+)+$` takes minutes on 40 characters) is
refused when it is a literal (the expression does not compile), and at evaluation when it
comes from the data or the input is too long for its worst case (the evaluation fails).
"""

from __future__ import annotations

import time
from typing import Any

import fhirpathpy
import pytest

from service.fhirpath import Env, FhirPathError, compile_expression, interpret_expression

NESTED = "^(a+)+$"
EVIL = "a" * 39 + "!"


@pytest.mark.parametrize(
    "source",
    [
        "'abc'.matches('b')",
        "'abc'.matches('^b')",
        "'a\nb'.matches('a.b')",
        "'abc'.matches('')",
        "{}.matches('a')",
        "'2024-01-31'.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}$')",
        "'abc'.replaceMatches('(b)', '[$1]')",
        "'a\nb'.replaceMatches('a.b', 'x')",
        "'aXbXc'.replaceMatches('X', '')",
        "'abc'.replaceMatches('', '-')",
        "{}.replaceMatches('a', 'b')",
        "'abc'.replaceMatches({}, 'b')",
    ],
)
def test_results_are_fhirpathpys(source: str) -> None:
    expected = fhirpathpy.evaluate({}, source)
    assert compile_expression(source).evaluate([{}], Env({})) == expected


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("('a' | 'b').matches('a')", "single string"),
        ("(1).replaceMatches('1', '2')", "single string"),
        ("'1'.matches(1)", "Expected string"),
    ],
)
def test_a_single_string_is_needed(source: str, error: str) -> None:
    with pytest.raises(FhirPathError, match=error):
        compile_expression(source).evaluate([{}], Env({}))


@pytest.mark.parametrize("pattern", [NESTED, "(a|aa)+", "(a*)*b", "(x+x+)+y", "(a)\\\\1", "("])
@pytest.mark.parametrize("call", ["matches('{}')", "replaceMatches('{}', 'x')"])
@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_a_literal_pattern_the_guard_refuses_does_not_compile(
    make: Any, call: str, pattern: str
) -> None:
    with pytest.raises(FhirPathError, match="regex"):
        make(f"%s.{call.format(pattern)}")


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        pytest.param("%s.matches(%p)", {"s": [EVIL], "p": [NESTED]}, id="matches"),
        pytest.param("%s.replaceMatches(%p, 'x')", {"s": [EVIL], "p": [NESTED]}, id="replace"),
        pytest.param("%s.matches(%p)", {"s": ["a"], "p": ["("]}, id="invalid"),
        pytest.param("%s.matches('[a-z]+!')", {"s": ["a" * 2000]}, id="input too long"),
    ],
)
def test_a_pattern_refused_at_evaluation_fails_it(
    source: str, variables: dict[str, list[Any]]
) -> None:
    expression = compile_expression(source)
    started = time.perf_counter()
    with pytest.raises(FhirPathError):
        expression.evaluate([{}], Env({}, variables=variables))
    assert time.perf_counter() - started < 1.0


def test_a_safe_pattern_from_the_data_runs() -> None:
    expression = compile_expression("%s.matches(%p)")
    variables = {"s": ["ab1"], "p": ["[0-9]$"]}
    assert expression.evaluate([{}], Env({}, variables=variables)) == [True]
