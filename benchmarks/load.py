"""A small load generator, run in its own process: closed-loop rate or paced latency.

`python -m benchmarks.load CONFIG_JSON` prints one JSON object. Threads share the GIL, so
the client's own CPU use is reported: near one full core means the client, not the server,
set the pace. Connections use http.client; gunicorn's sync workers close each connection
after one response, so every request also pays a TCP connect (as real clients of a sync
gunicorn do).
"""

from __future__ import annotations

import http.client
import json
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoadConfig", "LoadResult", "run"]


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """What to send where, for how long; rate 0 is closed loop, else requests/s paced."""

    port: int
    path: str
    body_file: str
    seconds: float
    connections: int
    rate: float = 0.0


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Requests completed (status 200) and failed, elapsed seconds, latencies, client CPU."""

    ok: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds


class _Worker(threading.Thread):
    """One connection: sends back to back (closed loop) or on its share of a schedule."""

    def __init__(self, config: LoadConfig, body: bytes, slot: int, start: float) -> None:
        super().__init__(daemon=True)
        self.config, self.body, self.slot, self.start_at = config, body, slot, start
        self.latencies: list[float] = []
        self.failed = 0

    def run(self) -> None:
        config = self.config
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        connection = http.client.HTTPConnection("127.0.0.1", config.port, timeout=30)
        end = self.start_at + config.seconds
        step = config.connections / config.rate if config.rate else 0.0
        due = self.start_at + self.slot / config.rate if config.rate else self.start_at
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
            try:
                connection.request("POST", config.path, self.body, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            if ok:
                self.latencies.append(time.perf_counter() - sent)
            else:
                self.failed += 1
            due += step
        connection.close()


def run(config: LoadConfig) -> LoadResult:
    """Drive the server for `config.seconds` and summarise."""
    with open(config.body_file, "rb") as file:
        body = file.read()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter() + 0.05
    workers = [_Worker(config, body, slot, start) for slot in range(config.connections)]
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
    )


def main(argv: list[str]) -> int:
    """Entry point: one JSON config argument, one JSON result on stdout."""
    config: dict[str, Any] = json.loads(argv[1])
    result = run(LoadConfig(**config))
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
