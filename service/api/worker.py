"""gunicorn's sync worker, answering what it rejects itself as FHIR and logging no request text.

gunicorn refuses some requests before the app sees them (a request line or headers over the
limits, malformed HTTP) and answers those with an HTML page; its log line quotes the
offending request line or header, which may hold a search term or an identifier. This
worker answers them with an OperationOutcome and logs the exception's class only.
"""

from __future__ import annotations

import logging
import ssl
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Final

from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

from service.fhir import jsonio
from service.fhir.media import FHIR_JSON
from service.fhir.outcome import IssueType, error, operation_outcome
from service.observability.logs import locate

__all__ = ["RapportWorker"]

#: gunicorn's own errors as (status, issue code, text), most specific first; the texts
#: never quote the request. Any other failure is the server's: 500.
_ANSWERS: Final[tuple[tuple[type[BaseException], int, IssueType, str], ...]] = (
    # A header the app produced is invalid: the server's fault, not the client's.
    (errors.InvalidResponseHeader, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.InvalidResponseHeaderName, 500, IssueType.EXCEPTION, "The server failed to answer"),
    (errors.LimitRequestLine, 414, IssueType.TOO_LONG, "The request line is too long"),
    (errors.LimitRequestHeaders, 431, IssueType.TOO_LONG, "The request headers are too large"),
    (errors.ForbiddenProxyRequest, 403, IssueType.FORBIDDEN, "Request forbidden"),
    (errors.ExpectationFailed, 417, IssueType.NOT_SUPPORTED, "Only Expect: 100-continue works"),
    (errors.UnsupportedTransferCoding, 501, IssueType.NOT_SUPPORTED, "Unsupported coding"),
    (errors.ConfigurationProblem, 500, IssueType.EXCEPTION, "The server is misconfigured"),
    (errors.ParseException, 400, IssueType.STRUCTURE, "The request is not well-formed HTTP"),
    (ssl.SSLError, 403, IssueType.SECURITY, "The TLS handshake failed"),
)


def _answer(exc: BaseException) -> tuple[int, IssueType, str]:
    for cls, status, code, text in _ANSWERS:
        if isinstance(exc, cls):
            return status, code, text
    return 500, IssueType.EXCEPTION, "The server failed to process the request"


def _response(status: int, body: bytes) -> bytes:
    """A complete HTTP/1.1 response carrying FHIR JSON; the connection then closes."""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {FHIR_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class _ExceptionsByClass(logging.Filter):
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


class RapportWorker(SyncWorker):  # type: ignore[misc] # gunicorn is untyped
    """gunicorn's sync worker, with FHIR error answers and request-free error logs."""

    def init_process(self) -> None:
        """Filter the error log, then serve (gunicorn's own loop; returns at shutdown)."""
        self.log.error_log.addFilter(_ExceptionsByClass())
        super().init_process()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Log the failure without request text and answer with an OperationOutcome."""
        status, code, text = _answer(exc)
        if status >= 500:
            self.log.error("Error handling request: %s", locate(exc))
        else:
            ip = addr[0] if addr else ""  # a unix socket has no address
            self.log.warning("Invalid request from ip=%s: %s", ip, type(exc).__name__)
        body = jsonio.dumps(operation_outcome([error(code, text)]))
        if req is None and isinstance(exc, errors.InvalidHeader):
            req = getattr(exc, "req", None)  # the request read up to the bad header, if any
        if req is not None:
            self._log_access(req, client, addr, status, len(body))
        try:
            util.write_nonblock(client, _response(status, body))
        except OSError:
            self.log.debug("Failed to send error message.")

    def _log_access(self, req: Any, client: Any, addr: Any, status: int, length: int) -> None:
        # The access line gunicorn writes for these too; its format names no path or query.
        environ = default_environ(req, client, self.cfg)
        environ["REMOTE_ADDR"] = addr[0] if addr else ""
        response = Response(req, client, self.cfg)
        response.status = f"{status} {HTTPStatus(status).phrase}"
        response.response_length = length
        self.log.access(response, req, environ, timedelta(0))
