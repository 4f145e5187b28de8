"""What the worker says and reads on a connection itself: its FHIR answers to what gunicorn
refuses, log filtering, and a socket that honours a request's deadline (service/api/worker.py).
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from http import HTTPStatus
from typing import Any, Final

from gunicorn.http import errors

from service.errors import RequestTimeout
from service.fhir.media import FHIR_JSON
from service.fhir.outcome import IssueType

__all__ = ["ANSWERS", "IDLE_SECONDS", "LATE", "Deadline", "ExceptionsByClass", "answer", "response"]

#: A request that sends nothing for this long before it is complete is answered 408.
IDLE_SECONDS: Final = 3.0
LATE: Final = "The request did not arrive in time"

#: gunicorn's own errors as (status, issue code, text), most specific first; the texts
#: never quote the request. Any other failure is the server's: 500.
ANSWERS: Final[tuple[tuple[type[BaseException], int, IssueType, str], ...]] = (
    # A header the app produced is invalid: the server's fault, not the client's.
    (errors.InvalidResponseHeader, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.InvalidResponseHeaderName, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.LimitRequestLine, 414, IssueType.TOO_LONG, "The request line is too long"),
    (errors.LimitRequestHeaders, 431, IssueType.TOO_LONG, "The request headers are too large"),
    (errors.ForbiddenProxyRequest, 403, IssueType.FORBIDDEN, "Request forbidden"),
    (errors.ExpectationFailed, 417, IssueType.NOT_SUPPORTED, "Only Expect: 100-continue works"),
    (errors.UnsupportedTransferCoding, 501, IssueType.NOT_SUPPORTED, "Unsupported coding"),
    (errors.ConfigurationProblem, 500, IssueType.EXCEPTION, "The server is misconfigured"),
    (RequestTimeout, 408, IssueType.TIMEOUT, LATE),
    (errors.ParseException, 400, IssueType.STRUCTURE, "The request is not well-formed HTTP"),
    (ssl.SSLError, 403, IssueType.SECURITY, "The TLS handshake failed"),
)


def answer(exc: BaseException) -> tuple[int, IssueType, str]:
    for cls, status, code, text in ANSWERS:
        if isinstance(exc, cls):
            return status, code, text
    return 500, IssueType.EXCEPTION, "The server failed to process the request"


def response(status: int, body: bytes, extra: str = "") -> bytes:
    """A complete HTTP/1.1 response carrying FHIR JSON; the connection then closes."""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Connection: close\r\n{extra}"
        f"Content-Type: {FHIR_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class ExceptionsByClass(logging.Filter):
    """Shows an exception passed as a log argument by its class: its text may quote a request.

    gunicorn logs some as `%s` arguments, e.g. a client gone mid-request-line ("No more data
    after: b'GET /fhir/...?name=...'") at debug level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                type(arg).__name__ if isinstance(arg, BaseException) else arg for arg in record.args
            )
        return True


class Deadline:
    """A socket whose every `recv` waits only until the request's deadline: a thread reading
    a request's rest never waits longer than the client was given."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self.deadline = deadline
        self.expired = False

    def recv(self, size: int) -> bytes:
        """What arrives by the deadline (and within IDLE_SECONDS); RequestTimeout if nothing.

        RequestTimeout is no OSError: gunicorn's parser passes it to `handle_error` (408), and
        in the app it is a RapportError (408 too)."""
        remaining = self.deadline - time.monotonic()
        if remaining > 0:
            self._sock.settimeout(min(remaining, IDLE_SECONDS))
            try:
                return self._sock.recv(size)
            except TimeoutError:
                pass
            finally:
                self._sock.settimeout(None)
        self.expired = True
        raise RequestTimeout(LATE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
