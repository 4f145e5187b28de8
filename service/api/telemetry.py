"""Per-request telemetry: the request id, one JSON log line and the metrics; `GET /metrics`.

The log line holds the request id, method, route template (`/fhir/Questionnaire/<path:
resource_id>`, never the path), status, duration and client (token subject, else remote
address): nothing from the query string, the body or the path's own values.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import NotFound

from service.api.http import catalog, state
from service.api.limits import SUBJECT
from service.fhir.outcome import Issue, IssueSeverity
from service.observability import CatalogueView, Metrics
from service.observability.ids import new_request_id
from service.observability.logs import FIELDS
from service.observability.metrics import CONTENT_TYPE
from service.observability.records import CallSite
from service.questionnaire import CompiledQuestionnaire

__all__ = ["REQUEST_ID", "blueprint", "count_score", "count_validation", "init_app", "route"]

log = logging.getLogger("service.request")

blueprint = Blueprint("telemetry", __name__)

REQUEST_ID: Final = "X-Request-ID"
_REQUEST_ID_ENVIRON: Final = "HTTP_X_REQUEST_ID"
#: What a caller's X-Request-ID may look like to be kept; anything else is replaced.
_SAFE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_RULE: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
#: The WSGI environ key gunicorn's access log reads the route template from.
ENVIRON_ROUTE: Final = "rapport.route"
_CHILDREN: Final = "rapport.metric_children"


def _metrics() -> Metrics:
    found: Metrics = current_app.extensions["rapport.metrics"]
    return found


def route() -> str:
    """This request's route template, or `unmatched` (a 404 or 405 names no route)."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def _child(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    # prometheus-client's labels() takes a lock and builds a key on every call; the label
    # sets here (method, route template, status; catalogue ids) are small and fixed, so each
    # child is looked up once.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache: dict[tuple[Any, ...], Any] = app.extensions[_CHILDREN]
    found = cache.get(key)
    if found is None:
        found = cache[key] = make()
    return found


def _children(method: str, template: str, status: int) -> tuple[Any, Any]:
    def make() -> tuple[Any, Any]:
        metrics = _metrics()
        return (
            metrics.requests.labels(method, template, str(status)),
            metrics.latency.labels(method, template),
        )

    found: tuple[Any, Any] = _child(("request", method, template, status), make)
    return found


def _start() -> None:
    # One lookup of each context-local proxy: every attribute read through one costs a call.
    req = request._get_current_object()  # type: ignore[attr-defined]
    ctx = g._get_current_object()
    given = req.environ.get(_REQUEST_ID_ENVIRON, "")  # `req.headers.get(REQUEST_ID, "")`
    ctx.request_id = given if _SAFE_ID.fullmatch(given) else new_request_id()
    ctx.request_started = time.perf_counter()
    rule = req.url_rule
    req.environ[ENVIRON_ROUTE] = rule.rule if rule is not None else "unmatched"


def _finish(response: Response) -> Response:
    ended = time.perf_counter()
    req = request._get_current_object()  # type: ignore[attr-defined]
    ctx = g._get_current_object()
    # `ctx.get`, not getattr: flask.g answers a missing attribute by raising (and catching)
    # two exceptions, and the subject is missing on every request without authentication.
    elapsed = ended - ctx.get("request_started", ended)
    # Added, not set (which looks for one to replace first): this hook is its one writer.
    response.headers.add(REQUEST_ID, ctx.get("request_id", ""))
    method = req.method if req.method in _METHODS else "OTHER"
    template = req.environ.get(ENVIRON_ROUTE) or route()
    status = response.status_code
    requests, latency = _children(method, template, status)
    requests.inc()
    latency.observe(elapsed)
    if _REQUEST_LINE.enabled():
        subject = ctx.get(SUBJECT)
        fields = {
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "client": f"sub:{subject}" if subject else req.remote_addr or "unknown",
        }
        _REQUEST_LINE.log({FIELDS: fields})
    return response


# The line made as `log.info("request", extra=...)` in `_finish` would make it, for less.
_REQUEST_LINE: Final = CallSite(log, logging.INFO, _finish, "request")


def count_score(compiled: CompiledQuestionnaire) -> None:
    """Count one scored response against its catalogue Questionnaire (else `inline`)."""
    given = compiled.id
    entry = catalog().get("Questionnaire", given) if given else None
    # Only catalogue ids become labels: inline and contained ids are the caller's own text.
    label = given if given and entry is not None and entry.compiled is compiled else "inline"
    _child(("score", label), lambda: _metrics().scores.labels(label)).inc()


def count_validation(issues: Iterable[Issue]) -> None:
    """Count the errors $validate found, one per issue, by rule code."""
    counter = _metrics().validation_failures
    for issue in issues:
        if issue.severity in {IssueSeverity.ERROR, IssueSeverity.FATAL}:
            rule = issue.rule or str(issue.code)
            counter.labels(rule if _RULE.fullmatch(rule) else "other").inc()


def _on_metrics_port() -> bool:
    # gunicorn sets SERVER_PORT to the port of the listener the connection came in on.
    bind = state().settings.metrics_bind
    return bool(bind) and request.environ.get("SERVER_PORT") == bind.rpartition(":")[2]


def _metrics_port_serves_metrics_only() -> None:
    if _on_metrics_port() and request.path != "/metrics":
        raise NotFound()


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics in the text exposition format; with RAPPORT_METRICS_BIND only on
    that port, with RAPPORT_METRICS_TOKEN only for that bearer token."""
    settings = state().settings
    if settings.metrics_bind and not _on_metrics_port():
        raise NotFound()
    if settings.metrics_token:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given, settings.metrics_token.encode()
        ):
            answer = Response("metrics need the bearer token\n", 401, mimetype="text/plain")
            answer.headers["WWW-Authenticate"] = 'Bearer realm="rapport-metrics"'
            return answer
    return Response(_metrics().exposition(), content_type=CONTENT_TYPE)


def _view(app: Flask) -> CatalogueView:
    current = state(app)
    store = current.site.store
    versions = tuple(
        (entry.id, entry.version_id) for entry in current.site.serving().questionnaires()
    )
    redis_up = store.problem() is None if store.writable else None
    return CatalogueView(versions, store.mode, redis_up)


def init_app(app: Flask) -> None:
    """Register /metrics and the hooks; call first, so the timing spans every other hook."""
    app.extensions["rapport.metrics"] = Metrics(lambda: _view(app))
    app.extensions[_CHILDREN] = {}
    app.register_blueprint(blueprint)
    app.before_request(_start)
    if state(app).settings.metrics_bind:  # without a metrics port, nothing to keep off it
        app.before_request(_metrics_port_serves_metrics_only)
    app.after_request(_finish)  # after_request runs in reverse: this one runs last
