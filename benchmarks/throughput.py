"""Section 2: `$score` over HTTP under gunicorn against the floor app, same settings, alternating.

The client runs in its own process. On a 2-core machine it still competes with the
server for CPU, so besides requests/s each round records the workers' CPU time per
request, which does not depend on who else wanted the CPU.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.gunicorn import LiveServer

from .instruments import Instrument
from .procs import Memory, children, memory
from .serving import FLOOR_APP, SERVICE_APP, Round, drive, serve

__all__ = ["HttpPlan", "HttpResult", "Latency", "Paired", "measure_http"]

#: Requests/s of `$score` relative to the floor app (issue 5).
RPS_GOAL = 0.8
#: Resident memory per worker, MB (issue 5).
RSS_GOAL_MB = 150.0


@dataclass(frozen=True, slots=True)
class HttpPlan:
    """Round length and count, latency run length, client connections per worker."""

    seconds: float
    pairs: int
    latency_seconds: float
    scaling_pairs: int
    warmup_seconds: float = 1.0
    connections_per_worker: int = 4


@dataclass(frozen=True, slots=True)
class Paired:
    """Alternating rounds of A and B."""

    a: tuple[Round, ...]
    b: tuple[Round, ...]

    @property
    def rps_ratio(self) -> float:
        """Median of the per-pair ratios of requests/s, A / B."""
        return statistics.median(
            x.load.rps / y.load.rps for x, y in zip(self.a, self.b, strict=True)
        )

    @property
    def cpu_ratio(self) -> float:
        """Median per-pair ratio of worker CPU per request, B / A (a throughput-like ratio)."""
        pairs = zip(self.a, self.b, strict=True)
        return statistics.median(y.server_cpu_us / x.server_cpu_us for x, y in pairs)

    def rps(self, side: str) -> float:
        """Median requests/s of side "a" or "b"."""
        return statistics.median(r.load.rps for r in (self.a if side == "a" else self.b))

    def cpu_us(self, side: str) -> float:
        """Median worker CPU µs per request of side "a" or "b"."""
        return statistics.median(r.server_cpu_us for r in (self.a if side == "a" else self.b))

    def busy(self, side: str) -> float:
        """Median share of one core the worker used during side "a" or "b"'s rounds."""
        rounds = self.a if side == "a" else self.b
        return statistics.median(r.server_cpu_s / r.load.seconds for r in rounds)

    def client_cores(self) -> float:
        """The load client's CPU use in cores, the most of any round."""
        return max(r.load.client_cpu_s / r.load.seconds for r in (*self.a, *self.b))

    def failed(self) -> int:
        """Requests that did not get a 200."""
        return sum(r.load.failed for r in (*self.a, *self.b))


@dataclass(frozen=True, slots=True)
class Latency:
    """An open-loop run at a fixed rate: achieved rate and latency from the scheduled send."""

    rate: float
    achieved: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class HttpResult:
    """Everything section 2 measured for one request body."""

    instrument: str
    ratio: Paired  # service (a) vs floor (b), one worker each
    latency: dict[str, Latency]  # "service" / "floor" at half their own max rate
    scaling: Paired | None  # service with 2 workers (a) vs 1 worker (b)
    memory: dict[str, list[Memory]]  # label -> per worker, after the load


def measure_http(
    bodies: list[Instrument], plan: HttpPlan, work: Path, progress: Callable[[str], None]
) -> list[HttpResult]:
    """Start the service (1 and 2 workers) and the floor (1 worker); measure each body."""
    files = {}
    for instrument in bodies:
        files[instrument.id] = work / f"{instrument.id}.json"
        files[instrument.id].write_bytes(instrument.body)
    results = []
    with (
        serve(SERVICE_APP, 1, work) as one,
        serve(FLOOR_APP, 1, work) as floor,
        serve(SERVICE_APP, 2, work) as two,
    ):
        for index, instrument in enumerate(bodies):
            progress(f"http {instrument.id}")
            servers = _Servers(one, floor, two if index == 0 else None)
            results.append(_measure(instrument.id, files[instrument.id], plan, servers))
    return results


@dataclass(frozen=True, slots=True)
class _Servers:
    """The service with one worker, the floor with one, and (for scaling) the service with two."""

    one: LiveServer
    floor: LiveServer
    two: LiveServer | None


def _measure(name: str, body: Path, plan: HttpPlan, servers: _Servers) -> HttpResult:
    one, floor, two = servers.one, servers.floor, servers.two
    conns = plan.connections_per_worker
    for server in (one, floor):
        drive(server, body, plan.warmup_seconds, conns)  # warm-up, not counted
    ratio = _alternate(one, floor, body, seconds=plan.seconds, pairs=plan.pairs, conns_a=conns)
    latency = {
        label: _latency(server, body, rps / 2, plan.latency_seconds, conns)
        for label, server, rps in (
            ("service", one, ratio.rps("a")),
            ("floor", floor, ratio.rps("b")),
        )
    }
    scaling = None
    if two is not None:
        drive(two, body, plan.warmup_seconds, 2 * conns)
        scaling = _alternate(
            two,
            one,
            body,
            seconds=plan.seconds,
            pairs=plan.scaling_pairs,
            conns_a=2 * conns,
            conns_b=conns,
        )
    running = {"service, 1 worker": one, "floor, 1 worker": floor}
    if two is not None:
        running["service, 2 workers"] = two
    mem = {label: [memory(pid) for pid in children(s.process.pid)] for label, s in running.items()}
    return HttpResult(name, ratio, latency, scaling, mem)


def _alternate(
    a: LiveServer,
    b: LiveServer,
    body: Path,
    *,
    seconds: float,
    pairs: int,
    conns_a: int,
    conns_b: int | None = None,
) -> Paired:
    """`pairs` rounds of each, in ABBA order."""
    rounds_a: list[Round] = []
    rounds_b: list[Round] = []
    for pair in range(pairs):
        order = [(a, rounds_a, conns_a), (b, rounds_b, conns_b or conns_a)]
        for server, rounds, conns in order[:: -1 if pair % 2 else 1]:
            rounds.append(drive(server, body, seconds, conns))
    return Paired(tuple(rounds_a), tuple(rounds_b))


def _latency(server: LiveServer, body: Path, rate: float, seconds: float, conns: int) -> Latency:
    load = drive(server, body, seconds, conns, rate=rate).load
    return Latency(rate, load.rps, load.p50_ms, load.p99_ms)
