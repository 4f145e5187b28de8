"""The errors the service raises on purpose, each a specialised builtin.

    ValueError
    ├── InvalidRequest          the request itself is malformed (400)
    │   └── PayloadTooDeep      nesting or item-count limit exceeded (400)
    └── UnprocessableContent    well-formed but breaks a business rule (422)
    LookupError
    ├── ResourceNotFound        no such resource or route (404)
    │   └── ResourceGone        the resource was deleted (410)
    └── UnknownQuestionnaire    an operation's Questionnaire cannot be resolved (422)
    PermissionError
    ├── Unauthorized            missing or bad credentials (401)
    └── Forbidden               credentials lack the scope (403)
    RuntimeError
    ├── NotAcceptable           no acceptable response media type (406)
    ├── UnsupportedMediaType    request body media type not accepted (415)
    ├── MethodNotAllowed        the resource exists but not for this method (405)
    ├── PreconditionFailed      If-Match did not match (412)
    ├── Conflict                the write conflicts with the current state (409)
    └── ServiceUnavailable      a dependency is down, or the work must wait; retry (503)

`service.fhir.errors` maps each to its HTTP status and OperationOutcome issue code.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.fhir.outcome import Issue, IssueSeverity, IssueType

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "PayloadTooDeep",
    "PreconditionFailed",
    "RapportError",
    "RequestTimeout",
    "ResourceGone",
    "ResourceNotFound",
    "ServiceUnavailable",
    "Unauthorized",
    "UnknownQuestionnaire",
    "UnprocessableContent",
    "UnsupportedMediaType",
]


class RapportError(Exception):
    """Mixin for deliberate errors: a message, and optionally the issues that explain it."""

    issue_type: IssueType = IssueType.PROCESSING

    def __init__(
        self,
        message: str,
        *,
        issues: Sequence[Issue] = (),
        expression: str | None = None,
        issue_type: IssueType | None = None,
    ) -> None:
        super().__init__(message)
        if issue_type is not None:
            self.issue_type = issue_type
        self.issues: list[Issue] = list(issues) or [
            Issue(IssueSeverity.ERROR, self.issue_type, message, expression)
        ]


class InvalidRequest(RapportError, ValueError):
    """The request is malformed: bad JSON, wrong shape, bad parameter."""

    issue_type = IssueType.INVALID


class PayloadTooDeep(InvalidRequest):
    """The body is nested too deep or has too many elements to process safely."""

    issue_type = IssueType.TOO_COSTLY


class UnprocessableContent(RapportError, ValueError):
    """Well-formed content that breaks a rule (invalid Questionnaire, response errors)."""

    issue_type = IssueType.PROCESSING


class ResourceNotFound(RapportError, LookupError):
    """No resource with that type and id, or no such route."""

    issue_type = IssueType.NOT_FOUND


class ResourceGone(ResourceNotFound):
    """The resource existed and was deleted (FHIR read of a deleted resource)."""


class UnknownQuestionnaire(RapportError, LookupError):
    """The Questionnaire a response points at is not in the catalogue."""

    issue_type = IssueType.NOT_FOUND


class Unauthorized(RapportError, PermissionError):
    """No valid bearer token."""

    issue_type = IssueType.LOGIN


class Forbidden(RapportError, PermissionError):
    """The token lacks the scope this request needs."""

    issue_type = IssueType.FORBIDDEN


class NotAcceptable(RapportError, RuntimeError):
    """The client accepts no media type we produce."""

    issue_type = IssueType.NOT_SUPPORTED


class UnsupportedMediaType(RapportError, RuntimeError):
    """The request body's media type is not FHIR JSON."""

    issue_type = IssueType.NOT_SUPPORTED


class MethodNotAllowed(RapportError, RuntimeError):
    """The resource exists, but this method is not supported on it here."""

    issue_type = IssueType.NOT_SUPPORTED


class PreconditionFailed(RapportError, RuntimeError):
    """If-Match named a version that is no longer current."""

    issue_type = IssueType.CONFLICT


class Conflict(RapportError, RuntimeError):
    """The write conflicts with the current state of the resource."""

    issue_type = IssueType.CONFLICT


class RequestTimeout(RapportError, RuntimeError):
    """The request did not arrive within the read deadline (a slow or stalled client)."""

    issue_type = IssueType.TIMEOUT


class ServiceUnavailable(RapportError, RuntimeError):
    """A dependency (Redis) is unavailable, or the worker is busy with the same kind of work
    (an inline compile); the client should retry after `retry_after` seconds."""

    issue_type = IssueType.TRANSIENT

    def __init__(self, message: str, *, retry_after: int = 5, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
