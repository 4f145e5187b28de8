"""The operations over HTTP: every vector scored by $score, $extract filed twice, batch."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import outcome_codes
from tests.scoring.instruments import build_response, vectors
from tests.support.fhir_schema import validate_r4

BASE = "/fhir/QuestionnaireResponse"
CT = "application/fhir+json"


def call(client: FlaskClient, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(f"{BASE}/{operation}", data=json.dumps(body), content_type=CT)
    assert response.content_type == "application/fhir+json; charset=utf-8"
    return response.status_code, response.get_json()


def scores_of(parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for param in parameters["parameter"]:
        if param["name"] == "score":
            parts = {part["name"]: part for part in param["part"]}
            found[parts["code"]["valueCoding"]["code"]] = parts
    return found


def code_of(name: str, link_id: str) -> str:
    from tests.scoring.instruments import questionnaires

    stack = list(questionnaires()[name]["item"])
    while stack:
        item = stack.pop()
        if item["linkId"] == link_id:
            return str(item["code"][0]["code"])
        stack.extend(item.get("item", []))
    raise LookupError(link_id)


@pytest.mark.parametrize(
    ("name", "vector"), vectors(), ids=lambda v: getattr(v, "get", str)("name")
)
def test_score_returns_the_hand_computed_values(
    client: FlaskClient, name: str, vector: dict[str, Any]
) -> None:
    body = build_response(name, vector["answers"], vector["status"])
    status, result = call(client, "$score", body)
    assert status == 200, result
    assert validate_r4(result) == []
    scores = scores_of(result)
    for link_id, expected in vector["expected"].items():
        got = scores.get(code_of(name, link_id))
        if expected is None:
            assert got is None
            continue
        assert got is not None, link_id
        value = got["value"]
        if isinstance(expected, bool):
            assert value["valueBoolean"] is expected
        else:
            assert math.isclose(value["valueDecimal"], expected, rel_tol=0, abs_tol=1e-9)
    for link_id, band in vector.get("bands", {}).items():
        got = scores.get(code_of(name, link_id))
        interpretation = got.get("interpretation") if got else None
        assert (interpretation["valueCoding"]["code"] if interpretation else None) == band


def phq9(**extra: Any) -> dict[str, Any]:
    answers = {str(n): n % 4 for n in range(1, 10)}
    return build_response("phq-9", answers, "completed", **extra)


def test_score_422_on_response_errors(client: FlaskClient) -> None:
    body = phq9()
    body["item"][0]["answer"] = [{"valueString": "often"}]
    status, result = call(client, "$score", body)
    assert status == 422
    assert result["resourceType"] == "OperationOutcome"
    assert result["issue"][0]["expression"] == ["QuestionnaireResponse.item[0].answer[0].value"]


def test_validate_reports_errors_with_200(client: FlaskClient) -> None:
    body = phq9()
    body["item"][0]["linkId"] = "99"
    status, result = call(client, "$validate", body)
    assert status == 200
    assert "error" in {issue["severity"] for issue in result["issue"]}
    clean_status, clean = call(client, "$validate", phq9())
    assert clean_status == 200
    assert outcome_codes(clean) == ["informational"]


def test_extract_is_valid_r4_and_repeatable(client: FlaskClient) -> None:
    body = phq9(id="qr-1", subject={"reference": "Patient/p1"}, authored="2026-11-25T10:00:00Z")
    status, first = call(client, "$extract", body)
    assert status == 200
    assert first["type"] == "transaction"
    assert validate_r4(first) == []
    _, second = call(client, "$extract", body)
    ids = [entry["resource"]["identifier"] for entry in first["entry"]]
    assert ids == [entry["resource"]["identifier"] for entry in second["entry"]]
    assert all("ifNoneExist" in entry["request"] for entry in first["entry"])
    observation = first["entry"][0]["resource"]
    assert observation["subject"] == {"reference": "Patient/p1"}
    assert observation["effectiveDateTime"] == "2026-11-25T10:00:00Z"


def test_parameters_form_with_inline_questionnaire(client: FlaskClient) -> None:
    from tests.scoring.instruments import questionnaires

    response = phq9()
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "questionnaire-response", "resource": response},
            {"name": "questionnaire", "resource": questionnaires()["phq-9"]},
        ],
    }
    status, result = call(client, "$extract", body)
    assert status == 200, result
    assert result["entry"]
    response["questionnaire"] = "https://example.org/Questionnaire/other"
    status, result = call(client, "$extract", body)
    assert status == 422
    assert result["issue"][0]["expression"] == ["QuestionnaireResponse.questionnaire"]


def entry(method: str, url: str, resource: dict[str, Any] | None) -> dict[str, Any]:
    found: dict[str, Any] = {"request": {"method": method, "url": url}}
    if resource is not None:
        found["resource"] = resource
    return found


def test_batch_runs_each_entry_alone(client: FlaskClient) -> None:
    bad = phq9()
    bad["status"] = "bogus"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            entry("POST", "QuestionnaireResponse/$score", phq9()),
            entry("POST", "QuestionnaireResponse/$score", bad),
            entry("GET", "Questionnaire/phq-9", None),
            entry("POST", "QuestionnaireResponse/$validate", bad),
        ],
    }
    response = client.post("/fhir", data=json.dumps(bundle), content_type=CT)
    assert response.status_code == 200
    result = response.get_json()
    assert result["type"] == "batch-response"
    assert validate_r4(result) == []
    statuses = [entry["response"]["status"] for entry in result["entry"]]
    assert statuses == ["200 OK", "422 Unprocessable Entity", "400 Bad Request", "200 OK"]


def test_batch_entry_limit(client: FlaskClient) -> None:
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$validate"}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [entry] * 101}
    response = client.post("/fhir", data=json.dumps(bundle), content_type=CT)
    assert response.status_code == 400
    assert outcome_codes(response.get_json()) == ["too-costly"]
