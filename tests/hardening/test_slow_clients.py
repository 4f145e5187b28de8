"""Slow clients over a real gunicorn (one worker, its own port, no proxy in front): fifty
connections trickling their headers, a body shorter than its Content-Length and a stalled
chunked body must neither hold the worker nor end in a 500."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.gunicorn import LiveServer, run_gunicorn
from service.api.worker import IDLE_SECONDS
from tests.builders.instruments import build_response, full_answers

pytestmark = pytest.mark.slow

READ_TIMEOUT = 6  # seconds: RAPPORT_READ_TIMEOUT for this server, short to keep the test short
TRICKLERS = 50
SCORE = "/fhir/QuestionnaireResponse/$score"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"RAPPORT_READ_TIMEOUT": str(READ_TIMEOUT), "RAPPORT_THREADS": "4"}
    with run_gunicorn(env, workers=1, log_dir=tmp_path_factory.mktemp("slow")) as live:
        yield live


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=READ_TIMEOUT + 5)


def _answer(sock: socket.socket) -> tuple[int, dict[str, object] | None, float]:
    """Status line and JSON body of what the server sent before closing, and when it came."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    finally:
        sock.close()
    came = time.monotonic()
    if not data:
        return 0, None, came
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else None, came


def _timed(server: LiveServer, method: str, path: str, body: bytes | None) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        headers = {"Content-Type": "application/fhir+json"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.monotonic() - started
    finally:
        connection.close()


Results = dict[str, tuple[int, dict[str, object] | None, float]]


def _trickle(server: LiveServer, results: Results, name: str, every: float) -> None:
    """One header line at a time, never the blank line that ends the head."""
    sock = _connect(server)
    sock.sendall(f"POST {SCORE} HTTP/1.1\r\nHost: x\r\n".encode())
    sock.settimeout(every)
    for n in range(100):
        try:
            if sock.recv(65536, socket.MSG_PEEK):
                break  # the server answered
        except TimeoutError:
            pass
        except OSError:
            break
        try:
            sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
        except OSError:
            break
    sock.settimeout(READ_TIMEOUT + 5)
    results[name] = _answer(sock)


def _incomplete(server: LiveServer, results: Results, name: str, head: str, body: str) -> None:
    """A head, then less body than it announces, then nothing."""
    sock = _connect(server)
    sock.sendall(
        f"POST {SCORE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
        f"{head}\r\n\r\n{body}".encode()
    )
    results[name] = _answer(sock)


def test_slow_clients_hold_no_worker(server: LiveServer) -> None:
    score = json.dumps(build_response("gad-7", full_answers("gad-7", 1))).encode()
    started = time.monotonic()
    results: Results = {}
    threads = [
        threading.Thread(
            target=_trickle, args=(server, results, f"trickle {i}", 5.0 if i % 2 else 0.5)
        )
        for i in range(TRICKLERS)
    ]
    threads += [
        threading.Thread(
            target=_incomplete, args=(server, results, "short body", "Content-Length: 100", "{}")
        ),
        threading.Thread(
            target=_incomplete,
            args=(server, results, "stalled chunks", "Transfer-Encoding: chunked", "2\r\n{}\r\n"),
        ),
    ]
    for thread in threads:
        thread.start()
    slowest = {"healthz": 0.0, "score": 0.0}
    while time.monotonic() - started < READ_TIMEOUT + 1:
        for name, method, path, body in (
            ("healthz", "GET", "/healthz", None),
            ("score", "POST", SCORE, score),
        ):
            status, took = _timed(server, method, path, body)
            assert status == 200, name
            slowest[name] = max(slowest[name], took)
        time.sleep(0.2)
    for thread in threads:
        thread.join(READ_TIMEOUT + 5)
    assert slowest["healthz"] < 1.0, slowest
    assert slowest["score"] < 1.0, slowest

    assert len(results) == TRICKLERS + 2
    for name, (status, outcome, came) in results.items():
        assert status == 408, name
        assert outcome is not None
        assert outcome["resourceType"] == "OperationOutcome", name
        assert outcome["issue"][0]["code"] == "timeout", name  # type: ignore[index]
        # Idle clients go after IDLE_SECONDS, busy ones at the deadline; the loop looks
        # once a second.
        assert came - started < READ_TIMEOUT + 2, name
    for name in ("short body", "stalled chunks", "trickle 1"):  # idle: cut early
        assert results[name][2] - started < IDLE_SECONDS + 2, name
    assert server.process.poll() is None
    log = server.read_log()
    assert "WORKER TIMEOUT" not in log
    assert "X-Slow" not in log
