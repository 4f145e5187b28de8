"""Property: for every shipped instrument, compiled scoring equals fhirpathpy's on random responses.

Each example is a random in-progress response (any subset of items answered,
any option or any integer in range) scored twice: by the closures the compiler
builds and by fhirpathpy interpreting every variable and calculatedExpression.
Values must agree to 1e-12 (both are IEEE doubles; they can differ only in the
last bits of a division), withheld scores and bands exactly.

The thorough run (over 10,000 examples) takes minutes because fhirpathpy costs
up to ~0.2 s per MEQ-30 response, so it is marked slow; the default run samples.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import score_response
from tests.builders.instruments import build_response, compiled, questionnaires, weight_of

#: (instrument, examples in the default run, examples in the thorough run); 10,000 in all.
EXAMPLES = {
    "arm-5": (40, 1_500),
    "ebi": (40, 1_500),
    "gad-7": (40, 1_500),
    "meq-30": (6, 1_000),
    "phq-9": (40, 1_500),
    "qids-sr-16": (20, 1_500),
    "wai-sr": (20, 1_500),
}


@cache
def _interpreted(name: str) -> CompiledQuestionnaire:
    return compile_questionnaire(questionnaires()[name], interpret=True)


def _answerable(name: str) -> list[dict[str, Any]]:
    found, stack = [], list(reversed(questionnaires()[name]["item"]))
    while stack:
        item = stack.pop()
        stack.extend(reversed(item.get("item", [])))
        weighted = any(weight_of(o) is not None for o in item.get("answerOption", []))
        if (item["type"] == "choice" and weighted) or item["type"] == "integer":
            found.append(item)
    return found


def _bounds(item: dict[str, Any]) -> tuple[int, int]:
    found = {
        e["url"].rsplit("/", 1)[1]: e["valueInteger"]
        for e in item.get("extension", [])
        if e["url"].endswith(("/minValue", "/maxValue"))
    }
    return found.get("minValue", 0), found.get("maxValue", 100)


@st.composite
def answers(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Published values for a random subset of an instrument's items."""
    chosen: dict[str, Any] = {}
    for item in _answerable(name):
        if not draw(st.booleans()) and draw(st.booleans()):
            continue  # a quarter of the items unanswered
        if item["type"] == "integer":
            chosen[item["linkId"]] = draw(st.integers(*_bounds(item)))
        else:
            options = [weight_of(o) for o in item["answerOption"] if weight_of(o) is not None]
            chosen[item["linkId"]] = draw(st.sampled_from(options))
    return chosen


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _check(name: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(chosen=answers(name))
    def agree(chosen: dict[str, Any]) -> None:
        response = build_response(name, chosen, "in-progress")
        fast, slow = (
            score_response(compiled(name), response),
            score_response(_interpreted(name), response),
        )
        assert [s.link_id for s in fast.scores] == [s.link_id for s in slow.scores]
        for ours, theirs in zip(fast.scores, slow.scores, strict=True):
            assert _same(ours.value, theirs.value), (ours, theirs)
            assert ours.interpretation == theirs.interpretation
        assert [i.text for i in fast.issues] == [i.text for i in slow.issues]

    agree()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_engines_agree(name: str) -> None:
    _check(name, EXAMPLES[name][0])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_engines_agree_thoroughly(name: str) -> None:
    _check(name, EXAMPLES[name][1])


SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"


def _expression(expression: str, name: str | None = None) -> dict[str, Any]:
    found = {"language": "text/fhirpath", "expression": expression}
    return found if name is None else {**found, "name": name}


#: A repeating group whose variable and score work on each repetition (`%context`).
REPEATING = {
    "resourceType": "Questionnaire",
    "extension": [
        {
            "url": VARIABLE,
            "valueExpression": _expression(
                "%resource.repeat(item).where(linkId = 'a').answer.value", "all"
            ),
        }
    ],
    "item": [
        {
            "linkId": "g",
            "type": "group",
            "repeats": True,
            "extension": [
                {
                    "url": VARIABLE,
                    "valueExpression": _expression(
                        "item.where(linkId = 'a').answer.value * 2", "doubled"
                    ),
                }
            ],
            "item": [
                {"linkId": "a", "type": "integer"},
                {
                    "linkId": "t",
                    "type": "decimal",
                    "extension": [
                        {
                            "url": SDC,
                            "valueExpression": _expression(
                                "iif(%doubled.exists(), %doubled / %all.count()"
                                " + %context.item.where(linkId = 'a').answer.value, {})"
                            ),
                        }
                    ],
                },
            ],
        }
    ],
}


@cache
def _repeating(interpret: bool) -> CompiledQuestionnaire:
    return compile_questionnaire(REPEATING, interpret=interpret)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=8))
def test_engines_agree_per_repetition(values: list[int | None]) -> None:
    """Item variables and scores in a repeating group: one value per repetition, both engines."""
    groups = [
        {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueInteger": value}]}]}
        if value is not None
        else {"linkId": "g"}
        for value in values
    ]
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": groups}
    fast, slow = (
        score_response(_repeating(False), response),
        score_response(_repeating(True), response),
    )
    assert len(fast.scores) == len(values)
    for ours, theirs in zip(fast.scores, slow.scores, strict=True):
        assert _same(ours.value, theirs.value), (ours, theirs)
    assert [i.text for i in fast.issues] == [i.text for i in slow.issues]


def test_every_instrument_is_covered() -> None:
    assert set(EXAMPLES) == set(questionnaires())
    assert sum(thorough for _, thorough in EXAMPLES.values()) >= 10_000
