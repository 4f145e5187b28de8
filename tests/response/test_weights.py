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
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.fhirpath import Env, compile_expression, interpret_expression
from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import check_scores, score_response, validate_response
from service.response.weights import AnswerWeights, coding_weight
from tests.builders.instruments import build_response, compiled, vectors
from tests.builders.toy import toy, toy_response
from tests.response.test_plain_items import _cases as plain_cases

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


# Validation notes the answer Codings it accepts (`Validation.codings`); scoring takes the
# weights of the very response validated from that list instead of walking it again.


def _nested_questionnaire() -> dict[str, Any]:
    """A repeating question whose answers hold a weighted question, inside a repeating group."""

    def option(code: str, weight: int) -> dict[str, Any]:
        ext = {"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": weight}
        return {"valueCoding": {"system": "urn:s", "code": code}, "extension": [ext]}

    inner = {"linkId": "inner", "type": "choice", "answerOption": [option("a", 5), option("b", 7)]}
    outer = {
        "linkId": "outer",
        "type": "choice",
        "repeats": True,
        "answerOption": [option("a", 1), option("b", 2)],
        "item": [inner],
    }
    group = {"linkId": "g", "type": "group", "repeats": True, "item": [outer]}
    return {"resourceType": "Questionnaire", "status": "active", "item": [group]}


_NESTED = compile_questionnaire(_nested_questionnaire())


def _answer(code: str, nested: list[str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"valueCoding": {"system": "urn:s", "code": code}}
    if nested:
        answers = [{"valueCoding": {"system": "urn:s", "code": c}} for c in nested]
        answer["item"] = [{"linkId": "inner", "answer": answers[:1]}]
    return answer


_CODES = st.sampled_from(["a", "b", "z"])
_GROUPS = st.lists(
    st.lists(st.builds(_answer, _CODES, st.lists(_CODES, max_size=1)), min_size=1, max_size=3),
    min_size=1,
    max_size=3,
)


def _nested_response(groups: list[list[dict[str, Any]]]) -> dict[str, Any]:
    items = [{"linkId": "g", "item": [{"linkId": "outer", "answer": a}]} for a in groups]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


def _cases() -> st.SearchStrategy[tuple[CompiledQuestionnaire, dict[str, Any]]]:
    """Random responses to the instruments and the toy (`test_plain_items`), the vectors as
    built, and answers nested under answers of repeated groups."""
    shipped = st.sampled_from(vectors()).map(
        lambda case: (
            compiled(case[0]),
            build_response(case[0], case[1]["answers"], case[1]["status"]),
        )
    )
    toys = plain_cases().map(
        lambda case: (toy() if case[0] == "toy" else compiled(case[0]), case[1])
    )
    return shipped | toys | _GROUPS.map(lambda groups: (_NESTED, _nested_response(groups)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_the_codings_validation_notes_weigh_as_the_walk_finds_them(
    case: tuple[CompiledQuestionnaire, dict[str, Any]],
) -> None:
    cq, response = case
    response = copy.deepcopy(response)  # as parsed: no Coding shared with the content
    validation = validate_response(cq, response)
    event("compared" if not validation.errors else "invalid")
    if validation.errors:
        return  # never scored
    assert validation.codings is not None
    assert validation.response is response
    noted = AnswerWeights(cq, response, validation.codings).by_node
    assert noted == AnswerWeights(cq, response).by_node


def test_nested_answers_are_weighed_from_validation_s_notes() -> None:
    response = _nested_response([[_answer("a", ["b"]), _answer("b", ["a"])], [_answer("b", [])]])
    validation = validate_response(_NESTED, response)
    assert not validation.errors
    weights = AnswerWeights(_NESTED, response, validation.codings)
    outer = [g["item"][0]["answer"] for g in response["item"]]
    codings = [a["valueCoding"] for answers in outer for a in answers]
    codings += [a["item"][0]["answer"][0]["valueCoding"] for a in outer[0]]
    assert [weights(coding) for coding in codings] == [1, 2, 2, 7, 5]
    assert weights.by_node == AnswerWeights(_NESTED, response).by_node
