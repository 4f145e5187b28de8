"""gunicorn settings for Rapport, read from the same validated `RAPPORT_*` settings as the app.

Run: `gunicorn -c gunicorn.conf.py service.wsgi:app` (what `make run` and the container do).
"""

import sys

from service.config import ConfigError, load_settings

try:
    _settings = load_settings()
except ConfigError as exc:
    sys.stderr.write(f"rapport: cannot start: {exc}\n")
    raise SystemExit(2) from None

bind = [_settings.bind]
# Scoring is CPU-bound: one synchronous worker per core is the throughput optimum.
workers = _settings.workers
worker_class = "sync"
# Load the app (settings, catalogue, compiled expressions) once in the master; workers
# share those pages copy-on-write, and a bad content file stops start-up before any fork.
preload_app = True
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = 5
# Bound what one request can make a worker read before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle workers now and then so no slow leak can grow without bound.
max_requests = 20000
max_requests_jitter = 2000

# The access log names the method, the path without its query string (%(U)s), the status,
# the size and the time: never a body, a query string (search terms) or a header value.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "rapport"
