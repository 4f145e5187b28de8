"""Serving under gunicorn: start the service or the floor, drive it from a client process.

Both apps run with the service's gunicorn.conf.py and the same command-line overrides.
`--max-requests 0` keeps one worker process for the whole run so its CPU time and memory
can be read from /proc (the config recycles workers every ~20,000 requests, which costs
one fork of the preloaded master: negligible per request).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.support.gunicorn import REPO_ROOT, LiveServer, run_gunicorn

from .floor_app import SCORE_PATH
from .load import LoadConfig, LoadResult
from .procs import children, cpu_seconds

__all__ = ["FLOOR_APP", "SERVICE_APP", "Round", "drive", "serve"]

SERVICE_APP = "service.wsgi:app"
FLOOR_APP = "benchmarks.floor_app:create_app()"


@dataclass(frozen=True, slots=True)
class Round:
    """One load run: the client's view, and the server workers' CPU time over it."""

    load: LoadResult
    server_cpu_s: float

    @property
    def server_cpu_us(self) -> float:
        """Worker CPU microseconds per successful request."""
        return 1e6 * self.server_cpu_s / max(self.load.ok, 1)


@contextmanager
def serve(app: str, workers: int, log_dir: Path) -> Iterator[LiveServer]:
    """A gunicorn serving `app` with the service's config file."""
    env = {"GUNICORN_CMD_ARGS": "--max-requests 0"}
    with run_gunicorn(env, workers=workers, app=app, log_dir=log_dir, timeout=60) as server:
        yield server


def drive(
    server: LiveServer,
    body_file: Path,
    seconds: float,
    connections: int,
    *,
    rate: float = 0.0,
) -> Round:
    """Run the load client in its own process against `server`; with `rate`, open loop."""
    config = LoadConfig(server.port, SCORE_PATH, str(body_file), seconds, connections, rate)
    workers = children(server.process.pid)
    before = cpu_seconds(workers)
    argv = [sys.executable, "-m", "benchmarks.load", json.dumps(asdict(config))]
    process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE)
    out, _ = process.communicate(timeout=seconds + 60)
    if process.returncode != 0:
        raise RuntimeError(f"load client failed with {process.returncode}")
    result = LoadResult(**json.loads(out))
    return Round(result, cpu_seconds(workers) - before)
