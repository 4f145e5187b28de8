"""Log records for a line written on every request, made at a fraction of `Logger.info`'s cost.

`Logger.info(msg, extra=...)` walks the stack to name its caller (`findCaller`), and each
`LogRecord` splits the same path, looks up the same level name and asks the system for the
same process id and name again. A `CallSite` resolves what never changes once and makes
the very record `Logger.info` would (the same attributes, values and types), then hands it
to `Logger.handle`: the handlers, filters and formatters are the ones any record meets.
When the only one that would see the record is the service's own JSON handler, as
`configure_logging` sets it up, it writes the line that record would be formatted into
without making it: nothing else could tell the record was never made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from service.observability.logs import FIELDS, StderrHandler, json_line, sole_handler

__all__ = ["CallSite"]

#: (process id, process name): what every record of this process carries; reset in a fork's
#: child, where both may differ (gunicorn's workers are forks of its master). A process
#: renamed through multiprocessing after its first line keeps its first name here, where
#: LogRecord would look again; gunicorn does not rename its workers that way.
_process: tuple[int, str] | None = None


def _forget_process() -> None:
    global _process  # noqa: PLW0603 - one value per process, reset by the fork hook only
    _process = None


os.register_at_fork(after_in_child=_forget_process)


def _this_process() -> tuple[int, str]:
    global _process  # noqa: PLW0603 - see _forget_process
    found = _process
    if found is None:
        # As LogRecord finds the name: multiprocessing's, when it is loaded.
        name = "MainProcess"
        mp = sys.modules.get("multiprocessing")
        if mp is not None:
            with contextlib.suppress(AttributeError):  # multiprocessing still loading
                name = mp.current_process().name
        found = _process = (os.getpid(), name)
    return found


#: What a LogRecord takes from the moment and the thread it is made in; the rest is the call's.
_PER_RECORD = frozenset(
    {"created", "msecs", "relativeCreated", "thread", "threadName", "processName", "process"}
)


def _times() -> tuple[float, float, float]:
    """A record's created (s), msecs and relativeCreated (ms), as this Python's LogRecord
    makes them: from time.time() up to 3.12, from time.time_ns() since 3.13, whose logging
    keeps its start time in nanoseconds (an int) too."""
    start = logging._startTime  # type: ignore[attr-defined]
    if type(start) is int:
        now = time.time_ns()
        return now / 1e9, (now % 1_000_000_000) // 1_000_000 + 0.0, (now - start) / 1e6
    created = time.time()
    # msecs as LogRecord (gh-89047): the truncated fraction, a float.
    return created, int((created - int(created)) * 1000) + 0.0, (created - start) * 1000


class CallSite:
    """One logging call in the code (`func`, a message without arguments): its records are
    made as `logger.log(level, msg, extra=...)` called in `func` would make them."""

    def __init__(
        self, logger: logging.Logger, level: int, func: Callable[..., Any], msg: str
    ) -> None:
        self.logger = logger
        self.level = level
        code = func.__code__
        # A record made once the standard way gives every field that does not change.
        probe = logging.LogRecord(
            logger.name, level, code.co_filename, code.co_firstlineno, msg, (), None, code.co_name
        )
        self._fixed: dict[str, Any] = {
            key: value for key, value in probe.__dict__.items() if key not in _PER_RECORD
        }

    def enabled(self) -> bool:
        """Whether the logger would emit a record of this level now."""
        return self.logger.isEnabledFor(self.level)

    def log(self, extra: dict[str, Any]) -> None:
        """Make the record (with `extra`'s keys as attributes) and handle it, or write its
        line straight to the one handler that would see it."""
        logger = self.logger
        handler = sole_handler(logger, self.level)
        if handler is not None:
            self._line(handler, extra)
            return
        if logging.getLogRecordFactory() is not logging.LogRecord:  # someone's own records
            fixed = self._fixed
            record = logger.makeRecord(
                logger.name, self.level, fixed["pathname"], fixed["lineno"], fixed["msg"],
                (), None, fixed["funcName"], extra,
            )  # fmt: skip
        else:
            record = self._record(extra)
        logger.handle(record)

    def _line(self, handler: StderrHandler, extra: dict[str, Any]) -> None:
        fixed = self._fixed
        for key in extra:  # what makeRecord refuses, refused the same way
            if key in {"message", "asctime"} or key in fixed or key in _PER_RECORD:
                raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
        created = _times()[0]
        line = json_line(
            created, fixed["levelname"], fixed["name"], fixed["msg"], fields=extra.get(FIELDS)
        )
        try:
            handler.write(line)
        except RecursionError:  # as StreamHandler.emit: a write that failed is reported
            raise
        except Exception:  # noqa: BLE001 - (no stderr at all, a closed one, ...), never raised
            handler.handleError(self._record(extra))

    def _record(self, extra: dict[str, Any]) -> logging.LogRecord:
        record = logging.LogRecord.__new__(logging.LogRecord)
        fields = record.__dict__
        fields.update(self._fixed)
        fields["created"], fields["msecs"], fields["relativeCreated"] = _times()
        if logging.logThreads:
            fields["thread"] = threading.get_ident()
            fields["threadName"] = threading.current_thread().name
        else:
            fields["thread"] = fields["threadName"] = None
        process, process_name = _this_process()
        fields["processName"] = process_name if logging.logMultiprocessing else None
        fields["process"] = process if logging.logProcesses else None
        for key, value in extra.items():  # what makeRecord refuses, refused the same way
            if key in {"message", "asctime"} or key in fields:
                raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
            fields[key] = value
        return record
