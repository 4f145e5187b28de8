"""Every bad request gets an OperationOutcome with the right status and issue code."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import outcome_codes

FHIR_JSON = "application/fhir+json; charset=utf-8"
SCORE = "/fhir/QuestionnaireResponse/$score"
PHQ9 = "https://rapport-fhir.github.io/fhir/Questionnaire/phq-9"


def post(
    client: FlaskClient,
    path: str,
    data: bytes,
    content_type: str = "application/fhir+json",
    **headers: str,
) -> tuple[int, dict[str, object]]:
    response = client.post(path, data=data, content_type=content_type, headers=headers)
    assert response.content_type == FHIR_JSON
    assert b"Traceback" not in response.data
    body = response.get_json()
    assert isinstance(body, dict)
    return response.status_code, body


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        (b"", "required", "no body"),
        (b" \r\n\t\x0b\x0c", "required", "no body"),
        (b" \x1c", "structure", "not valid JSON"),
        (b"{", "structure", "not valid JSON"),
        (b'{"resourceType": "QuestionnaireResponse", "status": NaN}', "structure", "NaN"),
        (b'{"a": 1e400}', "structure", "out of range"),
        (b'{"resourceType": "X", "resourceType": "Y"}', "structure", "Duplicate"),
        (b"\xff\xfe{}", "structure", "UTF-8"),
        (b"\xef\xbb\xbf{}", "structure", "byte order mark"),
        (b"[]", "structure", "JSON object"),
        (b"{} {}", "structure", "after the JSON value"),
        (b"[" * 100_000 + b"]" * 100_000, "too-costly", "nested too deeply"),
        (b'{"resourceType": "Patient"}', "structure", "Expected a QuestionnaireResponse"),
        (b'{"resourceType": "Parameters", "parameter": {}}', "structure", "must be a list"),
        (b'{"resourceType": "Parameters", "parameter": [{"name": {}}]}', "structure", "'name'"),
    ],
)
def test_malformed_bodies_are_400(
    client: FlaskClient, data: bytes, code: str, fragment: str
) -> None:
    status, body = post(client, SCORE, data)
    assert status == 400
    assert outcome_codes(body) == [code]
    assert fragment in body["issue"][0]["details"]["text"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("number", "said"),
    [
        # Python refuses to convert more than 4,300 digits, and its message (naming
        # sys.set_int_max_str_digits) reached the client.
        ("9" * 4400, "a 4400-digit integer is out of range"),
        ("-" + "9" * 30, "a 30-digit integer is out of range"),
        ("9" * 19, "a 19-digit integer is out of range"),
        ("1e400", "the number 1e400 is out of range"),
    ],
)
def test_a_number_out_of_range_is_named_where_it_is(
    client: FlaskClient, number: str, said: str
) -> None:
    data = (
        '{"resourceType": "QuestionnaireResponse", "status": "completed", "item": '
        '[{"linkId": "1"}, {"linkId": "2", "answer": [{"valueInteger": ' + number + "}]}]}"
    ).encode()
    status, body = post(client, SCORE, data)
    assert status == 400
    [issue] = body["issue"]  # type: ignore[misc]
    assert issue["code"] == "structure"
    text = issue["details"]["text"]
    assert said in text.lower()
    assert "sys." not in text
    assert "4300" not in text
    assert issue["expression"] == ["QuestionnaireResponse.item[1].answer[0].valueInteger"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/fhir+json; charset=latin-1",
     "application/fhir+json; fhirVersion=5.0"],
)  # fmt: skip
def test_wrong_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    status, body = post(client, SCORE, b"{}", content_type=content_type)
    assert status == 415
    assert outcome_codes(body) == ["not-supported"]


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    data = b'{"resourceType": "QuestionnaireResponse", "x": "' + b"a" * (6 * 1024 * 1024) + b'"}'
    status, body = post(client, SCORE, data)
    assert status == 413
    assert outcome_codes(body) == ["too-costly"]


@pytest.mark.parametrize(
    ("questionnaire", "code", "expression"),
    [
        (None, "required", "QuestionnaireResponse.questionnaire"),
        ("https://example.org/Questionnaire/x", "not-found", "QuestionnaireResponse.questionnaire"),
        (f"{PHQ9}|9.9.9", "not-found", "QuestionnaireResponse.questionnaire"),
        ("#missing", "not-found", "QuestionnaireResponse.questionnaire"),
        (42, "structure", "QuestionnaireResponse.questionnaire"),
    ],
)  # fmt: skip
def test_unresolvable_questionnaire_is_422_or_400(
    client: FlaskClient, questionnaire: object, code: str, expression: str
) -> None:
    resource: dict[str, object] = {"resourceType": "QuestionnaireResponse", "status": "completed"}
    if questionnaire is not None:
        resource["questionnaire"] = questionnaire
    status, body = post(client, SCORE, json.dumps(resource).encode())
    assert status == (400 if code == "structure" else 422)
    assert outcome_codes(body) == [code]
    assert body["issue"][0]["expression"] == [expression]  # type: ignore[index]


def test_get_on_an_operation_is_405(client: FlaskClient) -> None:
    response = client.get(SCORE)
    assert response.status_code == 405
    assert response.content_type == FHIR_JSON
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_batch_rejects_other_bundle_types(client: FlaskClient) -> None:
    status, body = post(client, "/fhir", b'{"resourceType": "Bundle", "type": "transaction"}')
    assert status == 400
    assert outcome_codes(body) == ["not-supported"]
    assert body["issue"][0]["expression"] == ["Bundle.type"]  # type: ignore[index]
