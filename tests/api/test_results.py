"""Results over HTTP: which version scored, provenance in $score, and the site switches."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from tests.builders.instruments import build_response, questionnaires

BASE = "/fhir/QuestionnaireResponse"
CT = "application/fhir+json"
URL = "https://rapport-fhir.github.io/fhir/Questionnaire/phq-9"
#: Items 1-8 "Several days" (1), item 9 "Not at all" (0).
ANSWERS = {**{str(n): 1 for n in range(1, 9)}, "9": 0}


def call(client: FlaskClient, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(f"{BASE}/{operation}", data=json.dumps(body), content_type=CT)
    return response.status_code, response.get_json()


def _params(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in result["parameter"] if p["name"] == name]


def _total(result: dict[str, Any]) -> Any:
    for score in _params(result, "score"):
        parts = {part["name"]: part for part in score["part"]}
        if parts["code"]["valueCoding"]["code"] == "44261-6":
            return parts["value"]["valueDecimal"]
    return None


def _response(questionnaire: str, **extra: Any) -> dict[str, Any]:
    body = build_response("phq-9", ANSWERS, "completed", **extra)
    body["questionnaire"] = questionnaire
    return body


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """The shipped PHQ-9 1.0.0 and a site's 2.0.0 in which item 1 "Several days" weighs 2."""
    folder: Path = tmp_path_factory.mktemp("site")
    content = copy.deepcopy(questionnaires()["phq-9"])
    content["id"], content["version"] = "phq-9-v2", "2.0.0"
    item1 = next(item for item in content["item"] if item["linkId"] == "1")
    item1["answerOption"][1]["extension"][0]["valueDecimal"] = 2
    (folder / "phq-9-v2.json").write_text(json.dumps(content), encoding="utf-8")
    app = create_app(load_settings(environ={"RAPPORT_QUESTIONNAIRE_DIRS": str(folder)}))
    with app.test_client() as client:
        yield client


@pytest.mark.parametrize(
    ("named", "scored_by", "total"),
    [
        # 1.0.0: eight items at 1 and item 9 at 0, total 8 (PHQ-9 sheet: sum of items 1-9).
        (f"{URL}|1.0.0", f"{URL}|1.0.0", 8),
        # 2.0.0: item 1 now weighs 2, so 2 + 7 x 1 + 0 = 9.
        (f"{URL}|2.0.0", f"{URL}|2.0.0", 9),
        # No version: the current (highest active) one, and the result says so.
        (URL, f"{URL}|2.0.0", 9),
    ],
)
def test_a_response_is_scored_by_the_version_it_names(
    two_versions: FlaskClient, named: str, scored_by: str, total: int
) -> None:
    status, result = call(two_versions, "$score", _response(named))
    assert status == 200
    assert _params(result, "questionnaire") == [
        {"name": "questionnaire", "valueCanonical": scored_by}
    ]
    assert _total(result) == total


@pytest.mark.parametrize("operation", ["$score", "$extract"])
def test_a_version_not_served_is_refused(client: FlaskClient, operation: str) -> None:
    body = _response(f"{URL}|9.9.9", subject={"reference": "Patient/p"})
    status, result = call(client, operation, body)
    assert status == 422  # the body names content this server lacks (as for an unknown url)
    (issue,) = result["issue"]
    assert issue["code"] == "not-found"
    assert issue["expression"] == ["QuestionnaireResponse.questionnaire"]
    text = issue["details"]["text"]
    assert "'9.9.9'" in text
    assert "it serves version '1.0.0'" in text
    assert "only by the version it names" in text


def test_score_carries_provenance(client: FlaskClient) -> None:
    status, result = call(client, "$score", _response(URL))
    assert status == 200
    assert _params(result, "questionnaire") == [
        {"name": "questionnaire", "valueCanonical": f"{URL}|1.0.0"}
    ]
    (provenance,) = _params(result, "provenance")
    parts = {part["name"]: part["valueString"] for part in provenance["part"]}
    assert parts["engine"].startswith("Rapport ")
    assert parts["expressions"].startswith("sha256:")
    assert call(client, "$score", _response(URL))[1] == result  # nothing varies


def _positive() -> dict[str, Any]:
    """Item 9 "Several days": positive on the PHQ-9 safety item (sheet: item 9 > 0)."""
    body = _response(URL, subject={"reference": "Patient/p"}, authored="2026-11-25T10:00:00Z")
    body["item"][8]["answer"][0]["valueCoding"] = {"system": "http://loinc.org", "code": "LA6569-3"}
    return body


def _kinds(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["resourceType"] for entry in bundle["entry"]]


def _rules(result: dict[str, Any]) -> list[str]:
    return [
        issue["details"]["coding"][0]["code"]
        for param in _params(result, "issues")
        for issue in param["resource"]["issue"]
    ]


def test_safety_and_us_core_by_default(client: FlaskClient) -> None:
    _, scored = call(client, "$score", _positive())
    assert _rules(scored) == ["score-safety"]
    _, bundle = call(client, "$extract", _positive())
    assert _kinds(bundle) == ["Observation", "Observation", "Flag", "Provenance"]
    assert all("meta" in e["resource"] for e in bundle["entry"][:2])


def test_sites_switch_safety_and_us_core_off() -> None:
    environ = {"RAPPORT_SAFETY_FLAGS": "off", "RAPPORT_US_CORE": "off"}
    with create_app(load_settings(environ=environ)).test_client() as client:
        _, scored = call(client, "$score", _positive())
        assert _rules(scored) == []
        _, bundle = call(client, "$extract", _positive())
    assert _kinds(bundle) == ["Observation", "Observation", "Provenance"]
    assert not any("meta" in e["resource"] for e in bundle["entry"][:2])


EXAMPLES = Path(__file__).parents[2] / "questionnaires" / "examples"


def test_the_readme_baseline_example(client: FlaskClient) -> None:
    """QIDS-SR-16 9 then 4 (sheet's nine-domain total): -5, -55.6 %, remission and response."""
    body = json.loads((EXAMPLES / "qids-sr-16-follow-up.json").read_text(encoding="utf-8"))
    status, result = call(client, "$score", body)
    assert status == 200
    (change,) = _params(result, "change")
    parts = {p["name"]: p for p in change["part"]}
    assert (parts["baseline"]["valueDecimal"], parts["value"]["valueDecimal"]) == (9, 4)
    assert parts["change"]["valueDecimal"] == -5
    assert parts["percentChange"]["valueDecimal"] == -55.6
    outcomes = [p["part"] for p in change["part"] if p["name"] == "outcome"]
    assert [(c["valueCoding"]["code"], v["valueBoolean"]) for c, v in outcomes] == [
        ("qids-sr-16-remission", True),
        ("qids-sr-16-response", True),
    ]


def test_the_readme_safety_example(client: FlaskClient) -> None:
    body = json.loads((EXAMPLES / "phq-9-item-9-positive.json").read_text(encoding="utf-8"))
    status, bundle = call(client, "$extract", body)
    assert status == 200
    assert _kinds(bundle) == ["Observation", "Observation", "Flag", "Provenance"]
    assert _rules(call(client, "$score", body)[1]) == ["score-safety"]
