"""Issue 18's edges over a real gunicorn (two workers, authentication on, the private Redis):
create versus update scopes and read-only shipped content, read-your-writes across workers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from harness.gunicorn import LiveServer, run_gunicorn
from harness.processes import free_port
from tests.builders.catalog import mini
from tests.support.tokens import AUDIENCE, ISSUER, Issuer

pytestmark = pytest.mark.slow

Q = "/fhir/Questionnaire"
CT = "application/fhir+json"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def server(
    issuer: Issuer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("edges")
    env = {
        "RAPPORT_AUTH_JWKS": str(issuer.write_jwks(folder / "jwks.json")),
        "RAPPORT_AUTH_ISSUER": ISSUER,
        "RAPPORT_AUTH_AUDIENCE": AUDIENCE,
        "RAPPORT_REDIS_URL": redis_url,
    }
    redis.Redis.from_url(redis_url).flushdb()
    with run_gunicorn(env, workers=2, log_dir=folder) as live:
        yield live


def call(
    server: LiveServer,
    method: str,
    path: str,
    token: str,
    body: Any = None,
    **headers: str,
) -> tuple[int, http.client.HTTPMessage, Any]:
    """One request on its own connection: (status, headers, parsed JSON body or None)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        sent = {"Authorization": f"Bearer {token}", **headers}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            sent["Content-Type"] = CT
        connection.request(method, path, body=data, headers=sent)
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, answer.headers, json.loads(raw) if raw else None
    finally:
        connection.close()


def site_form(rid: str, **changes: Any) -> dict[str, Any]:
    return {**mini(), "id": rid, "url": f"https://example.org/site/{rid}", **changes}


def details(body: dict[str, Any]) -> str:
    return " ".join(issue.get("details", {}).get("text", "") for issue in body["issue"])


# -- item 5: create is not update; shipped content is read-only ---------------------------------


def test_a_create_scope_creates_new_ids_only(server: LiveServer, issuer: Issuer) -> None:
    creator = issuer.token("system/Questionnaire.cr")
    status, headers, _ = call(server, "PUT", f"{Q}/edges-c", creator, site_form("edges-c"))
    assert status == 201
    assert headers["ETag"] == 'W/"1"'
    tampered = site_form("edges-c", title="Changed by a create-only client")
    status, headers, body = call(server, "PUT", f"{Q}/edges-c", creator, tampered)
    assert status == 403
    assert body["issue"][0]["code"] == "forbidden"
    assert "system/Questionnaire.u" in details(body)
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    status, headers, body = call(server, "GET", f"{Q}/edges-c", creator)
    assert (status, headers["ETag"]) == (200, 'W/"1"')
    assert "title" not in body or body["title"] != tampered["title"]
    for scope in ("system/Questionnaire.u", "system/Questionnaire.write", "system/*.cruds"):
        updated = site_form("edges-c", title=scope)
        status, _, body = call(server, "PUT", f"{Q}/edges-c", issuer.token(scope), updated)
        assert (status, body["title"]) == (200, scope)


@pytest.mark.parametrize(
    "scope", ["system/Questionnaire.c", "system/Questionnaire.ud", "system/*.cruds"]
)
def test_shipped_content_is_not_replaceable_by_any_scope(
    server: LiveServer, issuer: Issuer, scope: str
) -> None:
    reader = issuer.token("system/Questionnaire.r")
    status, headers, shipped = call(server, "GET", f"{Q}/phq-9", reader)
    assert status == 200
    token = issuer.token(scope)
    tampered = {**shipped, "title": "Tampered PHQ-9"}
    writes = [("PUT", tampered)] + ([("DELETE", None)] if "d" in scope else [])
    for method, body in writes:
        status, answered, outcome = call(server, method, f"{Q}/phq-9", token, body)
        assert status == 405, method
        assert answered["Allow"] == "GET, HEAD"
        assert outcome["issue"][0]["code"] == "not-supported"
        assert "Questionnaire/phq-9 is shipped content" in details(outcome)
    for _ in range(4):  # both workers
        status, again, body = call(server, "GET", f"{Q}/phq-9", reader)
        assert (status, again["ETag"], body["title"]) == (200, headers["ETag"], shipped["title"])


# -- item 10: read-your-writes across workers ---------------------------------------------------


def test_every_worker_serves_a_write_at_once(server: LiveServer, issuer: Issuer) -> None:
    writer = issuer.token("system/Questionnaire.cru")
    assert call(server, "PUT", f"{Q}/edges-ryw", writer, site_form("edges-ryw"))[0] == 201
    stale = []
    for version in range(2, 22):
        body = site_form("edges-ryw", title=f"v{version}")
        match = f'W/"{version - 1}"'
        status, _, _ = call(server, "PUT", f"{Q}/edges-ryw", writer, body, **{"If-Match": match})
        assert status == 200
        # Each GET on a new connection: two workers take them as they come.
        for _ in range(6):
            status, headers, read = call(server, "GET", f"{Q}/edges-ryw", writer)
            if (status, headers["ETag"], read["title"]) != (200, f'W/"{version}"', f"v{version}"):
                stale.append((version, status, headers["ETag"]))
    assert stale == []


def test_concurrent_conditional_writes_after_a_read_have_one_winner(
    server: LiveServer, issuer: Issuer
) -> None:
    writer = issuer.token("system/Questionnaire.cru")
    assert call(server, "PUT", f"{Q}/edges-race", writer, site_form("edges-race"))[0] == 201
    for round_ in range(3):
        status, headers, _ = call(server, "GET", f"{Q}/edges-race", writer)
        assert status == 200
        etag = headers["ETag"]

        def write(n: int, etag: str = etag) -> int:
            body = site_form("edges-race", title=f"writer {n}")
            return call(server, "PUT", f"{Q}/edges-race", writer, body, **{"If-Match": etag})[0]

        with ThreadPoolExecutor(12) as pool:
            statuses = sorted(pool.map(write, range(12)))
        assert statuses == [200] + [412] * 11, round_


# -- items 9 and 11: gunicorn reachable directly, forwarded headers, /metrics off the port ------


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    """The embedded service on its own port, a proxy network it trusts that the tests are
    not in, a rate limit, and /metrics on a port of its own."""
    metrics_port = free_port()
    env = {
        "RAPPORT_TRUSTED_PROXIES": "10.0.0.0/8",
        "RAPPORT_RATE_LIMIT": "5/minute",
        "RAPPORT_METRICS_BIND": f"127.0.0.1:{metrics_port}",
    }
    with run_gunicorn(env, log_dir=tmp_path_factory.mktemp("exposed")) as live:
        yield live, metrics_port


def _get(port: int, path: str, **headers: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, raw
    finally:
        connection.close()


def test_forwarded_headers_from_a_direct_client_change_nothing(
    exposed: tuple[LiveServer, int],
) -> None:
    server, _ = exposed
    canary = "canary-xff-4b1d"
    statuses = []
    for n in range(12):
        headers = {
            "X-Forwarded-For": f"203.0.113.{n}, {canary}-{n}",
            "X-Forwarded-Proto": "javascript",
        }
        status, raw = _get(server.port, "/fhir/Questionnaire?_count=1", **headers)
        statuses.append(status)
        if status == 200:
            assert all(
                link["url"].startswith("http://127.0.0.1:") for link in json.loads(raw)["link"]
            )
    assert statuses == [200] * 5 + [429] * 7  # one client, however it rotates the header
    assert canary not in server.read_log()
    status, raw = _get(server.port, "/fhir/Questionnaire?_count=1", Host='evil.example/"x')
    assert status == 400
    assert b"evil" not in raw


def test_metrics_are_served_on_their_own_port_only(exposed: tuple[LiveServer, int]) -> None:
    server, metrics_port = exposed
    assert _get(server.port, "/metrics")[0] == 404
    status, raw = _get(metrics_port, "/metrics")
    assert status == 200
    assert b"rapport_" in raw
    assert _get(metrics_port, "/healthz")[0] == 404
    assert _get(metrics_port, "/fhir/metadata")[0] == 404
    assert _get(server.port, "/healthz")[0] == 200
