"""The apps' own cost per `$score` request, called as WSGI in this process (no gunicorn, no
sockets): what separates the service from the floor app once the transport is taken away."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

from service import create_app
from service.config import load_settings

from . import floor_app
from .instruments import Instrument
from .timing import Comparison, Plan, compare

__all__ = ["measure_wsgi"]


def _caller(app: Flask, body: bytes) -> Callable[[], object]:
    """One POST of `body` to `$score` through the full WSGI stack; fails unless 200."""
    builder = EnvironBuilder(
        path=floor_app.SCORE_PATH,
        method="POST",
        data=body,
        content_type="application/fhir+json",
        headers=[("Accept", "application/fhir+json")],
    )
    base = builder.get_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        statuses.append(status)
        return None

    def call() -> object:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        chunks: Iterable[bytes] = app.wsgi_app(environ, start_response)
        data = b"".join(chunks)
        if statuses.pop() != "200 OK":
            raise AssertionError(data[:300])
        return data

    return call


def measure_wsgi(instrument: Instrument, plan: Plan) -> Comparison:
    """Service (a) against the floor app (b), per request, alternating."""
    # The service's request log still formats and writes each line, as in production, but
    # to /dev/null rather than over the benchmark's own output.
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        # Default settings whatever the shell says (a RAPPORT_RATE_LIMIT would throttle).
        service = _caller(create_app(load_settings(environ={})), instrument.body)
        floor = _caller(floor_app.create_app(), instrument.body)
        return compare(service, floor, plan)
