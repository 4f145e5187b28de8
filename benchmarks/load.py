"""A small load generator, run in its own process: closed-loop rate or paced latency.

`python -m benchmarks.load CONFIG_JSON` prints one JSON object. With several body files the
connections take them in turn (a mix of instruments); with `window` seconds the result also
holds one summary per window of scheduled send time (the soak's latency over time). Threads
share the GIL, so
the client's own CPU use is reported: near one full core means the client, not the server,
set the pace. Connections use http.client and stay open
(keep-alive) unless the server answers `Connection: close`; http.client then opens a new
one for the next request.
"""

from __future__ import annotations

import http.client
import json
import math
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoadConfig", "LoadResult", "Window", "run"]


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """What to send where, for how long; rate 0 is closed loop, else requests/s paced."""

    port: int
    path: str
    body_files: tuple[str, ...]
    seconds: float
    connections: int
    rate: float = 0.0
    window: float = 0.0  # > 0: also summarise each window of this many seconds


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a run, by scheduled send time: successes, failures, latency percentiles."""

    start_s: float
    seconds: float
    ok: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    # New connections the client opened in this window: after a `Connection: close` answer
    # (the server rebalancing kept-alive connections) or a connection error.
    reconnects: int = 0

    @property
    def rps(self) -> float:
        """Successful requests per second in this window."""
        return self.ok / self.seconds


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Requests completed (status 200) and failed, elapsed seconds, latencies, client CPU."""

    ok: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float
    windows: tuple[Window, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        """Rebuild the result `main` printed."""
        windows = tuple(Window(**w) for w in data.pop("windows", ()))
        return cls(**data, windows=windows)

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds


class _Worker(threading.Thread):
    """One connection: sends back to back (closed loop) or on its share of a schedule."""

    def __init__(self, config: LoadConfig, bodies: list[bytes], slot: int, start: float) -> None:
        super().__init__(daemon=True)
        self.config, self.bodies, self.slot, self.start_at = config, bodies, slot, start
        self.latencies: list[float] = []
        self.failed = 0
        # Per window index (by scheduled send time): latencies and failures.
        self.by_window: dict[int, list[float]] = {}
        self.failed_by_window: dict[int, int] = {}
        self.reconnects_by_window: dict[int, int] = {}

    def run(self) -> None:
        config = self.config
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        connection = http.client.HTTPConnection("127.0.0.1", config.port, timeout=30)
        end = self.start_at + config.seconds
        step = config.connections / config.rate if config.rate else 0.0
        due = self.start_at + self.slot / config.rate if config.rate else self.start_at
        turn = self.slot
        while True:
            now = time.perf_counter()
            if config.rate:
                if due >= end:
                    break
                if due > now:
                    time.sleep(due - now)
            elif now >= end:
                break
            sent = due if config.rate else time.perf_counter()
            body = self.bodies[turn % len(self.bodies)]
            turn += 1
            closed = False
            try:
                connection.request("POST", config.path, body, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                closed = response.will_close
            except (OSError, http.client.HTTPException):
                connection.close()
                ok, closed = False, True
            latency = time.perf_counter() - sent
            window = int((sent - self.start_at) / config.window) if config.window else 0
            if closed and config.window:
                self.reconnects_by_window[window] = self.reconnects_by_window.get(window, 0) + 1
            if ok:
                self.latencies.append(latency)
                if config.window:
                    self.by_window.setdefault(window, []).append(latency)
            else:
                self.failed += 1
                if config.window:
                    self.failed_by_window[window] = self.failed_by_window.get(window, 0) + 1
            due += step
        connection.close()


def run(config: LoadConfig) -> LoadResult:
    """Drive the server for `config.seconds` and summarise."""
    bodies = []
    for name in config.body_files:
        with open(name, "rb") as file:
            bodies.append(file.read())
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter() + 0.05
    workers = [_Worker(config, bodies, slot, start) for slot in range(config.connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    latencies = sorted(x for worker in workers for x in worker.latencies)
    return LoadResult(
        ok=len(latencies),
        failed=sum(worker.failed for worker in workers),
        seconds=elapsed,
        p50_ms=1000 * statistics.median(latencies) if latencies else float("nan"),
        p99_ms=1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        client_cpu_s=(after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime),
        windows=_windows(config, workers),
    )


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted seconds, in ms (NaN when empty)."""
    return 1000 * ordered[int(share * (len(ordered) - 1))] if ordered else float("nan")


def _windows(config: LoadConfig, workers: list[_Worker]) -> tuple[Window, ...]:
    """One summary per window of scheduled send time (none without `config.window`)."""
    if not config.window:
        return ()
    count = max(1, math.ceil(config.seconds / config.window - 1e-9))
    found = []
    for index in range(count):
        ordered = sorted(x for w in workers for x in w.by_window.get(index, ()))
        length = min(config.window, config.seconds - index * config.window)
        found.append(
            Window(
                start_s=index * config.window,
                seconds=length,
                ok=len(ordered),
                failed=sum(w.failed_by_window.get(index, 0) for w in workers),
                p50_ms=_percentile(ordered, 0.50),
                p95_ms=_percentile(ordered, 0.95),
                p99_ms=_percentile(ordered, 0.99),
                max_ms=_percentile(ordered, 1.0),
                reconnects=sum(w.reconnects_by_window.get(index, 0) for w in workers),
            )
        )
    return tuple(found)


def main(argv: list[str]) -> int:
    """Entry point: one JSON config argument, one JSON result on stdout."""
    config: dict[str, Any] = json.loads(argv[1])
    config["body_files"] = tuple(config["body_files"])
    result = run(LoadConfig(**config))
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
