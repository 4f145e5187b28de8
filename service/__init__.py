"""Rapport: a FHIR R4 service that publishes, validates and scores alliance instruments."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response, request
from flask.globals import request_ctx
from flask.sessions import NullSession, SecureCookieSessionInterface
from flask.signals import request_tearing_down
from werkzeug.routing import MapAdapter

from service.config import Settings, load_settings

__all__ = ["create_app"]


#: What of the WSGI environ Flask's URL adapter is made from: `get_host` reads the first four,
#: werkzeug's `bind_to_environ` those and the rest.
_BINDS = (
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_CONNECTION",
    "HTTP_UPGRADE",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_METHOD",
)


#: `do_teardown_request` called without an exception: it looks at the one being handled.
_UNSET: Any = object()


class _NoSessions(SecureCookieSessionInterface):
    """Flask's sessions, as they are without a secret key, which this service never sets:
    every request's session is the one empty NullSession (it refuses writes), not a new
    one made per request."""

    def __init__(self) -> None:
        self._null = NullSession()

    def open_session(self, app: Flask, request: Request) -> None:
        """No session to open: Flask then asks for the null one."""
        del app, request

    def make_null_session(self, app: Flask) -> NullSession:
        """The one null session."""
        del app
        return self._null


class _App(Flask):
    """Flask, without work per request whose answer never changes.

    Flask passes every hook and view through `ensure_sync`, which asks `inspect` each time
    whether the function is a coroutine; the answer is kept. Its hook loops read the request
    through the context proxy, each read an AttributeError made and caught on the way to the
    proxy's `__getattr__` (Python 3.11); here they read it once, and are otherwise Flask's.
    It binds the URL map to each request's environ, checking the host twice and IDNA-encoding
    it; the adapter (which nothing changes once made) is kept per request line and host, at
    most 256 of them (bounded: the path and the Host header are the client's to choose).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: set[Callable[..., Any]] = set()
        self._bound = functools.lru_cache(maxsize=256)(self._bind)
        self.session_interface = _NoSessions()

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Flask's adapter for `request`; the one made for the same values, when kept."""
        config = self.config
        if (
            request is None
            or config["TRUSTED_HOSTS"] is not None
            or config["SERVER_NAME"] is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        environ = request.environ
        host, adapter = self._bound(tuple([environ.get(name) for name in _BINDS]))
        request.host = host  # as Flask sets it (a cached property of the request)
        return adapter

    def _bind(self, values: tuple[Any, ...]) -> tuple[str, MapAdapter | None]:
        environ = {
            name: value for name, value in zip(_BINDS, values, strict=True) if value is not None
        }
        request = self.request_class(environ)
        adapter = super().create_url_adapter(request)
        return request.host, adapter

    def preprocess_request(self) -> Any:
        """Flask's: the URL value preprocessors, then the before-request hooks, app's first,
        then each blueprint's; the request read through its proxy once."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        names = (None, *reversed(req.blueprints))
        for name in names:
            if name in self.url_value_preprocessors:
                for url_func in self.url_value_preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in self.before_request_funcs:
                for before_func in self.before_request_funcs[name]:
                    answer = self.ensure_sync(before_func)()
                    if answer is not None:
                        return answer
        return None

    def process_response(self, response: Response) -> Response:
        """Flask's: this request's own after-request functions, then the hooks, each
        blueprint's before the app's, in reverse; the request read through its proxy once."""
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for name in (*ctx.request.blueprints, None):
            if name in self.after_request_funcs:
                for func in reversed(self.after_request_funcs[name]):
                    response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def dispatch_request(self) -> Any:
        """Flask's: the routing error, the automatic OPTIONS answer, else the view; the
        request read through its proxy once."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        return self.ensure_sync(self.view_functions[rule.endpoint])(**req.view_args)

    def do_teardown_request(self, exc: BaseException | None = _UNSET) -> None:
        """Flask's; without teardown functions (the service has none), the signal alone,
        without reading the request's blueprints through its proxy."""
        if exc is _UNSET:
            exc = sys.exc_info()[1]
        if self.teardown_request_funcs:
            super().do_teardown_request(exc)
            return
        request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` itself when it is synchronous (remembered), else Flask's wrapper."""
        if func in self._sync:
            return func
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._sync.add(func)
        return wrapped


def _conformance(settings: Settings) -> Any:
    from service.api.http import Conformance, Published  # noqa: PLC0415 - built per app
    from service.fhir.conformance import capability_statement, operation_definitions  # noqa: PLC0415

    started = datetime.now(UTC).replace(microsecond=0)
    capability = capability_statement(
        batch_max_entries=settings.batch_max_entries,
        implementation_url=settings.base_url or None,
        site_writes=bool(settings.redis_url),
        smart=bool(settings.auth_jwks),
        token_url=settings.auth_token_url,
        cors=bool(settings.cors_origins) or settings.local_cors,
        us_core=settings.us_core,
        safety_flags=settings.safety_flags,
    )
    return Conformance(
        Published.of(capability, started),
        {key: Published.of(value, started) for key, value in operation_definitions().items()},
    )


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (from the environment unless given), catalogue, routes."""
    from service import api, portal  # noqa: PLC0415 - nothing is built at import time
    from service.api.http import State  # noqa: PLC0415
    from service.catalog import load_catalog  # noqa: PLC0415
    from service.catalog.layered import open_site  # noqa: PLC0415
    from service.catalog.lookup import set_cache_bytes  # noqa: PLC0415
    from service.observability import configure_logging  # noqa: PLC0415
    from service.questionnaire import Limits, compile_questionnaire  # noqa: PLC0415

    settings = config if isinstance(config, Settings) else load_settings(config)
    configure_logging(settings.log_level)
    set_cache_bytes(settings.inline_cache_bytes)  # one cache per process, as in a worker
    limits = Limits(max_response_nodes=settings.max_items)
    compiler = functools.partial(compile_questionnaire, limits=limits)
    catalog = load_catalog(
        settings.catalog_dirs, disabled=settings.instruments_disabled, compiler=compiler
    )
    app = _App(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.url_map.strict_slashes = False
    # Redis is not touched here: gunicorn preloads this in the master, and each worker
    # connects (and loads the site catalogue) on its first request.
    site = open_site(settings.redis_url, catalog, compiler)
    app.extensions["rapport"] = State(settings, _conformance(settings), site)
    api.init_app(app)
    portal.init_app(app)
    return app
