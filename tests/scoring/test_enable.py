"""enableWhen: every operator and answer type, chains and cycles (service.scoring._enable)."""

from __future__ import annotations

from typing import Any

import pytest

from service.scoring import CompiledQuestionnaire, compile_questionnaire
from service.scoring._enable import Enablement, Frame


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
