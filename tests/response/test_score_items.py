"""Scoring finds the items of a holder by linkId in one pass per holder (issue 16).

`score._Run._items` indexes a holder's items once, instead of scanning them for each
score and each child; on random responses (calculated items sent or not, anywhere,
answered or not; repeating groups, with a score in each repetition) scoring gives exactly
what the scan gave.
"""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import UnprocessableContent
from service.questionnaire import compile_questionnaire
from service.response import score_response
from service.response.score import ScoreResult, _Run
from tests.builders.instruments import compiled
from tests.builders.toy import toy, toy_response
from tests.response.test_safety import _scored_cases
from tests.response.test_score import _per_repetition

_REPEATED = compile_questionnaire(_per_repetition())


def _scanned(_run: _Run, holder: Any) -> dict[Any, list[Any]]:
    """`_items` as a scan of the holder's items each time, as scoring first did it."""
    found: dict[Any, list[Any]] = {}
    for item in holder.get("item", ()):
        found.setdefault(item["linkId"], []).append(item)
    return found


def _outcome(name: str, response: dict[str, Any]) -> ScoreResult | str:
    cq = {"toy": toy(), "repeated": _REPEATED}.get(name) or compiled(name)
    try:
        return score_response(cq, copy.deepcopy(response))
    except UnprocessableContent as exc:
        return str(exc)


@st.composite
def _toy_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """The toy's response with its repeating group repeated, and calculated items sent."""
    response = toy_response()
    family = [item for item in response["item"] if item["linkId"] == "family"]
    at = response["item"].index(family[-1]) + 1
    for _ in range(draw(st.integers(0, 3))):
        response["item"].insert(at, copy.deepcopy(draw(st.sampled_from(family))))
    for link, value in (("score", {"valueDecimal": 1}), ("count", {"valueInteger": 2})):
        if draw(st.booleans()):
            response["item"].append({"linkId": link, "answer": [value]})
    return "toy", response


@st.composite
def _repeated_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Repetitions of a group with a score in it (`test_score._per_repetition`), the score
    sent in some, anywhere among their items."""
    groups = []
    for _ in range(draw(st.integers(1, 4))):
        items: list[dict[str, Any]] = [
            {"linkId": "a", "answer": [{"valueInteger": draw(st.integers(0, 9))}]}
        ]
        if draw(st.booleans()):
            sent = {"linkId": "t", "answer": [{"valueDecimal": draw(st.integers(0, 99))}]}
            items.insert(draw(st.integers(0, 1)), sent)
        groups.append({"linkId": "g", "item": items})
    return "repeated", {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": groups,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scored_cases() | _toy_cases() | _repeated_cases())
def test_items_found_by_index_score_as_the_scan_did(case: tuple[str, dict[str, Any]]) -> None:
    name, response = case
    indexed = _outcome(name, response)
    with mock.patch.object(_Run, "_items", _scanned):
        assert _outcome(name, response) == indexed
