"""enableWhen: every operator and answer type, chains and cycles (questionnaire.enable_when)."""

from __future__ import annotations

from typing import Any

import pytest

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.questionnaire.enable_when import Enablement, Frame
from service.response import validate_response


def _root(values: dict[str, list[tuple[str, Any]]]) -> Frame:
    """A response frame holding these answers by linkId."""
    root = Frame({}, "QuestionnaireResponse")
    for link, answers in values.items():
        for answer in answers:
            root.record(link, answer)
    return root


def _enabled(
    condition: dict[str, Any], answers: list[tuple[str, Any]], behavior: str = "any"
) -> bool:
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "item": [
                {"linkId": "q", "type": "string"},
                {
                    "linkId": "t",
                    "type": "string",
                    "enableWhen": [{"question": "q", **condition}],
                    "enableBehavior": behavior,
                },
            ],
        }
    )
    return Enablement(cq.items, cq.conditional, _root({"q": answers}))("t")


CODING = {"system": "urn:s", "code": "a"}
NOON_Z = "2024-01-01T12:00:00Z"


@pytest.mark.parametrize(
    ("condition", "answers", "expected"),
    [
        ({"operator": "exists", "answerBoolean": True}, [("String", "x")], True),
        ({"operator": "exists", "answerBoolean": True}, [], False),
        ({"operator": "exists", "answerBoolean": False}, [], True),
        ({"operator": "=", "answerCoding": CODING}, [("Coding", {**CODING, "display": "A"})], True),
        (
            {"operator": "=", "answerCoding": CODING},
            [("Coding", {"system": "urn:t", "code": "a"})],
            False,
        ),
        ({"operator": "=", "answerInteger": 3}, [("Decimal", 3.0)], True),
        ({"operator": "=", "answerInteger": 3}, [("String", "3")], False),
        (
            {"operator": "=", "answerReference": {"reference": "Patient/1"}},
            [("Reference", {"reference": "Patient/1"})],
            True,
        ),
        ({"operator": "=", "answerString": "x"}, [], False),
        ({"operator": "!=", "answerString": "x"}, [("String", "y")], True),
        ({"operator": "!=", "answerString": "x"}, [("String", "y"), ("String", "x")], False),
        ({"operator": "!=", "answerString": "x"}, [], False),
        ({"operator": ">", "answerInteger": 3}, [("Integer", 5)], True),
        ({"operator": "<", "answerInteger": 3}, [("Integer", 5)], False),
        ({"operator": "<=", "answerDecimal": 5.5}, [("Integer", 5)], True),
        ({"operator": ">=", "answerQuantity": {"value": 5}}, [("Quantity", {"value": 5})], True),
        ({"operator": ">=", "answerQuantity": {"value": 5}}, [("Quantity", {"unit": "mg"})], False),
        ({"operator": ">", "answerDate": "2024-01-01"}, [("Date", "2024-01-02")], True),
        (
            {"operator": ">", "answerDate": "2024-01-01"},
            [("DateTime", "2024-01-02T00:00:00Z")],
            False,
        ),
        ({"operator": ">", "answerCoding": CODING}, [("Coding", CODING)], False),
        # a Coding condition without a system matches on the code alone (as the HL7 validator)
        ({"operator": "=", "answerCoding": {"code": "a"}}, [("Coding", CODING)], True),
        ({"operator": "=", "answerCoding": {"code": "b"}}, [("Coding", CODING)], False),
        ({"operator": "=", "answerCoding": CODING}, [("Coding", {"code": "a"})], False),
        # dateTimes with a time compare as instants, whatever their zones
        (
            {"operator": ">", "answerDateTime": NOON_Z},
            [("DateTime", "2024-01-01T13:00:00+02:00")],
            False,
        ),
        (
            {"operator": "<", "answerDateTime": NOON_Z},
            [("DateTime", "2024-01-01T13:00:00+02:00")],
            True,
        ),
        (
            {"operator": "=", "answerDateTime": NOON_Z},
            [("DateTime", "2024-01-01T14:00:00+02:00")],
            True,
        ),
        (
            {"operator": "!=", "answerDateTime": NOON_Z},
            [("DateTime", "2024-01-01T14:00:00+02:00")],
            False,
        ),
        ({"operator": "=", "answerDateTime": NOON_Z}, [("DateTime", "2024-01-01")], False),
        # dates of other precisions: the first difference decides, else no operator holds
        ({"operator": ">", "answerDate": "2024-06-01"}, [("Date", "2025")], True),
        ({"operator": "<", "answerDate": "2024-06-01"}, [("Date", "2024")], False),
        ({"operator": ">=", "answerDate": "2024-06-01"}, [("Date", "2024")], False),
        ({"operator": "=", "answerDate": "2024-06-01"}, [("Date", "2024-06")], False),
        ({"operator": "!=", "answerDate": "2024-06-01"}, [("Date", "2024-06")], False),
        ({"operator": "!=", "answerDate": "2024-06-01"}, [("Date", "2024-07")], True),
        ({"operator": ">", "answerTime": "12:00:00"}, [("Time", "12:00:00.5")], True),
        # Quantity: the value alone, units ignored (as the HL7 validator does)
        (
            {"operator": "=", "answerQuantity": {"value": 5, "unit": "mg"}},
            [("Quantity", {"value": 5, "unit": "g"})],
            True,
        ),
        ({"operator": ">", "answerBoolean": False}, [("Boolean", True)], False),
    ],
)
def test_condition(
    condition: dict[str, Any], answers: list[tuple[str, Any]], expected: bool
) -> None:
    assert _enabled(condition, answers) is expected


def _chain() -> CompiledQuestionnaire:
    exists = {"operator": "exists", "answerBoolean": True}
    return compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "item": [
                {"linkId": "a", "type": "string", "enableWhen": [{"question": "b", **exists}]},
                {"linkId": "b", "type": "string", "enableWhen": [{"question": "a", **exists}]},
                {"linkId": "c", "type": "string", "enableWhen": [{"question": "d", **exists}]},
                {"linkId": "d", "type": "string", "enableWhen": [{"question": "e", **exists}]},
                {"linkId": "e", "type": "string"},
            ],
        }
    )


def test_a_cycle_does_not_disable() -> None:
    cq = _chain()
    enabled = Enablement(
        cq.items, cq.conditional, _root({"a": [("String", "x")], "b": [("String", "y")]})
    )
    assert enabled("a")
    assert enabled("b")
    assert enabled("a")


def test_a_disabled_question_counts_as_unanswered() -> None:
    cq = _chain()
    # d has an answer, but d is disabled (e unanswered), so c is disabled too.
    enabled = Enablement(cq.items, cq.conditional, _root({"d": [("String", "x")]}))
    assert not enabled("c")
    assert enabled("e")


def test_an_item_in_a_disabled_group_is_disabled() -> None:
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "item": [
                {"linkId": "q", "type": "boolean"},
                {
                    "linkId": "g",
                    "type": "group",
                    "enableWhen": [{"question": "q", "operator": "=", "answerBoolean": True}],
                    "item": [{"linkId": "c", "type": "string"}],
                },
            ],
        }
    )
    assert cq.conditional == {"g", "c"}
    assert Enablement(cq.items, cq.conditional, _root({"q": [("Boolean", True)]}))("c")
    assert not Enablement(cq.items, cq.conditional, _root({"q": [("Boolean", False)]}))("c")


def _answered(link: str, value: Any) -> dict[str, Any]:
    key = "valueBoolean" if type(value) is bool else "valueString"
    return {"linkId": link, "answer": [{key: value}]}


def test_a_question_is_looked_up_in_the_nearest_common_instance() -> None:
    """R4: the nearest occurrence on the ancestor axis (the HL7 validator's common group).

    q2 depends on q1 in the enclosing repetition of g only; q3 on q0 outside every group;
    t, outside g, on q1 in any repetition.
    """
    when = {"operator": "=", "answerBoolean": True}
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "url": "urn:q",
            "item": [
                {"linkId": "q0", "type": "boolean"},
                {
                    "linkId": "g",
                    "type": "group",
                    "repeats": True,
                    "item": [
                        {"linkId": "q1", "type": "boolean"},
                        {
                            "linkId": "h",
                            "type": "group",
                            "repeats": True,
                            "item": [
                                {
                                    "linkId": "q2",
                                    "type": "string",
                                    "enableWhen": [{"question": "q1", **when}],
                                },
                                {
                                    "linkId": "q3",
                                    "type": "string",
                                    "enableWhen": [{"question": "q0", **when}],
                                },
                            ],
                        },
                    ],
                },
                {"linkId": "t", "type": "string", "enableWhen": [{"question": "q1", **when}]},
            ],
        }
    )

    def g(*items: dict[str, Any]) -> dict[str, Any]:
        return {"linkId": "g", "item": list(items)}

    def h(*items: dict[str, Any]) -> dict[str, Any]:
        return {"linkId": "h", "item": list(items)}

    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:q",
        "status": "completed",
        "item": [
            _answered("q0", True),
            g(
                _answered("q1", True),
                h(_answered("q2", "a"), _answered("q3", "b")),
                h(_answered("q2", "c")),
            ),
            g(h(_answered("q2", "d"), _answered("q3", "e"))),
            g(_answered("q1", False), h(_answered("q2", "f"))),
            _answered("t", "x"),
        ],
    }
    issues = validate_response(cq, response).issues
    assert [(i.rule, i.expression) for i in issues] == [
        ("qr-answer-on-disabled", "QuestionnaireResponse.item[2].item[0].item[0].answer"),
        ("qr-answer-on-disabled", "QuestionnaireResponse.item[3].item[1].item[0].answer"),
    ]
    response["item"][1]["item"][0] = _answered("q1", False)  # t: no q1 true anywhere now
    issues = validate_response(cq, response).issues
    assert [i.expression for i in issues][-1] == "QuestionnaireResponse.item[4].answer"
