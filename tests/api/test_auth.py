"""Bearer tokens and SMART scopes: every refusal, every way in, and the public endpoints."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from harness.gunicorn import run_gunicorn
from service import create_app
from service.api.scopes import PUBLIC, granted, need, required_for
from service.config import ConfigError, load_settings
from service.fhir.conformance import OAUTH_URIS, SMART_ON_FHIR
from tests.api.conftest import outcome_codes
from tests.builders.instruments import build_response, full_answers
from tests.support.fhir_schema import validate_r4
from tests.support.tokens import AUDIENCE, ISSUER, Issuer, hmac_token

CT = "application/fhir+json"
SCORE = "/fhir/QuestionnaireResponse/$score"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def foreign() -> Issuer:
    """Another authorisation server, whose keys our JWKS does not hold."""
    return Issuer()


@pytest.fixture(scope="module")
def jwks(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return issuer.write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json")


def auth_settings(jwks: Path, **more: Any) -> dict[str, Any]:
    return {"auth_jwks": str(jwks), "auth_issuer": ISSUER, "auth_audience": AUDIENCE, **more}


@pytest.fixture(scope="module")
def secured(jwks: Path) -> Flask:
    return create_app(load_settings(auth_settings(jwks), environ={}))


@pytest.fixture
def client(secured: Flask) -> Iterator[FlaskClient]:
    with secured.test_client() as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def score(client: FlaskClient, token: str | None) -> Any:
    body = build_response("gad-7", full_answers("gad-7"))
    headers = bearer(token) if token is not None else {}
    return client.post(SCORE, data=json.dumps(body), content_type=CT, headers=headers)


# -- refusals -------------------------------------------------------------------------------


def test_no_token_is_401_login_with_a_bearer_challenge(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = client.get("/fhir/Questionnaire/gad-7", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="rapport"'
        assert outcome_codes(answer.get_json()) == ["login"]
        assert answer.headers["Cache-Control"] == "no-store"


def _now() -> int:
    return int(time.time())


def _refusals(issuer: Issuer, foreign: Issuer) -> dict[str, str]:
    now = _now()
    return {
        "empty": "",
        "malformed": "not-a.jwt",
        "alg none": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": "system/*.*"},
            None,
            algorithm="none",
            headers={"kid": "rsa-1"},
        ),
        "HS256 keyed with the public key": hmac_token(
            issuer.public_pem("rsa-1"),
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": "system/*.*"},
        ),
        "expired": issuer.token(exp=now - 120, iat=now - 600),
        "not yet valid (nbf)": issuer.token(nbf=now + 120),
        "issued in the future (iat)": issuer.token(iat=now + 120),
        "wrong issuer": issuer.token(iss="https://evil.example.org"),
        "wrong audience": issuer.token(aud="https://other.example.org/fhir"),
        "no exp": issuer.token(exp=None),
        "no sub": issuer.token(sub=None),
        "unknown kid": issuer.token(kid="rsa-9", alg="RS256", key=issuer.keys["rsa-1"]),
        "signed by a foreign key": foreign.token(kid="rsa-1"),
        "ES256 header on an RSA key": issuer.token(
            kid="rsa-1", alg="ES256", key=foreign.keys["ec-256"]
        ),
        "ES384 header on a P-256 key": issuer.token(
            kid="ec-256", alg="ES384", key=foreign.keys["ec-384"]
        ),
    }


REFUSALS = [
    "empty",
    "malformed",
    "alg none",
    "HS256 keyed with the public key",
    "expired",
    "not yet valid (nbf)",
    "issued in the future (iat)",
    "wrong issuer",
    "wrong audience",
    "no exp",
    "no sub",
    "unknown kid",
    "signed by a foreign key",
    "ES256 header on an RSA key",
    "ES384 header on a P-256 key",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_bad_token_is_401_security_invalid_token(
    client: FlaskClient, issuer: Issuer, foreign: Issuer, case: str
) -> None:
    token = _refusals(issuer, foreign)[case]
    for answer in (
        client.get("/fhir/Questionnaire/gad-7", headers=bearer(token)),
        score(client, token),
    ):
        assert answer.status_code == 401, case
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge == 'Bearer realm="rapport", error="invalid_token"'
        assert outcome_codes(answer.get_json()) == ["security"]


def _signed(issuer: Issuer, headers: dict[str, Any]) -> str:
    """A token valid in every way, signed by rsa-1, with exactly these extra JOSE headers."""
    now = _now()
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ehr-client-1", "exp": now + 300}
    body = {**claims, "scope": "system/*.*"}
    return jwt.encode(body, issuer.keys["rsa-1"], algorithm="RS256", headers=headers)


def refusal_text(answer: Any) -> str:
    assert answer.status_code == 401
    text: str = answer.get_json()["issue"][0]["details"]["text"]
    return text


def test_unknown_critical_header_is_refused_for_what_it_is(
    client: FlaskClient, issuer: Issuer
) -> None:
    headers = {"kid": "rsa-1", "crit": ["urn:example:binding"], "urn:example:binding": 1}
    text = refusal_text(score(client, _signed(issuer, headers)))
    assert text.endswith("its 'crit' header names an extension this server does not implement")


def test_a_kid_that_is_no_string_is_refused_for_what_it_is(
    client: FlaskClient, issuer: Issuer
) -> None:
    token = _signed(issuer, {"kid": "rsa-1"})
    header = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "kid": 7}).encode())
    forged = ".".join([header.decode(), *token.split(".")[1:]])
    assert refusal_text(score(client, forged)).endswith("its 'kid' header must be a string")


def test_a_token_without_kid_uses_the_only_key(issuer: Issuer, tmp_path: Path) -> None:
    single = issuer.write_jwks(tmp_path / "jwks.json", ["rsa-1"])
    with create_app(load_settings(auth_settings(single), environ={})).test_client() as client:
        assert score(client, _signed(issuer, {})).status_code == 200


def test_a_token_without_kid_is_refused_when_the_jwks_has_several_keys(
    client: FlaskClient, issuer: Issuer
) -> None:
    text = refusal_text(score(client, _signed(issuer, {})))
    assert text.endswith("it names no 'kid', and the authorisation server has several keys")


def test_leeway_lets_a_just_expired_token_through(client: FlaskClient, issuer: Issuer) -> None:
    now = _now()
    assert score(client, issuer.token(exp=now - 10, iat=now - 300)).status_code == 200
    assert score(client, issuer.token(nbf=now + 10)).status_code == 200


@pytest.mark.parametrize(
    "scope",
    [
        "system/Questionnaire.read",
        "system/Questionnaire.rs",
        "system/QuestionnaireResponse.r?status=completed",  # v2 query scopes grant nothing
        "patient/QuestionnaireResponse.read user/*.*",  # only system/ scopes count
        "",
    ],
)
def test_operations_without_their_scope_are_403(
    client: FlaskClient, issuer: Issuer, scope: str
) -> None:
    answer = score(client, issuer.token(scope))
    assert answer.status_code == 403
    assert outcome_codes(answer.get_json()) == ["forbidden"]
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="rapport", error="insufficient_scope"'
    )


# -- ways in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        "system/QuestionnaireResponse.read",  # v1
        "system/QuestionnaireResponse.r",
        "system/QuestionnaireResponse.rs",
        "system/QuestionnaireResponse.c",
        "system/QuestionnaireResponse.cruds",
        "system/QuestionnaireResponse.*",
        "system/*.read",
        "system/*.*",
        "system/*.cruds",
        "openid system/Questionnaire.r system/QuestionnaireResponse.r",
    ],
)
def test_operations_with_a_fitting_scope(client: FlaskClient, issuer: Issuer, scope: str) -> None:
    assert score(client, issuer.token(scope)).status_code == 200


@pytest.mark.parametrize(
    ("kid", "alg"),
    [("rsa-1", "RS256"), ("rsa-1", "RS384"), ("ec-256", "ES256"), ("ec-384", "ES384")],
)
def test_every_accepted_algorithm(client: FlaskClient, issuer: Issuer, kid: str, alg: str) -> None:
    assert score(client, issuer.token(kid=kid, alg=alg)).status_code == 200


def test_scope_list_claim_is_read_too(client: FlaskClient, issuer: Issuer) -> None:
    token = issuer.token(scope=None, scp=["system/QuestionnaireResponse.r"])
    assert score(client, token).status_code == 200


@pytest.mark.parametrize(
    ("path", "scope", "status"),
    [
        ("/fhir/Questionnaire/gad-7", "system/Questionnaire.read", 200),
        ("/fhir/Questionnaire/gad-7", "system/Questionnaire.r", 200),
        ("/fhir/Questionnaire/gad-7", "system/*.r", 200),
        ("/fhir/Questionnaire/gad-7", "system/Questionnaire.s", 403),
        ("/fhir/Questionnaire/gad-7", "system/QuestionnaireResponse.cruds", 403),
        ("/fhir/Questionnaire", "system/Questionnaire.read", 200),
        ("/fhir/Questionnaire", "system/Questionnaire.rs", 200),
        ("/fhir/Questionnaire", "system/Questionnaire.r", 403),  # v2: search is `s`
        ("/fhir/CodeSystem/rapport-scores", "system/Questionnaire.r", 200),
        ("/fhir/CodeSystem/rapport-scores", "system/CodeSystem.read", 200),
        ("/fhir/CodeSystem/rapport-scores", "system/ValueSet.read", 403),
        ("/fhir/OperationDefinition/QuestionnaireResponse-score", "system/Questionnaire.r", 200),
        (
            "/fhir/OperationDefinition/QuestionnaireResponse-score",
            "system/OperationDefinition.r",
            200,
        ),
    ],
)
def test_catalogue_reads_need_questionnaire_read(
    client: FlaskClient, issuer: Issuer, path: str, scope: str, status: int
) -> None:
    assert client.get(path, headers=bearer(issuer.token(scope))).status_code == status


def test_batch_needs_response_scope(client: FlaskClient, issuer: Issuer) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "request": {"method": "POST", "url": "QuestionnaireResponse/$validate"},
                "resource": build_response("gad-7", full_answers("gad-7")),
            }
        ],
    }
    data = json.dumps(bundle)
    read_only = bearer(issuer.token("system/Questionnaire.read"))
    allowed = bearer(issuer.token("system/QuestionnaireResponse.rs"))
    assert client.post("/fhir", data=data, content_type=CT, headers=read_only).status_code == 403
    assert client.post("/fhir", data=data, content_type=CT, headers=allowed).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("PUT", "/fhir/Questionnaire/site-q", "system/Questionnaire.u"),
        ("PUT", "/fhir/Questionnaire/site-q", "system/Questionnaire.write"),
        ("POST", "/fhir/Questionnaire", "system/Questionnaire.c"),
        ("DELETE", "/fhir/Questionnaire/site-q", "system/Questionnaire.d"),
        ("DELETE", "/fhir/Questionnaire/site-q", "system/*.cruds"),
    ],
)
def test_writes_need_write_scopes(
    client: FlaskClient, issuer: Issuer, method: str, path: str, scope: str
) -> None:
    body = json.dumps({"resourceType": "Questionnaire", "status": "draft"})
    reader = bearer(issuer.token("system/Questionnaire.rs system/QuestionnaireResponse.cruds"))
    writer = bearer(issuer.token(scope))
    refused = client.open(path, method=method, data=body, content_type=CT, headers=reader)
    assert refused.status_code == 403
    # Past authorisation, the embedded mode answers 405: writes need Redis.
    allowed = client.open(path, method=method, data=body, content_type=CT, headers=writer)
    assert allowed.status_code == 405


# -- what stays public ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/fhir/metadata", "/healthz", "/readyz", "/openapi.yaml", "/metrics"]
)
def test_public_endpoints_need_no_token(client: FlaskClient, path: str) -> None:
    assert client.get(path, headers={"Authorization": "Bearer junk"}).status_code == 200


def test_unknown_route_needs_a_token_before_it_says_404(
    client: FlaskClient, issuer: Issuer
) -> None:
    assert client.get("/fhir/Patient/123").status_code == 401
    assert client.get("/fhir/Patient/123", headers=bearer(issuer.token())).status_code == 404


def test_every_route_is_public_or_declares_its_scope(jwks: Path) -> None:
    # The portal on too (RAPPORT_PORTAL=on; with authentication it is off by default), so
    # every route the service can have is checked.
    secured = create_app(load_settings(auth_settings(jwks, portal="on"), environ={}))
    undeclared = [
        rule.endpoint
        for rule in secured.url_map.iter_rules()
        if rule.endpoint != "static"
        and rule.endpoint not in PUBLIC
        and required_for(rule.endpoint, secured.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []
    assert set(PUBLIC) <= {rule.endpoint for rule in secured.url_map.iter_rules()}


def test_scope_grammar() -> None:
    assert granted(["system/Questionnaire.read"]) == {
        ("Questionnaire", "r"),
        ("Questionnaire", "s"),
    }
    assert granted(["system/*.write"]) == {("*", "c"), ("*", "u"), ("*", "d")}
    assert granted(["system/Questionnaire.sr", "system/Questionnaire.", "Questionnaire.r"]) == set()
    assert need("Questionnaire.r").allowed_by(granted(["system/*.cruds"]))
    with pytest.raises(ValueError, match=r"Type\.letter"):
        need("Questionnaire.read")


# -- conformance and settings ---------------------------------------------------------------


def test_capability_statement_declares_smart(client: FlaskClient) -> None:
    body = client.get("/fhir/metadata").get_json()
    security = body["rest"][0]["security"]
    assert security["service"][0]["coding"] == [SMART_ON_FHIR]
    assert "system/QuestionnaireResponse.r" in security["description"]
    assert "extension" not in security  # no token endpoint configured
    assert validate_r4(body) == []


TOKEN_URL = "https://auth.example.org/realms/rapport/protocol/openid-connect/token"
WELL_KNOWN = "/fhir/.well-known/smart-configuration"


@pytest.fixture(scope="module")
def discoverable(jwks: Path) -> Flask:
    """Authentication on, with the authorisation server's token endpoint configured."""
    return create_app(load_settings(auth_settings(jwks, auth_token_url=TOKEN_URL), environ={}))


def test_capability_statement_names_the_token_endpoint(discoverable: Flask) -> None:
    body = discoverable.test_client().get("/fhir/metadata").get_json()
    security = body["rest"][0]["security"]
    token = {"url": "token", "valueUri": TOKEN_URL}
    assert security["extension"] == [{"url": OAUTH_URIS, "extension": [token]}]
    assert security["service"][0]["coding"] == [SMART_ON_FHIR]
    assert validate_r4(body) == []


def test_smart_configuration_is_public_json(discoverable: Flask) -> None:
    answer = discoverable.test_client().get(WELL_KNOWN, headers={"Accept": "application/fhir+json"})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"  # SMART: whatever the Accept header says
    body = answer.get_json()
    assert body["token_endpoint"] == TOKEN_URL
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["capabilities"] == ["client-confidential-asymmetric"]
    assert body["scopes_supported"] == [
        "system/*.cruds",
        "system/CodeSystem.r",
        "system/OperationDefinition.r",
        "system/Questionnaire.cruds",
        "system/QuestionnaireResponse.cr",
    ]
    assert all(granted([scope]) for scope in body["scopes_supported"])


@pytest.mark.parametrize("settings", [{}, {"auth": True}, {"auth_token_url": TOKEN_URL}])
def test_smart_configuration_is_404_without_authentication_or_token_url(
    jwks: Path, settings: dict[str, Any]
) -> None:
    if settings.pop("auth", False):
        settings = auth_settings(jwks)
    answer = create_app(load_settings(settings, environ={})).test_client().get(WELL_KNOWN)
    assert answer.status_code == 404
    assert outcome_codes(answer.get_json()) == ["not-found"]


def test_token_url_must_be_https() -> None:
    with pytest.raises(ConfigError, match=r"RAPPORT_AUTH_TOKEN_URL='http://auth\.example\.org"):
        load_settings({"auth_token_url": "http://auth.example.org/token"}, environ={})


def test_open_server_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="service.api.auth"):
        app = create_app(load_settings(environ={}))
    assert "authentication disabled: development mode" in caplog.text
    body = app.test_client().get("/fhir/metadata").get_json()
    assert "service" not in body["rest"][0]["security"]
    assert validate_r4(body) == []


@pytest.mark.parametrize("missing", ["auth_issuer", "auth_audience"])
def test_jwks_needs_issuer_and_audience(jwks: Path, missing: str) -> None:
    settings = auth_settings(jwks)
    del settings[missing]
    with pytest.raises(ConfigError) as caught:
        load_settings(settings, environ={})
    assert f"RAPPORT_{missing.upper()}=''" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unusable_jwks_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "jwks.json"
    bad.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"RAPPORT_AUTH_JWKS=.*no RSA or EC signing key"):
        create_app(load_settings(auth_settings(bad), environ={}))


# -- over HTTP ------------------------------------------------------------------------------


@pytest.mark.slow
def test_live_gunicorn_with_authentication(issuer: Issuer, jwks: Path) -> None:
    env = {
        "RAPPORT_AUTH_JWKS": str(jwks),
        "RAPPORT_AUTH_ISSUER": ISSUER,
        "RAPPORT_AUTH_AUDIENCE": AUDIENCE,
    }
    with run_gunicorn(env, workers=2) as server:
        url = f"{server.url}/fhir/Questionnaire/gad-7"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        refused.value.close()
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Bearer realm="rapport"'
        request = urllib.request.Request(url, headers=bearer(issuer.token("system/*.read")))
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        log = server.read_log()
    assert '"client":"sub:ehr-client-1"' in log
    assert "authentication disabled" not in log
