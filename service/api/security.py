"""Response security headers, and CORS for the origins in `RAPPORT_CORS_ORIGINS`.

CORS is a few lines of Fetch-standard logic, done here rather than with an extension: an
exact-origin allow-list, preflights answered before authentication (browsers send them
without the token), and `Vary: Origin` so caches keep answers per origin. With the setting
unset and a loopback bind (`make run`), pages served from this machine (`http://localhost:*`,
`http://127.0.0.1:*`: Swagger UI, a form renderer) may call it; any other bind allows only
the listed origins, none by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flask import Flask, Request, Response, request
from werkzeug.datastructures import Headers

from service.api.http import state
from service.config import Settings

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "init_app"]

ALLOWED_METHODS: Final = "GET, HEAD, POST, PUT, DELETE"
# Authorization for the token; Content-Type since FHIR JSON is not a CORS-safelisted type;
# the conditional-request and Prefer headers the API honours.
ALLOWED_HEADERS: Final = (
    "Authorization, Content-Type, X-Request-ID, If-Match, If-None-Match, If-Modified-Since, Prefer"
)
EXPOSED_HEADERS: Final = (
    "ETag, Last-Modified, Location, Content-Location, Retry-After, WWW-Authenticate, "
    "X-Request-ID, Preference-Applied"
)
_PREFLIGHT_MAX_AGE: Final = "600"
#: The origins of pages served from this machine, any port (RFC 6454 serialisation).
_LOCAL_ORIGIN: Final = re.compile(r"http://(?:localhost|127\.0\.0\.1)(?::[0-9]{1,5})?")


def _has(headers: Headers, name: str) -> bool:
    """`name in headers`, without the KeyError (a werkzeug HTTP exception, costly to make)
    that `in` raises and catches when the header is absent, as it is on most answers."""
    return bool(headers.getlist(name))


@dataclass(frozen=True, slots=True)
class _Cors:
    """CORS for one app's settings, decided once: the allow-list and the loopback default."""

    origins: frozenset[str]
    local: bool

    @classmethod
    def of(cls, settings: Settings) -> _Cors | None:
        """The app's CORS, or None when it allows no origin (no hook then: nothing to add)."""
        if not settings.cors_origins and not settings.local_cors:
            return None
        return cls(frozenset(settings.cors_origins or ()), settings.local_cors)

    def allowed_origin(self, request: Request) -> str | None:
        """The request's Origin when it may read the answer, else None."""
        origin: str | None = request.environ.get("HTTP_ORIGIN")  # `headers.get("Origin")`
        if origin is None:
            return None
        if origin in self.origins:
            return origin
        return origin if self.local and _LOCAL_ORIGIN.fullmatch(origin) else None

    def preflight(self) -> Response | None:
        """Answer an allowed preflight before anything else checks the request."""
        # Fetch §3.2.2: a CORS preflight is OPTIONS with Origin and Access-Control-Request-Method.
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.method != "OPTIONS" or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in req.environ:
            return None
        origin = self.allowed_origin(req)
        if origin is None:
            return None  # Flask's own OPTIONS answer, without CORS headers: the browser stops
        response = Response(status=204)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
        return response

    def headers(self, response: Response) -> Response:
        """`Vary: Origin` on every answer; the allow headers when the origin may read it."""
        headers = response.headers
        if _has(headers, "Vary"):
            response.vary.add("Origin")
        else:  # what `vary.add` writes, without parsing and re-serialising an empty set
            headers.add("Vary", "Origin")  # (`add`: no Vary to replace, as just seen)
        origin = self.allowed_origin(request._get_current_object())  # type: ignore[attr-defined]
        if origin is not None and not _has(headers, "Access-Control-Allow-Origin"):
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response


_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _headers(response: Response) -> Response:
    headers = response.headers
    # Added, not set (which looks for one to replace first): this hook is its one writer.
    headers.add("X-Content-Type-Options", "nosniff")
    # Operation results are about one patient: no cache may keep them (nor error answers).
    method = request._get_current_object().method  # type: ignore[attr-defined]  # (one proxy call)
    if method not in _SAFE_METHODS or (
        response.status_code >= 400 and not _has(headers, "Cache-Control")
    ):
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Answer allowed preflights before anything else checks the request; add the headers.

    Without CORS (no allowed origin) neither CORS hook is registered.
    """
    cors = _Cors.of(state(app).settings)
    if cors is not None:
        app.before_request(cors.preflight)
        app.after_request(cors.headers)  # after_request runs in reverse: after `_headers`
    app.after_request(_headers)
