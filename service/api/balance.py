"""Kept-alive connections spread evenly over a server's workers: least connections.

gunicorn's workers share one listening socket. A new connection goes to whichever worker
accepts it first, and a kept-alive connection then stays with that worker for every request
it carries. A client holding a few long-lived connections (a proxy's upstream pool, an EHR's
HTTP client, the benchmarks' load generator) can end with most of them on one worker: that
worker is overloaded while another idles, and under steady load its queue grows without
bound (BENCHMARKS.md: 8 connections over 2 workers at 70 % of capacity, latency in seconds).

Each worker publishes how many connections it holds in a table its siblings read: shared
memory made in gunicorn's master, before any worker is forked. A worker holding more than
one connection above the fewest any live sibling holds answers with `Connection: close`, so
the client's next request opens a new connection, which the workers' shared backlog gives
to whichever accepts first (an idle worker's loop is the quickest): repeated, the counts
even out, and workers within one of each other close nothing. A lone worker is never out of
balance. Accepting is never held back by the table: a stale count can cost a reconnection,
never a connection left waiting.

A worker writes its own row alone, from its event loop's thread, and leaves the table as it
stops (its count falls as it drains and must not pull the others' connections down). A row
whose heartbeat is older than `STALE_SECONDS` (its worker died or hangs) counts for nothing.
"""

from __future__ import annotations

import math
import mmap
import threading
import time
from typing import Any, Final

from gunicorn.workers.gthread import ThreadWorker

__all__ = ["MAX_WORKERS", "STALE_SECONDS", "Balance", "BalancedWorker"]

#: Rows in the table: RAPPORT_WORKERS is at most 64 (service/config.py).
MAX_WORKERS: Final = 64
#: A worker's event loop beats at least once a second (gunicorn's select timeout).
STALE_SECONDS: Final = 2.0
#: A heartbeat never given, or taken back: older than any clock reading.
_NEVER: Final = -math.inf

# The table is doubles: [rows handed out, then per row: connections, heartbeat].
_HEAD: Final = 1


class Balance:
    """The connections each live worker holds, shared between the master's forks."""

    def __init__(self, rows: int = MAX_WORKERS) -> None:
        self._rows = rows
        # Anonymous and MAP_SHARED (mmap's default): one set of pages for every fork.
        self._memory = mmap.mmap(-1, 8 * (_HEAD + 2 * rows))
        self._cells = memoryview(self._memory).cast("d")
        for row in range(rows):
            self._cells[_HEAD + 2 * row + 1] = _NEVER
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
        """`row`'s worker is stopping: its count no longer counts."""
        self._cells[_HEAD + 2 * row + 1] = _NEVER

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
    """gunicorn's gthread worker, publishing its connections and keeping them alive only
    while it holds no more than one above the fewest a sibling holds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """gunicorn's, in the master before the fork, and this worker's row in the table."""
        self._row = TABLE.claim()
        self._conns = 0
        self._closing = 0  # answers told `Connection: close` whose connection is still held
        self._closing_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def init_process(self) -> None:
        """gunicorn's (serves until shutdown); this worker's row counts no more after."""
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
        if count < self._conns:  # closed: perhaps one told to close
            with self._closing_lock:
                self._closing = max(0, self._closing - (self._conns - count))
        self._conns = count
        if self._row is not None:
            TABLE.hold(self._row, count)

    @property
    def max_keepalived(self) -> int:
        """gunicorn's cap on idle kept-alive connections, read by a thread as its request
        starts: none while this worker, less the connections already told to close, holds
        more than one above the fewest a sibling holds, so that this answer says
        `Connection: close` and the client's next connection may go to a worker with fewer.
        Threads starting at once close only the surplus between them."""
        if self._row is None or not self.alive:
            return self._max_keepalived
        fewest = TABLE.fewest_elsewhere(self._row)
        with self._closing_lock:
            if self._conns - self._closing > fewest + 1:
                self._closing += 1
                return 0
        return self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, count: int) -> None:
        self._max_keepalived = count

    def notify(self) -> None:
        """gunicorn's heartbeat, on every round of the event loop, and the table's: a
        stopping worker (draining, its count falling) leaves it at once."""
        super().notify()
        if self._row is not None:
            if self.alive:
                TABLE.beat(self._row)
            else:
                TABLE.leave(self._row)
