"""Keeps each worker's catalogue in step with the site store: one cheap check per request."""

from __future__ import annotations

from flask import Flask

from service.api.http import state

__all__ = ["init_app"]


def _refresh() -> None:
    # At most every POLL_SECONDS, and never waiting on a dead Redis for longer than its
    # timeout: an unreachable store leaves the last catalogue in place.
    current = state()
    current.catalog = current.site.refreshed()


def init_app(app: Flask) -> None:
    """Refresh the served catalogue before each request."""
    app.before_request(_refresh)
