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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.gunicorn import REPO_ROOT, LiveServer, run_gunicorn

from .floor_app import SCORE_PATH
from .load import LoadConfig, LoadResult
from .procs import children, cpu_seconds

__all__ = [
    "FLOOR_APP",
    "NO_RECYCLING",
    "SERVICE_APP",
    "Round",
    "drive",
    "finish_load",
    "serve",
    "start_load",
]

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


#: Command-line overrides for every benchmark gunicorn: no worker recycling (see above).
NO_RECYCLING = "--max-requests 0"


@contextmanager
def serve(app: str, workers: int, log_dir: Path) -> Iterator[LiveServer]:
    """A gunicorn serving `app` with the service's config file."""
    env = {"GUNICORN_CMD_ARGS": NO_RECYCLING}
    with run_gunicorn(env, workers=workers, app=app, log_dir=log_dir, timeout=60) as server:
        yield server


def start_load(
    server: LiveServer,
    bodies: Path | Sequence[Path],
    seconds: float,
    connections: int,
    *,
    rate: float = 0.0,
    window: float = 0.0,
) -> subprocess.Popen[bytes]:
    """Start the load client in its own process; `finish_load` collects its result."""
    files = (str(bodies),) if isinstance(bodies, Path) else tuple(str(b) for b in bodies)
    config = LoadConfig(server.port, SCORE_PATH, files, seconds, connections, rate, window)
    argv = [sys.executable, "-m", "benchmarks.load", json.dumps(asdict(config))]
    return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE)


def finish_load(process: subprocess.Popen[bytes], timeout: float) -> LoadResult:
    """Wait for the load client and parse what it printed."""
    out, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"load client failed with {process.returncode}")
    return LoadResult.from_json(json.loads(out))


def drive(
    server: LiveServer,
    bodies: Path | Sequence[Path],
    seconds: float,
    connections: int,
    *,
    rate: float = 0.0,
) -> Round:
    """Run the load client in its own process against `server`; with `rate`, open loop."""
    workers = children(server.process.pid)
    before = cpu_seconds(workers)
    result = finish_load(start_load(server, bodies, seconds, connections, rate=rate), seconds + 60)
    return Round(result, cpu_seconds(workers) - before)
