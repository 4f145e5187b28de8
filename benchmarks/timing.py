"""Alternating A/B micro-timing: per-call nanoseconds, median of repeats, paired ratios.

Each repeat times a block of A then a block of B (ABBA order on odd repeats, so slow drift
in the machine's speed hits both sides equally); the ratio reported is the median of the
per-repeat ratios, which cancels noise that lasts longer than one pair of blocks.
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

    @property
    def a(self) -> float:
        """Median per-call time of A in ns."""
        return statistics.median(self.a_ns)

    @property
    def b(self) -> float:
        """Median per-call time of B in ns."""
        return statistics.median(self.b_ns)

    @property
    def ratio(self) -> float:
        """Median of the per-repeat ratios A / B."""
        return statistics.median(a / b for a, b in zip(self.a_ns, self.b_ns, strict=True))

    @property
    def spread(self) -> float:
        """Relative spread of the paired ratios: (max - min) / median."""
        ratios = [a / b for a, b in zip(self.a_ns, self.b_ns, strict=True)]
        return (max(ratios) - min(ratios)) / statistics.median(ratios)


def per_call_ns(call: Callable[[], object], iterations: int) -> float:
    """Mean ns per call over one block of `iterations` calls (garbage collected beforehand)."""
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    return (time.perf_counter_ns() - start) / iterations


def iterations_for(call: Callable[[], object], plan: Plan) -> int:
    """How many calls fill one block of `plan.block_ns` (at least one)."""
    call()  # warm caches and lazy initialisation out of the measurement
    iterations = 1
    while True:
        took = per_call_ns(call, iterations) * iterations
        if took * 2 >= plan.block_ns or iterations >= plan.max_iterations:
            break
        iterations *= 2
    estimate = int(iterations * plan.block_ns / max(took, 1.0))
    return max(1, min(plan.max_iterations, estimate))


def compare(a: Callable[[], object], b: Callable[[], object], plan: Plan) -> Comparison:
    """Time `a` and `b` in alternating blocks; per-call ns of each, one value per repeat."""
    n_a, n_b = iterations_for(a, plan), iterations_for(b, plan)
    a_ns: list[float] = []
    b_ns: list[float] = []
    for repeat in range(plan.repeats):
        if repeat % 2:
            b_ns.append(per_call_ns(b, n_b))
            a_ns.append(per_call_ns(a, n_a))
        else:
            a_ns.append(per_call_ns(a, n_a))
            b_ns.append(per_call_ns(b, n_b))
    return Comparison(tuple(a_ns), tuple(b_ns))
