"""Two real gunicorn replicas on one private Redis (AOF on): sharing, races, and Redis faults.

The tests run in file order on one set of servers: share, race, then kill Redis and bring
it back on the same data folder.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.gunicorn import LiveServer, run_gunicorn
from tests.builders.catalog import mini
from tests.builders.instruments import build_response
from tests.support.redis import RedisServer, run_redis

pytestmark = pytest.mark.slow

CT = {"Content-Type": "application/fhir+json"}
Q = "/fhir/Questionnaire"


@dataclass
class Replicas:
    """Two gunicorn instances (two workers each) sharing one Redis, and where Redis keeps data."""

    a: LiveServer
    b: LiveServer
    redis: RedisServer
    data: Path


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    data = tmp_path_factory.mktemp("redis-aof")
    logs = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        server = stack.enter_context(run_redis(data, appendonly=True))
        env = {"RAPPORT_REDIS_URL": server.url, "RAPPORT_RATE_LIMIT": "100000/minute"}
        a = stack.enter_context(run_gunicorn(env, workers=2, log_dir=logs))
        b = stack.enter_context(run_gunicorn(env, workers=2, log_dir=logs))
        yield Replicas(a, b, server, data)


def call(
    server: LiveServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    """One request: status, headers, and the JSON body (None when empty)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={**CT, **headers})
        answer = connection.getresponse()
        raw = answer.read()
        return answer.status, dict(answer.getheaders()), json.loads(raw) if raw else None
    finally:
        connection.close()


def questionnaire(rid: str, **changes: Any) -> dict[str, Any]:
    found = mini()
    found.update({"id": rid, "url": f"https://example.org/site/{rid}", **changes})
    return found


def test_a_write_on_one_replica_is_read_on_the_other_within_a_second(replicas: Replicas) -> None:
    status, _, _ = call(replicas.a, "PUT", f"{Q}/shared", questionnaire("shared"))
    assert status == 201
    written = time.monotonic()
    while call(replicas.b, "GET", f"{Q}/shared")[0] != 200:
        assert time.monotonic() - written < 1.0, "replica b did not see the write within 1 s"
        time.sleep(0.02)
    time.sleep(max(0.0, written + 1.0 - time.monotonic()))
    # A second after the write, every worker of both replicas serves it.
    for server in (replicas.a, replicas.b) * 8:
        assert call(server, "GET", f"{Q}/shared")[0] == 200


def test_a_stale_if_match_is_412_on_either_replica(replicas: Replicas) -> None:
    _, headers, _ = call(replicas.a, "GET", f"{Q}/shared")
    status, _, _ = call(
        replicas.a, "PUT", f"{Q}/shared", questionnaire("shared"), **{"If-Match": headers["ETag"]}
    )
    assert status == 200
    status, _, body = call(
        replicas.b, "PUT", f"{Q}/shared", questionnaire("shared"), **{"If-Match": headers["ETag"]}
    )
    assert status == 412
    assert body["issue"][0]["code"] == "conflict"


def test_sixteen_concurrent_conditional_writes_give_one_success(replicas: Replicas) -> None:
    etag = call(replicas.a, "GET", f"{Q}/shared/_history")[2]["entry"][0]["response"]["etag"]

    def attempt(index: int) -> int:
        server = replicas.a if index % 2 else replicas.b
        body = questionnaire("shared", title=f"Writer {index}")
        return call(server, "PUT", f"{Q}/shared", body, **{"If-Match": etag})[0]

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(attempt, range(16)))
    assert statuses == [200] + [412] * 15


def test_eight_concurrent_creates_of_one_url_version_give_one_success(
    replicas: Replicas,
) -> None:
    body = questionnaire("ignored", url="https://example.org/site/contested")

    def attempt(index: int) -> tuple[int, str]:
        server = replicas.a if index % 2 else replicas.b
        status, _, answer = call(server, "POST", Q, body)
        return status, answer["issue"][0]["details"]["text"] if status == 422 else answer["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(attempt, range(8)))
    assert [status for status, _ in answers] == [201] + [422] * 7
    winner = answers[0][1]
    assert all(f"is already Questionnaire/{winner}" in text for _, text in answers[1:])


def _load(replicas: Replicas, stop: threading.Event) -> list[int]:
    """Scoring and reads on both replicas, one after another, until `stop`: the statuses."""
    score = build_response("gad-7", dict.fromkeys("1234567", 2))
    statuses: list[int] = []
    while not stop.is_set():
        for server in (replicas.a, replicas.b):
            statuses.append(call(server, "POST", "/fhir/QuestionnaireResponse/$score", score)[0])
            statuses.append(call(server, "GET", f"{Q}/shared")[0])
    return statuses


def test_killing_redis_leaves_reads_and_scoring_whole_and_writes_503(replicas: Replicas) -> None:
    # Killed under load: four clients keep scoring and reading through the kill.
    stop = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        loads = [pool.submit(_load, replicas, stop) for _ in range(4)]
        time.sleep(1.0)
        replicas.redis.process.kill()
        replicas.redis.process.wait()
        time.sleep(2.0)
        stop.set()
        statuses = [status for load in loads for status in load.result()]
    assert len(statuses) > 40
    assert set(statuses) == {200}, statuses
    score = build_response("gad-7", dict.fromkeys("1234567", 2))
    site_score = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://example.org/site/shared",
        "status": "completed",
        "item": [{"linkId": "2", "answer": [{"valueInteger": 1}]}],
    }
    started = time.monotonic()
    for server in (replicas.a, replicas.b) * 10:
        assert call(server, "GET", f"{Q}/gad-7")[0] == 200
        assert call(server, "GET", f"{Q}/shared")[0] == 200
        assert call(server, "GET", f"{Q}?name=mini")[0] == 200
        assert call(server, "POST", "/fhir/QuestionnaireResponse/$score", score)[0] == 200
        assert call(server, "POST", "/fhir/QuestionnaireResponse/$score", site_score)[0] == 200
        assert call(server, "GET", "/healthz")[0] == 200
    assert time.monotonic() - started < 10
    for server in (replicas.a, replicas.b):
        status, headers, body = call(server, "PUT", f"{Q}/other", questionnaire("other"))
        assert (status, body["issue"][0]["code"]) == (503, "transient")
        assert int(headers["Retry-After"]) > 0
        status, _, body = call(server, "GET", "/readyz")
        assert status == 503
        assert "unreachable" in body["issue"][0]["details"]["text"]


def test_restarted_redis_keeps_every_write_and_writes_recover(replicas: Replicas) -> None:
    with run_redis(replicas.data, port=replicas.redis.port, appendonly=True):
        deadline = time.monotonic() + 10
        while call(replicas.a, "GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            time.sleep(0.1)
        history = call(replicas.b, "GET", f"{Q}/shared/_history")[2]
        assert history["total"] == 3
        for server in (replicas.a, replicas.b):
            status, _, _ = call(
                server, "PUT", f"{Q}/after-{server.port}", questionnaire(f"after-{server.port}")
            )
            assert status == 201
        time.sleep(1.0)
        for server in (replicas.a, replicas.b):
            assert call(server, "GET", f"{Q}/after-{replicas.a.port}")[0] == 200
            assert call(server, "GET", "/readyz")[0] == 200
        # Rate limits counted per process meanwhile go back to Redis (flask-limiter's backoff).
        store = redis.Redis.from_url(replicas.redis.url)
        while not store.keys("rapport:limits:*"):
            assert time.monotonic() < deadline + 10, "rate limits did not return to Redis"
            call(replicas.a, "GET", "/fhir/metadata")
            time.sleep(0.1)
