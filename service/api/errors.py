"""Every error becomes an OperationOutcome: our own errors by the status table, HTTP errors by
their code, and anything unforeseen by the one last-resort handler (500, no details)."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from service.api.auth import challenge
from service.api.http import fhir_response, state
from service.api.telemetry import route
from service.errors import Forbidden, RapportError, ServiceUnavailable, Unauthorized
from service.fhir.errors import status_of
from service.fhir.outcome import Issue, IssueSeverity, IssueType, error, operation_outcome

__all__ = ["init_app", "report_unexpected"]

log = logging.getLogger(__name__)

#: Werkzeug's HTTP errors as FHIR issue codes and plain texts (no HTML, no request echo).
_HTTP_ISSUES: dict[int, tuple[IssueType, str]] = {
    400: (IssueType.INVALID, "The request is malformed"),
    404: (IssueType.NOT_FOUND, "No such resource or endpoint"),
    405: (IssueType.NOT_SUPPORTED, "This method is not supported on this endpoint"),
    406: (IssueType.NOT_SUPPORTED, "No acceptable media type; use application/fhir+json"),
    408: (IssueType.TIMEOUT, "The request took too long to arrive"),
    411: (IssueType.REQUIRED, "Content-Length is required"),
    413: (IssueType.TOO_COSTLY, "The request body is larger than this server accepts"),
    414: (IssueType.TOO_LONG, "The request URL is too long"),
    415: (IssueType.NOT_SUPPORTED, "Unsupported Content-Type; send application/fhir+json"),
    429: (IssueType.THROTTLED, "Too many requests; retry later"),
    431: (IssueType.TOO_LONG, "The request headers are too large"),
}


def _rapport_error(exc: RapportError) -> Response:
    headers = {}
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized | Forbidden):
        headers["WWW-Authenticate"] = challenge(exc)
    return fhir_response(operation_outcome(exc.issues), status_of(exc), headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code, text = _HTTP_ISSUES.get(status, (IssueType.PROCESSING, "The request failed"))
    if status == 413:
        text = f"{text} ({state().settings.max_body_bytes} bytes)"
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # type: ignore[attr-defined]
    return fhir_response(operation_outcome([error(code, text)]), status, headers)


def _malformed_body(exc: Exception) -> Response:
    # gunicorn decodes a chunked body as the app reads it, and raises its own parse errors
    # (a bad chunk size, a missing CRLF) there: the client's fault, not the server's.
    issue = error(IssueType.STRUCTURE, "The request body's chunked encoding is malformed")
    return fhir_response(operation_outcome([issue]), 400)


def report_unexpected(exc: Exception) -> Issue:
    """Log an unforeseen failure (its type and place only) and the issue to answer with."""
    # Log where, never what: messages and locals may hold response content.
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    # The route template, not the path: a path may carry an identifier.
    log.error("unexpected %s at %s on %s %s", type(exc).__name__, where, request.method, route())
    return Issue(
        IssueSeverity.FATAL,
        IssueType.EXCEPTION,
        "The server failed to process the request; the failure has been logged",
    )


def _unexpected(exc: Exception) -> Response:
    # The last resort.
    return fhir_response(operation_outcome([report_unexpected(exc)]), 500)


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(RapportError, _rapport_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ParseException, _malformed_body)
    app.register_error_handler(Exception, _unexpected)
