"""$extract Observations are US Core 6.1.0 Observation Screening Assessments, for every
shipped instrument and vector, and valid R4; the checker itself is tested against broken ones.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.questionnaire import compile_questionnaire
from service.response import extract_observations, score_response
from service.response.extract import ExtractOptions
from tests.builders.instruments import build_response, compiled, vectors
from tests.builders.toy import toy_questionnaire, toy_response
from tests.support.fhir_schema import validate_bundle
from tests.support.us_core import PROFILE, check_screening_assessment

CONTEXT: dict[str, Any] = {
    "id": "qr-9",
    "identifier": {"system": "urn:ehr", "value": "9"},
    "subject": {"reference": "Patient/p9"},
    "author": {"reference": "Practitioner/dr1"},
    "authored": "2026-11-25T09:30:00+01:00",
}
VECTORS = vectors()


def _bundle(name: str, vector: dict[str, Any], options: ExtractOptions | None = None) -> Any:
    response = build_response(name, vector["answers"], vector["status"], **CONTEXT)
    cq = compiled(name)
    return extract_observations(cq, score_response(cq, response), response, options)


def _observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]


@pytest.mark.parametrize(
    ("name", "vector"), VECTORS, ids=[f"{name}: {vector['name']}" for name, vector in VECTORS]
)
def test_every_vector_extracts_screening_assessments(name: str, vector: dict[str, Any]) -> None:
    bundle = _bundle(name, vector)
    assert validate_bundle(bundle) == []
    types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"] if "fullUrl" in e}
    observations = _observations(bundle)
    # One Observation per extracted score the vector's hand-worked `expected` gives a value.
    extracted = {s.link_id for s in compiled(name).scores if s.extract}
    given = [link for link, value in vector["expected"].items() if value is not None]
    assert len(observations) == len([link for link in given if link in extracted])
    for observation in observations:
        assert check_screening_assessment(observation, types) == []
        # Must support, filled when the response has the data.
        assert observation["effectiveDateTime"] == CONTEXT["authored"]
        assert observation["performer"] == [CONTEXT["author"]]
        assert observation["derivedFrom"] == [
            {"reference": "QuestionnaireResponse/qr-9", "identifier": CONTEXT["identifier"]}
        ]


def test_loinc_codes_where_the_sheets_give_them() -> None:
    """PHQ-9 total 44261-6 and GAD-7 total 70274-6 (sheets: codes summary)."""
    for name, code in (("phq-9", "44261-6"), ("gad-7", "70274-6")):
        vector = next(v for n, v in VECTORS if n == name and v["status"] == "completed")
        (total,) = (o for o in _observations(_bundle(name, vector)) if "valueQuantity" in o)
        assert total["code"]["coding"][0]["system"] == "http://loinc.org"
        assert total["code"]["coding"][0]["code"] == code


def test_the_profile_claim_is_a_setting() -> None:
    name, vector = VECTORS[0]
    bundle = _bundle(name, vector, ExtractOptions(us_core=False))
    for observation in _observations(bundle):
        assert "meta" not in observation
        assert check_screening_assessment(observation) == [
            "meta.profile: does not claim the profile"
        ]


GOOD: dict[str, Any] = {
    "resourceType": "Observation",
    "meta": {"profile": [PROFILE]},
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "survey",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
    "subject": {"reference": "Patient/p"},
    "effectiveDateTime": "2026-11-25",
    "valueQuantity": {"value": 3, "system": "http://unitsofmeasure.org", "code": "{score}"},
}
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("no profile", {"meta": None}, "meta.profile"),
    ("no status", {"status": None}, "status"),
    ("status not a code", {"status": "done"}, "status"),
    ("no survey category", {"category": [{"text": "x"}]}, "category:survey"),
    (
        "a category outside the screening-assessment value set",
        {
            "category": [
                *GOOD["category"],
                {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-category",
                            "code": "x",
                        }
                    ]
                },
            ]
        },
        "category:screening-assessment",
    ),
    ("no code", {"code": None}, "code"),
    ("no subject", {"subject": None}, "subject"),
    ("subject a Practitioner", {"subject": {"reference": "Practitioner/1"}}, "subject"),
    ("performer a Device", {"performer": [{"reference": "Device/1"}]}, "performer[0]"),
    ("no value", {"valueQuantity": None}, "us-core-2"),
    (
        "value and dataAbsentReason",
        {"dataAbsentReason": {"text": "asked but declined"}},
        "obs-6",
    ),
    ("a unit system not UCUM", {"valueQuantity": {"value": 3, "system": "urn:x"}}, "us-core-3"),
    ("derivedFrom a Patient", {"derivedFrom": [{"reference": "Patient/p"}]}, "derivedFrom[0]"),
    ("hasMember dangling", {"hasMember": [{"reference": "urn:uuid:x"}]}, "hasMember[0]"),
    ("effective not a dateTime", {"effectiveDateTime": "25/11/2026"}, "effectiveDateTime"),
]


def test_the_checker_passes_a_conforming_observation() -> None:
    assert check_screening_assessment(GOOD) == []


@pytest.mark.parametrize(("case", "change", "where"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_checker_finds(case: str, change: dict[str, Any], where: str) -> None:
    observation = copy.deepcopy(GOOD)
    for key, value in change.items():
        if value is None:
            observation.pop(key, None)
        else:
            observation[key] = value
    found = check_screening_assessment(observation)
    assert [problem.rsplit(":", 1)[0].split(": ")[0] for problem in found] == [where], found


def test_has_member_from_a_score_to_the_extracted_scores_it_uses() -> None:
    """The toy's `count` counts the `score` answers: extracted too, it has that member."""
    content = toy_questionnaire()
    count = next(item for item in content["item"] if item["linkId"] == "count")
    count["code"] = [{"system": "urn:toy", "code": "toy-count"}]
    count["extension"].append(
        {
            "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract",
            "valueBoolean": True,
        }
    )
    cq = compile_questionnaire(content)
    response = {**toy_response(), **CONTEXT}
    bundle = extract_observations(cq, score_response(cq, response), response)
    by_code = {
        e["resource"]["code"]["coding"][0]["code"]: e
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert by_code["toy-count"]["resource"]["hasMember"] == [
        {"reference": by_code["toy-score"]["fullUrl"]}
    ]
    assert "hasMember" not in by_code["toy-score"]["resource"]
    types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
    assert check_screening_assessment(by_code["toy-count"]["resource"], types) == []
