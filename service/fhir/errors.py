"""The one table from deliberate errors to HTTP status codes."""

from __future__ import annotations

from service import errors

__all__ = ["STATUS"]

#: Most specific first: the first class an error is an instance of decides its status.
STATUS: tuple[tuple[type[errors.RapportError], int], ...] = (
    (errors.PayloadTooDeep, 400),
    (errors.InvalidRequest, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.ResourceGone, 410),
    (errors.ResourceNotFound, 404),
    (errors.MethodNotAllowed, 405),
    (errors.NotAcceptable, 406),
    (errors.RequestTimeout, 408),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.UnsupportedMediaType, 415),
    (errors.UnknownQuestionnaire, 422),
    (errors.UnprocessableContent, 422),
    (errors.ServiceUnavailable, 503),
)


def status_of(error: errors.RapportError) -> int:
    """The HTTP status for a deliberate error."""
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500
