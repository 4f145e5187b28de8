"""JSON nesting deeper than `MAX_DEPTH` is refused when parsed (400 too-costly), everywhere.

Before the limit an inline or contained Questionnaire nested ~127 groups deep failed in the
JSON serializer (500) and a site PUT nested 130 deep hit a RecursionError in the model
parser. Every body goes through `jsonio.loads`, which now refuses the depth before any
recursive code runs; one level less is accepted and answered without a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from service.fhir.jsonio import MAX_DEPTH, loads
from tests.builders.catalog import mini
from tests.hardening.bad_inputs import _inline as inline

CT = {"Content-Type": "application/fhir+json"}


def _nested_items(groups: int) -> list[dict[str, Any]]:
    """`groups` groups, each inside the one before, a string item in the innermost."""
    inner: dict[str, Any] = {"linkId": "leaf", "type": "string"}
    for level in range(groups):
        inner = {"linkId": f"g{level}", "type": "group", "item": [inner]}
    return [inner]


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _questionnaire(groups: int, rid: str = "deep") -> dict[str, Any]:
    found = mini()
    found.update(
        {"id": rid, "url": f"https://example.org/site/{rid}", "item": _nested_items(groups)}
    )
    found.pop("extension", None)
    return found


def _contained(groups: int) -> dict[str, Any]:
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "active"}
    questionnaire["item"] = _nested_items(groups)
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "completed",
        "contained": [questionnaire],
    }


def _inline(groups: int) -> dict[str, Any]:
    return inline(
        {"resourceType": "Questionnaire", "status": "active", "item": _nested_items(groups)}
    )


def _batch(groups: int) -> dict[str, Any]:
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$validate"}}
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{**entry, "resource": _contained(groups)}],
    }


def _groups_for(make: Any, depth: int) -> int:
    """The most groups `make` can nest while the whole body stays within `depth` levels."""
    groups = 0
    while _depth(make(groups + 1)) <= depth:
        groups += 1
    return groups


def test_the_limit_is_exact() -> None:
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) == json.loads(
        "[" * MAX_DEPTH + "]" * MAX_DEPTH
    )
    with pytest.raises(ValueError, match=f"deeper than {MAX_DEPTH}"):
        loads(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    deep = '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    with pytest.raises(ValueError, match=f"deeper than {MAX_DEPTH}"):
        loads(deep.encode())


@pytest.fixture
def site_client(redis_url: str, redis_client: redis.Redis) -> Iterator[FlaskClient]:
    with create_app(load_settings({"redis_url": redis_url}, environ={})).test_client() as client:
        yield client


OPERATIONS = [
    pytest.param(_contained, "/fhir/QuestionnaireResponse/$validate", id="contained-validate"),
    pytest.param(_contained, "/fhir/QuestionnaireResponse/$score", id="contained-score"),
    pytest.param(_inline, "/fhir/QuestionnaireResponse/$validate", id="inline-validate"),
    pytest.param(_batch, "/fhir", id="batch-entry"),
]


@pytest.mark.parametrize(("make", "path"), OPERATIONS)
def test_too_deep_is_refused_when_parsed(client: FlaskClient, make: Any, path: str) -> None:
    for groups in (_groups_for(make, MAX_DEPTH) + 1, 127):  # 127: the review's 500
        response = client.post(path, data=json.dumps(make(groups)), headers=CT)
        assert response.status_code == 400, response.data[:300]
        issue = response.get_json()["issue"][0]
        assert issue["code"] == "too-costly"
        assert f"deeper than {MAX_DEPTH}" in issue["details"]["text"]


@pytest.mark.parametrize(("make", "path"), OPERATIONS)
def test_at_the_limit_there_is_no_5xx(client: FlaskClient, make: Any, path: str) -> None:
    body = make(_groups_for(make, MAX_DEPTH))
    assert MAX_DEPTH - 1 <= _depth(body) <= MAX_DEPTH  # a group takes two levels
    response = client.post(path, data=json.dumps(body), headers=CT)
    assert response.status_code < 500, response.data[:300]


def test_a_site_write_too_deep_is_refused(site_client: FlaskClient) -> None:
    for groups in (_groups_for(_questionnaire, MAX_DEPTH) + 1, 130):  # 130: the review's 500
        body = json.dumps(_questionnaire(groups))
        for response in (
            site_client.put("/fhir/Questionnaire/deep", data=body, headers=CT),
            site_client.post("/fhir/Questionnaire", data=body, headers=CT),
        ):
            assert response.status_code == 400, response.data[:300]
            assert response.get_json()["issue"][0]["code"] == "too-costly"


def test_a_site_write_at_the_limit_has_no_5xx(site_client: FlaskClient) -> None:
    body = _questionnaire(_groups_for(_questionnaire, MAX_DEPTH))
    response = site_client.put("/fhir/Questionnaire/deep", data=json.dumps(body), headers=CT)
    assert response.status_code < 500, response.data[:300]
