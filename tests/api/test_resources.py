"""Reads and searches over HTTP: conformance, Questionnaire, CodeSystem, conditional reads."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
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
        "_sort",
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


def test_implementation_url_is_the_configured_base_or_absent(client: FlaskClient) -> None:
    # Never a guessed http://localhost/fhir: the statement is built before any request.
    assert get(client, "/fhir/metadata")[1]["implementation"] == {"description": "Rapport"}
    base = "https://fhir.example.org/rapport/fhir"
    configured = create_app(load_settings({"base_url": base}, environ={})).test_client()
    implementation = get(configured, "/fhir/metadata")[1]["implementation"]
    assert implementation == {"description": "Rapport", "url": base}


@pytest.mark.parametrize(
    ("resource_type", "path"),
    [("Questionnaire", "/fhir/Questionnaire/phq-9"),
     ("CodeSystem", "/fhir/CodeSystem/rapport-scores"),
     ("OperationDefinition", "/fhir/OperationDefinition/QuestionnaireResponse-score")],
)  # fmt: skip
def test_declared_conditional_reads_answer_304_to_both_headers(
    client: FlaskClient, resource_type: str, path: str
) -> None:
    rest = get(client, "/fhir/metadata")[1]["rest"][0]
    declared = next(r for r in rest["resource"] if r["type"] == resource_type)
    assert declared["conditionalRead"] == "full-support"
    first = client.get(path)
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get(path, headers=since).status_code == 304


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


def tags(resource: dict[str, Any]) -> list[str]:
    return [tag["code"] for tag in resource.get("meta", {}).get("tag", [])]


@pytest.mark.parametrize(
    ("path", "query", "kept"),
    [
        ("/fhir/Questionnaire/phq-9", "_elements=title",
         {"resourceType", "id", "meta", "title", "status"}),
        ("/fhir/Questionnaire/phq-9", "_elements=title,code,nosuch",
         {"resourceType", "id", "meta", "title", "code", "status"}),
        ("/fhir/CodeSystem/rapport-bands", "_elements=count",
         {"resourceType", "id", "meta", "count", "status", "content"}),
        ("/fhir/CodeSystem/rapport-bands", "_summary=text",
         {"resourceType", "id", "meta", "status", "content"}),
    ],
)  # fmt: skip
def test_read_honours_elements_and_summary(
    client: FlaskClient, path: str, query: str, kept: set[str]
) -> None:
    full = client.get(path)
    shaped = client.get(f"{path}?{query}")
    assert shaped.status_code == 200
    body = shaped.get_json()
    assert set(body) == kept
    assert tags(body) == ["SUBSETTED"]
    # The version's ETag: If-None-Match with it answers 304 for the subset too.
    assert shaped.headers["ETag"] == full.headers["ETag"]
    again = client.get(f"{path}?{query}", headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304


def test_read_summary_true_keeps_the_summary_elements_of_each_type(client: FlaskClient) -> None:
    questionnaire = get(client, "/fhir/Questionnaire/phq-9?_summary=true")[1]
    assert {"url", "version", "title", "status", "code"} <= set(questionnaire)
    assert not {"item", "description"} & set(questionnaire)
    code_system = get(client, "/fhir/CodeSystem/rapport-bands?_summary=true")[1]
    assert {"url", "status", "content", "count", "caseSensitive"} <= set(code_system)
    assert not {"concept", "description"} & set(code_system)
    assert tags(questionnaire) == tags(code_system) == ["SUBSETTED"]


@pytest.mark.parametrize("query", ["", "?_summary=false", "?_summary=data", "?_elements="])
def test_read_without_anything_left_out_is_the_whole_resource(
    client: FlaskClient, query: str
) -> None:
    # The shipped resources have no narrative, so data leaves nothing out.
    full = client.get("/fhir/Questionnaire/gad-7")
    read = client.get(f"/fhir/Questionnaire/gad-7{query}")
    assert read.get_json() == full.get_json()
    assert "SUBSETTED" not in tags(read.get_json())


@pytest.mark.parametrize("query", ["_summary=count", "_summary=maybe", "_elements=a;b"])
def test_read_refuses_what_a_read_cannot_give(client: FlaskClient, query: str) -> None:
    status, body = get(client, f"/fhir/Questionnaire/phq-9?{query}")
    assert status == 400
    assert outcome_codes(body) == ["value"]


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


@pytest.mark.parametrize(
    "fmt",
    ["json", "application/fhir%2Bjson", "application/json", "application/json%2Bfhir",
     "application/fhir%2Bjson;fhirVersion=4.0", "application/fhir%2Bjson;charset=utf-8",
     "application/fhir%2Bjson%3B%20fhirVersion%3D4.0.1", "application/fhir+json",
     "APPLICATION/FHIR+JSON", ""],
)  # fmt: skip
def test_format_takes_what_accept_takes(client: FlaskClient, fmt: str) -> None:
    # An unencoded '+' arrives as a space; an empty _format is no _format.
    status, _ = get(client, f"/fhir/metadata?_format={fmt}", Accept="application/fhir+json")
    assert status == 200


@pytest.mark.parametrize(
    "fmt",
    ["xml", "application/fhir%2Bxml", "application/fhir+xml", "text/xml", "text/html",
     "application/fhir%2Bjson;fhirVersion=3.0", "*/*", "turtle"],
)  # fmt: skip
def test_format_for_what_we_do_not_speak_is_406(client: FlaskClient, fmt: str) -> None:
    status, body = get(client, f"/fhir/metadata?_format={fmt}")
    assert status == 406
    assert outcome_codes(body) == ["not-supported"]


def test_format_wins_over_accept(client: FlaskClient) -> None:
    assert get(client, "/fhir/metadata?_format=json", Accept="application/xml")[0] == 200
    assert get(client, "/fhir/metadata?_format=xml", Accept="application/json")[0] == 406
    assert get(client, "/fhir/metadata?_format=", Accept="application/xml")[0] == 406


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
        ("?url=https://rapport-fhir.github.io/fhir/Questionnaire/ebi|1.1.0", {"ebi"}),
        ("?url=https://rapport-fhir.github.io/fhir/Questionnaire/ebi|9.9.9", set()),
        ("?version=1.1.0&_id=arm-5", {"arm-5"}),
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


STATUS = "http://hl7.org/fhir/publication-status"
ACTIVE = SHIPPED - {"arm-5"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"?status={STATUS}|active", ACTIVE),
        (f"?status={STATUS}|draft,active", SHIPPED),
        (f"?status={STATUS}|", SHIPPED),
        ("?status=http://example.org/other|active", set()),
        ("?status=|active", set()),  # a code has its value set's system: never "no system"
        ("?_id=|phq-9,|gad-7", {"phq-9", "gad-7"}),
        ("?_id=http://example.org|phq-9", set()),
        ("?_id=http://example.org|", set()),
        ("?version=|1.1.0&_id=ebi", {"ebi"}),
        ("?version=http://example.org|1.0.0", set()),
        ("?experimental=http://hl7.org/fhir/special-values|true", {"arm-5"}),
        ("?experimental=|false", set()),
    ],
)
def test_token_parameters_take_every_token_form(
    client: FlaskClient, query: str, expected: set[str]
) -> None:
    # search.html#token: [system]|[code], |[code], [system]|, and the code alone; status and
    # experimental carry their implicit systems, _id and version none.
    assert ids(search(client, query)) == expected


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
              "?_offset=x", "?_elements=a;b", "?_count=%C2%B2", "?_offset=%D9%A3",
              "?experimental=http://hl7.org/fhir/special-values|y"],
)  # fmt: skip
def test_bad_search_values_are_400(client: FlaskClient, query: str) -> None:
    status, body = get(client, "/fhir/Questionnaire" + query)
    assert status == 400
    assert outcome_codes(body) == ["value"]


def test_count_is_bounded(client: FlaskClient) -> None:
    bundle = search(client, "?_count=100000")
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert ("_count", "100") in parse_qsl(urlsplit(self_link).query)


def _matched_ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"]


def test_sort_orders_the_whole_result_before_paging(client: FlaskClient) -> None:
    # The shipped names (questionnaires/*.json) in alphabetical order.
    by_name = ["arm-5", "ebi", "gad-7", "meq-30", "phq-9", "qids-sr-16", "wai-sr"]
    assert _matched_ids(search(client, "?_sort=name")) == by_name
    assert _matched_ids(search(client, "?_sort=-name")) == by_name[::-1]
    first_page = search(client, "?_sort=-name&_count=3")
    assert _matched_ids(first_page) == ["wai-sr", "qids-sr-16", "phq-9"]
    following = next(link["url"] for link in first_page["link"] if link["relation"] == "next")
    assert ("_sort", "-name") in parse_qsl(urlsplit(following).query)
    # ARM-5, EBI and MEQ-30 are 1.1.0, the rest 1.0.0, all active: ties go to the next key.
    assert _matched_ids(search(client, "?_sort=-version,status,-title,name")) == [
        "meq-30", "ebi", "arm-5", "wai-sr", "qids-sr-16", "phq-9", "gad-7"
    ]  # fmt: skip


def test_an_unknown_sort_key_is_reported_or_strictly_refused(client: FlaskClient) -> None:
    bundle = search(client, "?_sort=colour,name")
    assert _matched_ids(bundle)[0] == "arm-5"  # `name` still applies
    outcome = next(e for e in bundle["entry"] if e["search"]["mode"] == "outcome")
    issue = outcome["resource"]["issue"][0]
    assert (issue["severity"], issue["location"]) == ("warning", ["http._sort"])
    assert "colour" in issue["details"]["text"]
    status, body = get(client, "/fhir/Questionnaire?_sort=colour", Prefer="handling=strict")
    assert status == 400
    assert outcome_codes(body) == ["value"]


def test_sort_keys_are_declared(client: FlaskClient) -> None:
    _, body = get(client, "/fhir/metadata")
    params = {p["name"]: p for p in body["rest"][0]["resource"][0]["searchParam"]}
    assert params["_sort"]["type"] == "special"
    assert "name, title, version, date, status" in params["_sort"]["documentation"]


def test_versions_sort_by_their_numbers() -> None:
    from dataclasses import dataclass

    from service.fhir.search import parse_search

    @dataclass
    class Listed:  # a catalogue entry as search sees one (the Searchable protocol)
        id: str
        resource: dict[str, Any]

    entries = [Listed(v, {"version": v}) for v in ("1.9.0", "1.10.0", "0.2")] + [Listed("x", {})]
    query = parse_search([("_sort", "-version")], page_size=20, max_page_size=100, strict=True)
    assert [e.id for e in query.ordered(entries)] == ["1.10.0", "1.9.0", "0.2", "x"]  # type: ignore[arg-type]
