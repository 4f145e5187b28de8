"""Validation's shortcuts equal the general walk (issue 16).

An item holding nothing but its linkId and one answer with a clean value (`_Walk._plain`)
is decided without the general item walk. Giving every item its Questionnaire text, which
no rule objects to, sends the same response through the general walk instead: on random
responses to the shipped instruments and the toy (clean, near-miss and wrong answers,
repeats, order, disabled items), both give exactly the same issues and answered items.
Likewise validation against a Questionnaire without enableWhen, which notes only which
items are answered, equals validation against the same with an enableWhen added.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.errors import PayloadTooDeep
from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.questionnaire.compile import Limits
from service.response import validate_response
from service.response.answers import Answers, _check_answer, plain_answer
from tests.builders.instruments import compiled, questionnaires
from tests.builders.toy import toy, toy_questionnaire

NAMES = sorted(questionnaires())
WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"


def _questionnaire(name: str) -> dict[str, Any]:
    return toy_questionnaire() if name == "toy" else questionnaires()[name]


def _compiled(name: str) -> CompiledQuestionnaire:
    return toy() if name == "toy" else compiled(name)


@st.composite
def _value(draw: st.DrawFn, qitem: dict[str, Any]) -> dict[str, Any]:
    """One answer: an option as written, plain or altered; an integer in or out of bounds;
    a value of another type; or a value with something beside it."""
    options = [o["valueCoding"] for o in qitem.get("answerOption", []) if "valueCoding" in o]
    kind = draw(st.sampled_from(["option", "plain", "altered", "integer", "other", "extra"]))
    if kind in ("option", "plain", "altered") and options:
        coding = copy.deepcopy(draw(st.sampled_from(options)))
        if kind == "plain":
            coding.pop("extension", None)
        elif kind == "altered":
            change = draw(st.sampled_from(["weight", "display", "code", "unknown"]))
            if change == "weight":
                coding["extension"] = [{"url": WEIGHT, "valueDecimal": draw(st.integers(-1, 9))}]
            elif change == "display":
                coding["display"] = draw(st.sampled_from(["", "Other", coding.get("display")]))
            elif change == "code":
                coding["code"] = draw(st.sampled_from(["", "zz", 1]))
            else:
                coding["userSelected"] = draw(st.sampled_from([True, "yes"]))
        return {"valueCoding": coding}
    if kind in ("integer", "option", "plain", "altered"):
        return {"valueInteger": draw(st.sampled_from([0, 1, 3, 6, 7, -1, 2**31, True, 1.5]))}
    if kind == "other":
        return draw(
            st.sampled_from([{"valueString": "x"}, {"valueBoolean": True}, {"valueDecimal": 2}])
        )
    answer = draw(_value(qitem))
    answer[draw(st.sampled_from(["id", "extension", "item", "valueString"]))] = "x"
    return answer


@st.composite
def _items(draw: st.DrawFn, qitems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for qitem in qitems:
        if draw(st.integers(0, 5)) == 0:
            continue  # left out
        item: dict[str, Any] = {"linkId": qitem["linkId"]}
        if qitem.get("type") == "group":
            item["item"] = draw(_items(qitem.get("item", [])))
        elif qitem.get("type") != "display" or draw(st.integers(0, 9)) == 0:
            item["answer"] = [draw(_value(qitem)) for _ in range(draw(st.sampled_from([1, 1, 2])))]
        found.append(item)
        if draw(st.integers(0, 19)) == 0:
            found.append(copy.deepcopy(item))  # repeated
    if len(found) > 1 and draw(st.integers(0, 9)) == 0:
        found[0], found[-1] = found[-1], found[0]  # out of order
    return found


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from([*NAMES, "toy"]))
    status = draw(st.sampled_from(["completed", "in-progress"]))
    items = draw(_items(_questionnaire(name)["item"]))
    return name, {"resourceType": "QuestionnaireResponse", "status": status, "item": items}


def _with_text(items: list[dict[str, Any]], cq: CompiledQuestionnaire) -> None:
    """Every known item given its Questionnaire text (or any text where it has none)."""
    for item in items:
        definition = cq.items.get(item["linkId"])
        item["text"] = (definition.text if definition else None) or "text"
        _with_text(item.get("item", []), cq)
        for answer in item.get("answer", []):
            if type(answer.get("item")) is list:
                _with_text(answer["item"], cq)


def _outcome(cq: CompiledQuestionnaire, response: dict[str, Any]) -> tuple[Any, ...]:
    validation = validate_response(cq, response)
    return tuple(validation.issues), validation.answered


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_plain_items_are_validated_as_the_general_walk_validates_them(
    case: tuple[str, dict[str, Any]],
) -> None:
    name, response = case
    cq = _compiled(name)
    general = copy.deepcopy(response)
    _with_text(general["item"], cq)
    assert _outcome(cq, copy.deepcopy(response)) == _outcome(cq, general)


def test_plain_items_answering_every_question_leave_no_issue() -> None:
    cq = compiled("ebi")
    items = [{"linkId": str(n), "answer": [{"valueInteger": 3}]} for n in range(1, 7)]
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{cq.url}|{cq.version}",
        "status": "completed",
        "item": items,
    }
    assert _outcome(cq, response) == ((), frozenset(str(n) for n in range(1, 7)))


@functools.cache
def _conditional(name: str) -> CompiledQuestionnaire:
    """The instrument plus a display item enabled when its first question is answered: the
    same rules for every other item, but validation now keeps answers for enableWhen."""
    questionnaire = copy.deepcopy(questionnaires()[name])
    first = next(i for i in questionnaire["item"] if i["type"] not in ("group", "display"))
    condition = {"question": first["linkId"], "operator": "exists", "answerBoolean": True}
    note = {"linkId": "note", "type": "display", "text": "Thanks", "enableWhen": [condition]}
    questionnaire["item"].append(note)
    return compile_questionnaire(questionnaire)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_validation_without_enable_when_equals_validation_with_it(
    case: tuple[str, dict[str, Any]],
) -> None:
    """Without enableWhen, validation notes which items are answered, not the answers."""
    name, response = case
    assume(name != "toy")  # the toy has enableWhen already
    plain, conditional = compiled(name), _conditional(name)
    assert not plain.conditional
    assert conditional.conditional
    assert _outcome(plain, copy.deepcopy(response)) == _outcome(conditional, response)


@pytest.mark.parametrize("general", [False, True])
def test_plain_answers_count_against_the_node_limit_as_others_do(general: bool) -> None:
    """Six items of one answer each are 12 nodes: within a limit of 12, over one of 11."""
    items = [{"linkId": str(n), "answer": [{"valueInteger": 3}]} for n in range(1, 7)]
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}
    if general:
        _with_text(items, compiled("ebi"))
    within = compile_questionnaire(questionnaires()["ebi"], limits=Limits(max_response_nodes=12))
    assert not validate_response(within, copy.deepcopy(response)).errors
    over = compile_questionnaire(questionnaires()["ebi"], limits=Limits(max_response_nodes=11))
    with pytest.raises(PayloadTooDeep):
        validate_response(over, response)


_BOUND = st.one_of(
    st.none(),
    st.integers(-(2**32), 2**32).map(lambda n: {"valueInteger": n}),
    st.floats(-1e10, 1e10).map(lambda x: {"valueDecimal": x}),
)


@settings(max_examples=200, deadline=None)
@given(_BOUND, _BOUND, st.one_of(st.integers(-(2**33), 2**33), st.booleans(), st.floats()))
def test_an_integer_taken_in_one_step_is_one_the_full_checks_pass(
    low: dict[str, Any] | None, high: dict[str, Any] | None, value: Any
) -> None:
    """`ItemDef.integer_range`: the shortcut takes exactly the integers the full checks pass."""
    limits = [
        {"url": f"http://hl7.org/fhir/StructureDefinition/{name}Value", **bound}
        for name, bound in (("min", low), ("max", high))
        if bound is not None
    ]
    item = {"linkId": "n", "type": "integer", "extension": limits}
    cq = compile_questionnaire({"resourceType": "Questionnaire", "item": [item]})
    answer = {"valueInteger": value}
    out = Answers(cq.terminology)
    full = _check_answer(out, cq.items["n"], answer, "x")
    clean = full is not None and not out.issues
    assert (plain_answer(Answers(cq.terminology), cq.items["n"], answer) is not None) == clean
