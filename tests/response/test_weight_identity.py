"""The identity contract behind weight() (issue 12, item 7), pinned where it is kept.

Validation records each answer Coding's weight by the Coding dict itself (`id()`), and
`weight()` looks it up by the node it is given. That holds only while three things stay
true, each checked here: both FHIRPath engines return the response's own Coding dicts,
scoring's working copy shares every answer value with the response it validated, and the
weights name nodes of that response. A change that copies a Coding breaks a test here
rather than silently dropping a weight from a score.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.fhirpath import Env, compile_expression, interpret_expression
from service.response import score_response, validate_response
from tests.builders.toy import toy, toy_response

VALUES = "QuestionnaireResponse.item.where(linkId = 'grp').item.answer.value"


def _codings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        for answer in item.get("answer", []):
            if "valueCoding" in answer:
                found.append(answer["valueCoding"])
            found.extend(_codings(answer.get("item", [])))
        found.extend(_codings(item.get("item", [])))
    return found


@pytest.mark.parametrize("compile_", [compile_expression, interpret_expression])
def test_both_engines_return_the_response_s_own_codings(compile_: Any) -> None:
    response = toy_response()
    own = {id(coding) for coding in _codings(response["item"])}
    found = compile_(VALUES).evaluate([response], Env(response))
    codings = [value for value in found if isinstance(value, dict) and "code" in value]
    assert codings
    assert {id(coding) for coding in codings} <= own


def test_the_weights_name_codings_of_the_response() -> None:
    response = toy_response()
    weights = validate_response(toy(), response).weights
    assert weights
    assert set(weights) <= {id(coding) for coding in _codings(response["item"])}


def test_scoring_s_copy_shares_every_answer_coding() -> None:
    response = toy_response()
    result = score_response(toy(), response)
    own = {id(coding) for coding in _codings(response["item"])}
    assert {id(coding) for coding in _codings(result.response["item"])} == own
