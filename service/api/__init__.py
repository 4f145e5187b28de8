"""HTTP: blueprints that parse, call one domain function, and serialise."""

from __future__ import annotations

from flask import Flask, request

from service.api import (
    auth,
    batch,
    errors,
    forwarded,
    limits,
    operations,
    ops,
    resources,
    security,
    site,
    telemetry,
    writes,
)
from service.api.http import FhirId, accepted_once, state
from service.fhir.media import negotiate

__all__ = ["init_app"]


_FHIR_BLUEPRINTS = frozenset({"resources", "operations", "batch", "writes"})


#: An Accept header without _format, negotiated once per value it allows (406 otherwise).
_acceptable = accepted_once(lambda accept: negotiate(accept, None))


def _negotiate() -> None:
    # FHIR http.html#mime-type: 406 when nothing acceptable can be produced.
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.blueprint in _FHIR_BLUEPRINTS:
        environ = req.environ
        accept = environ.get("HTTP_ACCEPT")  # `req.headers.get("Accept")`
        if environ.get("QUERY_STRING"):  # else there is no _format: leave request.args be
            negotiate(accept, req.args.get("_format"))
        else:
            _acceptable(accept)


def init_app(app: Flask) -> None:
    """Register the blueprints, content negotiation and the error handlers."""
    # Hooks run in this order: request id and timing, CORS preflight, token verification,
    # the rate limit (keyed on the verified subject, else the address: refused requests
    # count too), the refusals (401, 403), catalogue refresh, content negotiation.
    forwarded.init_app(app)  # WSGI middleware: every hook below sees the client's address
    telemetry.init_app(app)
    security.init_app(app)
    auth.init_app(app, state(app).settings)
    limits.init_app(app)
    if state(app).settings.auth_jwks:  # without a JWKS, authentication is off: no hook
        app.before_request(auth.authorize)
    app.url_map.converters["fhir_id"] = FhirId  # before the routes that use it
    app.register_blueprint(ops.blueprint)
    for module in (resources, writes, operations, batch):
        app.register_blueprint(module.blueprint, url_prefix="/fhir")
    site.init_app(app)
    app.before_request(_negotiate)
    errors.init_app(app)
