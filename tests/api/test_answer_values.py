"""Every R4 answer value type, given twice (distinct or equal), through the three operations.

Two answers are compared by their key (`answer_key`): objects such as Quantity and
Attachment must key as well as strings do, on a repeating item (valid) and on a
non-repeating one (qr-answer-repeated).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

BASE = "/fhir/QuestionnaireResponse"
CT = "application/fhir+json"
SYSTEM = "https://example.org/CodeSystem/c"

#: Item type, value[x] and two distinct values of it.
VALUES: list[tuple[str, str, Any, Any]] = [
    ("boolean", "valueBoolean", True, False),
    ("decimal", "valueDecimal", 1.5, 2.5),
    ("integer", "valueInteger", 1, 2),
    ("date", "valueDate", "2024-01-01", "2024-01-02"),
    ("dateTime", "valueDateTime", "2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"),
    ("time", "valueTime", "10:00:00", "11:00:00"),
    ("string", "valueString", "a", "b"),
    ("url", "valueUri", "https://example.org/a", "https://example.org/b"),
    (
        "attachment",
        "valueAttachment",
        {"contentType": "text/plain", "data": "YQ=="},
        {"contentType": "text/plain", "data": "Yg=="},
    ),
    ("choice", "valueCoding", {"system": SYSTEM, "code": "a"}, {"system": SYSTEM, "code": "b"}),
    ("quantity", "valueQuantity", {"value": 1, "unit": "kg"}, {"value": 2, "unit": "kg"}),
    ("reference", "valueReference", {"reference": "Patient/a"}, {"reference": "Patient/b"}),
]


def _body(kind: str, repeats: bool, answers: list[dict[str, Any]]) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": "a", "type": kind, "repeats": repeats}
    if kind == "choice":
        item["answerOption"] = [{"valueCoding": {"system": SYSTEM, "code": c}} for c in "ab"]
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "active", "item": [item]}
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "completed",
        "subject": {"reference": "Patient/p"},  # $extract needs one
        "contained": [questionnaire],
        "item": [{"linkId": "a", "answer": answers}],
    }


def _call(client: FlaskClient, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(f"{BASE}/{operation}", data=json.dumps(body), content_type=CT)
    return response.status_code, response.get_json()


def _rules(outcome: dict[str, Any]) -> list[str]:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return [
        coding["code"]
        for issue in outcome["issue"]
        for coding in issue.get("details", {}).get("coding", [])
    ]


@pytest.mark.parametrize("same", [False, True], ids=["distinct", "equal"])
@pytest.mark.parametrize("repeats", [True, False], ids=["repeating", "not-repeating"])
@pytest.mark.parametrize("value", VALUES, ids=[v[1] for v in VALUES])
def test_two_answers_of_every_type(
    client: FlaskClient, value: tuple[str, str, Any, Any], repeats: bool, same: bool
) -> None:
    kind, element, first, second = value
    answers = [{element: first}, {element: first if same else second}]
    body = _body(kind, repeats, answers)
    expected = [] if repeats else ["qr-answer-repeated"]
    status, outcome = _call(client, "$validate", body)
    assert status == 200
    assert _rules(outcome) == expected
    for operation in ("$score", "$extract"):
        status, result = _call(client, operation, body)
        if repeats:
            assert status == 200, result
        else:
            assert status == 422
            assert _rules(result) == expected
