"""openapi.yaml stays honest: a valid OpenAPI 3.1 document, whose operations are exactly the
app's routes, and which a schemathesis run against a live gunicorn cannot catch out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from flask import Flask
from openapi_spec_validator import validate

from harness.gunicorn import LiveServer

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"

#: Path item keys that are operations (OpenAPI 3.1 §4.8.9).
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
#: Methods werkzeug adds to every rule by itself: HEAD beside GET, OPTIONS everywhere.
AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})
#: Flask's `<converter:name>` and OpenAPI's `{name}` both become `{}`: names are local to
#: each side (Flask's `resource_id` is FHIR's `{id}`), positions are what must agree.
FLASK_VARIABLE = re.compile(r"<(?:[a-z_]+:)?\w+>")
OPENAPI_VARIABLE = re.compile(r"\{\w+\}")

#: Blueprints that are not the API: the portal's web pages (service/portal) are HTML for
#: people, documented in docs/portal.md, not operations of the FHIR API.
NOT_API = frozenset({"portal"})

FHIR_JSON = "application/fhir+json"
OUTCOME = "#/components/schemas/OperationOutcome"

#: A bounded, repeatable run: the same cases on every machine (derandomised, no example
#: database), valid and invalid requests alike, and only the checks that judge the document:
#: no 5xx, and every status, media type, header and body as documented.
SCHEMATHESIS_CONFIG: dict[str, Any] = {
    "seed": 20261125,
    "generation": {
        "mode": "all",
        "max-examples": 50,
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
    },
}


def load_document() -> dict[str, Any]:
    """openapi.yaml as data."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return document


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path template with `{}` placeholders) for every operation in the document."""
    return {
        (method.upper(), OPENAPI_VARIABLE.sub("{}", path))
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def routed_operations(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, path template with `{}` placeholders) for every route the app registers."""
    return {
        (method, FLASK_VARIABLE.sub("{}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.endpoint.partition(".")[0] not in NOT_API
        for method in (rule.methods or set()) - AUTOMATIC_METHODS
    }


def responses(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(operation, status, response object) for every documented response, refs resolved."""
    components = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[1]
                    yield f"{method.upper()} {path}", status, components[name]
                else:
                    yield f"{method.upper()} {path}", status, response


@pytest.fixture(scope="module")
def app() -> Flask:
    """One app with the default settings, as gunicorn builds it."""
    from service import create_app  # late: a broken service fails these tests, not collection

    return create_app()


def test_document_is_valid_openapi_3_1() -> None:
    document = load_document()
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_documented_operations_are_the_app_routes(app: Flask) -> None:
    documented = documented_operations(load_document())
    routed = routed_operations(app)
    assert sorted(routed - documented) == [], "routes missing from openapi.yaml"
    assert sorted(documented - routed) == [], "openapi.yaml documents routes the app lacks"


def test_every_answer_is_fhir_json_and_every_error_an_operation_outcome() -> None:
    document = load_document()
    wrong = []
    for operation, status, response in responses(document):
        media = set(response.get("content", {}))
        if status == "304":
            expected = set()
        elif (operation, status) == ("GET /openapi.yaml", "200"):
            expected = {"application/yaml"}
        elif (operation, status) == ("GET /metrics", "200"):
            expected = {"text/plain"}
        elif (operation, status) == ("GET /fhir/.well-known/smart-configuration", "200"):
            expected = {"application/json"}  # SMART App Launch: JSON whatever Accept says
        else:
            expected = {FHIR_JSON}
        schema = response.get("content", {}).get(FHIR_JSON, {}).get("schema")
        if media != expected or (status[0] in "45" and schema != {"$ref": OUTCOME}):
            wrong.append((operation, status))
    assert wrong == []


def test_the_app_serves_this_document_as_yaml(app: Flask) -> None:
    answer = app.test_client().get("/openapi.yaml")
    assert answer.status_code == 200
    assert answer.mimetype == "application/yaml"
    assert answer.mimetype_params.get("charset") == "utf-8"
    assert answer.get_data() == SPEC.read_bytes()


# Loaded from the file, not from the live server: schemathesis' fixture-backed loader
# (`schemathesis.pytest.from_fixture`) sets `request.node._nodeid`, which pytest 9 no longer
# has. The file is what the server sends byte for byte (test_the_app_serves_this_document).
document_under_test = schemathesis.openapi.from_path(
    SPEC, config=schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
)


@pytest.mark.slow
@document_under_test.parametrize()
def test_live_server_honours_the_document(case: schemathesis.Case, live_server: LiveServer) -> None:
    case.call_and_validate(base_url=live_server.url, timeout=10)


def _parameters(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, parameter object) for every parameter, references resolved."""
    components = document["components"]["parameters"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for listed in operation.get("parameters", []):
                parameter = (
                    components[listed["$ref"].rsplit("/", 1)[1]] if "$ref" in listed else listed
                )
                yield f"{method.upper()} {path} {parameter['name']}", parameter


def test_no_optional_parameter_has_an_example_a_client_would_send() -> None:
    # Swagger UI's "Try it out" fills every parameter from its example: an `_elements` or
    # `If-Modified-Since` example would cut down or empty what a plain call returns. Path
    # parameters must have a value, so theirs stay; the rest say theirs in the description.
    filled = [
        where
        for where, parameter in _parameters(load_document())
        if parameter["in"] != "path"
        and ({"example", "examples"} & (parameter.keys() | parameter["schema"].keys()))
    ]
    assert filled == []
