"""A throwaway WSGI app for testing the gunicorn runner before (and apart from) the service."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["app"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer /healthz ("ok"), /env/NAME (that variable), /pid (the worker), else 404."""
    path: str = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _answer(start_response, "200 OK", b"ok")
    if path.startswith("/env/"):
        value = os.environ.get(path.removeprefix("/env/"))
        if value is not None:
            return _answer(start_response, "200 OK", value.encode())
    if path == "/pid":
        return _answer(start_response, "200 OK", str(os.getpid()).encode())
    return _answer(start_response, "404 Not Found", b"not found")


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    """Send a plain-text answer."""
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
