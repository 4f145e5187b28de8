"""`Env.memo`: `%resource.repeat(...)` kept between evaluations gives what evaluating afresh gives.

Each expression is evaluated without a memo, with an empty one, and again with the memo
it filled, and by fhirpathpy: all four agree, and the budget is exceeded exactly when it
is without a memo.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.fhirpath import (
    BudgetExceeded,
    Env,
    FhirPathError,
    compile_expression,
    interpret_expression,
)

QR = json.loads(Path(__file__).with_name("fhirpath_cases.json").read_text(encoding="utf-8"))[
    "resources"
]["qr"]


def _nested(first: Any) -> dict[str, Any]:
    """Items in groups, a repeated group, twin items (repeat drops the second), odd linkIds."""
    return {
        "resourceType": "QuestionnaireResponse",
        "item": [
            {
                "linkId": "g",
                "item": [
                    {"linkId": "b", "answer": [{"valueInteger": 2}]},
                    {"linkId": "a", "answer": [{"valueInteger": 1}, {"valueInteger": 3}]},
                ],
            },
            {"linkId": first, "answer": [{"valueInteger": 4}]},
            {
                "linkId": "g",
                "item": [
                    {"linkId": "b", "answer": [{"valueInteger": 5}]},
                    {"linkId": "a", "answer": [{"valueInteger": 1}, {"valueInteger": 3}]},
                ],
            },
            {"linkId": "a", "answer": [{"valueInteger": 6}]},
        ],
    }


RESOURCES = {
    "qr": QR,
    "nested": _nested("c"),
    "linkId not a string": _nested(7),
    "item not an object": {"item": [{"linkId": "a", "item": ["x", {"linkId": "b"}]}]},
    "no items": {"resourceType": "QuestionnaireResponse"},
}
EXPRESSIONS = [
    "%resource.repeat(item)",
    "%resource.repeat(item).linkId",
    "%resource.repeat(item).where(linkId in ('a' | 'b' | 'c' | '1' | '2')).answer.value",
    "%resource.repeat(item).where(linkId = 'a').answer.value",
    "%resource.repeat(item).where(linkId = 'zzz').answer.value",
    "%resource.repeat(item).where(linkId in ('b' | 'a')).linkId",
    "%resource.repeat(item).where(linkId.exists()).linkId",
    "%resource.repeat(item).where(answer.exists()).count()",
    "%resource.repeat(answer).count()",
    "%resource.repeat(item).count() + %resource.repeat(item).where(linkId = 'b').count()",
]


def _evaluate(source: str, resource: Any, memo: dict[Any, Any] | None, **env: Any) -> Any:
    try:
        return compile_expression(source).evaluate([resource], Env(resource, memo=memo, **env))
    except BudgetExceeded:
        return "over budget"


@pytest.mark.parametrize("name", RESOURCES)
@pytest.mark.parametrize("source", EXPRESSIONS)
def test_a_memo_changes_nothing(source: str, name: str) -> None:
    resource = copy.deepcopy(RESOURCES[name])
    fresh = _evaluate(source, resource, None)
    memo: dict[Any, Any] = {}
    assert _evaluate(source, resource, memo) == fresh
    assert _evaluate(source, resource, memo) == fresh  # from what the memo kept
    assert interpret_expression(source).evaluate([resource], Env(resource)) == fresh


def test_where_with_two_arguments_is_still_an_error() -> None:
    with pytest.raises(FhirPathError, match=r"where\(\) takes 1..1 arguments"):
        compile_expression("%resource.repeat(item).where(linkId = 'a', true)")


@pytest.mark.parametrize("budget", range(0, 40, 3))
@pytest.mark.parametrize("source", EXPRESSIONS[2:5])
def test_a_memo_spends_the_budget_as_evaluating_afresh_does(source: str, budget: int) -> None:
    resource = _nested("c")
    memo: dict[Any, Any] = {}
    _evaluate(source, resource, memo)  # fill the memo with no budget to speak of
    assert _evaluate(source, resource, memo, budget=budget) == _evaluate(
        source, resource, None, budget=budget
    )
