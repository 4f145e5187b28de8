"""How many body bytes one worker holds at once: admission before a body is read.

A body costs several times its size while it is parsed and worked on (a 5 MB batch about
30 MB of RSS), and a worker serves `RAPPORT_THREADS` requests at once: without a bound, 8
large bodies on one worker take ~300 MB. The worker's event loop asks `Admission` when a
request's head has arrived, before it reads the body: a body over `SMALL_BODY_BYTES` is
admitted while the bodies admitted so far and it fit in `RAPPORT_WORKER_BODY_BYTES` (or
when nothing else is admitted, so one body of any accepted size always goes), and is held
until its request is answered. One that does not fit waits, first come first served,
holding no more than the loop had already read; one still waiting after `WAIT_SECONDS` is
answered 503 by the worker, and those behind it that fit are admitted then. Smaller bodies
are never counted and never wait.

Used by the event loop's thread alone: no locks. Its metrics are made in the worker, after
the fork (a master's would be a dead process's files), and exported under gunicorn only,
where prometheus-client's multiprocess files are summed by any scrape.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, Generic, TypeVar

from prometheus_client import Counter, Gauge

__all__ = ["SMALL_BODY_BYTES", "WAIT_SECONDS", "Admission"]

#: Bodies up to this size are never counted: a score or a read does not wait behind a batch.
SMALL_BODY_BYTES: Final = 64 * 1024
#: The longest a request waits for its body to be admitted, within the 2 s answer target.
WAIT_SECONDS: Final = 1.0

K = TypeVar("K", bound=Hashable)


class Admission(Generic[K]):
    """The large bodies one worker holds, and the requests (keys) waiting for room."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0  # bytes of the bodies admitted
        self.most = 0  # the most bodies ever admitted at once
        self._admitted: dict[K, int] = {}
        self._waiting: dict[K, tuple[int, float]] = {}  # in arrival order
        self._held = Gauge(
            "rapport_body_bytes_admitted",
            "Bytes of large request bodies the workers hold (RAPPORT_WORKER_BODY_BYTES each)",
            multiprocess_mode="livesum",
            registry=None,
        )
        self._most = Gauge(
            "rapport_bodies_admitted_most",
            "The most large request bodies one worker has held at once",
            multiprocess_mode="max",
            registry=None,
        )
        self._refused = Counter(
            "rapport_bodies_refused",
            "Requests answered 503: their body waited too long for room",
            registry=None,
        )

    def admit(self, key: K, size: int, now: float) -> bool:
        """Whether `key`'s body of `size` bytes may be read now; if not, it waits its turn."""
        if size <= SMALL_BODY_BYTES:
            return True
        if self._waiting or not self._fits(size):
            self._waiting[key] = (size, now + WAIT_SECONDS)
            return False
        self._take(key, size)
        return True

    def release(self, key: K) -> list[K]:
        """`key`'s request is over (answered, refused or gone): the waiting it lets in."""
        self._waiting.pop(key, None)
        size = self._admitted.pop(key, 0)
        if not size:
            return []
        self.held -= size
        self._held.dec(size)
        return self._let_in()

    def expired(self, now: float) -> tuple[list[K], list[K]]:
        """The waiting whose time is up, no longer waiting (the caller refuses them), and
        those that were waiting behind them and are admitted now that they fit."""
        late = [key for key, (_, until) in self._waiting.items() if now >= until]
        for key in late:
            del self._waiting[key]
        self._refused.inc(len(late))
        return late, self._let_in() if late else []

    def _let_in(self) -> list[K]:
        """Admit the waiting, in turn, while they fit."""
        admitted: list[K] = []
        for waiting, (wanted, _) in list(self._waiting.items()):
            if not self._fits(wanted):
                break  # first come first served: a large one is not passed by smaller ones
            del self._waiting[waiting]
            self._take(waiting, wanted)
            admitted.append(waiting)
        return admitted

    def waiting(self, key: K) -> bool:
        """Whether `key` waits for room."""
        return key in self._waiting

    def next_expiry(self) -> float | None:
        """When the first waiting request's time is up, if any waits."""
        return next((until for _, until in self._waiting.values()), None)

    def _fits(self, size: int) -> bool:
        return not self._admitted or self.held + size <= self.budget

    def _take(self, key: K, size: int) -> None:
        self._admitted[key] = size
        self.held += size
        self._held.inc(size)
        self.most = max(self.most, len(self._admitted))
        self._most.set(self.most)
