"""Answer Codings accepted by lookup of the forms the Questionnaire writes (issue 16).

Clients send each option's Coding as the Questionnaire writes it (Smart Forms and the
vectors' builder copy it with its itemWeight extension), which the short path for plain
Codings does not cover. Those forms are computed from the content when it is compiled and
checked in full once; an answer with the same canonical JSON is then accepted by lookup.
Anything else, however close, is checked in full and reported exactly as by a fresh
compile, and nothing a response sends is kept.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
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


def _accepted(cq: CompiledQuestionnaire) -> set[bytes]:
    """The item's accepted forms, as the first answer leaves them."""
    assert _issues(cq, _response()) == []
    return set(cq.items["1"].clean_codings)


def test_the_option_codings_as_the_content_writes_them_are_accepted_by_lookup() -> None:
    cq = _fresh()
    response = _response()
    coding = response["item"][0]["answer"][0]["valueCoding"]
    assert coding["extension"]  # not the plain path
    assert cq.items["1"].coding_forms  # computed from the content when compiled
    assert _issues(cq, response) == []
    canonical = orjson.dumps(coding, option=orjson.OPT_SORT_KEYS)
    assert canonical in cq.items["1"].clean_codings
    assert cq.items["1"].clean_codings <= {b"", *cq.items["1"].coding_forms}


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
    accepted = _accepted(warm)
    response = _response()
    change(response["item"][0]["answer"][0]["valueCoding"])
    expected = _issues(_fresh(), response)
    assert expected
    assert _issues(warm, response) == expected
    assert _issues(warm, response) == expected  # and is never accepted
    assert warm.items["1"].clean_codings == accepted


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda c: c["extension"].append({"url": "urn:client:note", "valueString": "x"}),
            id="a client's own extension",
        ),
        pytest.param(lambda c: c.update(id="client-text"), id="an element id"),
        pytest.param(lambda c: c.update(version="1" * 65), id="a long version"),
        pytest.param(lambda c: c["extension"][0].update(id="x"), id="an id on the weight"),
    ],
)
def test_what_a_client_wrote_is_checked_each_time_not_kept(change: Any) -> None:
    """Clean, but not a form of the content: checked in full, and nothing is kept."""
    cq = _fresh()
    accepted = _accepted(cq)
    response = _response()
    change(response["item"][0]["answer"][0]["valueCoding"])
    assert _issues(cq, response) == []
    assert cq.items["1"].clean_codings == accepted


def test_a_free_display_is_not_kept() -> None:
    """An option without a display accepts any display; such an answer is not kept."""
    questionnaire = {
        "resourceType": "Questionnaire",
        "url": "urn:q",
        "status": "active",
        "item": [
            {
                "linkId": "q",
                "type": "choice",
                "answerOption": [{"valueCoding": {"system": "urn:s", "code": "a"}}],
            }
        ],
    }
    cq = compile_questionnaire(questionnaire)
    coding = {"system": "urn:s", "code": "a", "display": "the client's words"}
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:q",
        "status": "completed",
        "item": [{"linkId": "q", "answer": [{"valueCoding": coding}]}],
    }
    assert _issues(cq, response) == []
    assert not cq.items["q"].coding_forms  # a plain option: the plain path decides
    assert cq.items["q"].clean_codings == set()
