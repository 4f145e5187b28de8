"""Alternating A/B micro-timing: per-call nanoseconds, median of repeats, paired ratios.

Each repeat times a short block of A then one of B (BA on odd repeats, so slow drift in
the machine's speed hits both sides equally). Per side the fastest block counts (timeit's
convention: the least disturbed run is the best estimate of the code's own cost). Two
cross-checks: the median of the per-repeat ratios, and the ratio by this thread's CPU time
(`time.thread_time_ns`), which time slices lost to other processes do not inflate.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Comparison", "Plan", "compare", "iterations_for", "per_call_ns"]


@dataclass(frozen=True, slots=True)
class Plan:
    """How long to measure: repeats (pairs of blocks) and the target length of one block."""

    repeats: int
    block_ns: int
    max_iterations: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Comparison:
    """Per-call times of A and B (ns, one per repeat) and their paired ratios."""

    a_ns: tuple[float, ...]
    b_ns: tuple[float, ...]
    a_cpu_ns: tuple[float, ...]
    b_cpu_ns: tuple[float, ...]

    @property
    def a(self) -> float:
        """Fastest per-call time of A in ns."""
        return min(self.a_ns)

    @property
    def b(self) -> float:
        """Fastest per-call time of B in ns."""
        return min(self.b_ns)

    @property
    def ratio(self) -> float:
        """A / B, fastest against fastest."""
        return self.a / self.b

    @property
    def cpu_ratio(self) -> float:
        """A / B by this thread's CPU time (fastest against fastest): blind to preemption."""
        return min(self.a_cpu_ns) / min(self.b_cpu_ns)

    @property
    def paired(self) -> float:
        """Median of the per-repeat ratios A / B."""
        return statistics.median(a / b for a, b in zip(self.a_ns, self.b_ns, strict=True))


def per_call_ns(call: Callable[[], object], iterations: int) -> tuple[float, float]:
    """Mean wall-clock and thread-CPU ns per call over one block (garbage collected first)."""
    gc.collect()
    cpu = time.thread_time_ns()
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    wall = time.perf_counter_ns() - start
    return wall / iterations, (time.thread_time_ns() - cpu) / iterations


def iterations_for(call: Callable[[], object], plan: Plan) -> int:
    """How many calls fill one block of `plan.block_ns` (at least one)."""
    call()  # warm caches and lazy initialisation out of the measurement
    iterations = 1
    while True:
        took = per_call_ns(call, iterations)[0] * iterations
        if took * 2 >= plan.block_ns or iterations >= plan.max_iterations:
            break
        iterations *= 2
    estimate = int(iterations * plan.block_ns / max(took, 1.0))
    return max(1, min(plan.max_iterations, estimate))


def compare(a: Callable[[], object], b: Callable[[], object], plan: Plan) -> Comparison:
    """Time `a` and `b` in alternating blocks; per-call ns of each, one value per repeat."""
    n_a, n_b = iterations_for(a, plan), iterations_for(b, plan)
    a_ns: list[tuple[float, float]] = []
    b_ns: list[tuple[float, float]] = []
    for repeat in range(plan.repeats):
        if repeat % 2:
            b_ns.append(per_call_ns(b, n_b))
            a_ns.append(per_call_ns(a, n_a))
        else:
            a_ns.append(per_call_ns(a, n_a))
            b_ns.append(per_call_ns(b, n_b))
    return Comparison(
        tuple(x[0] for x in a_ns),
        tuple(x[0] for x in b_ns),
        tuple(x[1] for x in a_ns),
        tuple(x[1] for x in b_ns),
    )
