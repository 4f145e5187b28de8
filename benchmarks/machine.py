"""The machine a run happened on, and how busy other processes kept it."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "busy_cores", "describe"]


@dataclass(frozen=True, slots=True)
class Machine:
    """CPU count and model, Python, kernel, and the 1-minute load average at the start."""

    cpus: int
    cpu_model: str
    python: str
    kernel: str
    load_average: float


def describe() -> Machine:
    """What this machine is."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return Machine(
        cpus=os.cpu_count() or 1,
        cpu_model=model,
        python=platform.python_version(),
        kernel=platform.release(),
        load_average=os.getloadavg()[0],
    )


def busy_cores(seconds: float = 1.0) -> float:
    """How many cores were busy (not idle or iowait) over `seconds`, before we start any load."""
    first = _cpu_times()
    time.sleep(seconds)
    second = _cpu_times()
    deltas = [b - a for a, b in zip(first, second, strict=True)]
    idle = deltas[3] + deltas[4]
    total = sum(deltas)
    return (os.cpu_count() or 1) * (total - idle) / total if total else 0.0


def _cpu_times() -> list[int]:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return [int(x) for x in fields[:8]]
