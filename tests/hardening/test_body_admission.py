"""Large bodies a worker holds at once are bounded by RAPPORT_WORKER_BODY_BYTES.

Each body costs several times its size while it is parsed and worked on: 8 concurrent
5 MB batches on one worker of 8 threads peaked at ~300 MB RSS, so a pod of two workers
passed the Kubernetes manifest's 512Mi. Over a real gunicorn, one worker: six large bodies
arrive at once with room for two; the other four, a chunked one among them, are answered
503 `transient` with Retry-After without waiting for their bodies, while a small $score
answers 200 at once.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from harness.gunicorn import LiveServer, run_gunicorn
from service.api.admission import SMALL_BODY_BYTES, WAIT_SECONDS
from tests.builders.instruments import build_response, full_answers

pytestmark = pytest.mark.slow

VALIDATE = "/fhir/QuestionnaireResponse/$validate"
SCORE = "/fhir/QuestionnaireResponse/$score"
SIZE = 16 * SMALL_BODY_BYTES  # a large body: 1 MiB
ROOM = 2  # bodies of SIZE the worker may hold
PIECES = 16  # an admitted body arrives in this many pieces ...
EVERY = 0.2  # ... this many seconds apart: it holds its room longer than WAIT_SECONDS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"RAPPORT_WORKER_BODY_BYTES": str(ROOM * SIZE), "RAPPORT_THREADS": "8"}
    with run_gunicorn(env, workers=1, log_dir=tmp_path_factory.mktemp("bodies")) as live:
        yield live


def _body() -> bytes:
    """A GAD-7 response of exactly SIZE bytes (padded with an unknown element)."""
    start = json.dumps(build_response("gad-7", full_answers("gad-7", 1)))
    head = start[:-1] + ', "padding": "'
    return (head + "a" * (SIZE - len(head) - 2) + '"}').encode()


@dataclass
class Answer:
    """What one client got: status, headers, OperationOutcome (or other JSON), when."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    json: dict[str, object] | None = None
    after: float = 0.0  # seconds from the head sent to the answer's first bytes


def _read(sock: socket.socket, answer: Answer, sent: float) -> None:
    data = b""
    try:
        while chunk := sock.recv(65536):
            if not data:
                answer.after = time.monotonic() - sent
            data += chunk
    except OSError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    answer.status = int(lines[0].split(" ")[1]) if data else 0
    answer.headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    answer.json = json.loads(body) if body.startswith(b"{") else None


def _send_slowly(server: LiveServer, answer: Answer, chunked: bool) -> None:
    """A large body in PIECES pieces, EVERY seconds apart, until the server answers."""
    body = _body()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    sock = socket.create_connection((server.host, server.port), timeout=15)
    with sock:
        sock.sendall(
            f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
            f"Connection: close\r\n{framing}\r\n\r\n".encode()
        )
        sent = time.monotonic()
        step = len(body) // PIECES
        for n in range(PIECES):
            if select.select([sock], [], [], EVERY)[0]:
                break  # answered before its body was all sent
            piece = body[n * step : len(body) if n == PIECES - 1 else (n + 1) * step]
            if chunked:
                piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            try:
                sock.sendall(piece)
            except OSError:
                break
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        _read(sock, answer, sent)


def _score(server: LiveServer) -> tuple[int, float]:
    body = json.dumps(build_response("gad-7", full_answers("gad-7", 1))).encode()
    started = time.monotonic()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("POST", SCORE, body, {"Content-Type": "application/fhir+json"})
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def _most_admitted(server: LiveServer) -> float:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    found = re.search(r"^rapport_bodies_admitted_most(?:\{[^}]*\})? (\S+)$", text, re.M)
    assert found, "the metric is exported"
    return float(found.group(1))


def test_large_bodies_beyond_the_room_get_503_while_small_ones_pass(server: LiveServer) -> None:
    answers = {f"large {n}": Answer() for n in range(5)} | {"chunked": Answer()}
    first = [
        threading.Thread(target=_send_slowly, args=(server, answers[f"large {n}"], False))
        for n in range(ROOM)
    ]
    rest = [
        threading.Thread(target=_send_slowly, args=(server, answers[name], name == "chunked"))
        for name in answers
        if name not in {f"large {n}" for n in range(ROOM)}
    ]
    for thread in first:
        thread.start()
    time.sleep(0.3)  # the first ROOM heads arrive first
    for thread in rest:
        thread.start()
    time.sleep(WAIT_SECONDS / 2)
    score, took = _score(server)  # while the room is full and four wait
    for thread in first + rest:
        thread.join(20)

    assert score == 200
    assert took < 1.0
    admitted = [name for name, answer in answers.items() if answer.status != 503]
    assert admitted == [f"large {n}" for n in range(ROOM)]
    for name in admitted:
        assert answers[name].status == 200, name  # validated: an unknown element is an issue
        assert answers[name].after > WAIT_SECONDS  # it held its room past the others' wait
    for name, answer in answers.items():
        if name in admitted:
            continue
        assert answer.headers.get("retry-after") == "1", name
        assert answer.json is not None
        assert answer.json["resourceType"] == "OperationOutcome"
        assert answer.json["issue"][0]["code"] == "transient", name  # type: ignore[index]
        assert WAIT_SECONDS * 0.9 < answer.after < 2.0, name  # it waited for room, in vain
    assert _most_admitted(server) == ROOM
    # The room is free again: a large body now goes at once.
    sent = Answer()
    _send_slowly(server, sent, chunked=True)
    assert sent.status == 200
    assert server.process.poll() is None
    assert "Traceback" not in server.read_log()


def test_a_pipelined_large_body_waits_for_room_too(server: LiveServer) -> None:
    """A request pipelined behind another is read by the loop as well, not by the thread
    that answered the first: its body is admitted like any other."""
    holders = [Answer() for _ in range(ROOM)]
    threads = [threading.Thread(target=_send_slowly, args=(server, a, False)) for a in holders]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the room is full
    small = json.dumps(build_response("gad-7", full_answers("gad-7", 1))).encode()
    requests = b""
    for body in (small, _body()):
        requests += (
            f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(requests)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    for thread in threads:
        thread.join(20)
    assert re.findall(rb"HTTP/1.1 (\d+)", data) == [b"200", b"503"]
    assert [a.status for a in holders] == [200] * ROOM


def _head(server: LiveServer) -> socket.socket:
    """A large body's head and its first byte, the rest not sent."""
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.sendall(
        f"POST {VALIDATE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
        f"Content-Length: {SIZE}\r\n\r\n{{".encode()
    )
    return sock


def test_a_refused_client_still_sending_is_closed_soon(server: LiveServer) -> None:
    """After its 503, a refused body is read and dropped for a bounded time only: a client
    sending a byte now and then (each within IDLE_SECONDS) does not keep its connection."""
    holders = [_head(server) for _ in range(ROOM)]  # the room is full
    try:
        time.sleep(0.3)
        with _head(server) as refused:
            assert select.select([refused], [], [], WAIT_SECONDS + 3)[0]
            assert refused.recv(65536).startswith(b"HTTP/1.1 503 ")
            answered = time.monotonic()
            closed = None
            while closed is None and time.monotonic() - answered < 4 * WAIT_SECONDS + 4:
                time.sleep(0.4)
                try:
                    refused.sendall(b"a")
                except OSError:  # reset: the server has closed the connection
                    closed = time.monotonic() - answered
        assert closed is not None, "still connected"
        assert closed < 2 * WAIT_SECONDS + 1.5, closed
    finally:
        for sock in holders:
            sock.close()
    assert server.process.poll() is None
