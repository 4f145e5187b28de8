"""A frozen Redis (SIGSTOP: it accepts connections and answers nothing) under a real gunicorn.

Reads and scoring come from each worker's copy, so they stay fast; writes answer 503 saying
their outcome is unknown; /readyz says why while /healthz stays 200; SIGCONT heals it all.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from harness.gunicorn import LiveServer, run_gunicorn
from tests.builders.instruments import build_response
from tests.support.redis import RedisServer, run_redis
from tests.test_redis_faults import Q, call, questionnaire

pytestmark = pytest.mark.slow

#: Generous: the point is "never waits on Redis" (whose timeouts are 0.25 s and more), not speed.
FAST = 0.2


@dataclass
class Frozen:
    """One gunicorn (two workers) on its own Redis."""

    app: LiveServer
    redis: RedisServer


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frozen]:
    with ExitStack() as stack:
        server = stack.enter_context(run_redis(tmp_path_factory.mktemp("redis-freeze")))
        env = {"RAPPORT_REDIS_URL": server.url}
        logs = tmp_path_factory.mktemp("freeze")
        app = stack.enter_context(run_gunicorn(env, workers=2, log_dir=logs))
        yield Frozen(app, server)


def timed(server: LiveServer, method: str, path: str, body: object = None) -> tuple[int, float]:
    """Status and seconds of one request."""
    started = time.monotonic()
    status = call(server, method, path, body)[0]
    return status, time.monotonic() - started


def test_a_frozen_redis_slows_no_read_or_score_and_writes_recover(frozen: Frozen) -> None:
    app = frozen.app
    assert call(app, "PUT", f"{Q}/local", questionnaire("local"))[0] == 201
    time.sleep(1.0)  # both workers serve it
    score = build_response("gad-7", dict.fromkeys("1234567", 2))
    site_score = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://example.org/site/local",
        "status": "completed",
        "item": [{"linkId": "2", "answer": [{"valueInteger": 1}]}],
    }
    requests = [
        ("GET", f"{Q}/gad-7", None),
        ("GET", f"{Q}/local", None),
        ("GET", f"{Q}?name=mini", None),
        ("POST", "/fhir/QuestionnaireResponse/$score", score),
        ("POST", "/fhir/QuestionnaireResponse/$score", site_score),
    ]
    pid = frozen.redis.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 3.0  # several polls of every worker's poller
        answers = []
        while time.monotonic() < deadline:
            answers += [timed(app, method, path, body) for method, path, body in requests]
        assert {status for status, _ in answers} == {200}
        slowest = max(seconds for _, seconds in answers)
        assert slowest < FAST, f"a read or score took {slowest:.3f} s with Redis frozen"

        status, headers, body = call(app, "PUT", f"{Q}/unconfirmed", questionnaire("unconfirmed"))
        assert (status, body["issue"][0]["code"]) == (503, "transient")
        assert "may or may not" in body["issue"][0]["details"]["text"]
        assert int(headers["Retry-After"]) > 0
        status, _, body = call(app, "GET", "/readyz")
        assert status == 503
        assert "unreachable" in body["issue"][0]["details"]["text"]
        assert call(app, "GET", "/healthz")[0] == 200
    finally:
        os.kill(pid, signal.SIGCONT)

    deadline = time.monotonic() + 5.0
    while call(app, "GET", "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "readyz did not recover"
        time.sleep(0.1)
    # The write Redis did not confirm ran at most once, as the 503 warned: once if it was sent
    # before the freeze, never if a new connection's handshake was what timed out.
    status, _, history = call(app, "GET", f"{Q}/unconfirmed/_history")
    stored = status == 200
    assert history["total"] == 1 if stored else status == 404
    assert call(app, "PUT", f"{Q}/after", questionnaire("after"))[0] == 201
    time.sleep(1.0)
    for _ in range(6):  # every worker serves both
        assert call(app, "GET", f"{Q}/after")[0] == 200
        assert call(app, "GET", f"{Q}/unconfirmed")[0] == (200 if stored else 404)
