"""A private, throwaway redis-server for the tests (never the shared one on 6379)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import free_port, log_tail, stop

__all__ = ["RedisServer", "RedisUnavailable", "run_redis"]

START_ATTEMPTS = 3


class RedisUnavailable(RuntimeError):
    """redis-server is missing, or did not answer PING in time."""


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server: where to reach it, its process, and its log."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def run_redis(
    workdir: Path, *, timeout: float = 10.0, port: int | None = None, appendonly: bool = False
) -> Iterator[RedisServer]:
    """Run redis-server on a free 127.0.0.1 port, without persistence, until the block ends.

    `port` reuses a given port (a restart on the same address); `appendonly` turns AOF on
    (fsync always) in `workdir`, so a restart on the same folder finds every write.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisUnavailable(
            "redis-server is not on PATH: the tests need a real Redis. "
            "Install it (Debian: apt-get install -y redis-server); .ci/run does."
        )
    server = _start(executable, workdir, timeout, port, appendonly)
    try:
        yield server
    finally:
        stop(server.process)


def _start(
    executable: str, workdir: Path, timeout: float, fixed: int | None = None, aof: bool = False
) -> RedisServer:
    """Start a server, retrying on another port if a racing process took ours."""
    for attempt in range(1, START_ATTEMPTS + 1):
        port = fixed or free_port()
        log = workdir / f"redis-{port}.log"
        command = [executable, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--dir", str(workdir)]
        persistence = ["yes", "--appendfsync", "always"] if aof else ["no"]
        command += ["--appendonly", *persistence]
        with log.open("ab") as out:  # a restart on the same port adds to the first run's log
            process = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = RedisServer(f"redis://127.0.0.1:{port}/0", port, process, log)
        try:
            _wait_for_ping(server, timeout)
        except RedisUnavailable:
            stop(process)
            if attempt == START_ATTEMPTS or "in use" not in log_tail(log):
                raise
        else:
            return server
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_for_ping(server: RedisServer, timeout: float) -> None:
    """Return once the server answers PING; raise with its log if it dies or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RedisUnavailable(
                f"redis-server exited with {server.process.returncode} before answering PING; "
                f"its log:\n{log_tail(server.log)}"
            )
        if _pings(server.port):
            return
        time.sleep(0.05)
    raise RedisUnavailable(
        f"redis-server on port {server.port} did not answer PING within {timeout} s; "
        f"its log:\n{log_tail(server.log)}"
    )


def _pings(port: int) -> bool:
    """Send one inline PING over RESP; True if the answer is PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
