"""HTTP: blueprints that parse, call one domain function, and serialise."""

from __future__ import annotations

from flask import Flask, request

from service.api import batch, errors, operations, ops, resources
from service.fhir.media import negotiate

__all__ = ["init_app"]


_FHIR_BLUEPRINTS = frozenset({"resources", "operations", "batch"})


def _negotiate() -> None:
    # FHIR http.html#mime-type: 406 when nothing acceptable can be produced.
    if request.blueprint in _FHIR_BLUEPRINTS:
        negotiate(request.headers.get("Accept"), request.args.get("_format"))


def init_app(app: Flask) -> None:
    """Register the blueprints, content negotiation and the error handlers."""
    app.register_blueprint(ops.blueprint)
    for module in (resources, operations, batch):
        app.register_blueprint(module.blueprint, url_prefix="/fhir")
    app.before_request(_negotiate)
    errors.init_app(app)
