"""The bad-input catalogue (bad_inputs.py) run against the real app through Flask's test client.

Every case must be refused with its 4xx status, as FHIR JSON, by an OperationOutcome that
carries the expected issue code (and expression), with no stack trace, in bounded time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from service.fhirpath import Env, compile_expression, interpret_expression
from tests.hardening.bad_inputs import (
    CASES,
    LONG_REPEAT,
    MAKERS,
    MATCHED,
    NESTED_REGEX,
    REPLACED_7,
    TOLERATED,
    VARIABLE,
    _batch,
    _contained,
    _enabled_by,
    _qr,
    _regex_item,
)

FHIR_JSON = "application/fhir+json; charset=utf-8"
#: A hang guard, not a benchmark: every refusal is a few milliseconds on a laptop.
BOUND_SECONDS = 2.0


def _body(case: dict[str, Any]) -> bytes | None:
    if "json" in case:
        return json.dumps(case["json"]).encode()
    if "raw" in case:
        raw: bytes = case["raw"]
        return raw
    if "make" in case:
        return MAKERS[case["make"]]()
    return None


def _params(cases: tuple[dict[str, Any], ...]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["name"],
            marks=[pytest.mark.xfail(strict=True, reason=case["bug"])] if case.get("bug") else [],
        )
        for case in cases
    ]


def _timed(client: FlaskClient, method: str, path: str, body: bytes | None, headers: Any) -> Any:
    headers = dict(headers)
    if body is not None:
        headers.setdefault("Content-Type", "application/fhir+json")
    if headers.get("Content-Type") == "":
        del headers["Content-Type"]
    started = time.perf_counter()
    response = client.open(path, method=method, data=body, headers=headers)
    return response, time.perf_counter() - started


def test_the_catalogue_is_big_and_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert set(MAKERS) == {case["make"] for case in CASES if "make" in case}


@pytest.mark.parametrize("case", _params(CASES))
def test_bad_input_is_refused(client: FlaskClient, case: dict[str, Any]) -> None:
    response, elapsed = _timed(client, case["method"], case["path"], _body(case), case["headers"])
    assert elapsed < BOUND_SECONDS, f"took {elapsed:.2f} s"
    assert b"Traceback" not in response.data
    assert response.status_code == case["expect_status"], response.data[:300]
    assert response.content_type == FHIR_JSON
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    matching = [issue for issue in body["issue"] if issue["code"] == case["expect_code"]]
    assert matching, [issue["code"] for issue in body["issue"]]
    if case["expect_expression"] is not None:
        assert any(issue.get("expression") == [case["expect_expression"]] for issue in matching), [
            issue.get("expression") for issue in matching
        ]


def _nulls(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(_nulls(v) for v in value)
    return False


@pytest.mark.parametrize("case", _params(TOLERATED))
def test_odd_search_is_answered_and_bounded(client: FlaskClient, case: dict[str, Any]) -> None:
    response, elapsed = _timed(client, "GET", case["path"], None, {})
    assert elapsed < BOUND_SECONDS
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == FHIR_JSON
    bundle = response.get_json()
    assert bundle["type"] == "searchset"
    assert len(bundle.get("entry", [])) <= 100  # MAX_PAGE_SIZE


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("(2).power(1000)", id="power-1000"),
        pytest.param("1 / 0", id="divide-by-zero"),
        pytest.param("(-1).sqrt()", id="sqrt-negative"),
        pytest.param(
            "999999999999999999 * 999999999999999999", id="integer-overflow",
        ),
        pytest.param(
            "(2).power(100000)", id="power-to-infinity",
        ),
        pytest.param(
            "(100000).exp()", id="exp-to-infinity",
        ),
        pytest.param(
            "%resource.descendants().count()", id="descendants",
        ),
        pytest.param(  # an integer beyond a double is overflow: no million-digit squares
            "(999999999999999999)" + ".select($this * $this)" * 24, id="integer-squaring",
        ),
    ],
)  # fmt: skip
def test_contained_arithmetic_scores_or_is_withheld(client: FlaskClient, expression: str) -> None:
    """A site's own score that cannot be a finite decimal is withheld (200) or refused (422)."""
    response, elapsed = _timed(
        client, "POST", "/fhir/QuestionnaireResponse/$score",
        json.dumps(_contained([], expression)).encode(), {},
    )  # fmt: skip
    assert elapsed < BOUND_SECONDS
    body = response.get_json()
    assert not _nulls(body), "FHIR JSON has no nulls"
    if expression.startswith("%resource"):
        assert response.status_code == 200, body
    assert response.status_code in (200, 422), body


def test_regex_from_the_response_re2_cannot_run_fails_the_expression(client: FlaskClient) -> None:
    """A backreference from the data fails the evaluation (qr-expression-failed), never runs."""
    expression = f"{MATCHED}.matches(%resource.item.where(linkId='p').answer.value)"
    body = json.dumps(_enabled_by(expression, s="aa", p="(a)\\1", t="x")).encode()
    response, elapsed = _timed(client, "POST", "/fhir/QuestionnaireResponse/$validate", body, {})
    assert elapsed < 1.0
    assert response.status_code == 200
    rules = [c["code"] for i in response.get_json()["issue"] for c in i["details"]["coding"]]
    assert rules == ["qr-expression-failed"]


@pytest.mark.parametrize(
    ("pattern", "answer", "rules"),
    [
        pytest.param("(a?){30}a{30}", "a" * 30, [], id="exponential-in-re-matches"),
        pytest.param("(a?){30}a{30}", "a" * 29, ["qr-answer-regex"], id="exponential-in-re"),
        pytest.param(NESTED_REGEX, "a" * 39 + "!", ["qr-answer-regex"], id="nested-repetition"),
    ],
)
def test_regex_extension_that_backtracks_in_python_answers_at_once(
    client: FlaskClient, pattern: str, answer: str, rules: list[str]
) -> None:
    """The `regex` extension runs on RE2: `(a?){30}a{30}` (~30 s in Python's re) answers at once."""
    body = json.dumps(_regex_item(pattern, answer)).encode()
    response, elapsed = _timed(client, "POST", "/fhir/QuestionnaireResponse/$validate", body, {})
    assert elapsed < 0.5
    assert response.status_code == 200
    issues = response.get_json()["issue"]
    found = [c["code"] for i in issues for c in i.get("details", {}).get("coding", [])]
    assert found == rules


@pytest.mark.parametrize("make", [compile_expression, interpret_expression])
def test_matches_that_backtracks_in_python_answers_at_once(make: Any) -> None:
    expression = make("%s.matches('^(a?){30}a{30}$')")
    started = time.perf_counter()
    assert expression.evaluate([{}], Env({}, variables={"s": ["a" * 30]})) == [True]
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    ("variables", "why"),
    [
        pytest.param([f"{REPLACED_7}.length()"], "1771560 characters", id="string-over-the-cap"),
        pytest.param([LONG_REPEAT] * 20, "time limit", id="past-the-time-limit"),
    ],
)
def test_a_costly_expression_is_a_warning_in_validation(
    client: FlaskClient, variables: list[str], why: str
) -> None:
    """$validate reports what is too costly to evaluate as qr-expression-failed, in bounded time."""
    resource = _enabled_by("%v0.exists()", s="x", t="y")
    resource["contained"][0]["extension"] = [
        {"url": VARIABLE, "valueExpression": {
            "name": f"v{n}", "language": "text/fhirpath", "expression": expression}}
        for n, expression in enumerate(variables)
    ]  # fmt: skip
    body = json.dumps(resource).encode()
    response, elapsed = _timed(client, "POST", "/fhir/QuestionnaireResponse/$validate", body, {})
    assert elapsed < BOUND_SECONDS
    assert response.status_code == 200
    issues = response.get_json()["issue"]
    assert [c["code"] for i in issues for c in i["details"]["coding"]] == ["qr-expression-failed"]
    assert why in issues[0]["details"]["text"]


def test_regex_from_the_response_fails_a_score(client: FlaskClient) -> None:
    """A score whose pattern RE2 cannot run is withheld: 422 score-failed, within a second."""
    value = "%resource.item.where(linkId='a').answer.value.toString()"
    pattern = "%resource.item.where(linkId='p').answer.value"
    resource = _contained([], f"iif({value}.matches({pattern}), 1, 0)")
    resource["contained"][0]["item"].insert(1, {"linkId": "p", "type": "string"})
    resource["item"].append({"linkId": "p", "answer": [{"valueString": "(1)\\1"}]})
    resource["item"][0]["answer"] = [{"valueInteger": int("1" * 9)}]
    response, elapsed = _timed(
        client, "POST", "/fhir/QuestionnaireResponse/$score", json.dumps(resource).encode(), {}
    )
    assert elapsed < 1.0
    assert response.status_code == 422
    issue = response.get_json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "score-failed"


def test_max_items_setting_is_honoured() -> None:
    app = create_app(load_settings({"max_items": 50}, environ={}))
    with app.test_client() as client:
        body = json.dumps(_qr(item=_qr()["item"] * 6)).encode()
        response, _ = _timed(client, "POST", "/fhir/QuestionnaireResponse/$validate", body, {})
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "too-costly"


def test_issue_lists_do_not_amplify_the_request(client: FlaskClient) -> None:
    resource = _qr(item=[{"linkId": "1"}] * 9000)
    body = _batch(10, resource).replace(b"$score", b"$validate")
    response, elapsed = _timed(client, "POST", "/fhir", body, {})
    assert response.status_code in (200, 400)
    assert elapsed < BOUND_SECONDS
    assert len(response.data) <= 4 * len(body)
