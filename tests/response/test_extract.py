"""Extraction: one Observation per extracted score, deterministic identifiers, valid R4."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.fhir.outcome import IssueType
from service.questionnaire import compile_questionnaire
from service.response import extract_observations, score_response
from service.response.extract import OBSERVATION_SYSTEM
from tests.builders.instruments import build_response, compiled, full_answers, questionnaires
from tests.builders.toy import toy, toy_response
from tests.support.fhir_schema import validate_r4

CONTEXT: dict[str, Any] = {
    "id": "qr-1",
    "identifier": {"system": "urn:ehr", "value": "42"},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
    "author": {"reference": "Patient/p1"},
    "authored": "2026-11-25T09:30:00+01:00",
}
#: What a response needs to be extracted at all.
SUBJECT: dict[str, Any] = {"subject": {"reference": "Patient/p1"}}


def _observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The Observation entries of a transaction (Flags and Provenance have their own tests)."""
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def _extract(
    name: str, status: str = "completed", value: int = 1, **context: Any
) -> dict[str, Any]:
    response = build_response(name, full_answers(name, value), status, **{**SUBJECT, **context})
    return _extracted(name, response)


def _extracted(name: str, response: dict[str, Any]) -> dict[str, Any]:
    cq = compiled(name)
    return extract_observations(cq, score_response(cq, response), response)


@pytest.mark.parametrize("name", sorted(questionnaires()))
def test_every_instrument_extracts_valid_r4(name: str) -> None:
    response = build_response(name, full_answers(name, 1), "completed", **CONTEXT)
    result = score_response(compiled(name), response)
    bundle = extract_observations(compiled(name), result, response)
    assert validate_r4(bundle) == []
    assert validate_r4(result.response) == []
    assert bundle["type"] == "transaction"
    extracted = [s for s in compiled(name).scores if s.extract]
    assert len(_observations(bundle)) == len(extracted)
    for entry in _observations(bundle):
        value = entry["resource"]["identifier"][0]["value"]
        assert entry["request"] == {
            "method": "PUT",
            "url": f"Observation?identifier={OBSERVATION_SYSTEM}|{value}",
        }
        assert entry["fullUrl"].startswith("urn:uuid:")


def test_observation_shape() -> None:
    bundle = _extract("phq-9", value=3, **CONTEXT)
    total, flag = (entry["resource"] for entry in _observations(bundle))
    assert total["status"] == "final"
    assert total["category"][0]["coding"][0]["code"] == "survey"
    assert total["code"]["coding"][0]["code"] == "44261-6"
    assert total["valueQuantity"] == {
        "value": 27,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    assert total["interpretation"][0]["coding"][0]["code"] == "phq-9-severe"
    assert total["subject"] == CONTEXT["subject"]
    assert total["encounter"] == CONTEXT["encounter"]
    assert total["effectiveDateTime"] == total["issued"] == CONTEXT["authored"]
    assert total["performer"] == [CONTEXT["author"]]
    assert total["derivedFrom"] == [
        {"reference": "QuestionnaireResponse/qr-1", "identifier": CONTEXT["identifier"]}
    ]
    assert flag["valueBoolean"] is True
    assert "valueQuantity" not in flag
    assert "interpretation" not in flag


def _identifiers(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["fullUrl"], e["resource"]["identifier"][0]["value"]) for e in _observations(bundle)]


@pytest.mark.parametrize(
    "context",
    [
        pytest.param(CONTEXT, id="identifier"),
        pytest.param({"id": "qr-1"}, id="id"),
        pytest.param({}, id="content"),
    ],
)
def test_the_same_response_twice_gives_the_same_identifiers(context: dict[str, Any]) -> None:
    first, second = _extract("wai-sr", **context), _extract("wai-sr", **copy.deepcopy(context))
    assert _identifiers(first) == _identifiers(second)
    assert len(set(_identifiers(first))) == 4


def test_identity_decides_the_identifiers() -> None:
    by_identifier = _identifiers(_extract("gad-7", **CONTEXT))
    other_id = _identifiers(_extract("gad-7", **{**CONTEXT, "id": "other"}))
    assert by_identifier == other_id  # the business identifier wins over the id
    other_identifier = {**CONTEXT, "identifier": {"system": "urn:ehr", "value": "43"}}
    assert by_identifier != _identifiers(_extract("gad-7", **other_identifier))
    assert _identifiers(_extract("gad-7", id="a")) != _identifiers(_extract("gad-7", id="b"))
    assert _identifiers(_extract("gad-7", value=1)) != _identifiers(_extract("gad-7", value=2))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", "final"),
        ("amended", "amended"),
        ("in-progress", "preliminary"),
        ("stopped", "preliminary"),
        ("entered-in-error", "entered-in-error"),
    ],
)
def test_status(status: str, expected: str) -> None:
    bundle = _extract("gad-7", status)
    assert {e["resource"]["status"] for e in _observations(bundle)} == {expected}


def test_withheld_and_unextracted_scores_give_no_observation() -> None:
    response = toy_response()
    response["status"] = "in-progress"
    del response["item"][2]["item"][0]
    result = score_response(toy(), response)
    bundle = extract_observations(toy(), result, response)
    assert [e["resource"]["code"]["coding"][0]["code"] for e in _observations(bundle)] == [
        "toy-flag"
    ]
    assert validate_r4(bundle) == []


def test_optional_context() -> None:
    bundle = _extract("ebi", authored="2026-11-25", author={"reference": "Device/d1"})
    observation = _observations(bundle)[0]["resource"]
    assert observation["effectiveDateTime"] == "2026-11-25"
    for absent in ("issued", "performer", "encounter", "derivedFrom"):
        assert absent not in observation


# --- identity: one Observation per score and response, whatever its status ---------------

STATUSES = ("in-progress", "completed", "amended")


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"identifier": CONTEXT["identifier"]}, id="identifier"),
        pytest.param({"id": "qr-1"}, id="id"),
    ],
)
def test_status_changes_update_the_same_observations(context: dict[str, Any]) -> None:
    """in-progress, then completed, then amended: conditional updates of one Observation each."""
    bundles = [_extract("phq-9", status, **context) for status in STATUSES]
    first = _identifiers(bundles[0])
    for bundle, expected in zip(bundles, ("preliminary", "final", "amended"), strict=True):
        assert _identifiers(bundle) == first
        for entry in _observations(bundle):
            value = entry["resource"]["identifier"][0]["value"]
            assert entry["request"] == {
                "method": "PUT",
                "url": f"Observation?identifier={OBSERVATION_SYSTEM}|{value}",
            }
            assert "ifNoneExist" not in entry["request"]
            assert entry["resource"]["status"] == expected
            assert "id" not in entry["resource"]  # a conditional update names none


def _strip(node: Any, key: str) -> Any:
    """`node` without `key` at any depth."""
    if isinstance(node, dict):
        return {k: _strip(v, key) for k, v in node.items() if k != key}
    if isinstance(node, list):
        return [_strip(v, key) for v in node]
    return node


def _reversed_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _reversed_keys(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [_reversed_keys(v) for v in node]
    return node


def test_content_identity_ignores_what_does_not_change_the_answers() -> None:
    """Without id or identifier: pre-filled scores, displays, texts, extensions, key order."""
    response = build_response("wai-sr", full_answers("wai-sr", 2), "completed", **SUBJECT)
    expected = _identifiers(_extracted("wai-sr", response))
    prefilled = score_response(compiled("wai-sr"), response).response  # our own values
    assert prefilled != response
    with_text = copy.deepcopy(response)
    for item in with_text["item"]:
        item["text"] = "said differently"
        item["extension"] = [{"url": "https://example.org/x", "valueString": "renderer"}]
    variants = {
        "prefilled": prefilled,
        "no-displays": _strip(response, "display"),
        "reordered": _reversed_keys(response),
        "texts": with_text,
        "subject-display": {**response, "subject": {**SUBJECT["subject"], "display": "P. One"}},
    }
    for name, variant in variants.items():
        assert _identifiers(_extracted("wai-sr", variant)) == expected, name


def _option(name: str, link_id: str, index: int) -> dict[str, Any]:
    stack = list(questionnaires()[name]["item"])
    while stack:
        item = stack.pop()
        if item["linkId"] == link_id:
            return dict(item["answerOption"][index]["valueCoding"])
        stack.extend(item.get("item", []))
    raise LookupError(link_id)


QUESTION_1_OTHER = _option("wai-sr", "1", 0)


def test_content_identity_follows_the_answers_and_the_context() -> None:
    response = build_response("wai-sr", full_answers("wai-sr", 2), "completed", **SUBJECT)
    expected = _identifiers(_extracted("wai-sr", response))
    other_answer = copy.deepcopy(response)
    other_answer["item"][0]["answer"] = [{"valueCoding": dict(QUESTION_1_OTHER)}]
    variants = {
        "answer": other_answer,
        "subject": {**response, "subject": {"reference": "Patient/p2"}},
        "authored": {**response, "authored": "2026-11-26"},
    }
    for name, variant in variants.items():
        assert set(_identifiers(_extracted("wai-sr", variant))).isdisjoint(expected), name


@pytest.mark.parametrize(
    ("element", "value", "expression"),
    [
        ("identifier", [{"system": "urn:ehr", "value": "42"}], "QuestionnaireResponse.identifier"),
        ("id", 5, "QuestionnaireResponse.id"),
    ],
)
def test_a_malformed_identity_is_refused(element: str, value: Any, expression: str) -> None:
    response = build_response("gad-7", full_answers("gad-7", 1), **SUBJECT)
    result = score_response(compiled("gad-7"), response)
    with pytest.raises(UnprocessableContent) as raised:
        extract_observations(compiled("gad-7"), result, {**response, element: value})
    assert [(i.code, i.expression) for i in raised.value.issues] == [
        (IssueType.STRUCTURE, expression)
    ]


def test_an_id_identifies_a_response_only_with_its_subject() -> None:
    patient = _identifiers(_extract("gad-7", id="1"))
    assert patient == _identifiers(_extract("gad-7", id="1", subject={"reference": "Patient/p1"}))
    assert patient != _identifiers(_extract("gad-7", id="1", subject={"reference": "Patient/p2"}))


def test_a_business_identifier_identifies_a_response_only_with_its_subject() -> None:
    # Two clinics (or one clinic's two patients) numbering forms alike: applying the second
    # bundle must never move the first patient's Observations to the second.
    same = {"identifier": {"system": "urn:clinic:forms", "value": "42"}}
    first = _extract("gad-7", **same, subject={"reference": "Patient/p1"})
    again = _extract("gad-7", **same, subject={"reference": "Patient/p1"}, id="other")
    second = _extract("gad-7", **same, subject={"reference": "Patient/p2"})
    assert _identifiers(first) == _identifiers(again)
    assert not set(_identifiers(first)) & set(_identifiers(second))
    assert [e["request"]["url"] for e in first["entry"]] != [
        e["request"]["url"] for e in second["entry"]
    ]


def test_an_identifier_without_system_gives_way_to_the_id() -> None:
    partial = _extract("gad-7", identifier={"value": "42"}, id="qr-1")
    assert _identifiers(partial) == _identifiers(_extract("gad-7", id="qr-1"))
    derived = _observations(partial)[0]["resource"]["derivedFrom"]
    assert derived == [{"reference": "QuestionnaireResponse/qr-1", "identifier": {"value": "42"}}]


# --- references: only what Observation allows, never into the response -------------------


@pytest.mark.parametrize(
    ("author", "kept"),
    [
        pytest.param({"reference": "Practitioner/d1"}, True, id="practitioner"),
        pytest.param({"reference": "https://x.org/fhir/PractitionerRole/r1"}, True, id="absolute"),
        pytest.param({"reference": "Patient/p1/_history/2"}, True, id="versioned"),
        pytest.param(
            {"type": "RelatedPerson", "identifier": {"system": "urn:x", "value": "7"}},
            True,
            id="typed-identifier",
        ),
        pytest.param({"reference": "Device/d1"}, False, id="device"),
        pytest.param({"reference": "http://x/fhir/Device/1"}, False, id="absolute-device"),
        pytest.param({"type": "Device", "reference": "urn:uuid:1"}, False, id="typed-device"),
        pytest.param(
            {"type": "Device", "reference": "Practitioner/d1"}, False, id="conflicting-type"
        ),
        pytest.param({"identifier": {"system": "urn:x", "value": "7"}}, False, id="untyped"),
        pytest.param({"type": 5, "reference": "Practitioner/d1"}, False, id="bad-type"),
        pytest.param({"reference": "#p", "display": "Dr P"}, False, id="contained"),
        pytest.param({"display": "Dr P"}, False, id="display-only"),
        pytest.param({}, False, id="empty"),
        pytest.param("Practitioner/d1", False, id="not-a-reference"),
    ],
)
def test_performer_only_when_observation_allows_the_author(author: Any, kept: bool) -> None:
    # Extracted from a response scored without the author: validation refuses some of these
    # shapes on its own, and extraction must not rely on it.
    response = build_response("gad-7", full_answers("gad-7", 1), **SUBJECT)
    result = score_response(compiled("gad-7"), response)
    bundle = extract_observations(compiled("gad-7"), result, {**response, "author": author})
    assert _observations(bundle)[0]["resource"].get("performer") == ([author] if kept else None)


def test_local_references_are_not_copied() -> None:
    contained = [{"resourceType": "Encounter", "id": "e", "status": "finished"}]
    bundle = _extract("gad-7", encounter={"reference": "#e"}, contained=contained)
    observation = _observations(bundle)[0]["resource"]
    assert "encounter" not in observation
    assert "contained" not in observation
    assert validate_r4(bundle) == []


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(None, id="missing"),
        pytest.param({"reference": "#p"}, id="contained"),
        pytest.param({}, id="empty"),
        pytest.param({"display": "P. One"}, id="display-only"),
        pytest.param({"reference": "Practitioner/d1"}, id="not-a-subject-type"),
        pytest.param("Patient/p1", id="not-a-reference"),
    ],
)
def test_extraction_needs_a_subject_outside_the_response(subject: Any) -> None:
    response = build_response("gad-7", full_answers("gad-7", 1))
    result = score_response(compiled("gad-7"), response)  # scoring does not need one
    assert result.scores[0].value == 7
    if subject is not None:
        response["subject"] = subject
    with pytest.raises(UnprocessableContent) as raised:
        extract_observations(compiled("gad-7"), result, response)
    assert [(i.code, i.expression) for i in raised.value.issues] == [
        (IssueType.REQUIRED, "QuestionnaireResponse.subject")
    ]


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "Patient/p1"},
        {"reference": "https://ehr.example.org/fhir/Group/g1"},
        {"identifier": {"system": "urn:mrn", "value": "1"}},
        {"type": "Patient", "identifier": {"system": "urn:mrn", "value": "1"}},
    ],
)
def test_subjects_observation_allows(subject: dict[str, Any]) -> None:
    bundle = _extract("gad-7", subject=subject)
    assert _observations(bundle)[0]["resource"]["subject"] == subject
    assert validate_r4(bundle) == []


def test_content_identity_reads_nested_answers() -> None:
    response = toy_response()
    del response["id"]
    expected = _identifiers(extract_observations(toy(), score_response(toy(), response), response))
    pet = copy.deepcopy(response)
    pets = next(item for item in pet["item"] if item["linkId"] == "pets")
    pets["answer"][0]["item"][0]["answer"] = [{"valueString": "Fido"}]
    found = _identifiers(extract_observations(toy(), score_response(toy(), pet), pet))
    assert set(found).isdisjoint(expected)


def test_content_identity_skips_what_is_not_an_answer() -> None:
    """Extraction reads only answers, whatever else a response it is handed holds."""
    response = build_response("gad-7", full_answers("gad-7", 1), **SUBJECT)
    result = score_response(compiled("gad-7"), response)
    expected = _identifiers(extract_observations(compiled("gad-7"), result, response))
    odd = {
        **response,
        "item": [*response["item"], 5, {"linkId": 3}, {"linkId": "x", "answer": [7]}],
    }
    assert _identifiers(extract_observations(compiled("gad-7"), result, odd)) == expected


def test_a_score_per_repetition_is_filed_once_each() -> None:
    """A calculated item in a repeating group: one Observation per repetition, each its own."""
    calculated = (
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
    )
    extract = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract"
    score = {
        "linkId": "t",
        "type": "decimal",
        "code": [{"system": "urn:s", "code": "t"}],
        "extension": [
            {"url": extract, "valueBoolean": True},
            {
                "url": calculated,
                "valueExpression": {
                    "language": "text/fhirpath",
                    "expression": "item.where(linkId = 'a').answer.value",
                },
            },
        ],
    }
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {
                "linkId": "g",
                "type": "group",
                "repeats": True,
                "item": [{"linkId": "a", "type": "integer"}, score],
            }
        ],
    }
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "r",
        "status": "completed",
        "subject": {"reference": "Patient/p"},
        "item": [
            {"linkId": "g", "item": [{"linkId": "a", "answer": [{"valueInteger": n}]}]}
            for n in (1, 2)
        ],
    }
    cq = compile_questionnaire(questionnaire)
    bundle = extract_observations(cq, score_response(cq, response), response)
    urls = [entry["request"]["url"] for entry in _observations(bundle)]
    assert len(set(urls)) == 2
    values = [entry["resource"]["valueQuantity"]["value"] for entry in _observations(bundle)]
    assert values == [1, 2]
