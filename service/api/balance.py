"""Kept-alive connections spread evenly over a server's workers: least connections.

gunicorn's workers share one listening socket. A new connection goes to whichever worker
accepts it first, and a kept-alive connection then stays with that worker for every request
it carries. A client holding a few long-lived connections (a proxy's upstream pool, an EHR's
HTTP client, the benchmarks' load generator) can end with most of them on one worker: that
worker is overloaded while another idles, and under steady load its queue grows without
bound (BENCHMARKS.md: 8 connections over 2 workers at 70 % of capacity, latency in seconds).

Each worker publishes how many connections it holds in a table its siblings read: shared
memory made in gunicorn's master, before any worker is forked. A worker accepts new
connections only while it holds no more than the fewest any live sibling holds, and a worker
holding more than one above that answers with `Connection: close`, so the client's next
request opens a new connection, which a worker with fewer takes. Workers within one of each
other close nothing; a lone worker is never out of balance.

A worker writes its own row alone, from its event loop's thread. A row whose heartbeat is
older than `STALE_SECONDS` (its worker has stopped, died or hangs) counts for nothing, so a
dead worker's last count never holds the others back for longer than that.
"""

from __future__ import annotations

import math
import mmap
import time
from typing import Any, Final

from gunicorn.workers.gthread import ThreadWorker

__all__ = ["MAX_WORKERS", "STALE_SECONDS", "Balance", "BalancedWorker"]

#: Rows in the table: RAPPORT_WORKERS is at most 64 (service/config.py).
MAX_WORKERS: Final = 64
#: A worker's event loop beats at least once a second (gunicorn's select timeout).
STALE_SECONDS: Final = 5.0

# The table is doubles: [rows handed out, unused, then per row: connections, heartbeat].
_HEAD: Final = 2


class Balance:
    """The connections each live worker holds, shared between the master's forks."""

    def __init__(self, rows: int = MAX_WORKERS) -> None:
        self._rows = rows
        # Anonymous and MAP_SHARED (mmap's default): one set of pages for every fork.
        self._memory = mmap.mmap(-1, 8 * (_HEAD + 2 * rows))
        self._cells = memoryview(self._memory).cast("d")
        self._handed: dict[int, float] = {}  # the master's: row -> when it was handed out

    def claim(self) -> int | None:
        """A row for a worker about to be forked (in the master), or None when all are live.

        A row is free once its worker's heartbeat is stale and it was not handed out within
        `STALE_SECONDS` (a worker just forked has not beaten yet).
        """
        cells, now = self._cells, time.monotonic()
        for row in range(self._rows):
            if now - cells[_HEAD + 2 * row + 1] > STALE_SECONDS and (
                now - self._handed.get(row, -math.inf) > STALE_SECONDS
            ):
                self._handed[row] = now
                cells[_HEAD + 2 * row] = 0.0
                cells[0] = max(cells[0], row + 1.0)
                return row
        return None

    def hold(self, row: int, connections: int) -> None:
        """`row`'s worker holds this many connections now."""
        self._cells[_HEAD + 2 * row] = connections

    def beat(self, row: int) -> None:
        """`row`'s worker is alive."""
        self._cells[_HEAD + 2 * row + 1] = time.monotonic()

    def leave(self, row: int) -> None:
        """`row`'s worker is done: its count no longer counts."""
        self._cells[_HEAD + 2 * row + 1] = 0.0

    def fewest_elsewhere(self, row: int) -> float:
        """The fewest connections a live worker other than `row`'s holds (inf if none)."""
        cells = self._cells
        live_since = time.monotonic() - STALE_SECONDS
        fewest = math.inf
        for other in range(int(cells[0])):
            at = _HEAD + 2 * other
            if other != row and cells[at + 1] > live_since and cells[at] < fewest:
                fewest = cells[at]
        return fewest


#: The table, made at import, which happens in gunicorn's master (it loads the worker class
#: before it forks any worker): every worker shares it.
TABLE: Final = Balance()


class BalancedWorker(ThreadWorker):  # type: ignore[misc] # gunicorn is untyped
    """gunicorn's gthread worker, publishing its connections and accepting or keeping them
    alive by least connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """gunicorn's, in the master before the fork, and this worker's row in the table."""
        self._row = TABLE.claim()
        self._conns = 0
        super().__init__(*args, **kwargs)

    def init_process(self) -> None:
        """gunicorn's (serves until shutdown), then this worker's row counts no more."""
        try:
            super().init_process()
        finally:
            if self._row is not None:
                TABLE.leave(self._row)

    @property
    def nr_conns(self) -> int:
        """The connections this worker holds (gunicorn counts them), published as they change."""
        return self._conns

    @nr_conns.setter
    def nr_conns(self, count: int) -> None:
        self._conns = count
        if self._row is not None:
            TABLE.hold(self._row, count)

    @property
    def max_keepalived(self) -> int:
        """gunicorn's cap on idle kept-alive connections, read as each request starts: none
        while this worker holds more than one connection above the fewest a sibling holds,
        so that this answer says `Connection: close` and the client's next connection goes
        to a worker with fewer."""
        if self._row is not None and self._conns > TABLE.fewest_elsewhere(self._row) + 1:
            return 0
        return self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, count: int) -> None:
        self._max_keepalived = count

    def notify(self) -> None:
        """gunicorn's heartbeat, on every round of the event loop, and the balance's too."""
        super().notify()
        if self._row is not None:
            TABLE.beat(self._row)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's, and none while a sibling holds fewer connections."""
        super().set_accept_enabled(
            enabled and (self._row is None or self._conns <= TABLE.fewest_elsewhere(self._row))
        )
