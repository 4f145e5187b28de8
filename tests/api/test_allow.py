"""`Allow` (on a 405) and OPTIONS name exactly the methods that work, in each catalogue mode."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from tests.api.conftest import outcome_codes
from tests.builders.catalog import mini

Q = "/fhir/Questionnaire"
PATHS = [
    "/fhir",
    "/fhir/metadata",
    Q,
    f"{Q}/phq-9",
    f"{Q}/phq-9/_history",
    "/fhir/CodeSystem/rapport-rules",
    "/fhir/QuestionnaireResponse/$score",
    f"{Q}/site-form",
    "/fhir/QuestionnaireResponse",
    "/fhir/QuestionnaireResponse/any-id",
]
#: What OPTIONS answers on PATHS, per mode.
ALLOW = {
    "embedded": [
        "OPTIONS, POST",
        "GET, HEAD, OPTIONS",
        "GET, HEAD, OPTIONS",
        "GET, HEAD, OPTIONS",
        "OPTIONS",  # history needs Redis
        "GET, HEAD, OPTIONS",
        "OPTIONS, POST",
        "GET, HEAD, OPTIONS",
        "OPTIONS",  # no response is ever stored: POST, PUT... answer why, with a 405
        "OPTIONS",
    ],
    "redis": [
        "OPTIONS, POST",
        "GET, HEAD, OPTIONS",
        "GET, HEAD, OPTIONS, POST",
        "GET, HEAD, OPTIONS",  # shipped content is read-only
        "GET, HEAD, OPTIONS",
        "GET, HEAD, OPTIONS",
        "OPTIONS, POST",
        "DELETE, GET, HEAD, OPTIONS, PUT",  # a site id
        "OPTIONS",
        "OPTIONS",
    ],
}


@pytest.fixture(params=["embedded", "redis"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(request: pytest.FixtureRequest, mode: str) -> Iterator[FlaskClient]:
    """The app in `mode` (Redis: the private server, emptied for this test)."""
    overrides = {}
    if mode == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
        request.getfixturevalue("redis_client")  # flushes the database
    with create_app(load_settings(overrides, environ={})).test_client() as client:
        yield client


@pytest.mark.parametrize("index", range(len(PATHS)), ids=PATHS)
def test_options_is_an_empty_204_naming_what_works(
    client: FlaskClient, mode: str, index: int
) -> None:
    answer = client.options(PATHS[index])
    assert answer.status_code == 204
    assert answer.headers["Allow"] == ALLOW[mode][index]
    assert "Content-Type" not in answer.headers
    assert answer.data == b""


def _site_form(client: FlaskClient) -> None:
    """Store the site's own `site-form`, so that DELETE has a version to remove."""
    body = json.dumps({**mini(), "id": "site-form", "url": "https://example.org/site/site-form"})
    headers = {"Content-Type": "application/fhir+json"}
    assert client.put(f"{Q}/site-form", data=body, headers=headers).status_code == 201


@pytest.mark.parametrize("index", range(len(PATHS)), ids=PATHS)
def test_every_method_allowed_works_and_no_other(
    client: FlaskClient, mode: str, index: int
) -> None:
    path, allowed = PATHS[index], set(ALLOW[mode][index].split(", "))
    if mode == "redis":
        _site_form(client)
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"):
        headers = {"Content-Type": "application/fhir+json"}
        answer = client.open(path, method=method, data=json.dumps({}), headers=headers)
        if method in allowed:
            assert answer.status_code != 405, method
        else:
            # 405, or 400 where a write's `path:` id takes `phq-9/_history` for an id.
            assert answer.status_code in {400, 405}, (method, answer.status_code)
        if answer.status_code == 405:
            assert set(answer.headers["Allow"].split(", ")) - {""} <= allowed


def test_writes_of_shipped_content_name_what_its_resource_allows(
    redis_url: str, redis_client: redis.Redis
) -> None:
    client = create_app(load_settings({"redis_url": redis_url}, environ={})).test_client()
    for method in ("DELETE", "PUT"):
        refused = client.open(f"{Q}/phq-9", method=method, data="{}")
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET, HEAD"


def test_patch_is_405_with_only_the_methods_of_the_mode(client: FlaskClient, mode: str) -> None:
    answer = client.patch(f"{Q}/phq-9", data="{}", content_type="application/fhir+json")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == ALLOW[mode][PATHS.index(f"{Q}/phq-9")]
    assert outcome_codes(answer.get_json()) == ["not-supported"]


def test_options_on_an_unknown_path_is_404(client: FlaskClient) -> None:
    answer = client.options("/fhir/Patient/1")
    assert answer.status_code == 404
    assert outcome_codes(answer.get_json()) == ["not-found"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/fhir/QuestionnaireResponse"),  # fhirpy's save(), fhirclient's create()
        ("PUT", "/fhir/QuestionnaireResponse/qr-1"),  # their update()
        ("GET", "/fhir/QuestionnaireResponse"),
        ("GET", "/fhir/QuestionnaireResponse/qr-1"),
        ("DELETE", "/fhir/QuestionnaireResponse/qr-1"),
    ],
)
def test_storing_a_response_is_405_naming_the_operations_to_call(
    client: FlaskClient, method: str, path: str
) -> None:
    body = json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed"})
    answer = client.open(path, method=method, data=body, content_type="application/fhir+json")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "OPTIONS"
    outcome = answer.get_json()
    assert outcome_codes(outcome) == ["not-supported"]
    text = outcome["issue"][0]["details"]["text"]
    assert "stores no QuestionnaireResponses" in text
    assert all(name in text for name in ("$validate", "$score", "$extract")), text


def test_an_operation_read_with_get_is_still_its_own_405(client: FlaskClient) -> None:
    answer = client.get("/fhir/QuestionnaireResponse/$score")
    assert (answer.status_code, answer.headers["Allow"]) == (405, "OPTIONS, POST")
