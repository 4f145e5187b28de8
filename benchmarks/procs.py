"""What /proc says about a gunicorn: its workers, their CPU time and their memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Memory", "children", "cpu_seconds", "memory"]

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident set and proportional set size (shared pages split between sharers), in MB."""

    rss_mb: float
    pss_mb: float


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (gunicorn's workers).

    /proc/PID/task/*/children where the kernel has it (CONFIG_PROC_CHILDREN), else a scan
    of every process's parent id.
    """
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        try:
            return sorted({int(c) for task in tasks for c in task.read_text().split()})
        except OSError:
            pass  # a thread ended while we looked: scan instead
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used so far."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return total / _TICKS


def memory(pid: int) -> Memory:
    """VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup."""
    return Memory(
        _kb(f"/proc/{pid}/status", "VmRSS:") / 1024, _kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024
    )


def _kb(path: str, key: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise LookupError(f"{key} not in {path}")
