"""The CapabilityStatement lists exactly what the routes implement, in both catalogue modes.

Each declared interaction, operation and search parameter is requested for real and must
be routed (no 404, no 405); each FHIR route of the app must be declared, or, in the
embedded mode, be one of the site catalogue's routes that answer 405 until Redis is set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from tests.builders.catalog import mini

CT = {"Content-Type": "application/fhir+json"}
#: How each interaction is reached (http.html), from the type and a resource's id and version.
INTERACTIONS = {
    "read": ("GET", "/fhir/{type}/{id}"),
    "vread": ("GET", "/fhir/{type}/{id}/_history/{vid}"),
    "update": ("PUT", "/fhir/{type}/{id}"),
    "history-instance": ("GET", "/fhir/{type}/{id}/_history"),
    "create": ("POST", "/fhir/{type}"),
    "search-type": ("GET", "/fhir/{type}"),
    "delete": ("DELETE", "/fhir/{type}/{id}"),  # last: the resource is gone after it
}
SYSTEM_INTERACTIONS = {"batch": ("POST", "/fhir")}
#: Routes that no rest.interaction names, and why.
UNLISTED = {
    "/fhir/metadata",  # the capabilities interaction itself, which every server has
    "/fhir/.well-known/smart-configuration",  # SMART discovery, declared in rest.security
}
SEARCH_VALUES = {
    "token": "true",
    "string": "x",
    "uri": "https://example.org/x",
    "special": "name",  # _sort, the one special parameter: a sort key
}
#: A resource each type's instance interactions can read.
READ_IDS = {
    "Questionnaire": "phq-9",
    "CodeSystem": "rapport-scores",
    "OperationDefinition": "QuestionnaireResponse-score",
}


@pytest.fixture(params=["embedded", "redis"])
def app(request: pytest.FixtureRequest) -> Flask:
    """The app in each mode (Redis: the private server, emptied for this test)."""
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        overrides["redis_url"] = request.getfixturevalue("redis_url")
        request.getfixturevalue("redis_client")  # flushes the database
    return create_app(load_settings(overrides, environ={}))


def _site_questionnaire(client: FlaskClient) -> tuple[str, str]:
    """A site Questionnaire's id and version, created for the write interactions."""
    created = client.post("/fhir/Questionnaire", data=json.dumps(mini()), headers=CT)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    return body["id"], body["meta"]["versionId"]


def declared(client: FlaskClient, *, create: bool = True) -> Iterator[tuple[str, str, str]]:
    """(what, method, path) for everything the CapabilityStatement says is implemented.

    With `create`, the instance interactions of a type that takes creates use a new site
    resource (so update and delete have one to work on).
    """
    rest = client.get("/fhir/metadata").get_json()["rest"][0]
    for interaction in rest["interaction"]:
        method, path = SYSTEM_INTERACTIONS[interaction["code"]]
        yield interaction["code"], method, path
    for resource in rest["resource"]:
        kind = resource["type"]
        codes = {interaction["code"] for interaction in resource.get("interaction", [])}
        assert not codes - set(INTERACTIONS), f"{kind}: no route known for {codes}"
        rid, vid = READ_IDS.get(kind, "x"), "x"
        if create and "create" in codes:
            rid, vid = _site_questionnaire(client)
        for code, (method, template) in INTERACTIONS.items():
            if code in codes:
                yield f"{kind} {code}", method, template.format(type=kind, id=rid, vid=vid)
        for operation in resource.get("operation", []):
            yield f"{kind} ${operation['name']}", "POST", f"/fhir/{kind}/${operation['name']}"
        for param in resource.get("searchParam", []):
            value = SEARCH_VALUES[param["type"]]
            yield f"{kind}?{param['name']}", "GET", f"/fhir/{kind}?{param['name']}={value}"


def _answer(client: FlaskClient, method: str, path: str) -> Any:
    body: dict[str, Any] = {}
    if method == "PUT":
        rid = path.rsplit("/", 1)[1]
        body = {**mini(), "id": rid, "url": f"https://example.org/site/{rid}"}
    # Strict handling: a search parameter the server does not support is a 400, not ignored.
    headers = {**CT, "Prefer": "handling=strict"}
    return client.open(path, method=method, data=json.dumps(body), headers=headers)


def _rule(app: Flask, method: str, path: str) -> str:
    adapter = app.url_map.bind("localhost")
    rule, _ = adapter.match(path.partition("?")[0], method, return_rule=True)
    return str(rule.rule)


def fhir_routes(app: Flask) -> set[tuple[str, str]]:
    """(method, rule) of every FHIR route, without werkzeug's automatic HEAD and OPTIONS."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule == "/fhir" or rule.rule.startswith("/fhir/")
        if rule.rule not in UNLISTED
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_everything_declared_is_routed_and_answers(app: Flask) -> None:
    client = app.test_client()
    for what, method, path in declared(client):
        answer = _answer(client, method, path)
        assert answer.status_code not in {404, 405}, (what, method, path, answer.get_json())
        assert answer.status_code < 500, (what, answer.get_json())


def test_every_route_is_declared_or_answers_405_until_redis(app: Flask) -> None:
    client = app.test_client()
    found = declared(client, create=False)
    listed = {(method, _rule(app, method, path)) for _, method, path in found}
    writable = bool(app.extensions["rapport"].settings.redis_url)
    for method, rule in sorted(fhir_routes(app) - listed):
        answer = client.open(re.sub(r"<[^>]+>", "x", rule), method=method, data="{}", headers=CT)
        assert answer.status_code == 405, (method, rule)
        if rule.startswith("/fhir/QuestionnaireResponse"):  # in no mode: none is stored
            assert "stores no QuestionnaireResponses" in answer.get_data(as_text=True)
            continue
        assert not writable, f"{method} {rule} is routed but not in the CapabilityStatement"
        assert "RAPPORT_REDIS_URL" in answer.get_data(as_text=True)


def test_redis_mode_declares_the_site_catalogue(redis_url: str, redis_client: redis.Redis) -> None:
    # The route comparison above is only as strong as the modes differ: make sure they do.
    embedded = create_app(load_settings(environ={})).test_client()
    site = create_app(load_settings({"redis_url": redis_url}, environ={})).test_client()
    assert len(list(declared(site, create=False))) > len(list(declared(embedded)))
