"""Reads and searches over HTTP: conformance, Questionnaire, CodeSystem, conditional reads."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import outcome_codes

FHIR_JSON = "application/fhir+json; charset=utf-8"
SHIPPED = {"wai-sr", "arm-5", "ebi", "meq-30", "qids-sr-16", "phq-9", "gad-7"}


def get(client: FlaskClient, path: str, **headers: str) -> tuple[int, Any]:
    response = client.get(path, headers=headers)
    assert response.content_type == FHIR_JSON or response.status_code == 304
    return response.status_code, response.get_json(silent=True)


def test_metadata_is_an_r4_capability_statement(client: FlaskClient) -> None:
    status, body = get(client, "/fhir/metadata")
    assert status == 200
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    rest = body["rest"][0]
    kinds = {resource["type"]: resource for resource in rest["resource"]}
    assert set(kinds) == {
        "Questionnaire",
        "QuestionnaireResponse",
        "CodeSystem",
        "OperationDefinition",
    }
    params = {param["name"] for param in kinds["Questionnaire"]["searchParam"]}
    assert params == {
        "_id",
        "url",
        "version",
        "name",
        "title",
        "status",
        "code",
        "publisher",
        "experimental",
    }
    assert kinds["Questionnaire"]["conditionalRead"] == "full-support"
    operations = {op["name"] for op in kinds["QuestionnaireResponse"]["operation"]}
    assert operations == {"validate", "score", "extract"}


def test_every_operation_definition_the_capability_names_is_served(client: FlaskClient) -> None:
    _, body = get(client, "/fhir/metadata")
    for op in body["rest"][0]["resource"][1]["operation"]:
        op_id = op["definition"].rsplit("/", 1)[1]
        status, definition = get(client, f"/fhir/OperationDefinition/{op_id}")
        assert status == 200
        assert definition["url"] == op["definition"]
        assert definition["code"] == op["name"]


def test_read_questionnaire_with_etag_and_conditional_304(client: FlaskClient) -> None:
    response = client.get("/fhir/Questionnaire/phq-9")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == "phq-9"
    etag = response.headers["ETag"]
    assert etag == f'W/"{body["meta"]["versionId"]}"'
    assert response.headers["Last-Modified"]
    again = client.get("/fhir/Questionnaire/phq-9", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    other = client.get("/fhir/Questionnaire/phq-9", headers={"If-None-Match": 'W/"stale"'})
    assert other.status_code == 200
    since = client.get(
        "/fhir/Questionnaire/phq-9",
        headers={"If-Modified-Since": response.headers["Last-Modified"]},
    )
    assert since.status_code == 304


def test_read_code_systems(client: FlaskClient) -> None:
    for cs_id in ("rapport-scores", "rapport-bands", "rapport-answers"):
        status, body = get(client, f"/fhir/CodeSystem/{cs_id}")
        assert status == 200
        assert body["resourceType"] == "CodeSystem"
        assert body["content"] == "complete"


@pytest.mark.parametrize(
    "path",
    ["/fhir/Questionnaire/nope", "/fhir/CodeSystem/nope", "/fhir/OperationDefinition/nope",
     "/fhir/Patient/1", "/nothing-here"],
)  # fmt: skip
def test_unknown_resource_or_route_is_404_operation_outcome(client: FlaskClient, path: str) -> None:
    status, body = get(client, path)
    assert status == 404
    assert outcome_codes(body) == ["not-found"]


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/fhir/metadata")
    assert response.status_code == 405
    assert response.content_type == FHIR_JSON
    assert "GET" in response.headers["Allow"]
    assert outcome_codes(response.get_json()) == ["not-supported"]


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"Accept": "application/xml"}, ""), ({}, "?_format=xml"), ({"Accept": "text/html"}, "")],
)
def test_unacceptable_format_is_406(
    client: FlaskClient, headers: dict[str, str], query: str
) -> None:
    status, body = get(client, "/fhir/metadata" + query, **headers)
    assert status == 406
    assert outcome_codes(body) == ["not-supported"]


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+json", "application/json", "*/*", "application/fhir+json; fhirVersion=4.0",
     "text/html, application/json;q=0.5"],
)  # fmt: skip
def test_acceptable_formats(client: FlaskClient, accept: str) -> None:
    status, _ = get(client, "/fhir/metadata", Accept=accept)
    assert status == 200


def test_pretty_output_is_indented(client: FlaskClient) -> None:
    plain = client.get("/fhir/Questionnaire/gad-7")
    pretty = client.get("/fhir/Questionnaire/gad-7?_pretty=true")
    assert b"\n  " in pretty.data
    assert b"\n" not in plain.data
    assert pretty.get_json() == plain.get_json()


def search(client: FlaskClient, query: str, **headers: str) -> dict[str, Any]:
    status, body = get(client, "/fhir/Questionnaire" + query, **headers)
    assert status == 200, body
    assert body["resourceType"] == "Bundle"
    assert body["type"] == "searchset"
    return body


def ids(bundle: dict[str, Any]) -> set[str]:
    return {
        entry["resource"]["id"]
        for entry in bundle.get("entry", [])
        if entry["search"]["mode"] == "match"
    }


def test_search_all_and_count(client: FlaskClient) -> None:
    assert ids(search(client, "")) == SHIPPED
    counted = search(client, "?_summary=count")
    assert counted["total"] == len(SHIPPED)
    assert "entry" not in counted


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?_id=phq-9,gad-7", {"phq-9", "gad-7"}),
        ("?url=https://rapport-fhir.github.io/fhir/Questionnaire/ebi", {"ebi"}),
        ("?url=https://rapport-fhir.github.io/fhir/Questionnaire/ebi|1.0.0", {"ebi"}),
        ("?url=https://rapport-fhir.github.io/fhir/Questionnaire/ebi|9.9.9", set()),
        ("?version=1.0.0&_id=arm-5", {"arm-5"}),
        ("?name=phq", {"phq-9"}),
        ("?name:exact=phq", set()),
        ("?title:contains=mystical", {"meq-30"}),
        ("?status=draft", {"arm-5"}),
        ("?status=active,draft", SHIPPED),
        ("?experimental=true", {"arm-5"}),
        ("?code=http://loinc.org|44249-1", {"phq-9"}),
        ("?code=44261-6", {"phq-9"}),
        ("?code=http://loinc.org|", {"phq-9", "gad-7"}),
        ("?publisher=rapport&status=draft", {"arm-5"}),
    ],
)
def test_search_parameters(client: FlaskClient, query: str, expected: set[str]) -> None:
    bundle = search(client, query)
    assert ids(bundle) == expected
    assert bundle["total"] == len(expected)


def test_paging_links_walk_the_whole_result(client: FlaskClient) -> None:
    seen: list[str] = []
    bundle = search(client, "?_count=3&status=active,draft")
    pages = 0
    while True:
        pages += 1
        seen.extend(entry["resource"]["id"] for entry in bundle.get("entry", []))
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert "self" in links
        if "next" not in links:
            break
        split = urlsplit(links["next"])
        assert split.path == "/fhir/Questionnaire"
        assert ("status", "active,draft") in parse_qsl(split.query)
        bundle = search(client, "?" + split.query)
    assert pages == 3
    assert sorted(seen) == sorted(SHIPPED)
    assert "previous" in links


def test_summary_and_elements_subset_and_tag(client: FlaskClient) -> None:
    summary = search(client, "?_id=phq-9&_summary=true")["entry"][0]["resource"]
    assert "item" not in summary
    assert summary["status"] == "active"
    assert summary["meta"]["tag"][0]["code"] == "SUBSETTED"
    elements = search(client, "?_id=phq-9&_elements=title")["entry"][0]["resource"]
    assert set(elements) == {"resourceType", "id", "meta", "title", "status"}


def test_unknown_parameter_is_reported_or_strictly_refused(client: FlaskClient) -> None:
    bundle = search(client, "?colour=blue&_id=ebi")
    assert ids(bundle) == {"ebi"}
    outcomes = [entry for entry in bundle["entry"] if entry["search"]["mode"] == "outcome"]
    assert outcomes[0]["resource"]["issue"][0]["severity"] == "warning"
    assert all("colour" not in link["url"] for link in bundle["link"])
    status, body = get(client, "/fhir/Questionnaire?colour=blue", Prefer="handling=strict")
    assert status == 400
    assert outcome_codes(body) == ["value"]


@pytest.mark.parametrize(
    "query", ["?_count=-1", "?_count=lots", "?_summary=maybe", "?name:fuzzy=x", "?experimental=y",
              "?_offset=x", "?_elements=a;b", "?_count=%C2%B2", "?_offset=%D9%A3"],
)  # fmt: skip
def test_bad_search_values_are_400(client: FlaskClient, query: str) -> None:
    status, body = get(client, "/fhir/Questionnaire" + query)
    assert status == 400
    assert outcome_codes(body) == ["value"]


def test_count_is_bounded(client: FlaskClient) -> None:
    bundle = search(client, "?_count=100000")
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert ("_count", "100") in parse_qsl(urlsplit(self_link).query)
