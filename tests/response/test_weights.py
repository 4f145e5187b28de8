"""weight() without object identity (issue 12, item 7): a Coding's weight is its item's.

A Coding's weight belongs to (the linkId of the item it answers, its system, its code) in
the Questionnaire, as fhirpath.js resolves it. Scoring finds the item a Coding answers in
the very response it evaluates, so a copy of a response, deep or shallow, scores as the
response does, and the same code weighs differently on a reverse-scored item.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.fhirpath import Env, compile_expression, interpret_expression
from service.questionnaire import compile_questionnaire
from service.response import check_scores, score_response, validate_response
from service.response.weights import AnswerWeights, coding_weight
from tests.builders.instruments import build_response, compiled
from tests.builders.toy import toy, toy_response

MOOD = "QuestionnaireResponse.repeat(item).where(linkId = 'mood').answer.value"
COLOUR = "QuestionnaireResponse.repeat(item).where(linkId = 'colour').answer.value"


def test_weights_are_the_content_s_by_item_system_and_code() -> None:
    cq = toy()
    assert coding_weight(cq, "mood", "urn:toy", "high") == 2  # the option's ordinalValue
    assert coding_weight(cq, "colour", "urn:colours", "red") == 1  # its CodeSystem's
    assert coding_weight(cq, "mood", "urn:toy", "no-such-code") is None
    assert coding_weight(cq, "no-such-item", "urn:toy", "high") is None


@pytest.mark.parametrize("compile_", [compile_expression, interpret_expression])
def test_a_deep_copy_of_the_response_keeps_its_weights(compile_: Any) -> None:
    response = copy.deepcopy(toy_response())
    env = Env(response, weight=AnswerWeights(toy(), response))
    for source, weight in ((MOOD, 2), (COLOUR, 1)):
        assert compile_(f"{source}.weight()").evaluate([response], env) == [weight]


def test_scoring_a_deep_copy_of_the_validated_response_keeps_its_weights() -> None:
    """Validation and scoring share no Coding identities: the response $validate scores may
    be another copy than the one validated (this failed when weights were keyed by id())."""
    cq = compiled("phq-9")
    response = build_response("phq-9", {str(n): 2 for n in range(1, 10)})
    scored = score_response(cq, copy.deepcopy(response))
    total = next(s for s in scored.scores if s.link_id == "total")
    assert total.value == 18
    sent = copy.deepcopy(scored.response)  # the client sends our scores back
    assert check_scores(cq, copy.deepcopy(sent), validate_response(cq, sent)) == []


def test_a_code_weighs_what_the_item_it_answers_gives_it() -> None:
    """Two items offering the same Coding with opposite weights (reverse scoring)."""
    option = {"system": "urn:agree", "code": "agree"}

    def item(link: str, weight: int) -> dict[str, Any]:
        ext = {"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": weight}
        return {
            "linkId": link,
            "type": "choice",
            "answerOption": [{"valueCoding": option, "extension": [ext]}],
        }

    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [item("plain", 4), item("reversed", 0)],
    }
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": link, "answer": [{"valueCoding": dict(option)}]}
            for link in ("plain", "reversed")
        ],
    }
    env = Env(response, weight=AnswerWeights(compile_questionnaire(questionnaire), response))
    found = compile_expression("item.answer.value.weight()").evaluate([response], env)
    assert found == [4, 0]
