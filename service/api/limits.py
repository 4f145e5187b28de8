"""Rate limits per client (`RAPPORT_RATE_LIMIT`): flask-limiter, shared through Redis if set.

The client is the token's subject when the request carries a valid token, else the remote
address: a request that authentication refuses counts against its address, since its
`sub` is anyone's to forge. Every /fhir request counts, unknown routes included. Behind
`RAPPORT_TRUSTED_PROXIES` the remote address is the one they forwarded (see
service/api/forwarded.py), else those headers are ignored.

With Redis the counters are shared by every worker and replica; without, each process
counts alone. When Redis fails the limiter fails open to per-process counting
(flask-limiter's in-memory fallback), logs it, and goes back to Redis once it answers.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded

from service.api.http import fhir_response, state
from service.catalog.redis_site import RETRY, TIMEOUT
from service.fhir.outcome import IssueType, error, operation_outcome

__all__ = ["SUBJECT", "client_key", "init_app", "storage_uri"]

log = logging.getLogger(__name__)

#: The attribute of `flask.g` where authentication leaves the token's `sub`.
SUBJECT = "auth_subject"


def client_key() -> str:
    """Whom a request counts against: the authenticated subject, else the remote address."""
    subject = g.get(SUBJECT)
    if isinstance(subject, str) and subject:
        return f"sub:{subject}"
    return f"addr:{request.remote_addr or 'unknown'}"


def storage_uri(redis_url: str) -> str:
    """The limits storage for a RAPPORT_REDIS_URL: the same server, else this process."""
    if not redis_url:
        return "memory://"
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def _redis_options() -> dict[str, Any]:
    # Like the site store's client: small timeouts and one immediate retry, so a dead Redis
    # costs one failed attempt and then the in-memory fallback, never a stalled request.
    return {
        "socket_connect_timeout": TIMEOUT,
        "socket_timeout": TIMEOUT,
        "retry": RETRY,
        "key_prefix": "rapport:limits",  # beside the site catalogue's keys, all `rapport:`
    }


def _endpoint() -> str:
    # flask-limiter skips a request with no endpoint: a 404 would cost nothing to send.
    return request.endpoint or "unmatched"


def _exempt() -> bool:
    # Probes and scrapes (/healthz, /readyz, /metrics) must never be throttled; a portal
    # submission runs the operations, so it counts like them.
    return not request.path.startswith("/fhir") and request.endpoint != "portal.submit"


def _throttled(exc: RateLimitExceeded) -> Response:
    limiter: Limiter = current_app.extensions["rapport.limiter"]
    current = limiter.current_limit
    wait = current.reset_at - time.time() if current is not None else 1.0
    text = f"Too many requests: the limit is {exc.limit.limit}; retry later"
    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    return fhir_response(operation_outcome([error(IssueType.THROTTLED, text)]), 429, headers)


def init_app(app: Flask) -> None:
    """Apply RAPPORT_RATE_LIMIT to every /fhir request, if set."""
    settings = state(app).settings
    if not settings.rate_limit:
        return
    limiter = Limiter(
        client_key,
        request_identifier=_endpoint,
        # One budget per client across every route (flask-limiter's "application" limits),
        # not one per route.
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=storage_uri(settings.redis_url),
        storage_options=_redis_options() if settings.redis_url else {},
        strategy="fixed-window",
        swallow_errors=True,  # fail open: a broken limiter never fails a request
        in_memory_fallback_enabled=True,  # count per process while Redis is away
    )
    # Its warnings ("storage unreachable - falling back", "recovered") go where ours go.
    limiter.logger = log
    limiter.init_app(app)
    app.extensions["rapport.limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _throttled)
    shared = "shared in Redis" if settings.redis_url else "per process"
    log.info("rate limit: %s per client, %s", settings.rate_limit, shared)
