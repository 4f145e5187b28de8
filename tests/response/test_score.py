"""Scoring: filled-in responses, withheld and differing scores, and evaluation failures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.fhir.outcome import IssueType
from service.questionnaire import Limits, compile_questionnaire
from service.response import check_scores, score_response, validate_response
from tests.builders.instruments import build_response, compiled, full_answers, questionnaires
from tests.builders.toy import toy, toy_response

MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
CALC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"


def _calc(expression: str) -> dict[str, Any]:
    return {"url": CALC, "valueExpression": {"language": "text/fhirpath", "expression": expression}}


def _values(result: Any) -> dict[str, Any]:
    return {score.link_id: score.value for score in result.scores}


def test_scores_are_filled_in_a_copy() -> None:
    response = toy_response()
    original = copy.deepcopy(response)
    result = score_response(toy(), response)
    assert response == original
    assert _values(result) == {"score": 3, "flag": True, "count": 1}
    assert result.scores[0].interpretation == {"system": "urn:bands", "code": "high"}
    assert result.scores[0].code == {"system": "urn:scores", "code": "toy-score"}
    filled = {item["linkId"]: item for item in result.response["item"]}
    assert [item["linkId"] for item in result.response["item"]][-3:] == ["score", "flag", "count"]
    assert filled["score"] == {
        "linkId": "score",
        "text": "Toy score",
        "answer": [{"valueDecimal": 3}],
    }
    assert filled["flag"]["answer"] == [{"valueBoolean": True}]
    assert filled["count"]["answer"] == [{"valueInteger": 1}]
    assert result.issues == []
    assert result.status == "completed"


def test_a_differing_client_score_is_replaced_with_a_warning() -> None:
    response = toy_response()
    response["item"].append({"linkId": "score", "answer": [{"valueDecimal": 2.5}]})
    result = score_response(toy(), response)
    (issue,) = result.issues
    assert issue.rule == "score-differs"
    assert issue.location == "score"
    assert issue.expression == "QuestionnaireResponse.item[14].answer[0].value"
    assert result.response["item"][14]["answer"] == [{"valueDecimal": 3}]


def test_an_equal_client_score_is_quiet() -> None:
    response = toy_response()
    response["item"].append({"linkId": "score", "answer": [{"valueDecimal": 3.0}]})
    response["item"].append({"linkId": "flag", "answer": [{"valueBoolean": True}]})
    assert score_response(toy(), response).issues == []


def test_a_client_score_we_withhold_is_removed() -> None:
    response = toy_response()
    response["status"] = "in-progress"
    del response["item"][2]["item"][0]  # mood: the score needs it
    response["item"].append({"linkId": "score", "answer": [{"valueDecimal": 1}]})
    result = score_response(toy(), response)
    assert [i.rule for i in result.issues] == [
        "qr-required-missing",
        "score-withheld",
        "score-differs",
    ]
    withheld = result.issues[1]
    assert withheld.text == "score 'score' is withheld: item mood unanswered"
    assert withheld.expression == "QuestionnaireResponse.item[14]"
    assert result.response["item"][14] == {"linkId": "score"}
    assert _values(result) == {"score": None, "flag": True, "count": 0}


def test_withheld_scores_name_the_missing_items() -> None:
    answers = full_answers("phq-9", 1)
    del answers["5"], answers["9"]
    result = score_response(compiled("phq-9"), build_response("phq-9", answers, "in-progress"))
    texts = [i.text for i in result.issues if i.rule == "score-withheld"]
    assert texts == [
        "score 'total' is withheld: items 5, 9 unanswered",
        "score 'item-9-flag' is withheld: item 9 unanswered",
    ]
    assert all(i.expression is None for i in result.issues if i.rule == "score-withheld")


def test_a_score_withheld_by_rule() -> None:
    cq = compile_questionnaire(
        {
            "resourceType": "Questionnaire",
            "item": [{"linkId": "s", "type": "decimal", "extension": [_calc("{}")]}],
        }
    )
    result = score_response(cq, {"resourceType": "QuestionnaireResponse", "status": "completed"})
    assert [i.text for i in result.issues if i.rule == "score-withheld"] == [
        "score 's' is withheld by the instrument's rule"
    ]


def test_errors_raise_with_every_issue() -> None:
    response = toy_response()
    response["status"] = "done"
    response["item"][0]["text"] = "Smoke?"
    with pytest.raises(UnprocessableContent) as caught:
        score_response(toy(), response)
    assert [i.rule for i in caught.value.issues] == ["qr-status-invalid", "qr-text-mismatch"]


def test_budget_exceeded_is_too_costly() -> None:
    cq = compile_questionnaire(questionnaires()["wai-sr"], limits=Limits(budget=5))
    with pytest.raises(UnprocessableContent) as caught:
        score_response(cq, build_response("wai-sr", full_answers("wai-sr")))
    (issue,) = caught.value.issues
    assert (issue.rule, issue.code) == ("score-too-costly", IssueType.TOO_COSTLY)
    assert caught.value.issue_type is IssueType.TOO_COSTLY


def _one(expression: str, kind: str = "decimal", *, variable: bool = False) -> Any:
    extensions = [_calc(expression)]
    if variable:
        extensions.insert(
            0,
            {
                "url": "http://hl7.org/fhir/StructureDefinition/variable",
                "valueExpression": {
                    "name": "v",
                    "language": "text/fhirpath",
                    "expression": expression,
                },
            },
        )
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [{"linkId": "s", "type": kind, "extension": extensions}],
    }
    return score_response(
        compile_questionnaire(questionnaire),
        {"resourceType": "QuestionnaireResponse", "status": "completed"},
    )


@pytest.mark.parametrize(
    ("expression", "kind", "variable"),
    [
        ("(1 | 2).single()", "decimal", False),
        ("(1 | 2).single()", "decimal", True),
        ("'x'", "decimal", False),
        ("1 | 2", "decimal", False),
        ("1", "boolean", False),
        ("true", "integer", False),
        ("2.5", "integer", False),
        # Not representable in FHIR JSON: infinite, or wider than 64 bits.
        ("(2).power(100000)", "decimal", False),
        ("999999999999999999 * 999999999999999999", "decimal", False),
        # Wider than any double (math.isfinite would overflow on it): still refused, not a 500.
        (f"'{'9' * 400}'.toInteger()", "decimal", False),
        (f"'{'9' * 400}'.toInteger()", "integer", False),
        (f"'{'9' * 400}'.toInteger() / 3", "decimal", False),
    ],
)
def test_failures_and_wrong_types(expression: str, kind: str, variable: bool) -> None:
    with pytest.raises(UnprocessableContent) as caught:
        _one(expression, kind, variable=variable)
    (issue,) = caught.value.issues
    assert issue.rule == "score-failed"


@pytest.mark.parametrize(
    ("expression", "kind", "value"),
    [
        ("2.0", "integer", 2),
        ("1.5", "decimal", 1.5),
        ("7", "decimal", 7),
        ("false", "boolean", False),
    ],
)
def test_value_types(expression: str, kind: str, value: Any) -> None:
    (score,) = _one(expression, kind).scores
    assert score.value == value
    assert type(score.value) is type(value)


@pytest.mark.parametrize(
    ("expression", "places", "value"),
    [
        ("2 / 3", 2, 0.67),  # 0.666... rounds up
        ("1 / 3", 2, 0.33),
        ("0.125", 2, 0.13),  # a half rounds up, as FHIRPath round() in fhirpath.js does
        ("1.005 * 1000", 0, 1005),  # no places: a whole number, written as one
        ("2 / 3", 4, 0.6667),
        ("7", 0, 7),  # integers are left as they are
        ("(2 / 3).round(2)", 2, 0.67),  # already at its precision: unchanged
    ],
)
def test_a_score_is_rounded_to_its_max_decimal_places(
    expression: str, places: int, value: float
) -> None:
    """A decimal score item's maxDecimalPlaces is its precision: what the expression gives
    is rounded to it (halves up), so the response, $score and $extract carry the decimal."""
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {
                "linkId": "s",
                "type": "decimal",
                "extension": [
                    _calc(expression),
                    {"url": MAX_DECIMAL_PLACES, "valueInteger": places},
                ],
            }
        ],
    }
    result = score_response(
        compile_questionnaire(questionnaire),
        {"resourceType": "QuestionnaireResponse", "status": "completed"},
    )
    assert _values(result) == {"s": value}
    assert repr(result.scores[0].value) == repr(value)  # 0.67, not 0.67000000000000004
    assert result.response["item"] == [{"linkId": "s", "answer": [{"valueDecimal": value}]}]


def test_a_client_score_beyond_the_precision_is_replaced_not_refused() -> None:
    """A calculated item is the service's to fill: a value a form filler computed with more
    places than its maxDecimalPlaces (content of before the rounding) is replaced with a
    score-differs warning, as any other differing value, not refused."""
    answers = {str(n): 3 for n in range(1, 31)} | {"28": 2}
    response = build_response("meq-30", answers)
    response["item"].append({"linkId": "mystical", "answer": [{"valueDecimal": 44 / 15}]})
    result = score_response(compiled("meq-30"), response)
    assert [issue.rule for issue in result.issues] == ["score-differs"]
    assert _values(result)["mystical"] == 2.93  # 44/15 = 2.9333... to 2 decimals


def test_a_value_between_bands_has_no_interpretation() -> None:
    questionnaire = copy.deepcopy(questionnaires()["gad-7"])
    total = next(i for i in questionnaire["item"] if i["linkId"] == "total")
    calc = next(e for e in total["extension"] if e["url"] == CALC)
    calc["valueExpression"]["expression"] = "4.5"
    # A whole-number total (maxDecimalPlaces 0) would round 4.5 into a band: drop it.
    total["extension"] = [e for e in total["extension"] if e["url"] != MAX_DECIMAL_PLACES]
    result = score_response(
        compile_questionnaire(questionnaire), build_response("gad-7", full_answers("gad-7"))
    )
    assert (result.scores[0].value, result.scores[0].interpretation) == (4.5, None)


def _grouped(score_parent: str) -> dict[str, Any]:
    score = {"linkId": "s", "type": "decimal", "extension": [_calc("1")]}
    answer_child = [score] if score_parent == "question" else []
    group_child = [score] if score_parent == "group" else []
    return {
        "resourceType": "Questionnaire",
        "item": [
            {
                "linkId": "g",
                "type": "group",
                "repeats": True,
                "item": [{"linkId": "a", "type": "string"}, *group_child],
            },
            {"linkId": "q", "type": "string", "item": answer_child},
        ],
    }


def test_a_score_in_a_group_is_filled_in_every_instance() -> None:
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueString": "x"}]}]},
            {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueString": "y"}]}]},
        ],
    }
    result = score_response(compile_questionnaire(_grouped("group")), response)
    assert [g["item"][1] for g in result.response["item"]] == [
        {"linkId": "s", "answer": [{"valueDecimal": 1}]}
    ] * 2
    assert "item" not in response["item"][0]["item"][0]


def test_a_score_under_a_question_is_only_reported() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "q", "answer": [{"valueString": "x"}]}],
    }
    result = score_response(compile_questionnaire(_grouped("question")), response)
    assert _values(result) == {"s": 1}
    assert result.response["item"] == response["item"]


def test_an_empty_response_gets_items() -> None:
    result = score_response(
        compile_questionnaire(_grouped("none")),
        {"resourceType": "QuestionnaireResponse", "status": "completed"},
    )
    assert result.scores == []
    assert "item" not in result.response


def test_a_client_score_item_without_answer_gets_ours() -> None:
    response = toy_response()
    response["item"].append({"linkId": "score"})
    result = score_response(toy(), response)
    assert result.issues == []
    assert result.response["item"][14] == {"linkId": "score", "answer": [{"valueDecimal": 3}]}


def test_a_client_score_under_a_question_is_replaced_in_the_copy() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {
                "linkId": "q",
                "answer": [
                    {
                        "valueString": "x",
                        "item": [{"linkId": "s", "answer": [{"valueDecimal": 5}]}],
                    }
                ],
            }
        ],
    }
    original = copy.deepcopy(response)
    result = score_response(compile_questionnaire(_grouped("question")), response)
    assert response == original
    issue = result.issues[-1]
    assert issue.rule == "score-differs"
    assert issue.expression == "QuestionnaireResponse.item[0].answer[0].item[0].answer[0].value"
    assert result.response["item"][0]["answer"][0]["item"] == [
        {"linkId": "s", "answer": [{"valueDecimal": 1}]}
    ]


@pytest.mark.parametrize("interpret", [False, True])
def test_a_score_goes_before_later_siblings_and_later_rules_see_it(interpret: bool) -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {
                "linkId": "s",
                "type": "decimal",
                "extension": [_calc("%resource.repeat(item).count()")],
            },
            {
                "linkId": "t",
                "type": "decimal",
                "extension": [_calc("%resource.repeat(item).where(linkId = 's').answer.value")],
            },
            {"linkId": "q", "type": "string"},
        ],
    }
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "q", "answer": [{"valueString": "x"}]}],
    }
    result = score_response(compile_questionnaire(questionnaire, interpret=interpret), response)
    assert _values(result) == {"s": 1, "t": 1}
    assert [item["linkId"] for item in result.response["item"]] == ["s", "t", "q"]


VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"


def _variable(name: str, expression: str) -> dict[str, Any]:
    value = {"name": name, "language": "text/fhirpath", "expression": expression}
    return {"url": VARIABLE, "valueExpression": value}


def _per_repetition() -> dict[str, Any]:
    """A repeating group whose variable and calculated item work on its own repetition."""
    return {
        "resourceType": "Questionnaire",
        "extension": [_variable("all", "%resource.repeat(item).where(linkId = 'a').answer.value")],
        "item": [
            {
                "linkId": "g",
                "type": "group",
                "repeats": True,
                "extension": [_variable("doubled", "item.where(linkId = 'a').answer.value * 2")],
                "item": [
                    {"linkId": "a", "type": "integer"},
                    {
                        "linkId": "t",
                        "type": "decimal",
                        "extension": [
                            _variable("share", "%context.item.where(linkId = 'a').answer.value"),
                            _calc("%doubled + %share + %all.sum()"),
                        ],
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize("interpret", [False, True])
def test_a_score_in_a_repeating_group_is_computed_per_repetition(interpret: bool) -> None:
    """SDC: an item's variable has %context (and focus) its instance: here each repetition."""
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueInteger": 2}]}]},
            {
                "linkId": "g",
                "item": [
                    {"linkId": "a", "answer": [{"valueInteger": 5}]},
                    {"linkId": "t", "answer": [{"valueDecimal": 99}]},
                ],
            },
            {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueInteger": 1}]}]},
        ],
    }
    cq = compile_questionnaire(_per_repetition(), interpret=interpret)
    result = score_response(cq, response)
    assert [(s.link_id, s.value) for s in result.scores] == [("t", 14), ("t", 23), ("t", 11)]
    assert [s.instance for s in result.scores] == [0, 1, 2]
    assert [g["item"][1]["answer"] for g in result.response["item"]] == [
        [{"valueDecimal": 14}],
        [{"valueDecimal": 23}],
        [{"valueDecimal": 11}],
    ]
    assert [(i.rule, i.expression) for i in result.issues] == [
        ("qr-questionnaire-missing", "QuestionnaireResponse.questionnaire"),
        ("score-differs", "QuestionnaireResponse.item[1].item[1].answer[0].value"),
    ]


def test_check_scores_reports_differing_values_only_when_sent() -> None:
    """For $validate: scoring runs only on a response that carries a calculated value."""

    def differs(cq: Any, response: dict[str, Any]) -> list[str | None]:
        issues = check_scores(cq, response, validate_response(cq, response))
        return [issue.expression for issue in issues]

    response = toy_response()
    assert differs(toy(), response) == []
    response["item"].append({"linkId": "score", "answer": [{"valueDecimal": 2.5}]})
    assert differs(toy(), response) == ["QuestionnaireResponse.item[14].answer[0].value"]
    response["item"][0]["answer"] = [{"valueString": "not a choice"}]  # an error: no scoring
    assert differs(toy(), response) == []
    failing = {
        "resourceType": "Questionnaire",
        "item": [{"linkId": "s", "type": "decimal", "extension": [_calc("'x'")]}],
    }
    sent = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "s", "answer": [{"valueDecimal": 1}]}],
    }
    assert differs(compile_questionnaire(failing), sent) == []  # score-failed is $score's


def _past_the_cap(last: dict[str, Any]) -> dict[str, Any]:
    """500 repetitions answered with a text that differs from the item's (a warning each,
    so validation stops at the issue cap with no error), then `last`, never looked at."""
    item = {"linkId": "g", "item": [{"linkId": "a", "text": "B", "answer": [{"valueInteger": 1}]}]}
    items = [copy.deepcopy(item) for _ in range(500)]
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [*items, last]}


@pytest.mark.parametrize(
    "last",
    [
        {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueString": "x"}]}]},
        {"linkId": "g", "item": [{"answer": [{"valueInteger": 1}]}]},  # no linkId
    ],
)
def test_a_response_whose_validation_stopped_at_the_issue_cap_is_not_scored(
    last: dict[str, Any],
) -> None:
    # Scoring what validation never reached failed on its content ("sum() expects numbers")
    # or on a missing linkId (a KeyError, a 500 through the API).
    questionnaire = _per_repetition()
    questionnaire["item"][0]["item"][0]["text"] = "A"
    cq = compile_questionnaire(questionnaire)
    response = _past_the_cap(last)
    assert not validate_response(cq, response).errors
    with pytest.raises(UnprocessableContent) as refused:
        score_response(cq, response)
    assert refused.value.issue_type == IssueType.TOO_COSTLY
    assert "stopped" in str(refused.value)
    assert check_scores(cq, response, validate_response(cq, response)) == []
