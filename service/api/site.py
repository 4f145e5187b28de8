"""Keeps each worker's catalogue in step with the site store, without asking it per request."""

from __future__ import annotations

from flask import Flask

from service.api.http import catalog

__all__ = ["init_app"]


def _snapshot() -> None:
    # Only a reference read: the worker's poller thread (started by the first call in each
    # process) keeps the site catalogue fresh, so a slow or dead Redis never delays a request.
    # The request keeps what it took (flask.g); nothing app-wide is written.
    catalog()


def init_app(app: Flask) -> None:
    """Serve each request from the worker's current catalogue, taken as it starts."""
    app.before_request(_snapshot)
