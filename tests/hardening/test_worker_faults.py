"""Faults in the process model, over a real gunicorn: a worker killed mid-request, and SIGTERM
while requests are in flight (graceful shutdown drains them)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.gunicorn import LiveServer, run_gunicorn
from tests.builders.instruments import build_response, full_answers

pytestmark = pytest.mark.slow

CLIENTS = 3
GRACEFUL_SECONDS = 10


def _batch(entries: int) -> bytes:
    """A batch Bundle of `entries` MEQ-30 $score calls: tens of milliseconds of work."""
    resource = build_response("meq-30", full_answers("meq-30", 3))
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$score"}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{**entry, "resource": resource}]}
    bundle["entry"] = bundle["entry"] * entries
    return json.dumps(bundle).encode()


def _workers(master: int) -> set[int]:
    """The master's child processes (its workers), from /proc."""
    found: set[int] = set()
    for children in Path(f"/proc/{master}/task").glob("*/children"):
        found.update(int(pid) for pid in children.read_text().split())
    return found


def _wait_for_workers(master: int, count: int, without: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _workers(master) - without
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not have {count} workers within {timeout} s")


def _post(server: LiveServer, body: bytes, timeout: float = 15.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        connection.request(
            "POST", "/fhir", body=body, headers={"Content-Type": "application/fhir+json"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _get(server: LiveServer, path: str) -> int:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5.0)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _complete(status: int, data: bytes, entries: int) -> bool:
    """A 200 whose body is the whole batch-response, every entry scored."""
    if status != 200:
        return False
    bundle = json.loads(data)
    statuses = [entry["response"]["status"] for entry in bundle["entry"]]
    return bundle["type"] == "batch-response" and statuses == ["200 OK"] * entries


def test_a_killed_worker_is_replaced_and_costs_at_most_its_one_request() -> None:
    """A worker takes a connection only while it has a free thread; the others wait in the
    shared listen backlog, not in a worker, so killing one fails at most the requests its
    threads were serving (one here, with one thread) and a connection it had accepted and
    was still reading when its thread became busy (the event loop reads requests itself,
    so that slow clients hold no thread: service/api/worker.py)."""
    body = _batch(20)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client(server: LiveServer) -> None:
        while not stop.is_set():
            try:
                status, data = _post(server, body)
                result = "ok" if _complete(status, data, 20) else f"status {status}"
            except (OSError, http.client.HTTPException) as error:
                result = type(error).__name__
            with lock:
                outcomes[result] += 1

    with run_gunicorn({"RAPPORT_THREADS": "1"}, workers=2) as server:
        master = server.process.pid
        before = _wait_for_workers(master, 2, set(), 10)
        threads = [threading.Thread(target=client, args=(server,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        replacement = _wait_for_workers(master, 1, before, 10)
        time.sleep(1.0)  # traffic keeps flowing through the replacement
        stop.set()
        for thread in threads:
            thread.join(20)
        failures = sum(count for result, count in outcomes.items() if result != "ok")
        assert outcomes["ok"] > 10, outcomes
        assert failures <= 2, outcomes
        assert _workers(master) == (before - {victim}) | replacement
        after = [_post(server, body) for _ in range(10)]
        assert all(_complete(status, data, 20) for status, data in after)
        assert _get(server, "/healthz") == 200
        assert server.process.poll() is None


def _send_half(server: LiveServer, body: bytes) -> socket.socket:
    """Open a connection and send the head and half the body: a request a worker holds."""
    sock = socket.create_connection((server.host, server.port), timeout=GRACEFUL_SECONDS + 5)
    head = (
        "POST /fhir HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def _finish(sock: socket.socket, body: bytes) -> tuple[int, bytes]:
    """Send the rest of the body and read the whole response until the server closes."""
    sock.sendall(body[len(body) // 2 :])
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    raw = b"".join(chunks)
    head, _, data = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert len(data) == length, f"cut response: {len(data)} of {length} bytes"
    return status, data


def test_sigterm_drains_in_flight_requests() -> None:
    body = _batch(100)
    env = {"RAPPORT_GRACEFUL_TIMEOUT": str(GRACEFUL_SECONDS)}
    with run_gunicorn(env, workers=2) as server:
        _wait_for_workers(server.process.pid, 2, set(), 10)
        held = [_send_half(server, body) for _ in range(2)]
        time.sleep(0.5)  # each worker has accepted one and is reading its body
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the shutdown is under way while the requests are in flight
        results = [_finish(sock, body) for sock in held]
        code = server.process.wait(GRACEFUL_SECONDS + 5)
        took = time.monotonic() - started
        log = server.read_log()
    assert all(_complete(status, data, 100) for status, data in results), [
        status for status, _ in results
    ]
    assert code == 0, log[-2000:]
    assert took < GRACEFUL_SECONDS, took
    assert "Traceback" not in log
