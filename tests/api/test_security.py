"""Security headers and CORS: nosniff, no-store on operation results, no banner, an allow-list."""

from __future__ import annotations

import json
import urllib.request

import pytest
from flask import Flask
from flask.testing import FlaskClient

from harness.gunicorn import LiveServer
from service import create_app
from service.config import ConfigError, load_settings
from tests.builders.instruments import build_response, full_answers
from tests.support.tokens import AUDIENCE, ISSUER, Issuer

CT = "application/fhir+json"
APP_ORIGIN = "https://forms.example.org"


def test_every_answer_says_nosniff(client: FlaskClient) -> None:
    # Once each: the hooks add their headers without looking for one to replace.
    body = json.dumps(build_response("gad-7", full_answers("gad-7")))
    for answer in (
        client.get("/fhir/metadata"),
        client.get("/fhir/nowhere"),
        client.get("/healthz"),
        client.get("/"),
        client.delete("/fhir/metadata"),
        client.options("/fhir/metadata", headers={"Origin": "http://localhost:8000"}),
        client.get("/fhir/Questionnaire/gad-7", headers={"Origin": "http://localhost:8000"}),
        client.post("/fhir/QuestionnaireResponse/$score", data=body, content_type=CT),
        client.post("/fhir/QuestionnaireResponse/$score", data="{", content_type=CT),
        client.post("/fhir", data='{"resourceType": "Bundle", "type": "batch"}', content_type=CT),
    ):
        assert answer.headers.getlist("X-Content-Type-Options") == ["nosniff"]
        assert len(answer.headers.getlist("X-Request-ID")) == 1
        assert len(answer.headers.getlist("Vary")) <= 1


def test_operation_results_are_never_stored(client: FlaskClient) -> None:
    response = build_response("gad-7", full_answers("gad-7"), subject={"reference": "Patient/p"})
    body = json.dumps(response)
    for operation in ("$validate", "$score", "$extract"):
        answer = client.post(f"/fhir/QuestionnaireResponse/{operation}", data=body, content_type=CT)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
    bad = client.post("/fhir/QuestionnaireResponse/$score", data="{", content_type=CT)
    assert bad.headers["Cache-Control"] == "no-store"
    # Catalogue reads stay revalidatable with their ETag.
    assert client.get("/fhir/Questionnaire/gad-7").headers["Cache-Control"] == "no-cache"


@pytest.fixture(scope="module")
def production() -> FlaskClient:
    """The app as the container runs it: bound to every interface, no CORS setting."""
    return create_app(load_settings({"bind": "0.0.0.0:8080"}, environ={})).test_client()


@pytest.mark.parametrize("origin", [APP_ORIGIN, "http://localhost:8000"])
def test_cors_is_off_by_default_off_loopback(production: FlaskClient, origin: str) -> None:
    client = production
    origin = {"Origin": origin}
    answer = client.get("/fhir/metadata", headers=origin)
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" not in answer.vary
    preflight = client.options(
        "/fhir/QuestionnaireResponse/$score",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


LOCAL_ORIGINS = ["http://localhost:8000", "http://127.0.0.1:5173", "http://localhost"]


@pytest.mark.parametrize("origin", LOCAL_ORIGINS)
def test_a_loopback_bind_lets_pages_on_this_machine_call_it(
    client: FlaskClient, origin: str
) -> None:
    # `make run`: RAPPORT_BIND 127.0.0.1:8080, RAPPORT_CORS_ORIGINS unset (Swagger UI, a
    # renderer on a local dev server).
    preflight = client.options(
        "/fhir/QuestionnaireResponse/$score",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    answer = client.get("/fhir/metadata", headers={"Origin": origin})
    assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert answer.get_json()["rest"][0]["security"]["cors"] is True


@pytest.mark.parametrize(
    "origin",
    [APP_ORIGIN, "https://localhost:8000", "http://localhost.evil.org", "http://127.0.0.2",
     "http://localhost:8000.evil.org", "null"],
)  # fmt: skip
def test_a_loopback_bind_lets_no_other_origin_in(client: FlaskClient, origin: str) -> None:
    answer = client.get("/fhir/metadata", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" in answer.vary


def test_a_cors_setting_replaces_the_loopback_default() -> None:
    for listed in ("", APP_ORIGIN):  # set, even empty: exactly the listed origins
        settings = load_settings({"cors_origins": listed}, environ={})
        client = create_app(settings).test_client()
        answer = client.get("/fhir/metadata", headers={"Origin": "http://localhost:8000"})
        assert "Access-Control-Allow-Origin" not in answer.headers
    empty = load_settings(environ={"RAPPORT_CORS_ORIGINS": ""})
    assert (empty.cors_origins, empty.local_cors) == ((), False)
    assert load_settings(environ={"RAPPORT_BIND": "[::1]:8080"}).local_cors is True


@pytest.fixture(scope="module")
def cors_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    jwks = Issuer().write_jwks(tmp_path_factory.mktemp("cors") / "jwks.json")
    settings = {
        "cors_origins": f"{APP_ORIGIN}, http://localhost:3000",
        "auth_jwks": str(jwks),
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
    }
    return create_app(load_settings(settings, environ={}))


def test_allowed_origin_gets_a_preflight_without_a_token(cors_app: Flask) -> None:
    preflight = cors_app.test_client().options(
        "/fhir/QuestionnaireResponse/$score",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = preflight.headers["Access-Control-Allow-Headers"]
    for header in ("Authorization", "Content-Type", "X-Request-ID"):
        assert header in allowed
    assert "Origin" in preflight.vary


def test_other_origins_get_no_cors_headers(cors_app: Flask) -> None:
    client = cors_app.test_client()
    for origin in ("https://evil.example.org", "https://forms.example.org.evil.org", "null"):
        preflight = client.options(
            "/fhir/Questionnaire",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers
        answer = client.get("/fhir/metadata", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in answer.headers
        assert "Origin" in answer.vary


def test_allowed_origin_sees_the_answer_and_its_headers(cors_app: Flask) -> None:
    answer = cors_app.test_client().get("/fhir/metadata", headers={"Origin": APP_ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = answer.headers["Access-Control-Expose-Headers"]
    assert "ETag" in exposed
    assert "X-Request-ID" in exposed
    assert answer.get_json()["rest"][0]["security"]["cors"] is True
    # A refusal is readable too, so a browser app can tell a 401 from a network error.
    refused = cors_app.test_client().get("/fhir/Questionnaire", headers={"Origin": APP_ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


@pytest.mark.slow
def test_no_server_version_banner_over_http(live_server: LiveServer) -> None:
    with urllib.request.urlopen(f"{live_server.url}/fhir/metadata", timeout=10) as answer:
        server = answer.headers.get_all("Server") or []
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert server == ["rapport"]


def test_origins_setting_is_checked() -> None:
    for bad in ("https://a.example.org/path", "*", "https://A.example.org"):
        with pytest.raises(ConfigError, match="RAPPORT_CORS_ORIGINS"):
            load_settings({"cors_origins": bad}, environ={})
