"""Kept-alive connections spread over the workers (service/api/balance.py), over a real
gunicorn: eight connections all made while one worker served, then a second worker added,
end four and four; a lone worker keeps its connections alive."""

from __future__ import annotations

import http.client
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.procs import children
from harness.gunicorn import LiveServer, run_gunicorn
from service.api.balance import Balance

pytestmark = pytest.mark.slow

CONNECTIONS = 8


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with run_gunicorn({}, workers=1, log_dir=tmp_path) as live:
        yield live


def _established(port: int) -> set[str]:
    """Socket inodes of the server side of established connections on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "01":
                found.add(inode)
    return found


def _held(server: LiveServer) -> list[int]:
    """How many of the server's established connections each worker holds."""
    ours = _established(server.port)
    counts = []
    for pid in children(server.process.pid):
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        counts.append(len(inodes & ours))
    return counts


def _get(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    connection.request("GET", "/fhir/metadata", headers={"Accept": "application/fhir+json"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    return answer


def _wait_for_workers(server: LiveServer, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(children(server.process.pid)) != count:
        assert time.monotonic() < deadline, f"gunicorn did not reach {count} workers"
        time.sleep(0.1)


def test_connections_made_on_one_worker_spread_to_an_added_one(server: LiveServer) -> None:
    connections = [
        http.client.HTTPConnection(server.host, server.port, timeout=10) for _ in range(CONNECTIONS)
    ]
    try:
        for connection in connections:
            _get(connection)
        assert _held(server) == [CONNECTIONS]

        os.kill(server.process.pid, signal.SIGTTIN)  # gunicorn: one worker more
        _wait_for_workers(server, 2)
        time.sleep(1.5)  # the new worker's first heartbeat (its loop beats once a second)

        # Requests on every connection, in turn: the crowded worker closes its surplus
        # (http.client opens a new connection for the next request), the other takes them,
        # until, after some were closed, a whole round is answered keep-alive: then every
        # connection is open and nothing more moves (on a loaded machine the new worker's
        # heartbeat may come late, so rounds until then, within a time bound).
        closed, deadline = 0, time.monotonic() + 15
        while time.monotonic() < deadline:
            answers = [_get(connection) for connection in connections]
            kept = sum(answer.getheader("Connection") == "keep-alive" for answer in answers)
            if closed and kept == CONNECTIONS:
                break
            closed += CONNECTIONS - kept
            time.sleep(0.05)
        assert sorted(_held(server)) == [CONNECTIONS // 2, CONNECTIONS // 2]

        # Balanced, nothing more is closed.
        answers = [_get(connection) for connection in connections]
        assert [answer.getheader("Connection") for answer in answers] == [
            "keep-alive"
        ] * CONNECTIONS
    finally:
        for connection in connections:
            connection.close()


def test_a_lone_worker_keeps_its_connections_alive(server: LiveServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        _get(connection)
        sock = connection.sock
        for _ in range(20):
            assert _get(connection).getheader("Connection") == "keep-alive"
        assert connection.sock is sock
    finally:
        connection.close()


def test_a_stale_or_departed_row_counts_for_nothing() -> None:
    balance = Balance(rows=3)
    first, second = balance.claim(), balance.claim()
    assert (first, second) == (0, 1)
    assert balance.fewest_elsewhere(0) == float("inf")  # the other has not beaten yet
    balance.hold(1, 2)
    balance.beat(1)
    balance.hold(0, 7)
    balance.beat(0)
    assert balance.fewest_elsewhere(0) == 2
    assert balance.fewest_elsewhere(1) == 7
    balance.leave(1)
    assert balance.fewest_elsewhere(0) == float("inf")
    # A row just handed out is not handed out again before its worker could have beaten.
    assert balance.claim() == 2
    assert balance.claim() is None
