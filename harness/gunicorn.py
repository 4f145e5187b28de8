"""Run the app the way users do: a real gunicorn on a free port, reached over HTTP."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import free_port, log_tail, stop

__all__ = ["REPO_ROOT", "GunicornFailed", "LiveServer", "run_gunicorn"]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Settings a developer's shell may carry that would point a test server at shared resources
# (their Redis on 6379, their bind address) or rewrite gunicorn's command line.
_NOT_INHERITED_PREFIXES = ("RAPPORT_", "REDIS_", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")


class GunicornFailed(RuntimeError):
    """gunicorn exited, or did not answer GET /healthz with 200 in time."""


@dataclass(frozen=True)
class LiveServer:
    """A running gunicorn: its base URL (no trailing slash), its master process, and its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def host(self) -> str:
        """Host for http.client connections."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """Port for http.client connections."""
        return int(self.url.rsplit(":", 1)[1])

    def read_log(self) -> str:
        """Everything gunicorn and the app have logged so far."""
        return self.log.read_text(errors="replace")


@contextmanager
def run_gunicorn(
    env: Mapping[str, str],
    *,
    workers: int = 1,
    app: str = "service.wsgi:app",
    config: str | None = "gunicorn.conf.py",
    log_dir: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[LiveServer]:
    """Serve `app` with gunicorn from the repo root until the block ends.

    With a `config` the bind address reaches the app only through RAPPORT_BIND, which is the
    contract gunicorn.conf.py honours; with config=None gunicorn gets `--bind` itself and reads
    no config file at all.
    """
    with ExitStack() as stack:
        if log_dir is None:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gunicorn-")))
        port = free_port()
        log = log_dir / f"gunicorn-{port}.log"
        process = _spawn(_command(app, config, workers, port), _environment(env, port), log)
        stack.callback(stop, process)
        server = LiveServer(f"http://127.0.0.1:{port}", process, log)
        _wait_until_healthy(server, timeout)
        yield server


def _command(app: str, config: str | None, workers: int, port: int) -> list[str]:
    """gunicorn's argv; command-line settings override the config file's."""
    # Without -c gunicorn would still read ./gunicorn.conf.py, so "no config" is /dev/null.
    command = [_gunicorn(), "--config", config or os.devnull, "--workers", str(workers)]
    if config is None:
        command += ["--bind", f"127.0.0.1:{port}"]
    return [*command, app]


def _environment(env: Mapping[str, str], port: int) -> dict[str, str]:
    """This process's environment less anything Rapport-specific, plus `env` and the bind."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED_PREFIXES)}
    return {**inherited, **env, "RAPPORT_BIND": f"127.0.0.1:{port}"}


def _gunicorn() -> str:
    """The gunicorn beside this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "gunicorn"
    found = str(beside) if beside.exists() else shutil.which("gunicorn")
    if found is None:
        raise GunicornFailed("gunicorn is not installed: run `make test` (it builds .venv)")
    return found


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start gunicorn in its own session, so stop() can reach its workers."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_healthy(server: LiveServer, timeout: float) -> None:
    """Return once GET /healthz answers 200; raise with the log if gunicorn dies or stalls."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise GunicornFailed(
                f"gunicorn exited with {server.process.returncode} before /healthz answered; "
                f"its log:\n{log_tail(server.log)}"
            )
        last = _healthz(server)
        if last == "200":
            return
        time.sleep(0.1)
    raise GunicornFailed(
        f"GET {server.url}/healthz did not answer 200 within {timeout} s (last: {last}); "
        f"its log:\n{log_tail(server.log)}"
    )


def _healthz(server: LiveServer) -> str:
    """One GET /healthz: the status code as text, or why there was none."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=2.0)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    else:
        return str(response.status)
    finally:
        connection.close()
