"""matches() and replaceMatches(): fhirpathpy's results, run on RE2 (linear time).

A pattern that backtracks without bound in Python's `re` (`^(a+)+$` takes minutes on 40
characters) answers at once; a construct RE2 cannot run (backreference, lookaround) is
refused when it is a literal (the expression does not compile, UnsupportedRegex) and when
it comes from the data (the evaluation fails).
"""

from __future__ import annotations

import time
from typing import Any

import fhirpathpy
import pytest

from service.fhirpath import (
    Env,
    FhirPathError,
    UnsupportedRegex,
    compile_expression,
    interpret_expression,
)
from service.fhirpath.regex import MAX_STEPS, compile_pattern

NESTED = "^(a+)+$"
#: An input just past what matching '[a-z]+!' may cost (its RE2 program size times length).
TOO_LONG = MAX_STEPS // compile_pattern("[a-z]+!", dot_all=True).size + 1
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


@pytest.mark.parametrize(
    "pattern", ["(a)\\\\1", "(?=a)a", "(?<!b)a", "a*+", "(?>a)", "[a-z-[aeiou]]"]
)
@pytest.mark.parametrize("call", ["matches('{}')", "replaceMatches('{}', 'x')"])
@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_a_literal_pattern_re2_cannot_run_does_not_compile(
    make: Any, call: str, pattern: str
) -> None:
    with pytest.raises(UnsupportedRegex, match="not supported"):
        make(f"%s.{call.format(pattern)}")


@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_an_invalid_literal_pattern_does_not_compile(make: Any) -> None:
    with pytest.raises(FhirPathError, match="not a valid regular expression"):
        make("%s.matches('(')")


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (NESTED, EVIL),
        ("(a|aa)+$", EVIL),
        ("^(a?){30}a{30}$", "a" * 30),
        ("^(a?){30}a{30}$", "a" * 29),
        ("(x+x+)+y", "x" * 5000),
    ],
)
@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_patterns_that_backtrack_in_python_answer_at_once(
    make: Any, pattern: str, value: str
) -> None:
    """RE2 runs in linear time: the answer is right, and it comes within a tenth of a second."""
    expected = value == "a" * 30  # (a?){30}a{30} needs 30 a's; the others never match
    started = time.perf_counter()
    found = make("%s.matches(%p)").evaluate([{}], Env({}, variables={"s": [value], "p": [pattern]}))
    assert time.perf_counter() - started < 0.1
    assert found == [expected]


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        pytest.param("%s.matches(%p)", {"s": [EVIL], "p": ["(a)\\1"]}, id="matches"),
        pytest.param("%s.replaceMatches(%p, 'x')", {"s": [EVIL], "p": ["(?=a)"]}, id="replace"),
        pytest.param("%s.matches(%p)", {"s": ["a"], "p": ["("]}, id="invalid"),
        pytest.param("%s.matches('[a-z]+!')", {"s": ["a" * TOO_LONG]}, id="input too long"),
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
