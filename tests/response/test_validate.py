"""Validation: each rule of service.response.validate with the exact issue and expression."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from service.errors import PayloadTooDeep
from service.questionnaire import Limits, compile_questionnaire
from service.response import validate_response
from service.response.validate import MAX_DEPTH
from service.response.weights import AnswerWeights
from tests.builders.instruments import build_response, compiled, full_answers
from tests.builders.toy import toy, toy_response

QR = "QuestionnaireResponse"
Mutation = Callable[[dict[str, Any]], Any]
Expected = list[tuple[str, str, str | None]]


def _found(response: Any) -> Expected:
    """(severity, rule, expression) of every issue, in order."""
    issues = validate_response(toy(), response).issues
    return [(i.severity.value, i.rule or "", i.expression) for i in issues]


def _at(response: dict[str, Any], *path: str | int) -> Any:
    node: Any = response
    for step in path:
        node = node[step]
    return node


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        _at(response, *path[:-1])[path[-1]] = value

    return mutate


def _drop(*path: str | int) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        del _at(response, *path[:-1])[path[-1]]

    return mutate


def _insert(index: int, item: Any) -> Mutation:
    return lambda response: response["item"].insert(index, item)


def _both(*mutations: Mutation) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(response)

    return mutate


def _answer(index: int, value: Any) -> Mutation:
    """Replace item[index]'s answers with one answer of this value[x] object."""
    return _set("item", index, "answer", value=[value])


def _age(value: Any) -> Mutation:
    return _set("item", 4, "item", 1, "answer", value=[value])


def _grp(index: int, value: dict[str, Any]) -> Mutation:
    return _set("item", 2, "item", index, "answer", value=[value])


def _swap(response: dict[str, Any]) -> None:
    items = response["item"]
    items[0], items[1] = items[1], items[0]


MOOD = f"{QR}.item[2].item[0].answer[0].value"
AGE = f"{QR}.item[4].item[1]"
HEAVY = ("error", "qr-answer-on-disabled", f"{QR}.item[2].item[5].answer")
PACKS = f"{QR}.item[1].answer[0].value"
E, W, INFO = "error", "warning", "information"

CASES: list[tuple[str, Mutation, Expected]] = [
    ("valid", lambda r: None, []),
    ("unknown element", _set("foo", value=1), [(E, "qr-unknown-element", f"{QR}.foo")]),
    ("primitive extension", _set("_status", value={"id": "s1"}), []),
    (
        "primitive extension empty",
        _set("_status", value={}),
        [(E, "qr-empty-value", f"{QR}.status")],
    ),
    ("status missing", _drop("status"), [(E, "qr-status-missing", f"{QR}.status")]),
    ("status invalid", _set("status", value="done"), [(E, "qr-status-invalid", f"{QR}.status")]),
    (
        "questionnaire missing",
        _drop("questionnaire"),
        [(W, "qr-questionnaire-missing", f"{QR}.questionnaire")],
    ),
    (
        "questionnaire other",
        _set("questionnaire", value="https://example.org/Questionnaire/other"),
        [(E, "qr-questionnaire-mismatch", f"{QR}.questionnaire")],
    ),
    (
        "questionnaire version",
        _set("questionnaire", value="https://example.org/Questionnaire/toy|1.0.0"),
        [(E, "qr-questionnaire-version", f"{QR}.questionnaire")],
    ),
    (
        "questionnaire no version",
        _set("questionnaire", value="https://example.org/Questionnaire/toy"),
        [],
    ),
    ("questionnaire contained", _set("questionnaire", value="#toy"), []),
    ("questionnaire relative", _set("questionnaire", value="Questionnaire/toy"), []),
    (
        "questionnaire other id",
        _set("questionnaire", value="#other"),
        [(E, "qr-questionnaire-mismatch", f"{QR}.questionnaire")],
    ),
    (
        "questionnaire not a string",
        _set("questionnaire", value=7),
        [(E, "qr-questionnaire-mismatch", f"{QR}.questionnaire")],
    ),
    (
        "item not an array",
        _set("item", value={}),
        [
            (E, "qr-not-array", f"{QR}.item"),
            (E, "qr-required-missing", QR),
            (E, "qr-required-missing", QR),
        ],
    ),
    (
        "item empty",
        _set("item", value=[]),
        [
            (E, "qr-empty-array", f"{QR}.item"),
            (E, "qr-required-missing", QR),
            (E, "qr-required-missing", QR),
        ],
    ),
    ("item not an object", _insert(0, 5), [(E, "qr-not-object", f"{QR}.item[0]")]),
    ("linkId missing", _insert(0, {"text": "x"}), [(E, "qr-linkid-missing", f"{QR}.item[0]")]),
    (
        "unknown linkId",
        _insert(0, {"linkId": "nope"}),
        [(E, "qr-unknown-linkid", f"{QR}.item[0]")],
    ),
    (
        "item misplaced (group child at top)",
        _insert(0, {"linkId": "note", "answer": [{"valueString": "abc"}]}),
        [(E, "qr-item-misplaced", f"{QR}.item[0]")],
    ),
    ("items out of order", _swap, [(E, "qr-item-order", f"{QR}.item[1]")]),
    (
        "item repeated",
        _insert(1, {"linkId": "smoker", "answer": [{"valueBoolean": True}]}),
        [(E, "qr-item-repeated", f"{QR}.item[1]")],
    ),
    (
        "text mismatch",
        _set("item", 0, "text", value="Smoke?"),
        [(W, "qr-text-mismatch", f"{QR}.item[0].text")],
    ),
    (
        "answer on group",
        _set("item", 2, "answer", value=[{"valueString": "x"}]),
        [(E, "qr-answer-on-group", f"{QR}.item[2].answer")],
    ),
    (
        "answer on display",
        _insert(0, {"linkId": "intro", "answer": [{"valueString": "x"}]}),
        [(E, "qr-answer-on-display", f"{QR}.item[0].answer")],
    ),
    (
        "item under a question",
        _set("item", 0, "item", value=[{"linkId": "packs"}]),
        [(E, "qr-item-misplaced", f"{QR}.item[0].item")],
    ),
    (
        "item element unknown",
        _set("item", 0, "foo", value=1),
        [(E, "qr-unknown-element", f"{QR}.item[0].foo")],
    ),
    (
        "answer element unknown",
        _set("item", 0, "answer", 0, "bar", value=1),
        [(E, "qr-unknown-element", f"{QR}.item[0].answer[0].bar")],
    ),
    (
        "answer repeated",
        _set("item", 1, "answer", value=[{"valueInteger": 6}, {"valueInteger": 7}]),
        [(E, "qr-answer-repeated", f"{QR}.item[1].answer[1]")],
    ),
    (
        "answer not an array",
        _set("item", 4, "item", 1, "answer", value={}),
        [(E, "qr-not-array", f"{AGE}.answer")],
    ),
    (
        "answer empty",
        _set("item", 1, "answer", value=[]),
        [(E, "qr-empty-array", f"{QR}.item[1].answer"), HEAVY, (E, "qr-required-missing", QR)],
    ),
    ("answer not an object", _age(5), [(E, "qr-not-object", f"{AGE}.answer[0]")]),
    (
        "answer without value",
        _age({}),
        [(E, "qr-answer-value-missing", f"{AGE}.answer[0]")],
    ),
    (
        "answer with two values",
        _age({"valueInteger": 1, "valueString": "1"}),
        [(E, "qr-answer-value-multiple", f"{AGE}.answer[0]")],
    ),
    (
        "string for integer",
        _age({"valueString": "6"}),
        [(E, "qr-answer-type", f"{AGE}.answer[0].value")],
    ),
    (
        "boolean integer",
        _answer(1, {"valueInteger": True}),
        [(E, "qr-answer-invalid", PACKS), HEAVY],
    ),
    (
        "int32 overflow",
        _answer(1, {"valueInteger": 2**31}),
        [(E, "qr-answer-invalid", PACKS), HEAVY],
    ),
    (
        "below minValue",
        _answer(1, {"valueInteger": -1}),
        [(E, "qr-answer-min-value", PACKS), HEAVY],
    ),
    ("above maxValue", _answer(1, {"valueInteger": 11}), [(E, "qr-answer-max-value", PACKS)]),
    (
        "decimal NaN",
        _grp(3, {"valueDecimal": float("nan")}),
        [(E, "qr-answer-invalid", f"{QR}.item[2].item[3].answer[0].value")],
    ),
    (
        "decimal boolean",
        _grp(3, {"valueDecimal": False}),
        [(E, "qr-answer-invalid", f"{QR}.item[2].item[3].answer[0].value")],
    ),
    (
        "decimal below minValue",
        _grp(3, {"valueDecimal": 0.4}),
        [(E, "qr-answer-min-value", f"{QR}.item[2].item[3].answer[0].value")],
    ),
    ("decimal integer", _grp(3, {"valueDecimal": 2}), []),
    (
        "date invalid",
        _grp(4, {"valueDate": "2024-13-01"}),
        [(E, "qr-answer-invalid", f"{QR}.item[2].item[4].answer[0].value")],
    ),
    (
        "date above maxValue",
        _grp(4, {"valueDate": "2031-01-01"}),
        [(E, "qr-answer-max-value", f"{QR}.item[2].item[4].answer[0].value")],
    ),
    (
        "date of other precision above maxValue",
        _grp(4, {"valueDate": "2031"}),
        [(E, "qr-answer-max-value", f"{QR}.item[2].item[4].answer[0].value")],
    ),
    ("date of other precision, order unknown", _grp(4, {"valueDate": "2030"}), []),
    (
        "dateTime without zone",
        _answer(7, {"valueDateTime": "2024-05-01T10:00:00"}),
        [(E, "qr-answer-invalid", f"{QR}.item[7].answer[0].value")],
    ),
    (
        "time invalid",
        _answer(6, {"valueTime": "25:00:00"}),
        [(E, "qr-answer-invalid", f"{QR}.item[6].answer[0].value")],
    ),
    (
        "string empty",
        _grp(2, {"valueString": " "}),
        [(E, "qr-answer-invalid", f"{QR}.item[2].item[2].answer[0].value")],
    ),
    (
        "string too long",
        _grp(2, {"valueString": "abcdef"}),
        [(E, "qr-answer-too-long", f"{QR}.item[2].item[2].answer[0].value")],
    ),
    (
        "string too short",
        _grp(2, {"valueString": "a"}),
        [(E, "qr-answer-too-short", f"{QR}.item[2].item[2].answer[0].value")],
    ),
    (
        "uri with spaces",
        _answer(8, {"valueUri": "a b"}),
        [(E, "qr-answer-invalid", f"{QR}.item[8].answer[0].value")],
    ),
    (
        "attachment empty",
        _answer(9, {"valueAttachment": {}}),
        [(E, "qr-answer-invalid", f"{QR}.item[9].answer[0].value")],
    ),
    (
        "reference not an object",
        _answer(10, {"valueReference": "Practitioner/1"}),
        [(E, "qr-answer-invalid", f"{QR}.item[10].answer[0].value")],
    ),
    (
        "quantity value not a number",
        _answer(11, {"valueQuantity": {"value": "180"}}),
        [(E, "qr-answer-invalid", f"{QR}.item[11].answer[0].value")],
    ),
    ("quantity without value", _answer(11, {"valueQuantity": {"unit": "cm"}}), []),
    (
        "coding not an option",
        _grp(0, {"valueCoding": {"system": "urn:toy", "code": "zzz"}}),
        [(E, "qr-answer-not-in-options", MOOD)],
    ),
    (
        "coding of another system",
        _grp(0, {"valueCoding": {"system": "urn:other", "code": "high"}}),
        [(E, "qr-answer-not-in-options", MOOD)],
    ),
    (
        "coding without system",
        _grp(0, {"valueCoding": {"code": "high"}}),
        [(E, "qr-answer-not-in-options", MOOD)],
    ),
    (
        "coding without code",
        _grp(0, {"valueCoding": {"system": "urn:toy"}}),
        [(E, "qr-answer-invalid", MOOD)],
    ),
    (
        "coding system not a string",
        _grp(0, {"valueCoding": {"system": 1, "code": "high"}}),
        [(E, "qr-answer-invalid", MOOD)],
    ),
    (
        "coding system null",
        _grp(0, {"valueCoding": {"system": None, "code": "high"}}),
        [(E, "qr-answer-invalid", MOOD)],
    ),
    (
        "coding display differs",
        _grp(0, {"valueCoding": {"system": "urn:toy", "code": "high", "display": "Up"}}),
        [(W, "qr-answer-display-mismatch", MOOD)],
    ),
    (
        "coding display same",
        _grp(0, {"valueCoding": {"system": "urn:toy", "code": "high", "display": "High"}}),
        [],
    ),
    (
        "coding carries its own weight",
        _grp(
            0,
            {
                "valueCoding": {
                    "system": "urn:toy",
                    "code": "high",
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/itemWeight",
                            "valueDecimal": 9,
                        }
                    ],
                }
            },
        ),
        [(W, "qr-answer-weight-ignored", MOOD)],
    ),
    (
        "coding carries the same weight",
        _grp(
            0,
            {
                "valueCoding": {
                    "system": "urn:toy",
                    "code": "high",
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                            "valueDecimal": 2,
                        }
                    ],
                }
            },
        ),
        [],
    ),
    ("string for a choice", _grp(0, {"valueString": "high"}), [(E, "qr-answer-type", MOOD)]),
    (
        "coding not in contained value set",
        _grp(1, {"valueCoding": {"system": "urn:colours", "code": "purple"}}),
        [(E, "qr-answer-not-in-valueset", f"{QR}.item[2].item[1].answer[0].value")],
    ),
    (
        "coding in a value set expansion",
        _grp(1, {"valueCoding": {"system": "urn:colours", "code": "navy"}}),
        [],
    ),
    (
        "external value set",
        lambda r: r["item"][2]["item"].insert(
            2, {"linkId": "other-colour", "answer": [{"valueCoding": {"code": "x"}}]}
        ),
        [(INFO, "qr-answer-valueset-unchecked", f"{QR}.item[2].item[2].answer[0].value")],
    ),
    (
        "open-choice coding not an option",
        _set("item", 4, "item", 0, "answer", value=[{"valueCoding": {"code": "uncle"}}]),
        [(E, "qr-answer-not-in-options", f"{QR}.item[4].item[0].answer[0].value")],
    ),
    (
        "integer option not listed",
        _set("item", 5, "answer", 0, "valueInteger", value=3),
        [(E, "qr-answer-not-in-options", f"{QR}.item[5].answer[0].value")],
    ),
    ("date option", _answer(13, {"valueDate": "2024-01-01"}), []),
    (
        "reference option not listed",
        _answer(13, {"valueReference": {"reference": "Practitioner/2"}}),
        [(E, "qr-answer-not-in-options", f"{QR}.item[13].answer[0].value")],
    ),
    (
        "nested required item under an answer",
        _drop("item", 5, "answer", 0, "item"),
        [(E, "qr-required-missing", f"{QR}.item[5].answer[0]")],
    ),
    (
        "required item missing in a group",
        _drop("item", 2, "item", 0),
        [(E, "qr-required-missing", f"{QR}.item[2]")],
    ),
    (
        "required item missing, in progress",
        _both(_drop("item", 2, "item", 0), _set("status", value="in-progress")),
        [(W, "qr-required-missing", f"{QR}.item[2]")],
    ),
    (
        "required item missing, stopped",
        _both(_drop("item", 2, "item", 0), _set("status", value="stopped")),
        [],
    ),
    (
        "required item missing, bad status",
        _both(_drop("item", 2, "item", 0), _set("status", value="final")),
        [(E, "qr-status-invalid", f"{QR}.status"), (W, "qr-required-missing", f"{QR}.item[2]")],
    ),
    (
        "answers on a disabled item (and its dependants)",
        _answer(0, {"valueBoolean": False}),
        [
            (E, "qr-answer-on-disabled", f"{QR}.item[1].answer"),
            (E, "qr-answer-on-disabled", f"{QR}.item[2].item[5].answer"),
        ],
    ),
    (
        "disabled required items are not required",
        _both(_answer(0, {"valueBoolean": False}), _drop("item", 2, "item", 5), _drop("item", 1)),
        [],
    ),
    (
        "enableBehavior all: one condition fails",
        _answer(1, {"valueInteger": 3}),
        [(E, "qr-answer-on-disabled", f"{QR}.item[2].item[5].answer")],
    ),
    (
        "required and enabled by a chain",
        _drop("item", 2, "item", 5),
        [(E, "qr-required-missing", f"{QR}.item[2]")],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=n) for n, m, e in CASES])
def test_rule(mutate: Mutation, expected: Expected) -> None:
    response = toy_response()
    mutate(response)
    assert _found(response) == expected


@pytest.mark.parametrize(
    ("response", "rule", "expression"),
    [
        ([], "qr-not-object", QR),
        ({"resourceType": "Patient"}, "qr-resource-type", f"{QR}.resourceType"),
    ],
)
def test_not_a_response(response: Any, rule: str, expression: str) -> None:
    assert _found(response) == [("error", rule, expression)]


def test_weights_come_from_the_content() -> None:
    response = toy_response()
    assert not validate_response(toy(), response).errors
    weights = AnswerWeights(toy(), response)
    mood = response["item"][2]["item"][0]["answer"][0]["valueCoding"]
    colour = response["item"][2]["item"][1]["answer"][0]["valueCoding"]
    assert (weights(mood), weights(colour)) == (2, 1)  # legacy ordinalValue; CodeSystem
    assert weights(copy.deepcopy(mood)) is None  # answers no item of the response: no weight


def test_locations_name_the_linkid() -> None:
    response = toy_response()
    del response["item"][2]["item"][0]
    (issue,) = validate_response(toy(), response).issues
    assert issue.location == "mood"
    assert issue.code.value == "required"


# Hand-crafted responses to the shipped instruments.
PHQ = "QuestionnaireResponse.item"


def _phq(mutate: Mutation) -> list[tuple[str, str | None]]:
    response = build_response("phq-9", full_answers("phq-9", 1))
    mutate(response)
    return [
        (i.rule or "", i.expression) for i in validate_response(compiled("phq-9"), response).issues
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(lambda r: None, [], id="valid"),
        pytest.param(
            _set("item", 2, "answer", 0, "valueCoding", "code", value="LA0000-0"),
            [("qr-answer-not-in-options", f"{PHQ}[2].answer[0].value")],
            id="wrong code",
        ),
        pytest.param(
            _set("item", 2, "answer", value=[{"valueString": "Several days"}]),
            [("qr-answer-type", f"{PHQ}[2].answer[0].value")],
            id="string for a choice",
        ),
        pytest.param(
            lambda r: r["item"][3]["answer"].append(r["item"][3]["answer"][0]),
            [("qr-answer-repeated", f"{PHQ}[3].answer[1]")],
            id="duplicate answer",
        ),
        pytest.param(
            lambda r: r["item"].append({"linkId": "99"}),
            [("qr-unknown-linkid", f"{PHQ}[9]")],
            id="unknown linkId",
        ),
        pytest.param(
            _set("questionnaire", value="http://loinc.org/q/44249-1"),
            [("qr-questionnaire-mismatch", "QuestionnaireResponse.questionnaire")],
            id="another questionnaire",
        ),
        pytest.param(
            _set(
                "questionnaire",
                value="https://rapport-fhir.github.io/fhir/Questionnaire/phq-9|0.9",
            ),
            [("qr-questionnaire-version", "QuestionnaireResponse.questionnaire")],
            id="wrong version",
        ),
    ],
)
def test_shipped_instrument(mutate: Mutation, expected: list[tuple[str, str | None]]) -> None:
    assert _phq(mutate) == expected


def test_hand_crafted_answer_to_a_disabled_item() -> None:
    """The shipped instruments have no enableWhen: the toy's `packs` needs smoker = true."""
    response = toy_response()
    response["item"][0]["answer"] = [{"valueBoolean": False}]
    del response["item"][2]["item"][5]  # `heavy` depends on packs too; leave one issue
    assert _found(response) == [("error", "qr-answer-on-disabled", f"{QR}.item[1].answer")]


def _deep_questionnaire(depth: int) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": f"g{depth}", "type": "string"}
    for level in range(depth - 1, 0, -1):
        item = {"linkId": f"g{level}", "type": "group", "item": [item]}
    return {"resourceType": "Questionnaire", "status": "active", "item": [item]}


def _deep_response(depth: int) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": f"g{depth}", "answer": [{"valueString": "x"}]}
    for level in range(depth - 1, 0, -1):
        item = {"linkId": f"g{level}", "item": [item]}
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [item]}


def test_nesting_is_bounded() -> None:
    depth = MAX_DEPTH + 2
    cq = compile_questionnaire(_deep_questionnaire(depth), limits=Limits(max_depth=depth))
    with pytest.raises(PayloadTooDeep):
        validate_response(cq, _deep_response(depth))
    shallow = compile_questionnaire(_deep_questionnaire(MAX_DEPTH))
    issues = validate_response(shallow, _deep_response(MAX_DEPTH)).issues
    assert [i.rule for i in issues] == ["qr-questionnaire-missing"]


def test_item_count_is_bounded() -> None:
    response = toy_response()
    response["item"][6]["answer"] = [{"valueTime": "08:00:00"}] * (Limits().max_response_nodes + 1)
    with pytest.raises(PayloadTooDeep):
        validate_response(toy(), response)


@pytest.mark.parametrize("required", [False, True])
def test_an_answer_without_its_items_is_checked_as_its_children_demand(required: bool) -> None:
    """Only a child that must be there (required) makes an answer without items an issue;
    the walk skips the children of answers that leave out optional ones."""
    child = {"linkId": "why", "type": "string", "required": required}
    questionnaire = {
        "resourceType": "Questionnaire",
        "url": "urn:q",
        "status": "active",
        "item": [{"linkId": "q", "type": "integer", "item": [child]}],
    }
    cq = compile_questionnaire(questionnaire)
    assert ("q" in cq.optional_children) is not required
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:q",
        "status": "completed",
        "item": [{"linkId": "q", "answer": [{"valueInteger": 1}]}],
    }
    found = [(i.rule, i.expression) for i in validate_response(cq, response).issues]
    missing = ("qr-required-missing", "QuestionnaireResponse.item[0].answer[0]")
    assert found == ([missing] if required else [])


def _never_firing(questionnaire: dict[str, Any]) -> dict[str, Any]:
    """The Questionnaire with a targetConstraint that always holds: validation then builds its
    expression environment, which it leaves out for content without expressions."""
    parts = [
        {"url": "key", "valueId": "always"},
        {"url": "severity", "valueCode": "error"},
        {"url": "human", "valueString": "always holds"},
        {
            "url": "expression",
            "valueExpression": {"language": "text/fhirpath", "expression": "true"},
        },
    ]
    constraint = {"url": "http://hl7.org/fhir/StructureDefinition/targetConstraint"}
    questionnaire.setdefault("extension", []).append({**constraint, "extension": parts})
    return questionnaire


@pytest.mark.parametrize("status", ["completed", "in-progress", "amended", "stopped"])
@pytest.mark.parametrize("case", ["valid", "disabled", "missing", "both"])
def test_validation_without_expressions_equals_validation_with_them(status: str, case: str) -> None:
    """Content without enableWhenExpression or targetConstraint skips the expression set-up:
    enableWhen, required and minOccurs come out exactly as when the set-up is there."""
    response = toy_response()
    response["status"] = status
    if case in ("disabled", "both"):
        response["item"][0]["answer"] = [{"valueBoolean": False}]  # packs and heavy disabled
    if case in ("missing", "both"):
        del response["item"][2]["item"][0]  # mood, required
    plain = toy()
    assert not plain.enable_expressions
    assert not plain.constraints
    with_expressions = compile_questionnaire(_never_firing(copy.deepcopy(plain.questionnaire)))
    assert with_expressions.constraints
    found = validate_response(plain, copy.deepcopy(response)).issues
    assert found == validate_response(with_expressions, response).issues
    reported = case in ("disabled", "both") or (case == "missing" and status != "stopped")
    assert bool(found) == reported
