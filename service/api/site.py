"""Keeps each worker's catalogue in step with the site store, without asking it per request."""

from __future__ import annotations

from flask import Flask

from service.api.http import state

__all__ = ["init_app"]


def _refresh() -> None:
    # Only a reference read: the worker's poller thread (started by the first call in each
    # process) keeps `site.current` fresh, so a slow or dead Redis never delays a request.
    current = state()
    current.catalog = current.site.serving()


def init_app(app: Flask) -> None:
    """Serve the worker's current catalogue to each request."""
    app.before_request(_refresh)
