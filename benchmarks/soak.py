"""Section 4: soak. Sustained open-loop `$score` at 70% of the measured maximum for minutes.

One gunicorn with the service's gunicorn.conf.py and its default worker count (one per
core). First a short closed-loop probe of the same instrument mix measures the maximum
requests/s; then the load client (benchmarks.load, in its own process) sends on a fixed
schedule at `share` of it, and summarises every window of scheduled send time: successes,
errors (any non-200 or connection error), latency percentiles from the scheduled send.
Meanwhile this process samples, at the end of every window, each worker's VmRSS and how
many cores processes other than the server and the client kept busy.

Worker recycling: gunicorn.conf.py recycles a worker after ~20,000 requests. At soak rates
that is every minute or so, which would reset the RSS figures and hide any leak, so by
default the soak runs with `--max-requests 0` (gunicorn's command line overrides the config
file) and checks that the worker pids stay the same throughout; `recycling=True` keeps the
config's recycling and counts the replaced workers instead.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.gunicorn import REPO_ROOT, LiveServer, run_gunicorn

from .load import LoadResult, Window
from .procs import children, cpu_seconds, memory
from .serving import NO_RECYCLING, SERVICE_APP, drive, finish_load, start_load

__all__ = [
    "RSS_GROWTH_GOAL",
    "SHARE",
    "Sample",
    "SoakPlan",
    "SoakResult",
    "config_recycling",
    "soak",
]

#: Offered load as a share of the measured maximum (issue 8).
SHARE = 0.7
#: Worker RSS growth, first window to last, at most (issue 8).
RSS_GROWTH_GOAL = 0.10


@dataclass(frozen=True, slots=True)
class SoakPlan:
    """How long to soak and probe, the window length, and the client's connections."""

    seconds: float
    window: float
    probe_seconds: float = 5.0
    probe_rounds: int = 3
    warmup_seconds: float = 2.0
    share: float = SHARE
    connections_per_worker: int = 4
    recycling: bool = False  # keep gunicorn.conf.py's max_requests


@dataclass(frozen=True, slots=True)
class Sample:
    """The server at the end of one window: worker pids and RSS, each worker's and others' CPU."""

    at_s: float
    workers: tuple[int, ...]
    rss_mb: tuple[float, ...]
    others_cores: float
    load_average: float
    # Cores each worker used over the window, busiest first (an uneven split of the load
    # shows here; a worker that started within the window counts from its start, one that
    # ended in it is not counted: a recycling run undercounts).
    worker_cores: tuple[float, ...] = ()

    @property
    def rss_sum_mb(self) -> float:
        """All workers' RSS together (shared copy-on-write pages counted in each)."""
        return sum(self.rss_mb)

    @property
    def rss_max_mb(self) -> float:
        """The largest worker's RSS."""
        return max(self.rss_mb, default=0.0)


@dataclass(frozen=True, slots=True)
class SoakResult:
    """Everything the soak measured."""

    workers: int
    recycling: bool
    max_rps: float
    rate: float
    plan: SoakPlan
    load: LoadResult
    samples: tuple[Sample, ...]
    first_workers: tuple[int, ...]
    replaced: int  # worker processes that appeared during the soak (recycled or crashed)

    @property
    def windows(self) -> tuple[Window, ...]:
        """Per-window client figures."""
        return self.load.windows

    @property
    def errors(self) -> int:
        """Requests that did not get a 200 (status or connection error)."""
        return self.load.failed

    def growth(self, which: str) -> float:
        """RSS growth, first window to last, of the workers' "sum" or the "max" worker."""
        first, last = self.samples[0], self.samples[-1]
        if which == "sum":
            start, end = first.rss_sum_mb, last.rss_sum_mb
        else:
            start, end = first.rss_max_mb, last.rss_max_mb
        return (end - start) / start if start else float("nan")

    @property
    def rss_ok(self) -> bool:
        """Both growth figures under the goal."""
        return max(self.growth("sum"), self.growth("max")) < RSS_GROWTH_GOAL

    @property
    def others_cores(self) -> float:
        """Median, over windows, of the cores other processes kept busy."""
        return statistics.median(s.others_cores for s in self.samples)


def config_recycling() -> tuple[int, int]:
    """gunicorn.conf.py's max_requests and max_requests_jitter (read, not imported)."""
    text = (REPO_ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    found = [re.search(rf"^{key}\s*=\s*(\d+)", text, re.MULTILINE) for key in _RECYCLE_KEYS]
    return (int(found[0][1]) if found[0] else 0, int(found[1][1]) if found[1] else 0)


_RECYCLE_KEYS = ("max_requests", "max_requests_jitter")


def soak(
    bodies: Sequence[Path],
    plan: SoakPlan,
    work: Path,
    progress: Callable[[str], None],
    workers: int | None = None,
) -> SoakResult:
    """Start one gunicorn, probe its maximum, then hold `plan.share` of it for `plan.seconds`."""
    count = workers or _default_workers()
    env = {} if plan.recycling else {"GUNICORN_CMD_ARGS": NO_RECYCLING}
    with run_gunicorn(env, workers=count, app=SERVICE_APP, log_dir=work, timeout=60) as server:
        conns = plan.connections_per_worker * count
        drive(server, bodies, plan.warmup_seconds, conns)  # warm-up, not counted
        probes = [
            drive(server, bodies, plan.probe_seconds, conns).load.rps
            for _ in range(plan.probe_rounds)
        ]
        max_rps = statistics.median(probes)
        rate = plan.share * max_rps
        progress(
            f"soak: max {max_rps:,.0f} req/s ({', '.join(f'{p:,.0f}' for p in probes)}); "
            f"{rate:,.0f} req/s for {plan.seconds:,.0f} s"
        )
        return _hold(server, bodies, plan, progress, count=count, max_rps=max_rps, rate=rate)


def _hold(
    server: LiveServer,
    bodies: Sequence[Path],
    plan: SoakPlan,
    progress: Callable[[str], None],
    *,
    count: int,
    max_rps: float,
    rate: float,
) -> SoakResult:
    master = server.process.pid
    first = tuple(children(master))
    seen = set(first)
    conns = plan.connections_per_worker * count
    client = start_load(server, bodies, plan.seconds, conns, rate=rate, window=plan.window)
    started = time.perf_counter()
    samples = []
    machine, ours = _machine_busy(), _cpu([master, client.pid, *first])
    worker_cpu, last = {pid: _cpu([pid]) for pid in first}, started
    windows = max(1, round(plan.seconds / plan.window))
    for index in range(1, windows + 1):
        end = started + min(index * plan.window, plan.seconds)
        time.sleep(max(0.0, end - time.perf_counter()))
        pids = tuple(children(master))
        seen.update(pids)
        now_machine, now_ours = _machine_busy(), _cpu([master, client.pid, *seen])
        elapsed = now_machine[1] - machine[1]
        busy = (now_machine[0] - machine[0]) - (now_ours - ours)
        machine, ours = now_machine, now_ours
        used = {pid: _cpu([pid]) for pid in pids}
        span = max(1e-9, end - last)
        # A worker that ended between listing and reading reads 0: counted as idle, not less.
        cores = sorted(
            (max(0.0, used[p] - worker_cpu.get(p, 0.0)) / span for p in pids), reverse=True
        )
        worker_cpu, last = used, end
        sample = Sample(
            at_s=end - started,
            workers=pids,
            rss_mb=tuple(_rss(pid) for pid in pids),
            others_cores=max(0.0, busy / elapsed) if elapsed else 0.0,
            load_average=os.getloadavg()[0],
            worker_cores=tuple(cores),
        )
        samples.append(sample)
        progress(
            f"soak {sample.at_s:,.0f} s: workers {len(pids)}, RSS {sample.rss_sum_mb:.1f} MB "
            f"(max {sample.rss_max_mb:.1f}), others {sample.others_cores:.2f} cores"
        )
        if server.process.poll() is not None:
            break  # the master died: the client's errors will say so
    load = finish_load(client, timeout=plan.seconds + 120)
    return SoakResult(
        workers=count,
        recycling=plan.recycling,
        max_rps=max_rps,
        rate=rate,
        plan=plan,
        load=load,
        samples=tuple(samples),
        first_workers=first,
        replaced=len(seen - set(first)),
    )


def _default_workers() -> int:
    """gunicorn.conf.py's default: RAPPORT_WORKERS unset means one worker per usable core."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rss(pid: int) -> float:
    try:
        return memory(pid).rss_mb
    except (OSError, LookupError):
        return 0.0  # the worker ended between listing and reading


def _cpu(pids: list[int]) -> float:
    """CPU seconds of those of `pids` still alive (ended ones drop out: a small undercount)."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds([pid])
        except (OSError, ValueError, IndexError):
            continue
    return total


def _machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far, summed over cores."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks / (os.cpu_count() or 1)
