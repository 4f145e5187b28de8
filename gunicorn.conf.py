"""gunicorn settings for Rapport, read from the same validated `RAPPORT_*` settings as the app.

Run: `gunicorn -c gunicorn.conf.py service.wsgi:app` (what `make run` and the container do).
"""

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from service.config import ConfigError, load_settings, unknown_variables

try:
    _settings = load_settings()
except ConfigError as exc:
    sys.stderr.write(f"rapport: cannot start: {exc}\n")
    raise SystemExit(2) from None


def _remove_folder(folder: str, owner: int) -> None:
    # Workers are forks of the master and leave through sys.exit too: only the master removes.
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


# prometheus-client's multiprocess mode: every worker writes its metrics to files in this
# folder and a scrape sums them. It must be set before the app (and prometheus_client) loads,
# and hold no stale files. An operator may give one (a Kubernetes emptyDir); else we make one
# (once the settings are good) and remove it when the master exits, whether it served or its
# app failed to load.
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(_METRICS_ENV):
    Path(os.environ[_METRICS_ENV]).mkdir(parents=True, exist_ok=True)
    for _stale in Path(os.environ[_METRICS_ENV]).glob("*.db"):
        _stale.unlink()
else:
    os.environ[_METRICS_ENV] = tempfile.mkdtemp(prefix="rapport-metrics-")
    atexit.register(_remove_folder, os.environ[_METRICS_ENV], os.getpid())

from service.observability import configure_logging  # noqa: E402 - after the metrics folder

configure_logging(_settings.log_level)
if _unknown := unknown_variables():
    # Not fatal (a variable for another version of Rapport is harmless), but a typo is not.
    logging.getLogger("service.config").warning(
        "ignoring unknown settings (typos?): %s", ", ".join(_unknown)
    )

# RAPPORT_METRICS_BIND: a second listener that serves /metrics alone (service/api/telemetry.py),
# so the public port need not.
bind = [_settings.bind, *([_settings.metrics_bind] if _settings.metrics_bind else [])]
# Scoring is CPU-bound: one worker process per core is the throughput optimum.
workers = _settings.workers
# gunicorn's gthread worker, whose event loop reads every request before a thread takes it
# (a slow client holds a buffer, never a thread; RAPPORT_READ_TIMEOUT bounds it, then 408),
# reading a large body only once RAPPORT_WORKER_BODY_BYTES has room for it (else 503),
# answering what gunicorn itself refuses (request line or headers too large, malformed HTTP)
# with an OperationOutcome instead of HTML, and logging those without the request text.
# Threads let a cheap request (a probe, a read) pass one that computes; they add no
# throughput to CPU-bound scoring. See service/api/worker.py.
worker_class = "service.api.worker.RapportWorker"
threads = _settings.threads
# Load the app (settings, catalogue, compiled expressions) once in the master; workers
# share those pages copy-on-write, and a bad content file stops start-up before any fork.
preload_app = True
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = 5
# gunicorn trusts X-Forwarded-Proto from 127.0.0.1 by default; the app alone decides which
# forwarded headers to believe (RAPPORT_TRUSTED_PROXIES, service/api/forwarded.py).
forwarded_allow_ips = ""
# Bound what one request can make a worker read before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle workers now and then so no slow leak can grow without bound.
max_requests = 20000
max_requests_jitter = 2000

# Two logs, both safe. The app writes one JSON line per request (and its own events) to
# stderr. gunicorn's access line stays for operators used to it, but names the route
# template the app leaves in the environ, never the path (which may carry an id) nor the
# query (search terms), and the request id that ties it to the app's line.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %({rapport.route}e)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "rapport"
# gunicorn 25.1+ opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn that any process
# of the same user may use to resize or stop this server, shared by every instance on a host.
control_socket_disable = True


def pre_request(worker: Any, req: Any) -> None:
    """Replace gunicorn's default, which logs every raw path at debug level."""


def when_ready(server: Any) -> None:
    """The app is loaded (preload_app) and no worker forked yet: freeze the start-up heap.

    Every worker inherits it frozen, so its full collections no longer walk the compiled
    catalogue (a 100+ ms pause, the p99 spikes measured in BENCHMARKS.md).
    """
    from service.runtime import tune_gc  # noqa: PLC0415 - after the metrics folder

    tune_gc()


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus-client a worker is gone, so its live gauges stop counting."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - after the folder is set

    multiprocess.mark_process_dead(worker.pid)


def _hide_server_banner() -> None:
    # gunicorn answers `Server: gunicorn` and has no setting for it. Its Response reads the
    # module global SERVER for every answer, so renaming it there is enough; a live test
    # checks the header, so a gunicorn that moves it is caught.
    from gunicorn.http import wsgi  # noqa: PLC0415

    wsgi.SERVER = "rapport"


_hide_server_banner()
