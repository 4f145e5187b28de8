"""Site catalogue writes, history and rate limits over HTTP (Flask test client, real Redis)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask, g
from flask.testing import FlaskClient

from harness.processes import free_port
from service import create_app
from service.api.limits import SUBJECT, client_key, storage_uri
from service.config import load_settings
from tests.api.conftest import outcome_codes
from tests.builders.catalog import mini
from tests.builders.instruments import build_response

CT = {"Content-Type": "application/fhir+json"}
Q = "/fhir/Questionnaire"


def questionnaire(rid: str = "local", **changes: Any) -> dict[str, Any]:
    """A valid site Questionnaire with its own canonical url."""
    found = mini()
    found.update({"id": rid, "url": f"https://example.org/site/{rid}", **changes})
    return found


def make_app(**settings: Any) -> Flask:
    return create_app(load_settings(settings, environ={}))


@pytest.fixture
def client(redis_url: str, redis_client: redis.Redis) -> Iterator[FlaskClient]:
    """The app in redis mode, on the private Redis emptied for this test."""
    with make_app(redis_url=redis_url).test_client() as client:
        yield client


def put(client: FlaskClient, rid: str, body: Any, **headers: str) -> Any:
    return client.put(f"{Q}/{rid}", data=json.dumps(body), headers={**CT, **headers})


def test_create_read_update_delete_and_history(client: FlaskClient) -> None:
    created = put(client, "local", questionnaire())
    assert created.status_code == 201
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith("/fhir/Questionnaire/local/_history/1")
    assert created.get_json()["meta"]["versionId"] == "1"

    read = client.get(f"{Q}/local")
    assert (read.status_code, read.headers["ETag"]) == (200, 'W/"1"')

    updated = put(client, "local", questionnaire(title="Two"), **{"If-Match": 'W/"1"'})
    assert (updated.status_code, updated.headers["ETag"]) == (200, 'W/"2"')
    assert updated.headers["Content-Location"].endswith("/_history/2")

    history = client.get(f"{Q}/local/_history").get_json()
    assert (history["type"], history["total"]) == ("history", 2)
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']
    assert [e["response"]["status"] for e in history["entry"]] == ["200", "201"]
    assert history["entry"][1]["resource"]["title"] == "Mini Questionnaire"

    old = client.get(f"{Q}/local/_history/1")
    assert (old.status_code, old.headers["ETag"]) == (200, 'W/"1"')
    assert (
        client.get(f"{Q}/local/_history/1", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    )
    assert client.get(f"{Q}/local/_history/9").status_code == 404

    deleted = client.delete(f"{Q}/local", headers={"If-Match": 'W/"2"'})
    assert deleted.status_code == 200
    assert outcome_codes(deleted.get_json()) == ["informational"]
    for gone in (f"{Q}/local", f"{Q}/local/_history/3"):  # read, and vread of the delete
        answer = client.get(gone)
        assert (answer.status_code, outcome_codes(answer.get_json())) == (410, ["not-found"])
    assert client.get(f"{Q}/local/_history/2").status_code == 200
    assert client.get(f"{Q}/local/_history").get_json()["entry"][0]["request"]["method"] == "DELETE"
    assert client.get(f"{Q}/never-written").status_code == 404
    assert put(client, "local", questionnaire()).status_code == 201  # back again
    assert client.get(f"{Q}/local").status_code == 200


def test_a_site_questionnaire_is_searchable_and_scored(client: FlaskClient) -> None:
    put(client, "local", questionnaire())
    found = client.get(f"{Q}?url=https://example.org/site/local").get_json()
    assert found["total"] == 1
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://example.org/site/local",
        "status": "completed",
        "item": [{"linkId": "2", "answer": [{"valueInteger": 4}]}],
    }
    scored = client.post(
        "/fhir/QuestionnaireResponse/$score", data=json.dumps(response), headers=CT
    )
    assert scored.status_code == 200
    assert any(p["name"] == "score" for p in scored.get_json()["parameter"])


def test_scoring_follows_a_new_version_at_once(client: FlaskClient) -> None:
    # $score keeps what each reference resolved to per catalogue: a write makes a new one.
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "2", "answer": [{"valueInteger": 4}]}],
    }
    for version in ("1.0.0", "2.0.0"):
        put(client, "local", questionnaire(version=version))
        for reference in ("https://example.org/site/local", "Questionnaire/local"):
            for _ in range(2):  # resolved, then kept
                scored = client.post(
                    "/fhir/QuestionnaireResponse/$score",
                    data=json.dumps({**response, "questionnaire": reference}),
                    headers=CT,
                )
                named = [
                    p["valueCanonical"]
                    for p in scored.get_json()["parameter"]
                    if p["name"] == "questionnaire"
                ]
                assert named == [f"https://example.org/site/local|{version}"], reference


def test_post_assigns_the_id(client: FlaskClient) -> None:
    created = client.post(Q, data=json.dumps(questionnaire("mine")), headers=CT)
    assert created.status_code == 201
    rid = created.get_json()["id"]
    assert rid != "mine"
    assert created.headers["Location"].endswith(f"/Questionnaire/{rid}/_history/1")
    assert client.get(f"{Q}/{rid}").status_code == 200


def _traced(rid: str) -> dict[str, Any]:
    """A valid site Questionnaire whose variable calls trace(): `lint` warns about it."""
    found = questionnaire(rid)
    found["extension"][0]["valueExpression"]["expression"] += ".trace('two')"
    return found


def test_a_write_returns_its_warnings_when_asked(client: FlaskClient) -> None:
    """Prefer: return=OperationOutcome (FHIR http.html#ops): the 201/200 body is an
    OperationOutcome with what the content checks warn about; the write was silent before."""
    asked = {"Prefer": "return=OperationOutcome"}
    created = put(client, "traced", _traced("traced"), **asked)
    assert created.status_code == 201
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith("/fhir/Questionnaire/traced/_history/1")
    assert created.headers["Preference-Applied"] == "return=OperationOutcome"
    outcome = created.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    [warning] = [issue for issue in outcome["issue"] if issue["severity"] == "warning"]
    assert warning["details"]["coding"][0]["code"] == "fhirpath-trace"
    assert warning["expression"] == ["Questionnaire.extension[0].valueExpression"]
    # Without the preference, the resource as stored, as before.
    updated = put(client, "traced", _traced("traced"), **{"If-Match": 'W/"1"'})
    assert (updated.status_code, updated.get_json()["resourceType"]) == (200, "Questionnaire")
    assert "Preference-Applied" not in updated.headers
    # POST too; a clean write says what was stored and nothing more.
    body = questionnaire("ignored", url="https://example.org/site/posted")
    asked_lower = {**CT, "Prefer": "return=operationoutcome"}  # RFC 7240: any case
    posted = client.post(Q, data=json.dumps(body), headers=asked_lower)
    assert posted.status_code == 201
    issues = posted.get_json()["issue"]
    assert [issue["severity"] for issue in issues] == ["information"]
    assert (
        posted.headers["Location"].split("/fhir/")[1].split("/_history")[0]
        in (issues[0]["details"]["text"])
    )
    # return=minimal: no body at all; handling=strict beside it is fine.
    minimal = put(client, "traced", _traced("traced"), Prefer="handling=strict, return=minimal")
    assert (minimal.status_code, minimal.data) == (200, b"")
    assert minimal.headers["ETag"] == 'W/"3"'


def test_stale_if_match_is_412(client: FlaskClient) -> None:
    put(client, "local", questionnaire())
    put(client, "local", questionnaire(title="Two"))  # no If-Match: allowed, a new version
    stale = put(client, "local", questionnaire(title="Lost"), **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert outcome_codes(stale.get_json()) == ["conflict"]
    assert client.delete(f"{Q}/local", headers={"If-Match": 'W/"1"'}).status_code == 412
    assert client.get(f"{Q}/local").get_json()["title"] == "Two"


@pytest.mark.parametrize("header", ['"1', "W/1", 'W/"1", W/"2"', 'W/""'])
def test_malformed_if_match_is_400(client: FlaskClient, header: str) -> None:
    assert put(client, "local", questionnaire(), **{"If-Match": header}).status_code == 400


def test_a_shipped_questionnaire_is_neither_replaced_nor_deleted(client: FlaskClient) -> None:
    shipped = client.get(f"{Q}/phq-9")
    tampered = {**shipped.get_json(), "title": "Tampered PHQ-9"}
    for refused in (
        put(client, "phq-9", tampered, **{"If-Match": shipped.headers["ETag"]}),
        put(client, "phq-9", tampered),
        put(client, "phq-9", {**tampered, "url": "https://example.org/site/mine"}),
        client.delete(f"{Q}/phq-9"),
    ):
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET, HEAD"
        assert outcome_codes(refused.get_json()) == ["not-supported"]
        text = refused.get_json()["issue"][0]["details"]["text"]
        assert "Questionnaire/phq-9 is shipped content" in text
        assert "new id and url" in text
    served = client.get(f"{Q}/phq-9")
    assert served.headers["ETag"] == shipped.headers["ETag"]
    assert served.get_json()["title"] == shipped.get_json()["title"]
    assert client.get(f"{Q}/phq-9/_history").get_json()["total"] == 1
    assert client.options(f"{Q}/phq-9").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "PUT" in client.options(f"{Q}/local").headers["Allow"]


def _bad_expression() -> dict[str, Any]:
    body = questionnaire()
    body["item"][-1]["extension"][0]["valueExpression"]["expression"] = "%two + + )"
    return body


@pytest.mark.parametrize(
    ("rid", "body", "expected"),
    [
        ("local", "{not json", (400, "structure")),
        ("local", {"resourceType": "Patient", "id": "local"}, (400, "structure")),
        ("local", questionnaire("other"), (400, "invalid")),
        ("bad_id", questionnaire("bad_id"), (400, "invalid")),
        ("local", questionnaire(status="nonsense"), (422, "invalid")),
        ("local", questionnaire(item=[{"linkId": "1", "type": "group"}]), (422, "invariant")),
        ("local", _bad_expression(), (422, "invalid")),
    ],
    ids=["json", "resource-type", "id-mismatch", "bad-id", "model", "que-rule", "expression"],
)
def test_invalid_writes_answer_with_issues_and_store_nothing(
    client: FlaskClient, redis_client: redis.Redis, rid: str, body: Any, expected: tuple[int, str]
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    answer = client.put(f"{Q}/{rid}", data=data, headers=CT)
    assert answer.status_code == expected[0], answer.get_json()
    assert expected[1] in outcome_codes(answer.get_json())
    assert redis_client.keys("rapport:*") == []


def test_a_questionnaire_with_too_many_items_is_refused_at_once(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    items = [{"linkId": str(i), "type": "string", "text": "x" * 30} for i in range(60_000)]
    body = json.dumps(questionnaire(item=items))
    assert len(body) > 3_000_000
    started = time.monotonic()
    answer = client.put(f"{Q}/local", data=body, headers=CT)
    # Parsing 3 MB of JSON is most of it; the model checks (seconds) never start.
    assert time.monotonic() - started < 3.0
    assert (answer.status_code, outcome_codes(answer.get_json())) == (422, ["too-costly"])
    assert "more than 2000 items" in answer.get_data(as_text=True)
    assert redis_client.keys("rapport:*") == []


def test_a_write_from_another_worker_is_served_within_a_second(
    client: FlaskClient, redis_url: str
) -> None:
    assert client.get(f"{Q}/gad-7").status_code == 200  # this worker's poller runs
    other = make_app(redis_url=redis_url).test_client()
    assert put(other, "elsewhere", questionnaire("elsewhere")).status_code == 201
    deadline = time.monotonic() + 1.0
    while client.get(f"{Q}/elsewhere").status_code != 200:
        assert time.monotonic() < deadline, "not served within a second"
        time.sleep(0.02)


def test_capability_lists_the_writes_only_with_redis(client: FlaskClient) -> None:
    def interactions(app_client: FlaskClient) -> list[str]:
        rest = app_client.get("/fhir/metadata").get_json()["rest"][0]
        q = next(r for r in rest["resource"] if r["type"] == "Questionnaire")
        return [i["code"] for i in q["interaction"]]

    assert set(interactions(client)) == {
        "read",
        "vread",
        "update",
        "delete",
        "history-instance",
        "create",
        "search-type",
    }
    assert interactions(make_app().test_client()) == ["read", "search-type"]


@pytest.fixture(scope="module")
def embedded() -> FlaskClient:
    return make_app().test_client()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"{Q}/local", "GET, HEAD"),
        ("POST", Q, "GET, HEAD"),
        ("DELETE", f"{Q}/gad-7", "GET, HEAD"),
        ("GET", f"{Q}/gad-7/_history", ""),
        ("GET", f"{Q}/gad-7/_history/1", ""),
    ],
)
def test_embedded_mode_answers_405_saying_how(
    embedded: FlaskClient, method: str, path: str, allow: str
) -> None:
    answer = embedded.open(path, method=method, data="{}", headers=CT)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allow
    assert outcome_codes(answer.get_json()) == ["not-supported"]
    assert "RAPPORT_REDIS_URL" in answer.get_json()["issue"][0]["details"]["text"]


def test_readyz_reports_an_unreachable_redis_and_healthz_stays_up() -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "Redis is unreachable" in ready.get_json()["issue"][0]["details"]["text"]
    assert ready.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200
    assert client.get(f"{Q}/gad-7").status_code == 200
    written = put(client, "local", questionnaire())
    assert (written.status_code, outcome_codes(written.get_json())) == (503, ["transient"])
    assert int(written.headers["Retry-After"]) > 0


def test_readyz_names_the_mode(client: FlaskClient) -> None:
    assert "(redis mode)" in client.get("/readyz").get_data(as_text=True)


def test_rate_limit_answers_429_throttled_with_retry_after() -> None:
    client = make_app(rate_limit="3/minute").test_client()
    answers = [client.get(f"{Q}/gad-7").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    throttled = client.get(f"{Q}/gad-7")
    assert outcome_codes(throttled.get_json()) == ["throttled"]
    assert 0 < int(throttled.headers["Retry-After"]) <= 61
    assert client.get("/healthz").status_code == 200  # probes are never throttled
    other = client.get(f"{Q}/gad-7", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200  # counted per client


def test_rate_limit_counters_are_shared_in_redis(redis_url: str, redis_client: redis.Redis) -> None:
    first = make_app(redis_url=redis_url, rate_limit="2/minute").test_client()
    second = make_app(redis_url=redis_url, rate_limit="2/minute").test_client()
    assert first.get(f"{Q}/gad-7").status_code == 200
    assert second.get(f"{Q}/gad-7").status_code == 200
    assert first.get(f"{Q}/gad-7").status_code == 429
    assert second.get("/fhir/metadata").status_code == 429  # one budget across routes
    keys = redis_client.keys("*")
    assert len(keys) == 1
    assert keys[0].startswith("rapport:limits:")
    assert "addr:127.0.0.1" in keys[0]


def test_rate_limit_fails_open_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit="5/minute")
    answers = [client.test_client().get(f"{Q}/gad-7").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert "falling back to in-memory" in caplog.text


def test_scoring_ignores_redis_outage() -> None:
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    body = build_response("gad-7", dict.fromkeys("1234567", 1))
    scored = client.post("/fhir/QuestionnaireResponse/$score", data=json.dumps(body), headers=CT)
    assert scored.status_code == 200


@pytest.mark.parametrize(
    ("url", "storage"),
    [
        ("", "memory://"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("rediss://:pw@h:6380/1", "rediss://:pw@h:6380/1"),
        ("unix:///run/redis.sock", "redis+unix:///run/redis.sock"),
    ],
)
def test_limits_storage_follows_the_redis_url(url: str, storage: str) -> None:
    assert storage_uri(url) == storage


def test_an_authenticated_client_is_counted_by_its_subject() -> None:
    app = make_app()
    with app.test_request_context("/fhir/metadata", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        assert client_key() == "addr:10.1.2.3"
        setattr(g, SUBJECT, "ehr-client-7")
        assert client_key() == "sub:ehr-client-7"
