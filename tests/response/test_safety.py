"""Safety items: a warning in $score and a Flag in $extract, from content (safety_cases.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from service.errors import UnprocessableContent
from service.questionnaire import compile_questionnaire
from service.response import extract_observations, score_response
from service.response.extract import ExtractOptions
from service.response.safety import FLAG_DETAIL, FLAG_SYSTEM, _value_path, safety_issues
from tests.builders.instruments import build_response, compiled, full_answers, questionnaires
from tests.support.fhir_schema import validate_bundle

CASES = json.loads((Path(__file__).parent / "safety_cases.json").read_text(encoding="utf-8"))
SAFETY_ALERT = "https://rapport-fhir.github.io/fhir/StructureDefinition/safety-alert"
CONTEXT: dict[str, Any] = {
    "id": "qr-7",
    "subject": {"reference": "Patient/p7"},
    "encounter": {"reference": "Encounter/e7"},
    "authored": "2026-11-30T08:15:00Z",
}


def _response(case: dict[str, Any], **context: Any) -> dict[str, Any]:
    answers = dict.fromkeys(full_answers(case["instrument"]), case["all"])
    answers.update(case["answers"])
    answers = {link: value for link, value in answers.items() if value is not None}
    return build_response(case["instrument"], answers, case["status"], **context)


def _flags(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Flag"]


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_case(case: dict[str, Any]) -> None:
    cq = compiled(case["instrument"])
    response = _response(case, **CONTEXT)
    result = score_response(cq, response)
    issues = safety_issues(cq, result)
    bundle = extract_observations(cq, result, response)
    assert validate_bundle(bundle) == []
    flags = _flags(bundle)
    if case["positive"] is None:
        assert issues == []
        assert flags == []
        return
    (issue,) = issues
    assert (issue.severity.value, issue.code.value, issue.rule) == (
        "warning",
        "business-rule",
        "score-safety",
    )
    assert issue.expression == case["expression"]
    (entry,) = flags
    flag = entry["resource"]
    assert flag["code"]["coding"][0]["code"] == case["positive"]
    assert flag["status"] == "active"
    assert flag["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
        "code": "clinical",
        "display": "Clinical",
    }
    assert flag["subject"] == CONTEXT["subject"]
    assert flag["encounter"] == CONTEXT["encounter"]
    assert flag["period"] == {"start": CONTEXT["authored"]}
    assert flag["extension"] == [
        {"url": FLAG_DETAIL, "valueReference": {"reference": "QuestionnaireResponse/qr-7"}}
    ]
    # Filed like the Observations: the flag Observation's identifier value, its own system.
    (observation,) = (
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == case["positive"]
    )
    value = observation["identifier"][0]["value"]
    assert flag["identifier"] == [{"system": FLAG_SYSTEM, "value": value}]
    assert entry["request"] == {"method": "PUT", "url": f"Flag?identifier={FLAG_SYSTEM}|{value}"}


def _phq9_positive() -> dict[str, Any]:
    return next(c for c in CASES["cases"] if c["positive"] == "phq-9-item-9-flag")


def test_what_is_positive_is_content() -> None:
    """The same answers raise nothing once the Questionnaire drops its safety-alert."""
    content = copy.deepcopy(questionnaires()["phq-9"])
    for item in content["item"]:
        item["extension"] = [e for e in item.get("extension", []) if e["url"] != SAFETY_ALERT]
    cq = compile_questionnaire(content)
    response = _response(_phq9_positive(), **CONTEXT)
    result = score_response(cq, response)
    assert [s.value for s in result.scores if s.link_id == "item-9-flag"] == [True]
    assert safety_issues(cq, result) == []
    assert _flags(extract_observations(cq, result, response)) == []


def test_a_site_can_mark_its_own_safety_item() -> None:
    """GAD-7 with a site's own boolean score marked safety-alert: item 1 at 2 or more."""
    content = copy.deepcopy(questionnaires()["gad-7"])
    content["item"].append(
        {
            "linkId": "site-flag",
            "code": [{"system": "urn:site", "code": "gad-7-item-1-high"}],
            "type": "boolean",
            "readOnly": True,
            "extension": [
                {
                    "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
                    "sdc-questionnaire-calculatedExpression",
                    "valueExpression": {
                        "language": "text/fhirpath",
                        "expression": "%resource.item.where(linkId = '1').answer.value.weight()"
                        " >= 2",
                    },
                },
                {"url": SAFETY_ALERT, "valueBoolean": True},
            ],
        }
    )
    cq = compile_questionnaire(content)
    answers = dict.fromkeys(full_answers("gad-7"), 0)
    for value, positive in ((1, False), (2, True)):  # 1 is not >= 2; 2 is
        answers["1"] = value
        response = build_response("gad-7", answers, "completed", **CONTEXT)
        result = score_response(cq, response)
        assert [i.location for i in safety_issues(cq, result)] == (
            ["site-flag"] if positive else []
        )
        flags = _flags(extract_observations(cq, result, response))
        assert [f["resource"]["code"]["coding"][0]["code"] for f in flags] == (
            ["gad-7-item-1-high"] if positive else []
        )


def test_safety_alert_belongs_on_a_boolean_score() -> None:
    content = copy.deepcopy(questionnaires()["phq-9"])
    total = next(item for item in content["item"] if item["linkId"] == "total")
    total["extension"].append({"url": SAFETY_ALERT, "valueBoolean": True})
    with pytest.raises(UnprocessableContent) as caught:
        compile_questionnaire(content)
    assert [issue.rule for issue in caught.value.issues] == ["q-safety-alert"]
    index = len(total["extension"]) - 1
    assert caught.value.issues[0].expression == f"Questionnaire.item[11].extension[{index}]"


def test_a_device_subject_gets_the_warning_but_no_flag() -> None:
    """R4 Flag.subject cannot be a Device; the $score warning still says it."""
    cq = compiled("phq-9")
    response = _response(_phq9_positive(), subject={"reference": "Device/d1"})
    result = score_response(cq, response)
    assert len(safety_issues(cq, result)) == 1
    assert _flags(extract_observations(cq, result, response)) == []


def test_flags_can_be_switched_off() -> None:
    cq = compiled("phq-9")
    response = _response(_phq9_positive(), **CONTEXT)
    result = score_response(cq, response)
    bundle = extract_observations(cq, result, response, ExtractOptions(safety=False))
    assert _flags(bundle) == []
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Observation",
        "Observation",
        "Provenance",
    ]


def test_a_response_without_id_or_identifier_points_the_flag_at_its_observation() -> None:
    cq = compiled("phq-9")
    context = {k: v for k, v in CONTEXT.items() if k != "id"}
    response = _response(_phq9_positive(), **context)
    bundle = extract_observations(cq, score_response(cq, response), response)
    (flag,) = _flags(bundle)
    (observation,) = (e for e in bundle["entry"] if e["resource"].get("valueBoolean") is True)
    assert flag["resource"]["extension"][0]["valueReference"] == {
        "reference": observation["fullUrl"]
    }


def test_a_change_rule_is_checked() -> None:
    content = copy.deepcopy(questionnaires()["qids-sr-16"])
    total = next(item for item in content["item"] if item["linkId"] == "total")
    rule = next(e for e in total["extension"] if e["url"].endswith("/change-rule"))
    rule["extension"][2]["valueCode"] = "=="  # comparator: <, <=, >= or >
    with pytest.raises(UnprocessableContent) as caught:
        compile_questionnaire(content)
    assert [issue.rule for issue in caught.value.issues] == ["q-change-rule"]


def _value_path_as_written(response: dict[str, Any], link_id: str) -> str | None:
    """`_value_path` as first written (every path formatted, a list as the queue): the
    reference the faster one must agree with."""
    stack: list[tuple[str, Any]] = [("QuestionnaireResponse", response)]
    while stack:
        path, node = stack.pop(0)
        for index, item in enumerate(node.get("item") or ()):
            here = f"{path}.item[{index}]"
            if item.get("linkId") == link_id and item.get("answer"):
                return f"{here}.answer[0].value"
            stack.append((here, item))
            for n, answer in enumerate(item.get("answer") or ()):
                stack.append((f"{here}.answer[{n}]", answer))
    return None


_LINKS = st.sampled_from(["a", "b", "c"])
_ITEMS = st.recursive(
    st.builds(lambda link: {"linkId": link}, _LINKS),
    lambda inner: st.builds(
        lambda link, items, answers: {
            "linkId": link,
            **({"item": items} if items else {}),
            **({"answer": answers} if answers is not None else {}),
        },
        _LINKS,
        st.lists(inner, max_size=3),
        st.none()
        | st.lists(
            st.builds(lambda items: {"valueInteger": 1, "item": items}, st.lists(inner, max_size=2))
            | st.just({"valueInteger": 1}),
            max_size=2,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ITEMS, max_size=4), _LINKS)
def test_the_value_path_is_the_first_breadth_first(items: list[Any], link: str) -> None:
    response = {"resourceType": "QuestionnaireResponse", "item": items}
    assert _value_path(response, link) == _value_path_as_written(response, link)


# Scoring notes where it wrote a positive top-level safety item (`Score.where`), so that
# `safety_issues` needs no walk: it must be exactly the first breadth first.

_SAFETY = {"phq-9": "item-9-flag", "qids-sr-16": "item-12-flag"}


@st.composite
def _scored_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A response with random answers, and the calculated items sent or not, in Questionnaire
    order or not, answered or not (a score added before a flag the client sent moves it)."""
    name = draw(st.sampled_from(sorted(_SAFETY)))
    answers = {link: draw(st.integers(0, 3)) for link in full_answers(name)}
    answers = {link: value for link, value in answers.items() if draw(st.integers(0, 9))}
    response = copy.deepcopy(build_response(name, answers, draw(st.sampled_from(STATUSES))))
    sent = {
        "total": {"valueDecimal": draw(st.integers(0, 60))},
        _SAFETY[name]: {"valueBoolean": draw(st.booleans())},
    }
    for link in draw(st.permutations(sorted(sent))):
        if draw(st.booleans()):
            item: dict[str, Any] = {"linkId": link}
            if draw(st.booleans()):
                item["answer"] = [sent[link]]
            at = draw(st.integers(0, len(response["item"])))
            response["item"].insert(at if draw(st.booleans()) else len(response["item"]), item)
    return name, response


STATUSES = ["completed", "in-progress"]


@settings(max_examples=300, deadline=None)
@given(_scored_cases())
def test_the_path_scoring_notes_is_the_first_breadth_first(case: tuple[str, Any]) -> None:
    name, response = case
    try:
        result = score_response(compiled(name), response)
    except UnprocessableContent:
        event("refused")
        return  # never reported
    for score in result.scores:
        if score.link_id == _SAFETY[name] and score.value is True:
            sent = any(item["linkId"] == score.link_id for item in response["item"])
            event("positive, the flag sent" if sent else "positive, the flag added")
            assert score.where is not None
            assert score.where == _value_path(result.response, score.link_id)
        else:
            assert score.where is None
    noted = [i.expression for i in safety_issues(compiled(name), result)]
    assert noted == [s.where for s in result.scores if s.where is not None]
    unnoted = result._replace(scores=[s._replace(where=None) for s in result.scores])
    assert [i.expression for i in safety_issues(compiled(name), unnoted)] == noted  # walked
