"""Answer Codings checked in full once per item, then by lookup (issue 16).

Clients send each option's Coding the same way every time (Smart Forms and the vectors'
builder copy the option's Coding with its itemWeight extension), which the short path for
plain Codings does not cover. The full checks run on the first such answer; a Coding with
the same canonical JSON is then known clean. Anything else, however close, is checked in
full and reported exactly as the first time.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import validate_response
from tests.builders.instruments import build_response, questionnaires

WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"


def _fresh() -> CompiledQuestionnaire:
    return compile_questionnaire(questionnaires()["phq-9"])


def _response() -> dict[str, Any]:
    """A fresh response (the builder shares the Questionnaire's option Codings)."""
    return copy.deepcopy(build_response("phq-9", {str(n): 1 for n in range(1, 10)}))


def _issues(cq: CompiledQuestionnaire, response: dict[str, Any]) -> list[tuple[str, str, Any]]:
    found = validate_response(cq, copy.deepcopy(response)).issues
    return [(i.severity.value, i.rule, i.expression) for i in found]


def test_an_option_coding_with_its_weight_is_remembered_clean() -> None:
    cq = _fresh()
    response = _response()
    assert response["item"][0]["answer"][0]["valueCoding"]["extension"]  # not the plain path
    assert _issues(cq, response) == []
    assert len(cq.items["1"].clean_codings) == 1
    assert _issues(cq, response) == []  # the lookup
    assert len(cq.items["1"].clean_codings) == 1


def _weight(value: Any) -> Any:
    def change(coding: dict[str, Any]) -> None:
        coding["extension"] = [{"url": WEIGHT, "valueDecimal": value}]

    return change


def _set(key: str, value: Any) -> Any:
    def change(coding: dict[str, Any]) -> None:
        coding[key] = value

    return change


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_weight(True), id="weight true, not 1"),
        pytest.param(_weight("1"), id="weight as a string"),
        pytest.param(_weight(2), id="a weight that differs"),
        pytest.param(_set("display", "Nearly every day"), id="another option's display"),
        pytest.param(_set("userSelected", "yes"), id="userSelected not a boolean"),
        pytest.param(_set("colour", "red"), id="an unknown element"),
        pytest.param(_set("system", "http://loinc.org/"), id="another system"),
    ],
)
def test_a_coding_close_to_a_known_one_is_checked_in_full(change: Any) -> None:
    """With the memo warm, a changed Coding gets exactly the issues a fresh compile gives."""
    warm = _fresh()
    assert _issues(warm, _response()) == []
    response = _response()
    change(response["item"][0]["answer"][0]["valueCoding"])
    expected = _issues(_fresh(), response)
    assert expected
    assert _issues(warm, response) == expected
    assert _issues(warm, response) == expected  # and is never remembered clean
    assert len(warm.items["1"].clean_codings) == 1


def test_the_memo_is_bounded() -> None:
    cq = _fresh()
    size = len(cq.items["1"].clean_codings)
    for n in range(100):  # clean, but each one different: an extension of the client's own
        response = _response()
        coding = response["item"][0]["answer"][0]["valueCoding"]
        coding["extension"].append({"url": f"urn:client:{n}", "valueString": "x"})
        assert _issues(cq, response) == []
        size = len(cq.items["1"].clean_codings)
    assert size == 4 * len(cq.items["1"].options) + 8


def test_a_long_coding_is_checked_each_time_not_kept() -> None:
    cq = _fresh()
    response = _response()
    coding = response["item"][0]["answer"][0]["valueCoding"]
    coding["extension"].append({"url": "urn:client:note", "valueString": "x" * 2000})
    assert _issues(cq, response) == []
    assert cq.items["1"].clean_codings == set()
