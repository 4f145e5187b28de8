"""JSON log lines: one object per line on stderr, with the request id inside a request.

An exception is logged as its type and where it was raised, never its message or a
traceback: either may quote request content (a `KeyError` names the key it missed). A URL in
a message loses its password and secret query values, whoever wrote it.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from flask import g, has_app_context

from service.config import redact_url

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "StderrHandler",
    "configure_logging",
    "json_line",
    "locate",
    "sole_handler",
]

#: The `extra=` key whose dict is merged into the line: `log.info("request", extra={FIELDS: {}})`.
FIELDS = "rapport_fields"
_MARK = "rapport_json"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON."""
        failed = record.exc_info[1] if record.exc_info else None
        fields = getattr(record, FIELDS, None)
        return json_line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            fields=fields,
            failed=failed,
        )


def json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    *,
    fields: object = None,
    failed: BaseException | None = None,
) -> str:
    """The line JsonFormatter writes for a record of these values (`fields`: its FIELDS)."""
    line: dict[str, Any] = {
        "time": _timestamp(created),
        "level": level,
        "logger": logger,
        "message": _redact_urls(message),
    }
    # One context lookup: an attribute read through the `g` proxy costs a call more.
    request_id = g._get_current_object().get("request_id") if has_app_context() else None
    if request_id is not None:
        line["request_id"] = request_id
    if isinstance(fields, dict):
        line.update(fields)
    if failed is not None:
        line["exception"] = locate(failed)
    return orjson.dumps(line, default=str).decode("utf-8")


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    """`created` as ISO 8601 UTC to the millisecond, the date and time formatted once a second
    (datetime's own formatting took as long as the rest of the log line)."""
    global _second  # noqa: PLW0603 - a one-entry cache; a race only formats a second twice
    # As datetime.fromtimestamp does: the fraction to the microsecond, half to even.
    fraction, whole = math.modf(created)
    micro, seconds = round(fraction * 1e6), int(whole)
    if micro >= 1_000_000:
        micro, seconds = micro - 1_000_000, seconds + 1
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, datetime.fromtimestamp(seconds, UTC).isoformat()[:19])
    return f"{cached[1]}.{micro // 1000:03d}+00:00"


def _redact_urls(message: str) -> str:
    return _URL.sub(lambda url: redact_url(url.group()), message) if "://" in message else message


def locate(exc: BaseException) -> str:
    """`KeyError at /path/file.py:12`: an exception's type and where it was raised."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    place = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    return f"{type(exc).__name__} at {place}"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        del value

    def write(self, line: str) -> None:
        """Write a formatted line as `handle` would write its record's (whatever the stream
        raises is the caller's to report through `handleError`, as `emit` does)."""
        stream = sys.stderr  # `self.stream`, read once
        self.acquire()
        try:
            stream.write(line + self.terminator)
            # `self.flush()`, whose lock this thread holds already.
            if stream and hasattr(stream, "flush"):
                stream.flush()
        finally:
            self.release()


def sole_handler(logger: logging.Logger, level: int) -> StderrHandler | None:
    """The service's JSON handler, when a record of `logger` at `level` would reach it and
    nothing else would see it: LogRecord's own factory, no filter, no other handler on the
    way (as `configure_logging` leaves it); else None, and the record must be made."""
    if logger.disabled or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not StderrHandler
                or handler.filters
                or type(handler.formatter) is not JsonFormatter
                or level < handler.level
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def configure_logging(level: str) -> None:
    """Send the `service` loggers (the app's own, Flask's app.logger too) out as JSON lines."""
    logger = logging.getLogger("service")
    logger.setLevel(level)
    if not any(getattr(handler, _MARK, False) for handler in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
