"""Who a rate limit counts against: the verified subject, else the address, behind proxies too.

The budget/429 basics and Redis sharing are in test_writes.py; these are about identity:
refused tokens, forged subjects, unknown routes and X-Forwarded-For.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import ConfigError, load_settings
from tests.api.conftest import outcome_codes
from tests.support.tokens import AUDIENCE, ISSUER, Issuer

GAD7 = "/fhir/Questionnaire/gad-7"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def jwks(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return issuer.write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json")


def make_app(**settings: Any) -> Flask:
    return create_app(load_settings(settings, environ={}))


def secured(jwks: Path, rate_limit: str) -> FlaskClient:
    """A client on an app with authentication and this rate limit."""
    settings = {"auth_jwks": str(jwks), "auth_issuer": ISSUER, "auth_audience": AUDIENCE}
    return make_app(rate_limit=rate_limit, **settings).test_client()


def get(client: FlaskClient, path: str = GAD7, token: str | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    address = headers.pop("address", "127.0.0.1")
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": address})


# -- refused requests -----------------------------------------------------------------------


def test_refused_tokens_count_against_the_address(jwks: Path, issuer: Issuer) -> None:
    client = secured(jwks, "5/minute")
    answers = [get(client, token="not-a.jwt").status_code for _ in range(6)]
    assert answers == [401, 401, 401, 401, 401, 429]
    throttled = get(client, token=issuer.token(kid="rsa-9", alg="RS256", key=issuer.keys["rsa-1"]))
    assert throttled.status_code == 429  # no more verifying (nor JWKS re-reads) for it
    assert outcome_codes(throttled.get_json()) == ["throttled"]
    assert 0 < int(throttled.headers["Retry-After"]) <= 61
    assert get(client, token="not-a.jwt", address="10.0.0.9").status_code == 401
    # A valid token is its subject's budget, whatever its address has done.
    assert get(client, token=issuer.token()).status_code == 200


def test_requests_without_a_token_count_against_the_address(jwks: Path) -> None:
    client = secured(jwks, "2/minute")
    assert [get(client).status_code for _ in range(3)] == [401, 401, 429]


def test_a_forged_subject_spends_its_address_not_the_subject(jwks: Path, issuer: Issuer) -> None:
    client = secured(jwks, "3/minute")
    forged = Issuer().token(sub="ehr-client-1")  # right claims, a key we do not trust
    answers = [get(client, token=forged, address="10.6.6.6").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    real = issuer.token(sub="ehr-client-1")
    assert [get(client, token=real).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_requests_refused_for_their_scope_count_against_the_subject(
    jwks: Path, issuer: Issuer
) -> None:
    client = secured(jwks, "2/minute")
    reader = issuer.token("system/CodeSystem.read")
    assert [get(client, token=reader).status_code for _ in range(3)] == [403, 403, 429]
    assert get(client, token="junk").status_code == 401  # the address's budget is untouched


def test_unknown_routes_count_too(jwks: Path, issuer: Issuer) -> None:
    client = secured(jwks, "2/minute")
    answers = [get(client, "/fhir/Patient/1", token="junk").status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    open_client = make_app(rate_limit="2/minute").test_client()
    assert [get(open_client, "/fhir/Patient/1").status_code for _ in range(3)] == [404, 404, 429]


def test_public_endpoints_count_against_the_address(jwks: Path) -> None:
    client = secured(jwks, "2/minute")
    assert get(client, "/fhir/metadata").status_code == 200
    assert get(client, "/fhir/metadata").status_code == 200
    assert get(client, "/fhir/metadata").status_code == 429
    assert get(client, "/healthz").status_code == 200  # probes are never throttled


# -- proxies --------------------------------------------------------------------------------


PROXY = "10.0.0.5"  # the ingress, in the trusted network
TRUSTED = "10.0.0.0/8"


def test_a_trusted_proxy_tells_each_client_apart() -> None:
    client = make_app(rate_limit="1/minute", trusted_proxies=TRUSTED).test_client()
    first = {"X-Forwarded-For": "203.0.113.7", "address": PROXY}
    second = {"X-Forwarded-For": "203.0.113.8", "address": PROXY}
    assert get(client, **first).status_code == 200
    assert get(client, **first).status_code == 429
    assert get(client, **second).status_code == 200  # its own budget


def test_only_the_trusted_hops_are_believed() -> None:
    client = make_app(rate_limit="1/minute", trusted_proxies=TRUSTED).test_client()
    # A client may send its own X-Forwarded-For; our proxies append what they saw.
    chain = "198.51.100.1, 203.0.113.7, 10.0.0.9"
    assert get(client, **{"X-Forwarded-For": chain, "address": PROXY}).status_code == 200
    chain = "198.51.100.2, 203.0.113.7, 10.0.0.9"
    assert get(client, **{"X-Forwarded-For": chain, "address": PROXY}).status_code == 429


def test_a_client_reaching_the_port_directly_is_never_believed() -> None:
    # The issue's attack: rotating X-Forwarded-For straight at gunicorn's port.
    client = make_app(rate_limit="1/minute", trusted_proxies=TRUSTED).test_client()
    direct = "198.51.100.9"
    assert get(client, **{"X-Forwarded-For": "203.0.113.1", "address": direct}).status_code == 200
    for n in range(2, 6):
        forged = {"X-Forwarded-For": f"203.0.113.{n}", "address": direct}
        assert get(client, **forged).status_code == 429


@pytest.mark.parametrize("forged", ["not-an-ip", 'x" injected="1', "203.0.113.7\tevil", "::g"])
def test_only_addresses_are_taken_from_the_header(forged: str) -> None:
    client = make_app(rate_limit="1/minute", trusted_proxies=TRUSTED).test_client()
    assert get(client, **{"X-Forwarded-For": forged, "address": PROXY}).status_code == 200
    # Not an address: the client is the proxy itself, whatever the header said.
    other = {"X-Forwarded-For": forged + "2", "address": PROXY}
    assert get(client, **other).status_code == 429


def test_forwarded_headers_are_ignored_without_trusted_proxies() -> None:
    client = make_app(rate_limit="1/minute").test_client()
    assert get(client, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    assert get(client, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 429  # one address


@pytest.mark.parametrize(
    ("proxies", "address", "proto", "scheme"),
    [
        (TRUSTED, PROXY, "https", "https"),
        (TRUSTED, PROXY, "javascript", "http"),  # only http or https
        (TRUSTED, PROXY, "HTTPS", "https"),
        (TRUSTED, "198.51.100.9", "https", "http"),  # not from a trusted proxy
        ("", PROXY, "https", "http"),
    ],
)
def test_links_follow_a_trusted_proxys_scheme(
    proxies: str, address: str, proto: str, scheme: str
) -> None:
    client = make_app(trusted_proxies=proxies).test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": proto, "address": address}
    bundle = get(client, "/fhir/Questionnaire?_count=1", **forwarded).get_json()
    assert all(link["url"].startswith(f"{scheme}://") for link in bundle["link"])


@pytest.mark.parametrize("value", ["-1", "1", "2", "two", "10.0.0.0/33", "10.0.0.1,x"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ConfigError, match=f"RAPPORT_TRUSTED_PROXIES='{value}'"):
        load_settings(environ={"RAPPORT_TRUSTED_PROXIES": value})


def test_trusted_proxies_are_read_as_networks() -> None:
    read = load_settings(environ={"RAPPORT_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,::1"})
    assert read.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    assert load_settings(environ={"RAPPORT_TRUSTED_PROXIES": "0"}).trusted_proxies == ()


@pytest.mark.parametrize(
    "host", ["evil.example/x?", 'a"b', "example.org:8080/path", "user@example.org", "-x-.org"]
)
def test_a_host_that_is_no_host_is_refused(host: str) -> None:
    client = make_app().test_client()
    answer = client.get("/fhir/Questionnaire?_count=1", headers={"Host": host})
    assert answer.status_code == 400
    assert outcome_codes(answer.get_json()) == ["value"]


def test_links_name_a_valid_host_or_the_base_url() -> None:
    for host in ("rapport.example.org:8443", "[::1]:8080", "10.1.2.3"):
        bundle = (
            make_app().test_client().get("/fhir/Questionnaire?_count=1", headers={"Host": host})
        )
        assert bundle.get_json()["link"][0]["url"].startswith(f"http://{host}/fhir/")
    configured = make_app(base_url="https://fhir.example.org/r/fhir").test_client()
    for host in ("evil.example", 'a"b'):  # never used: the base URL is
        bundle = configured.get("/fhir/Questionnaire?_count=1", headers={"Host": host}).get_json()
        assert bundle["link"][0]["url"].startswith("https://fhir.example.org/r/fhir/")
