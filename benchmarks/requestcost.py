"""`python -m benchmarks.requestcost [--requests N] [--no-freeze] [ids...]`: per-request cost.

A few minutes' section of `make bench` for a loaded machine, where wall-clock figures are
noise: everything here is either deterministic (Python function calls per request, counted by
cProfile; garbage collections per 10,000 requests) or a ratio of CPU time taken in ONE process,
the service and the floor app alternating in small blocks so both see the same load.

For each instrument, through the full WSGI stack in this process (as `benchmarks.inprocess`):
- function calls per `$score` request, service and floor;
- process CPU time per request, service and floor, and floor / service (the issue's goal: 0.80);
- collections per generation and their pauses (gc.callbacks) over `--requests` requests,
  with the heap as gunicorn leaves it in a worker: frozen after load (`service.runtime`) unless
  `--no-freeze`;
- the top functions by own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from service import create_app
from service.config import load_settings
from service.runtime import tune_gc

from . import floor_app
from .hotspots import _name
from .inprocess import _caller
from .instruments import instruments


class _GcClock:
    """Collections and their pauses, by generation, while installed."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def __enter__(self) -> _GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _calls(call: Callable[[], object], requests: int) -> tuple[float, pstats.Stats]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    stats = pstats.Stats(profile)
    return stats.total_calls / requests, stats  # type: ignore[attr-defined]


def _cpu(
    service: Callable[[], object], floor: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """CPU seconds per request, service and floor, alternating blocks of 200; median block."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        for call, into in ((service, a), (floor, b)):
            started = time.process_time()
            for _ in range(200):
                call()
            into.append((time.process_time() - started) / 200)
    a.sort()
    b.sort()
    return a[len(a) // 2], b[len(b) // 2]


def main(argv: list[str] | None = None) -> int:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.requestcost", description=__doc__)
    parser.add_argument("ids", nargs="*", default=["wai-sr", "phq-9", "meq-30"])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15, help="CPU blocks of 200 per app")
    parser.add_argument("--no-freeze", action="store_true", help="the heap as before the fix")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    shipped = {i.id: i for i in instruments()}
    out = sys.stdout
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        apps = create_app(load_settings(environ={})), floor_app.create_app()
        if not args.no_freeze:
            tune_gc()
        out.write(f"gc thresholds {gc.get_threshold()}, frozen objects {gc.get_freeze_count()}\n\n")
        for name in args.ids:
            body = shipped[name].body
            service, floor = (_caller(app, body) for app in apps)
            for _ in range(200):  # warm: caches, metric children
                service()
                floor()
            with _GcClock() as clock:
                started = time.process_time()
                for _ in range(args.requests):
                    service()
                loop_cpu = time.process_time() - started
            calls, stats = _calls(service, 500)
            floor_calls, _ = _calls(floor, 500)
            cpu, floor_cpu = _cpu(service, floor, args.rounds)
            per10k = 10_000 / args.requests
            out.write(f"## {name}\n\n")
            out.write(
                f"- function calls per request: service {calls:.0f}, floor {floor_calls:.0f}"
                f" ({calls / floor_calls:.2f}x)\n"
                f"- CPU per request: service {cpu * 1e6:.0f} us, floor {floor_cpu * 1e6:.0f} us;"
                f" floor/service {floor_cpu / cpu:.2f}\n"
                f"- {args.requests} requests: {loop_cpu:.2f} s CPU\n"
            )
            for gen, pauses in clock.pauses.items():
                if pauses:
                    pauses.sort()
                    out.write(
                        f"- gen{gen}: {len(pauses) * per10k:.0f} collections per 10k requests,"
                        f" pause median {pauses[len(pauses) // 2] * 1e3:.3f} ms,"
                        f" max {pauses[-1] * 1e3:.3f} ms, total {sum(pauses) * 1e3:.1f} ms\n"
                    )
                else:
                    out.write(f"- gen{gen}: no collections\n")
            table = stats.stats  # type: ignore[attr-defined]
            total = sum(row[2] for row in table.values()) or 1.0
            rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[: args.top]
            out.write("\n| function | calls/request | own share | cumulative share |\n")
            out.write("|---|---:|---:|---:|\n")
            for key, row in rows:
                out.write(
                    f"| `{_name(key)}` | {row[1] / 500:.1f} | {row[2] / total:.1%}"
                    f" | {row[3] / total:.1%} |\n"
                )
            out.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
