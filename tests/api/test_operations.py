"""The operations over HTTP: every vector scored by $score, $extract filed twice, batch."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.api import operations
from service.config import load_settings
from tests.api.conftest import outcome_codes
from tests.builders.instruments import build_response, vectors
from tests.hardening.bad_inputs import _contained
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
    from tests.builders.instruments import questionnaires

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
            # Exactly the published value at the score's precision (2.93, not 2.9333...).
            assert value["valueDecimal"] == expected
    for link_id, band in vector.get("bands", {}).items():
        got = scores.get(code_of(name, link_id))
        interpretation = got.get("interpretation") if got else None
        assert (interpretation["valueCoding"]["code"] if interpretation else None) == band


def test_scores_keep_their_precision_on_the_wire(client: FlaskClient) -> None:
    """MEQ-30 (meq-30.md: subscale means, reported to 2 decimals by our stated default):
    mystical = 44/15 = 2.9333... -> 2.93 and total = 89/30 = 2.9666... -> 2.97, written as
    those decimals in $score's Parameters and in $extract's Observation.valueQuantity."""
    answers = {str(n): 3 for n in range(1, 31)} | {"28": 2}
    body = build_response("meq-30", answers, subject={"reference": "Patient/p1"})
    for operation, key in (("$score", b'"valueDecimal":'), ("$extract", b'"value":')):
        response = client.post(f"{BASE}/{operation}", data=json.dumps(body), content_type=CT)
        assert response.status_code == 200
        written = re.findall(re.escape(key) + rb"(-?[0-9.eE+-]+)", response.data)
        assert b"2.93" in written, written
        assert b"2.97" in written, written
        assert all(len(number.partition(b".")[2]) <= 2 for number in written), written


def phq9(questionnaire: str | None = None, **extra: Any) -> dict[str, Any]:
    answers = {str(n): n % 4 for n in range(1, 10)}
    response = build_response("phq-9", answers, "completed", **extra)
    if questionnaire is not None:
        response["questionnaire"] = questionnaire
    return response


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


def test_validate_reports_a_differing_client_score_as_score_does(client: FlaskClient) -> None:
    # Items 1-8 "Several days" (1), item 9 "Not at all" (0, so no safety warning): total 8.
    answers = {**{str(n): 1 for n in range(1, 9)}, "9": 0}
    body = build_response("phq-9", answers, "completed")
    body["item"].append({"linkId": "total", "answer": [{"valueDecimal": 3}]})
    status, result = call(client, "$validate", body)
    assert status == 200
    (issue,) = result["issue"]
    assert (issue["severity"], issue["details"]["coding"][0]["code"], issue["expression"]) == (
        "warning",
        "score-differs",
        [f"QuestionnaireResponse.item[{len(body['item']) - 1}].answer[0].value"],
    )
    _, scored = call(client, "$score", body)
    (issues,) = [p["resource"] for p in scored["parameter"] if p["name"] == "issues"]
    assert issues["issue"] == result["issue"]
    body["item"][-1]["answer"] = [{"valueDecimal": 8}]
    assert outcome_codes(call(client, "$validate", body)[1]) == ["informational"]


def test_validate_reports_the_r4_structure_of_the_response(client: FlaskClient) -> None:
    body = phq9(meta={"tag": []}, authored="yesterday", subject="Patient/1")
    body["item"][0]["answer"][0]["valueCoding"]["userSelected"] = "yes"
    status, result = call(client, "$validate", body)
    assert status == 200
    found = [
        (
            issue["severity"],
            issue["code"],
            issue["expression"],
            issue["details"]["coding"][0]["code"],
            issue["details"]["text"],
        )
        for issue in result["issue"]
    ]
    qr, value = "QuestionnaireResponse", "QuestionnaireResponse.item[0].answer[0].value"
    assert found == [
        ("error", "structure", [f"{qr}.meta.tag"], "qr-empty-array", "must not be empty"),
        ("error", "value", [f"{qr}.authored"], "qr-invalid-value", "must be a valid dateTime"),
        (
            "error",
            "structure",
            [f"{qr}.subject"],
            "qr-not-object",
            "must be a JSON object (Reference)",
        ),
        (
            "error",
            "structure",
            [f"{value}.userSelected"],
            "qr-answer-invalid",
            "must be true or false in JSON",
        ),
    ]


def test_extract_is_valid_r4_and_repeatable(client: FlaskClient) -> None:
    body = phq9(id="qr-1", subject={"reference": "Patient/p1"}, authored="2026-11-25T10:00:00Z")
    status, first = call(client, "$extract", body)
    assert status == 200
    assert first["type"] == "transaction"
    assert validate_r4(first) == []
    _, second = call(client, "$extract", body)
    assert second == first  # Flags and Provenance included: nothing varies between calls
    observations = [e for e in first["entry"] if e["resource"]["resourceType"] == "Observation"]
    ids = [entry["resource"]["identifier"] for entry in observations]
    for entry, (identifier,) in zip(observations, ids, strict=True):
        # A conditional update: creates it once, updates it when the response is amended.
        url = f"Observation?identifier={identifier['system']}|{identifier['value']}"
        assert entry["request"] == {"method": "PUT", "url": url}
    observation = observations[0]["resource"]
    assert observation["subject"] == {"reference": "Patient/p1"}
    assert observation["effectiveDateTime"] == "2026-11-25T10:00:00Z"


def test_extract_needs_a_subject_and_score_does_not(client: FlaskClient) -> None:
    contained = {"contained": [{"resourceType": "Patient", "id": "p"}]}
    for body in (phq9(), phq9(subject={"reference": "#p"}, **contained)):
        status, result = call(client, "$extract", body)
        assert status == 422
        assert outcome_codes(result) == ["required"]
        assert result["issue"][0]["expression"] == ["QuestionnaireResponse.subject"]
        status, _ = call(client, "$score", body)
        assert status == 200


@pytest.mark.parametrize(("code", "rules"), [("a", []), ("z", ["qr-answer-not-in-valueset"])])
def test_a_contained_questionnaire_finds_its_value_set_beside_it(
    client: FlaskClient, code: str, rules: list[str]
) -> None:
    """dom-2 keeps contained resources out of a contained Questionnaire, so `#vs` resolves in
    the response's `contained`, beside the Questionnaire."""
    system = "https://example.org/CodeSystem/c"
    item = {"linkId": "c", "type": "choice", "answerValueSet": "#vs"}
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "active", "item": [item]}
    value_set = {
        "resourceType": "ValueSet",
        "id": "vs",
        "status": "active",
        "expansion": {
            "timestamp": "2024-01-01T00:00:00Z",
            "contains": [{"system": system, "code": "a"}],
        },
    }
    body = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "completed",
        "contained": [questionnaire, value_set],
        "item": [{"linkId": "c", "answer": [{"valueCoding": {"system": system, "code": code}}]}],
    }
    status, result = call(client, "$validate", body)
    assert status == 200
    found = [c["code"] for i in result["issue"] for c in i.get("details", {}).get("coding", [])]
    assert found == rules


def test_parameters_form_with_inline_questionnaire(client: FlaskClient) -> None:
    from tests.builders.instruments import questionnaires

    response = phq9(subject={"reference": "Patient/p1"})
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


def test_an_inline_questionnaire_needs_no_id(client: FlaskClient) -> None:
    from tests.builders.instruments import questionnaires

    questionnaire = {k: v for k, v in questionnaires()["phq-9"].items() if k != "id"}
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "questionnaire-response", "resource": phq9()},
            {"name": "questionnaire", "resource": questionnaire},
        ],
    }
    status, result = call(client, "$score", body)
    assert status == 200, result
    # phq9() answers item n with n mod 4: 1+2+3+0+1+2+3+0+1 = 13
    totals = [
        part["valueDecimal"]
        for param in result["parameter"]
        if param["name"] == "score"
        for part in param["part"]
        if part["name"] == "value" and "valueDecimal" in part
    ]
    assert totals == [13]


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


def _batch(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


def _statuses(client: FlaskClient, bundle: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    response = client.post("/fhir", data=json.dumps(bundle), content_type=CT)
    assert response.status_code == 200, response.data[:500]
    result = response.get_json()
    assert result["type"] == "batch-response"
    return [entry["response"]["status"] for entry in result["entry"]], result


def test_batch_entries_may_name_this_server_absolutely(client: FlaskClient) -> None:
    statuses, _ = _statuses(
        client,
        _batch(
            entry("POST", "http://localhost/fhir/QuestionnaireResponse/$score", phq9()),
            entry("POST", "/QuestionnaireResponse/$validate", phq9()),
            entry("POST", "http://elsewhere.example/fhir/QuestionnaireResponse/$score", phq9()),
        ),
    )
    assert statuses == ["200 OK", "200 OK", "400 Bad Request"]


def test_an_unforeseen_failure_fails_its_entry_alone(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.api import operations

    def broken(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        raise KeyError("CANARY-answer")  # a bug: no deliberate error covers it

    monkeypatch.setitem(operations.OPERATIONS, "$extract", broken)
    capsys.readouterr()
    statuses, result = _statuses(
        client,
        _batch(
            entry("POST", "QuestionnaireResponse/$score", phq9()),
            entry("POST", "QuestionnaireResponse/$extract", phq9()),
            entry("POST", "QuestionnaireResponse/$validate", phq9()),
        ),
    )
    assert statuses == ["200 OK", "500 Internal Server Error", "200 OK"]
    assert outcome_codes(result["entry"][1]["response"]["outcome"]) == ["exception"]
    assert validate_r4(result) == []
    logged = capsys.readouterr().err
    assert "unexpected KeyError at " in logged
    assert "CANARY" not in logged


#: About a quarter of a second of parsing a contained Questionnaire, then its compile fails.
SLOW_SUM = " + ".join(["1"] * 300)


def _broken(number: int = 0) -> dict[str, Any]:
    """A response to a contained Questionnaire that is slow to compile and does not; each
    `number` its own expression, as the checks remember the parse errors of one they saw."""
    response = _contained([f"{SLOW_SUM} + {number}"], "%nowhere")
    response["contained"][0]["url"] = f"https://example.org/Questionnaire/slow-{number}"
    return response


@pytest.fixture(scope="module")
def hurried() -> Iterator[FlaskClient]:
    """An app with a 3 s worker timeout (its batches may spend 1.5 s, as by default)."""
    with create_app(load_settings({"timeout": 3}, environ={})).test_client() as client:
        yield client


def test_a_batch_compiles_a_broken_questionnaire_once(
    hurried: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted, not timed: the batch's time budget could not tell one compile from thirty
    # (they fit in it too, each one's parse errors being remembered), and a busy machine
    # could make even one too slow. Each resolution still runs, for real.
    resolved: list[Any] = []
    real = operations.resolve_questionnaire

    def counted(*args: Any, **kwargs: Any) -> Any:
        resolved.append(args[1].get("questionnaire"))
        return real(*args, **kwargs)

    monkeypatch.setattr(operations, "resolve_questionnaire", counted)
    score = entry("POST", "QuestionnaireResponse/$score", _broken())
    good = entry("POST", "QuestionnaireResponse/$score", phq9())
    statuses, result = _statuses(hurried, _batch(*[score] * 30, good))
    assert statuses == ["422 Unprocessable Entity"] * 30 + ["200 OK"]
    outcomes = {json.dumps(e["response"]["outcome"]) for e in result["entry"][:30]}
    assert len(outcomes) == 1
    assert resolved.count(_broken()["questionnaire"]) == 1


def test_a_batch_out_of_time_answers_503_for_the_entries_it_did_not_start(
    hurried: FlaskClient,
) -> None:
    entries = [entry("POST", "QuestionnaireResponse/$score", _broken(n)) for n in range(30)]
    statuses, result = _statuses(hurried, _batch(*entries))
    started = statuses.index("503 Service Unavailable")
    assert 0 < started < 30
    assert statuses == ["422 Unprocessable Entity"] * started + ["503 Service Unavailable"] * (
        30 - started
    )
    late = result["entry"][-1]["response"]["outcome"]
    assert outcome_codes(late) == ["transient"]
    assert "send it again" in late["issue"][0]["details"]["text"]
    assert validate_r4(result) == []


def _etag_version(client: FlaskClient, path: str) -> str:
    etag = client.get(path).headers["ETag"]
    return etag.removeprefix('W/"').removesuffix('"')


@pytest.mark.parametrize(
    "address",
    [
        "http://localhost/fhir/Questionnaire/phq-9",  # the address the form was read from
        "http://localhost/fhir/Questionnaire/phq-9/_history/{vid}",
        "Questionnaire/phq-9/_history/{vid}",
        # Scheme and host are case-insensitive (RFC 3986 3.1, 3.2.2); they were compared exactly.
        "HTTP://LOCALHOST/fhir/Questionnaire/phq-9",
        "http://LocalHost/fhir/Questionnaire/phq-9/_history/{vid}",
    ],
)
def test_a_response_may_name_the_questionnaire_by_this_servers_address(
    client: FlaskClient, address: str
) -> None:
    vid = _etag_version(client, "/fhir/Questionnaire/phq-9")
    body = phq9(questionnaire=address.format(vid=vid))
    status, result = call(client, "$score", body)
    assert status == 200, result
    # 1+2+3+0+1+2+3+0+1: the PHQ-9 total is the sum of items 1-9.
    assert scores_of(result)["44261-6"]["value"]["valueDecimal"] == 13
    status, outcome = call(client, "$validate", body)
    assert (status, outcome_codes(outcome)) == (200, ["informational"])


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("http://elsewhere.example/fhir/Questionnaire/phq-9", "not in this server's catalogue"),
        ("http://localhost/fhir/Questionnaire/no-such", "not in this server's catalogue"),
        ("http://localhost/fhir/Questionnaire/phq-9/_history/0", "is not the current one"),
        ("Questionnaire/phq-9/_history/", "not in this server's catalogue"),
        ("Questionnaire/phq-9/x", "not in this server's catalogue"),
        ("http://localhost/FHIR/Questionnaire/phq-9", "not in this server's catalogue"),  # path
    ],
)
def test_another_server_or_version_is_still_refused(
    client: FlaskClient, address: str, said: str
) -> None:
    status, result = call(client, "$score", phq9(questionnaire=address))
    assert status == 422, result
    assert result["issue"][0]["code"] == "not-found"
    assert said in result["issue"][0]["details"]["text"]
    assert result["issue"][0]["expression"] == ["QuestionnaireResponse.questionnaire"]


def test_the_configured_base_is_this_servers_address() -> None:
    settings = load_settings({"base_url": "https://rapport.example.org/fhir"}, environ={})
    with create_app(settings).test_client() as configured:
        mine = phq9(questionnaire="https://rapport.example.org/fhir/Questionnaire/phq-9")
        assert call(configured, "$score", mine)[0] == 200
        # The request's own host is not this service's address once a base is configured.
        theirs = phq9(questionnaire="http://localhost/fhir/Questionnaire/phq-9")
        assert call(configured, "$score", theirs)[0] == 422


def test_an_answer_not_among_the_options_says_which_system_and_codes_the_item_expects(
    client: FlaskClient,
) -> None:
    body = phq9()
    body["item"][0]["answer"] = [{"valueCoding": {"code": "LA6569-3"}}]  # no system
    _, outcome = call(client, "$validate", body)
    text = outcome["issue"][0]["details"]["text"]
    assert "has no system" in text, text
    # PHQ-9's four options (questionnaires/phq-9.json), LOINC answer codes.
    assert "system 'http://loinc.org' codes LA6568-5 (Not at all), LA6569-3" in text, text
    assert "LA6571-9 (Nearly every day)" in text, text


def test_a_long_option_list_is_cut_in_the_error() -> None:
    from service.questionnaire.items import Option, expected_options

    options = [Option("Integer", ("Integer", n), None, None) for n in range(20)]
    assert expected_options(options) == "expected values 0, 1, 2, 3, 4, 5, 6, 7 and 12 more"
