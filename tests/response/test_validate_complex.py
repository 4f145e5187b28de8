"""Limits on quantity, attachment and reference answers (`_complex`): minQuantity,
maxQuantity, unitOption, mimeType, maxSize, referenceResource; their content errors;
and SDC's %qitem in expressions, with both engines."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import score_response, validate_response

QR = "QuestionnaireResponse"
CORE = "http://hl7.org/fhir/StructureDefinition/"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
E, W = "error", "warning"
Expected = list[tuple[str, str, str | None]]
Mutation = Callable[[dict[str, Any]], Any]


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": CORE + name, **value}


def _kg(value: float, code: str = "kg") -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


QUESTIONNAIRE: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "url": "https://example.org/Questionnaire/complex",
    "status": "active",
    "item": [
        {
            "linkId": "weight",
            "type": "quantity",
            "extension": [
                _ext("minQuantity", valueQuantity=_kg(30)),
                _ext("maxQuantity", valueQuantity=_kg(250)),
                _ext("questionnaire-unitOption", valueCoding={"system": UCUM, "code": "kg"}),
                _ext("questionnaire-unitOption", valueCoding={"system": UCUM, "code": "[lb_av]"}),
            ],
        },
        {
            "linkId": "height",
            "type": "quantity",
            "extension": [
                {
                    "url": SDC + "sdc-questionnaire-maxQuantity",
                    "valueQuantity": {"value": 250, "unit": "cm"},
                }
            ],
        },
        {
            "linkId": "scan",
            "type": "attachment",
            "extension": [
                _ext("mimeType", valueCode="image/png"),
                _ext("mimeType", valueCode="application/pdf"),
                _ext("maxSize", valueDecimal=1024),
            ],
        },
        {
            "linkId": "photo",
            "type": "attachment",
            "extension": [_ext("mimeType", valueCode="image/*")],
        },
        {"linkId": "note", "type": "attachment", "extension": [_ext("maxSize", valueDecimal=4)]},
        {
            "linkId": "carer",
            "type": "reference",
            "extension": [
                _ext("questionnaire-referenceResource", valueCode="Practitioner"),
                _ext("questionnaire-referenceResource", valueCode="RelatedPerson"),
            ],
        },
    ],
}

RESPONSE: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://example.org/Questionnaire/complex",
    "status": "completed",
    "item": [
        {"linkId": "weight", "answer": [{"valueQuantity": _kg(70)}]},
        {"linkId": "height", "answer": [{"valueQuantity": {"value": 180, "unit": "cm"}}]},
        {
            "linkId": "scan",
            "answer": [{"valueAttachment": {"contentType": "image/png", "size": 1000}}],
        },
        {"linkId": "photo", "answer": [{"valueAttachment": {"contentType": "image/jpeg"}}]},
        {"linkId": "note", "answer": [{"valueAttachment": {"data": "bm90ZQ=="}}]},
        {"linkId": "carer", "answer": [{"valueReference": {"reference": "Practitioner/7"}}]},
    ],
}


@cache
def _complex() -> CompiledQuestionnaire:
    return compile_questionnaire(copy.deepcopy(QUESTIONNAIRE))


def _answer(index: int, value_type: str, value: Any) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        response["item"][index]["answer"] = [{"value" + value_type: value}]

    return mutate


def _at(index: int) -> str:
    return f"{QR}.item[{index}].answer[0].value"


def _data(size: int) -> str:
    return base64.b64encode(bytes(size)).decode()


WEIGHT, HEIGHT, SCAN, PHOTO, NOTE, CARER = (_at(i) for i in range(6))

CASES: list[tuple[str, Mutation, Expected]] = [
    ("valid", lambda r: None, []),
    # minQuantity / maxQuantity, compared in the same units only
    ("below minQuantity", _answer(0, "Quantity", _kg(20)), [(E, "qr-answer-min-quantity", WEIGHT)]),
    (
        "above maxQuantity",
        _answer(0, "Quantity", _kg(251)),
        [(E, "qr-answer-max-quantity", WEIGHT)],
    ),
    ("at minQuantity", _answer(0, "Quantity", _kg(30)), []),
    ("at maxQuantity", _answer(0, "Quantity", _kg(250)), []),
    ("quantity without a value", _answer(0, "Quantity", {"system": UCUM, "code": "kg"}), []),
    (
        "quantity in other units: not compared",
        _answer(0, "Quantity", _kg(600, "[lb_av]")),
        [(W, "qr-answer-quantity-unchecked", WEIGHT), (W, "qr-answer-quantity-unchecked", WEIGHT)],
    ),
    (
        "above maxQuantity by unit text (SDC url)",
        _answer(1, "Quantity", {"value": 260, "unit": "cm"}),
        [(E, "qr-answer-max-quantity", HEIGHT)],
    ),
    (
        "above maxQuantity by unit text, the answer coded",
        _answer(1, "Quantity", {"value": 260, "unit": "cm", "system": UCUM, "code": "cm"}),
        [(E, "qr-answer-max-quantity", HEIGHT)],
    ),
    (
        "quantity of another unit text: not compared",
        _answer(1, "Quantity", {"value": 3, "unit": "m"}),
        [(W, "qr-answer-quantity-unchecked", HEIGHT)],
    ),
    (
        "quantity without units: not compared",
        _answer(1, "Quantity", {"value": 300}),
        [(W, "qr-answer-quantity-unchecked", HEIGHT)],
    ),
    # unitOption, by system and code
    (
        "unit not a unitOption",
        _answer(0, "Quantity", _kg(70, "g")),
        [(E, "qr-answer-unit", WEIGHT)],
    ),
    (
        "unit of a unitOption's code in another system",
        _answer(0, "Quantity", {"value": 70, "system": "urn:units", "code": "kg"}),
        [(E, "qr-answer-unit", WEIGHT)],
    ),
    (
        "unit without a code",
        _answer(0, "Quantity", {"value": 70, "unit": "kg"}),
        [(E, "qr-answer-unit", WEIGHT)],
    ),
    # mimeType: contentType, parameters and case aside; `type/*` for any subtype
    (
        "contentType not a mimeType",
        _answer(2, "Attachment", {"contentType": "text/plain", "size": 10}),
        [(E, "qr-answer-mime-type", SCAN)],
    ),
    (
        "attachment without a contentType",
        _answer(2, "Attachment", {"url": "https://example.org/scan.png"}),
        [(E, "qr-answer-mime-type", SCAN)],
    ),
    (
        "contentType with parameters, in capitals",
        _answer(2, "Attachment", {"contentType": "Application/PDF;name=scan.pdf"}),
        [],
    ),
    (
        "contentType not of a type/* mimeType",
        _answer(3, "Attachment", {"contentType": "application/pdf"}),
        [(E, "qr-answer-mime-type", PHOTO)],
    ),
    # maxSize: size, else the decoded data
    (
        "size above maxSize",
        _answer(2, "Attachment", {"contentType": "image/png", "size": 1025}),
        [(E, "qr-answer-max-size", SCAN)],
    ),
    (
        "data above maxSize",
        _answer(2, "Attachment", {"contentType": "image/png", "data": _data(1025)}),
        [(E, "qr-answer-max-size", SCAN)],
    ),
    (
        "data of maxSize",
        _answer(2, "Attachment", {"contentType": "image/png", "data": _data(1024)}),
        [],
    ),
    (
        "size within maxSize is taken over data, but must agree with it",
        _answer(2, "Attachment", {"contentType": "image/png", "size": 10, "data": _data(1025)}),
        [(E, "qr-attachment-size", SCAN + ".size")],
    ),
    (
        "data above maxSize, no mimeType",
        _answer(4, "Attachment", {"data": _data(5)}),
        [(E, "qr-answer-max-size", NOTE)],
    ),
    ("attachment by url only", _answer(4, "Attachment", {"url": "https://example.org/n"}), []),
    # referenceResource: the type, else the type in a relative or absolute reference
    (
        "reference to another type",
        _answer(5, "Reference", {"reference": "Patient/1"}),
        [(E, "qr-answer-reference-type", CARER)],
    ),
    (
        "absolute reference to another type, a version",
        _answer(5, "Reference", {"reference": "https://example.org/fhir/Patient/1/_history/2"}),
        [(E, "qr-answer-reference-type", CARER)],
    ),
    (
        "absolute reference to an allowed type, a version",
        _answer(
            5, "Reference", {"reference": "https://example.org/fhir/RelatedPerson/1/_history/2"}
        ),
        [],
    ),
    (
        "contained reference of another type given",
        _answer(5, "Reference", {"reference": "#p1", "type": "Patient"}),
        [(E, "qr-answer-reference-type", CARER)],
    ),
    (
        "reference type given as a core StructureDefinition",
        _answer(5, "Reference", {"reference": "#p1", "type": CORE + "RelatedPerson"}),
        [],
    ),
    (
        "contained reference of unknown type",
        _answer(5, "Reference", {"reference": "#p1"}),
        [(W, "qr-answer-reference-unchecked", CARER)],
    ),
    (
        "urn reference of unknown type",
        _answer(5, "Reference", {"reference": "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"}),
        [(W, "qr-answer-reference-unchecked", CARER)],
    ),
    (
        "identifier only",
        _answer(5, "Reference", {"identifier": {"system": "urn:staff", "value": "42"}}),
        [(W, "qr-answer-reference-unchecked", CARER)],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=n) for n, m, e in CASES])
def test_rule(mutate: Mutation, expected: Expected) -> None:
    response = copy.deepcopy(RESPONSE)
    mutate(response)
    issues = validate_response(_complex(), response).issues
    assert [(i.severity.value, i.rule or "", i.expression) for i in issues] == expected


def test_items_without_these_extensions_have_no_limits() -> None:
    """Nothing compiled, so nothing checked, for items that do not use them."""
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [
                {
                    "linkId": "q",
                    "type": "quantity",
                    "extension": [_ext("minValue", valueInteger=1)],
                },
                {"linkId": "a", "type": "attachment"},
            ],
        }
    )
    assert [d.complex_limits for d in cq.items.values()] == [None, None]
    assert _complex().items["weight"].complex_limits is not None


def _content_rules(*extensions: dict[str, Any], kind: str) -> list[str | None]:
    with pytest.raises(UnprocessableContent) as raised:
        compile_questionnaire(
            {
                "resourceType": "Questionnaire",
                "status": "active",
                "item": [{"linkId": "a", "type": kind, "extension": list(extensions)}],
            }
        )
    return [issue.rule for issue in raised.value.issues]


@pytest.mark.parametrize(
    ("kind", "extension"),
    [
        ("integer", _ext("minQuantity", valueQuantity=_kg(1))),
        ("quantity", _ext("minQuantity", valueDecimal=1)),
        ("quantity", _ext("maxQuantity", valueQuantity={"unit": "kg"})),
        ("quantity", _ext("maxQuantity", valueQuantity={"value": 1, "code": 7})),
        ("decimal", {"url": SDC + "sdc-questionnaire-maxQuantity", "valueQuantity": _kg(1)}),
        ("quantity", _ext("questionnaire-unitOption", valueCode="kg")),
        ("quantity", _ext("questionnaire-unitOption", valueCoding={"system": UCUM})),
        ("string", _ext("questionnaire-unitOption", valueCoding={"code": "kg"})),
        ("attachment", _ext("mimeType", valueString="image/png")),
        ("attachment", _ext("mimeType", valueCode="png")),
        ("string", _ext("mimeType", valueCode="image/png")),
        ("attachment", _ext("maxSize", valueDecimal=-1)),
        ("attachment", _ext("maxSize", valueString="1 MB")),
        ("reference", _ext("maxSize", valueDecimal=1024)),
        ("reference", _ext("questionnaire-referenceResource", valueCode="Pateint")),
        ("reference", _ext("questionnaire-referenceResource", valueReference={"reference": "x"})),
        ("choice", _ext("questionnaire-referenceResource", valueCode="Patient")),
        ("quantity", _ext("questionnaire-unitValueSet", valueString="#units")),
        ("quantity", _ext("questionnaire-unitValueSet", valueCanonical="#my units")),
        ("decimal", _ext("questionnaire-unitValueSet", valueCanonical="#units")),
    ],
)
def test_malformed_or_misplaced_extensions_are_content_errors(
    kind: str, extension: dict[str, Any]
) -> None:
    assert _content_rules(extension, kind=kind) == ["q-invalid"]


def test_min_quantity_above_max_quantity_is_a_content_error_in_the_same_units() -> None:
    low, high = _ext("minQuantity", valueQuantity=_kg(9)), _ext("maxQuantity", valueQuantity=_kg(3))
    assert _content_rules(low, high, kind="quantity") == ["q-invalid"]
    grams = _ext("maxQuantity", valueQuantity=_kg(3000, "g"))
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [{"linkId": "a", "type": "quantity", "extension": [low, grams]}],
        }
    )
    assert cq.items["a"].complex_limits is not None


# %qitem (SDC): the Questionnaire item the expression is on


def _fhirpath(expression: str, **extra: Any) -> dict[str, Any]:
    return {"language": "text/fhirpath", "expression": expression, **extra}


def _constraint(expression: str) -> dict[str, Any]:
    parts = [
        {"url": "key", "valueId": "k"},
        {"url": "severity", "valueCode": "error"},
        {"url": "human", "valueString": "not the question itself"},
        {"url": "expression", "valueExpression": _fhirpath(expression)},
    ]
    return {"url": CORE + "targetConstraint", "extension": parts}


def _qitem_questionnaire() -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "url": "urn:qitem",
        "status": "active",
        "item": [
            {
                "linkId": "name",
                "type": "string",
                "text": "Name",
                "extension": [_constraint("answer.value != %qitem.text")],
            },
            {
                "linkId": "g",
                "type": "group",
                "text": "Shown",
                "extension": [
                    {
                        "url": CORE + "variable",
                        "valueExpression": _fhirpath("%qitem.text", name="t"),
                    }
                ],
                "item": [
                    {
                        "linkId": "nick",
                        "type": "string",
                        "extension": [
                            {
                                "url": SDC + "sdc-questionnaire-enableWhenExpression",
                                "valueExpression": _fhirpath(
                                    "%t = 'Shown' and %qitem.linkId = 'nick'"
                                ),
                            }
                        ],
                    },
                    {
                        "linkId": "length",
                        "type": "integer",
                        "extension": [
                            {
                                "url": SDC + "sdc-questionnaire-calculatedExpression",
                                "valueExpression": _fhirpath("%qitem.linkId.length()"),
                            }
                        ],
                    },
                ],
            },
        ],
    }


@pytest.mark.parametrize("interpret", [False, True])
def test_qitem_is_the_item_an_expression_is_on(interpret: bool) -> None:
    cq = compile_questionnaire(_qitem_questionnaire(), interpret=interpret)
    nick = {"linkId": "nick", "answer": [{"valueString": "Al"}]}
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:qitem",
        "status": "completed",
        "item": [
            {"linkId": "name", "answer": [{"valueString": "Name"}]},
            {"linkId": "g", "item": [nick]},
        ],
    }
    issues = validate_response(cq, response).issues
    assert [(i.rule, i.expression) for i in issues] == [("qr-constraint", f"{QR}.item[0]")]
    response["item"][0]["answer"] = [{"valueString": "Alice"}]
    scored = score_response(cq, response)
    assert [(s.link_id, s.value) for s in scored.scores] == [("length", 6)]
    assert scored.issues == []


def test_qitem_is_undefined_on_the_questionnaire() -> None:
    with pytest.raises(UnprocessableContent) as raised:
        compile_questionnaire(
            {
                "resourceType": "Questionnaire",
                "status": "active",
                "extension": [_constraint("%qitem.exists()")],
                "item": [{"linkId": "a", "type": "string"}],
            }
        )
    assert [issue.rule for issue in raised.value.issues] == ["q-variable-undefined"]
