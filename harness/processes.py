"""Free ports and orderly shutdown for the servers the tests start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

__all__ = ["free_port", "log_tail", "stop"]

LOG_TAIL_CHARS = 4000


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(log: Path) -> str:
    """Return the end of a server's log, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return text[-LOG_TAIL_CHARS:] or "(log is empty)"


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM a server we started in its own session; SIGKILL its group if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            # start_new_session=True made the server a group leader: this reaches its workers too.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
