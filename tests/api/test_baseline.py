"""Change from baseline over HTTP: $score parts and $extract Observations from
baseline_cases.json (hand-worked), and 422 when the two responses cannot be compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.response.change import SERVICE_CODES
from tests.builders.instruments import build_response, full_answers
from tests.support.fhir_schema import validate_bundle
from tests.support.us_core import check_screening_assessment

CASES = json.loads(
    (Path(__file__).parents[1] / "response" / "baseline_cases.json").read_text(encoding="utf-8")
)
BASE = "/fhir/QuestionnaireResponse"
SUBJECT = {"reference": "Patient/p5"}


def call(client: FlaskClient, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(
        f"{BASE}/{operation}", data=json.dumps(body), content_type="application/fhir+json"
    )
    return response.status_code, response.get_json()


def _response(instrument: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    answers = dict.fromkeys(full_answers(instrument), spec["all"])
    answers.update(spec["answers"])
    return build_response(instrument, answers, "completed", **extra)


def _pair(case: dict[str, Any]) -> dict[str, Any]:
    name = case["instrument"]
    baseline = _response(
        name, case["baseline"], id="before", subject=SUBJECT, authored="2026-09-01T10:00:00Z"
    )
    follow_up = _response(
        name, case["follow_up"], id="after", subject=SUBJECT, authored="2026-11-01T10:00:00Z"
    )
    return _parameters(follow_up, baseline)


def _parameters(follow_up: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "response", "resource": follow_up},
            {"name": "baseline", "resource": baseline},
        ],
    }


def _changes(result: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for param in result["parameter"]:
        if param["name"] != "change":
            continue
        parts: dict[str, Any] = {"outcomes": {}}
        for part in param["part"]:
            if part["name"] == "code":
                code = part["valueCoding"]["code"]
            elif part["name"] == "outcome":
                rule, met = part["part"]
                parts["outcomes"][rule["valueCoding"]["code"]] = met["valueBoolean"]
            else:
                parts[part["name"]] = part["valueDecimal"]
        parts.setdefault("percentChange", None)
        found[code] = parts
    return found


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_score_case(client: FlaskClient, case: dict[str, Any]) -> None:
    status, result = call(client, "$score", _pair(case))
    assert status == 200, result
    assert _changes(result) == case["changes"]


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_extract_case(client: FlaskClient, case: dict[str, Any]) -> None:
    status, bundle = call(client, "$extract", _pair(case))
    assert status == 200, bundle
    assert validate_bundle(bundle) == []
    types = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"] if "fullUrl" in e}
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"] if "fullUrl" in e}
    changes = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "change-from-baseline"
    ]
    assert len(changes) == len(case["changes"])
    for observation in changes:
        assert check_screening_assessment(observation, types) == []
        score, baseline, *rest = observation["component"]
        expected = case["changes"][score["code"]["coding"][0]["code"]]
        assert observation["valueQuantity"]["value"] == expected["change"]
        assert score["valueQuantity"]["value"] == expected["value"]
        assert baseline["code"]["coding"][0]["code"] == "baseline-value"
        assert baseline["valueQuantity"]["value"] == expected["baseline"]
        percent = [c for c in rest if c["code"]["coding"][0]["code"] == "percent-change"]
        assert [c["valueQuantity"]["value"] for c in percent] == (
            [expected["percentChange"]] if expected["percentChange"] is not None else []
        )
        outcomes = {
            c["code"]["coding"][0]["code"]: c["valueBoolean"] for c in rest if "valueBoolean" in c
        }
        assert outcomes == expected["outcomes"]
        one, two, scored = observation["derivedFrom"]
        assert (one, two) == (
            {"reference": "QuestionnaireResponse/after"},
            {"reference": "QuestionnaireResponse/before"},
        )
        assert by_url[scored["reference"]]["code"] == {"coding": [score["code"]["coding"][0]]}
    (provenance,) = (e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance")
    sources = [e["what"] for e in provenance["resource"]["entity"] if e["role"] == "derivation"]
    assert sources == [
        {"reference": "QuestionnaireResponse/after"},
        {"reference": "QuestionnaireResponse/before"},
    ]


def _refused(client: FlaskClient, body: dict[str, Any], expression: str) -> str:
    for operation in ("$score", "$extract"):
        status, result = call(client, operation, body)
        assert status == 422, result
        issue = result["issue"][0]
        assert issue["expression"] == [expression]
    return str(issue["details"]["text"])


def test_another_instrument_is_refused(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"] = _response(
        "gad-7", {"all": 1, "answers": {}}, subject=SUBJECT, authored="2026-09-01T10:00:00Z"
    )
    text = _refused(client, body, "Parameters.parameter[1].resource.questionnaire")
    assert "same instrument" in text


def test_another_subject_is_refused(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    assert "another subject" in _refused(client, body, "Parameters.parameter[1].resource.subject")


def test_a_baseline_after_the_response_is_refused(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"]["authored"] = "2026-12-01T10:00:00Z"
    text = _refused(client, body, "Parameters.parameter[1].resource.authored")
    assert "authored after the response" in text


def test_a_baseline_without_authored_is_refused(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    del body["parameter"][1]["resource"]["authored"]
    assert "authored" in _refused(client, body, "Parameters.parameter[1].resource.authored")


def test_the_baselines_own_errors_point_into_it(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"]["item"][0]["answer"] = [{"valueString": "often"}]
    text = _refused(client, body, "Parameters.parameter[1].resource.item[0].answer[0].value")
    assert text.startswith("baseline: ")


def test_a_baseline_must_be_a_response(client: FlaskClient) -> None:
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"] = {"resourceType": "Patient"}
    status, result = call(client, "$score", body)
    assert status == 400
    assert result["issue"][0]["expression"] == ["Parameters.parameter[1].resource"]
    body["parameter"][1] = {"name": "baseline", "resource": body["parameter"][0]["resource"]}
    status, result = call(client, "$validate", body)
    assert status == 400  # $validate takes no baseline


def test_the_same_day_is_not_after(client: FlaskClient) -> None:
    """A baseline authored as a date only, the response later that day: comparable."""
    body = _pair(CASES["cases"][0])
    body["parameter"][1]["resource"]["authored"] = "2026-11-01"
    status, _ = call(client, "$score", body)
    assert status == 200


def test_the_service_codes_are_defined(client: FlaskClient) -> None:
    concepts = client.get("/fhir/CodeSystem/rapport-scores").get_json()["concept"]
    assert {concept["code"] for concept in concepts} >= SERVICE_CODES


def test_a_batch_entry_takes_a_baseline(client: FlaskClient) -> None:
    """Each patient's follow-up with its own baseline, in one batch."""
    first, second = CASES["cases"][0], CASES["cases"][1]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "request": {"method": "POST", "url": "QuestionnaireResponse/$score"},
                "resource": _pair(case),
            }
            for case in (first, second)
        ],
    }
    response = client.post("/fhir", data=json.dumps(bundle), content_type="application/fhir+json")
    assert response.status_code == 200
    results = [entry["resource"] for entry in response.get_json()["entry"]]
    assert [_changes(result) for result in results] == [first["changes"], second["changes"]]


@pytest.mark.parametrize(
    ("without", "expression", "said"),
    [
        # Was "the baseline is about another subject than the response", even when the
        # subject was missing, not different; and two responses without one were compared.
        ("baseline", "Parameters.parameter[1].resource.subject", "the baseline has no subject"),
        ("response", "QuestionnaireResponse.subject", "the response has no subject"),
        ("both", "Parameters.parameter[1].resource.subject", "the baseline has no subject"),
        # Were compared as the same patient: `display` and `extension` are left out of the
        # comparison, so Alice and Bob (or two References giving only a type) looked alike.
        ("display", "Parameters.parameter[1].resource.subject", "the baseline has no subject"),
        ("type", "Parameters.parameter[1].resource.subject", "the baseline has no subject"),
        ("extension", "QuestionnaireResponse.subject", "the response has no subject"),
    ],
)
def test_a_missing_subject_is_named_as_missing(
    client: FlaskClient, without: str, expression: str, said: str
) -> None:
    body = _pair(CASES["cases"][0])
    if without in ("response", "both"):
        del body["parameter"][0]["resource"]["subject"]
    if without in ("baseline", "both"):
        del body["parameter"][1]["resource"]["subject"]
    follow_up, baseline = (p["resource"] for p in body["parameter"])
    if without == "display":
        follow_up["subject"] = {"display": "Alice Smith"}
        baseline["subject"] = {"display": "Bob Jones"}
    if without == "type":
        follow_up["subject"] = {"type": "Patient"}
        baseline["subject"] = {"type": "Patient"}
    if without == "extension":
        follow_up["subject"] = {
            "display": "Alice Smith",
            "extension": [{"url": "http://example.org/who", "valueString": "Alice"}],
        }
    text = _refused(client, body, expression)
    assert said in text
    assert "same patient" in text
