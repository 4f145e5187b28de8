"""Extraction: one Observation per extracted score, deterministic identifiers, valid R4."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.scoring import extract_observations, score_response
from service.scoring.extract import OBSERVATION_SYSTEM
from tests.support.fhir_schema import validate_r4

from .instruments import build_response, compiled, full_answers, questionnaires
from .toy import toy, toy_response

CONTEXT: dict[str, Any] = {
    "id": "qr-1",
    "identifier": {"system": "urn:ehr", "value": "42"},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
    "author": {"reference": "Patient/p1"},
    "authored": "2026-11-25T09:30:00+01:00",
}


def _extract(
    name: str, status: str = "completed", value: int = 1, **context: Any
) -> dict[str, Any]:
    response = build_response(name, full_answers(name, value), status, **context)
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
    assert len(bundle["entry"]) == len(extracted)
    for entry in bundle["entry"]:
        value = entry["resource"]["identifier"][0]["value"]
        assert entry["request"] == {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={OBSERVATION_SYSTEM}|{value}",
        }
        assert entry["fullUrl"].startswith("urn:uuid:")


def test_observation_shape() -> None:
    bundle = _extract("phq-9", value=3, **CONTEXT)
    total, flag = (entry["resource"] for entry in bundle["entry"])
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
    return [(e["fullUrl"], e["resource"]["identifier"][0]["value"]) for e in bundle["entry"]]


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
    assert {e["resource"]["status"] for e in bundle["entry"]} == {expected}


def test_withheld_and_unextracted_scores_give_no_observation() -> None:
    response = toy_response()
    response["status"] = "in-progress"
    del response["item"][2]["item"][0]
    result = score_response(toy(), response)
    bundle = extract_observations(toy(), result, response)
    assert [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]] == ["toy-flag"]
    assert validate_r4(bundle) == []


def test_optional_context() -> None:
    bundle = _extract(
        "ebi",
        authored="2026-11-25",
        author={"reference": "Device/d1"},
        subject="Patient/p1",
    )
    observation = bundle["entry"][0]["resource"]
    assert observation["effectiveDateTime"] == "2026-11-25"
    for absent in ("issued", "performer", "subject", "derivedFrom"):
        assert absent not in observation
