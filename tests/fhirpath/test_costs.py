"""What evaluation may cost: strings, collections, integers, memory and time, in both engines.

Every string built is charged one element per 64 characters and none may pass MAX_STRING;
collections that combine others are charged by their items; an Env's deadline stops a
run that keeps within the element budget but not within its time.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.fhir.outcome import IssueType
from service.fhirpath import (
    BudgetExceeded,
    Env,
    Expression,
    FhirPathError,
    compile_expression,
    interpret_expression,
)
from service.fhirpath._env import MAX_STRING
from service.questionnaire import Limits, compile_questionnaire
from service.response import score_response
from tests.builders.instruments import build_response, full_answers, questionnaires

ENGINES = [
    pytest.param(compile_expression, id="compiled"),
    pytest.param(interpret_expression, id="interpreted"),
]
RESOURCE = {"resourceType": "QuestionnaireResponse", "status": "completed"}
#: Ten a's, their empty string replaced by ten a's seven times: 1,771,560 characters.
REPLACED_7 = "'aaaaaaaaaa'" + ".replace('', 'aaaaaaaaaa')" * 7
#: Squared twelve times: 18 * 4,096 digits, were integers not bounded as doubles are.
SQUARED_12 = "(999999999999999999)" + ".select($this * $this)" * 12
#: Under the element budget (two elements a round), but a few tenths of a second of work.
LONG_REPEAT = "(1).repeat(iif($this < 49999, $this + 1, {})).count()"


class _Exhausting:
    """A value whose comparison runs out of memory, as a real blow-up would."""

    def __eq__(self, other: object) -> bool:
        raise MemoryError

    __hash__ = object.__hash__


def _run(make: Any, source: str, **env: Any) -> list[Any]:
    expression: Expression = make(source)
    return expression.evaluate([RESOURCE], Env(RESOURCE, **env))


def _strings(length: int, count: int = 1) -> dict[str, list[Any]]:
    return {"s": ["a" * length] * count}


@pytest.mark.parametrize("make", ENGINES)
@pytest.mark.parametrize(
    ("source", "variables"),
    [
        pytest.param("%s + %s", _strings(600_000), id="plus"),
        pytest.param("%s & %s", _strings(600_000), id="ampersand"),
        pytest.param(REPLACED_7 + ".length()", {}, id="replace-empty"),
        pytest.param("%s.replace('a', 'aa')", _strings(600_000), id="replace"),
        pytest.param("%s.replaceMatches('a', 'aa')", _strings(600_000), id="replaceMatches"),
        pytest.param("%s.join('aaaa')", _strings(1, 300_000), id="join"),
        pytest.param("%s.upper() + %s.lower()", _strings(600_000), id="upper-lower"),
    ],
)
def test_a_string_over_the_cap_is_too_costly(
    make: Any, source: str, variables: dict[str, list[Any]]
) -> None:
    with pytest.raises(BudgetExceeded, match=f"characters, over {MAX_STRING}"):
        _run(make, source, variables=variables)


@pytest.mark.parametrize("make", ENGINES)
def test_the_length_of_a_replacement_is_known_before_it_is_built(make: Any) -> None:
    with pytest.raises(BudgetExceeded, match="1771560 characters"):
        _run(make, REPLACED_7)


@pytest.mark.parametrize("make", ENGINES)
@pytest.mark.parametrize(
    "source", ["%s + %s", "%s & %s", "(%s + %s).upper()", "(%s & %s).replaceMatches('b', 'c')"]
)
def test_strings_are_charged_by_length(make: Any, source: str) -> None:
    variables = _strings(32_000)  # 64,000 characters built: 1,000 elements (2,000 if twice)
    assert _run(make, f"({source}).length()", variables=variables, budget=2_500) == [64_000]
    with pytest.raises(BudgetExceeded, match="budget of 900 elements"):
        _run(make, source, variables=variables, budget=900)


@pytest.mark.parametrize("make", ENGINES)
@pytest.mark.parametrize(
    "source",
    ["%s.combine(%s).combine(%s)", "%s.combine(%s).count()", "%s.select(%s).count()"],
)
def test_collections_built_are_charged_by_item(make: Any, source: str) -> None:
    with pytest.raises(BudgetExceeded, match="budget of 100000 elements"):
        _run(make, source, variables=_strings(1, 60_000))


@pytest.mark.parametrize(
    "source",
    ["%s.exclude(%s).count()", "%s.intersect(%s).count()", "%s.subsetOf(%s)"],
)
def test_comparing_every_pair_is_charged_by_the_pairs(source: str) -> None:
    assert _run(interpret_expression, source, variables=_strings(1, 300)) in ([0], [1], [True])
    with pytest.raises(BudgetExceeded):
        _run(interpret_expression, source, variables=_strings(1, 400))


@pytest.mark.parametrize("make", ENGINES)
def test_integers_beyond_a_double_are_overflow(make: Any) -> None:
    assert _run(make, SQUARED_12) == []
    assert _run(make, "(999999999999999999).select($this * $this)") == [10**36 - 2 * 10**18 + 1]


def test_removing_duplicates_of_distinct_answers_is_not_quadratic() -> None:
    answers = [{"valueInteger": n} for n in range(20_000)]
    started = time.perf_counter()
    found = _run(compile_expression, "(%a | %a).count()", variables={"a": answers})
    assert found == [20_000]
    assert time.perf_counter() - started < 2.0  # seconds; all 20,000 in one bucket: minutes


def test_answers_equal_member_by_member_are_duplicates() -> None:
    answers = [
        {"valueCoding": {"system": "urn:s", "code": "a"}},
        {"valueCoding": {"system": "urn:s", "code": "b"}},
        {"valueCoding": {"system": "urn:s", "code": "a"}},
        {"valueString": "a", "extension": [{"url": "urn:x"}]},
        {"valueString": "a", "extension": [{"url": "urn:x"}]},
        {"valueDecimal": 1.0},
        {"valueDecimal": 1},
    ]
    found = _run(compile_expression, "%a.distinct()", variables={"a": answers})
    assert found == [answers[0], answers[1], answers[3], answers[5]]


def test_what_fhirpathpy_refuses_it_still_refuses() -> None:
    with pytest.raises(FhirPathError, match="Expected string"):
        _run(interpret_expression, "(1).replace('a', 'b')")


@pytest.mark.parametrize("make", ENGINES)
def test_running_out_of_memory_is_too_costly(make: Any) -> None:
    variables = {"x": [_Exhausting()], "y": [_Exhausting()]}
    with pytest.raises(BudgetExceeded, match="out of memory"):
        _run(make, "%x = %y", variables=variables)


@pytest.mark.parametrize("make", ENGINES)
def test_a_deadline_passed_stops_evaluation(make: Any) -> None:
    with pytest.raises(BudgetExceeded, match="time limit"):
        _run(make, "1 + 1", deadline=time.monotonic() - 1)


def test_the_deadline_stops_a_run_within_the_element_budget() -> None:
    assert _run(compile_expression, LONG_REPEAT) == [49_998]
    with pytest.raises(BudgetExceeded, match="time limit"):
        _run(compile_expression, LONG_REPEAT, deadline=time.monotonic() + 0.01)


def test_the_deadline_is_too_costly_for_a_score() -> None:
    limits = Limits(max_evaluation_seconds=0.0)
    cq = compile_questionnaire(questionnaires()["wai-sr"], limits=limits)
    with pytest.raises(UnprocessableContent) as caught:
        score_response(cq, build_response("wai-sr", full_answers("wai-sr")))
    (issue,) = caught.value.issues
    assert (issue.rule, issue.code) == ("score-too-costly", IssueType.TOO_COSTLY)
    assert "time limit" in issue.text
