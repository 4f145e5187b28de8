"""`python -m benchmarks [--quick] [--output FILE]`: measure, then write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.support.gunicorn import REPO_ROOT

from .engine import measure_engine
from .hotspots import hotspots
from .inprocess import measure_wsgi
from .instruments import instruments
from .machine import busy_cores, describe
from .notes import notes
from .report import Run, render
from .startup import measure_startup
from .throughput import HttpPlan, measure_http
from .timing import Plan


@dataclass(frozen=True, slots=True)
class Mode:
    """How much to measure: the full run (minutes) or the smoke run (seconds)."""

    engine: Plan
    interpreted: Plan
    engine_instruments: tuple[str, ...] | None  # None: every shipped instrument
    http: HttpPlan
    http_bodies: tuple[str, ...]
    startup_runs: int
    profiled: tuple[str, ...]
    profile_requests: int


FULL = Mode(
    engine=Plan(repeats=101, block_ns=5_000_000),
    interpreted=Plan(repeats=5, block_ns=300_000_000),
    engine_instruments=None,
    http=HttpPlan(seconds=5.0, pairs=5, latency_seconds=10.0, scaling_pairs=3),
    http_bodies=("phq-9", "meq-30"),
    startup_runs=5,
    profiled=("phq-9", "meq-30"),
    profile_requests=2000,
)
QUICK = Mode(
    engine=Plan(repeats=5, block_ns=1_000_000),
    interpreted=Plan(repeats=1, block_ns=1_000_000),
    engine_instruments=("phq-9",),
    http=HttpPlan(seconds=0.25, pairs=1, latency_seconds=0.25, scaling_pairs=1, warmup_seconds=0.1),
    http_bodies=("phq-9",),
    startup_runs=1,
    profiled=("phq-9",),
    profile_requests=50,
)


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")


def measure(mode: Mode, command: str, quick: bool) -> Run:
    """Run every section in this process (servers and clients as subprocesses)."""
    started, clock = datetime.now(UTC), time.perf_counter()
    machine, busy = describe(), busy_cores()
    shipped = {i.id: i for i in instruments()}
    chosen = mode.engine_instruments or tuple(shipped)
    engine = [
        measure_engine(shipped[name], mode.engine, mode.interpreted, _progress) for name in chosen
    ]
    _progress("wsgi in-process")
    wsgi = [(name, measure_wsgi(shipped[name], mode.engine)) for name in mode.http_bodies]
    _progress("profile")
    profiles = [hotspots(shipped[name], mode.profile_requests) for name in mode.profiled]
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        bodies = [shipped[name] for name in mode.http_bodies]
        http = measure_http(bodies, mode.http, Path(work), _progress)
    _progress("start-up")
    startup = measure_startup(mode.startup_runs)
    return Run(
        command=command,
        started=started,
        seconds=time.perf_counter() - clock,
        quick=quick,
        machine=machine,
        busy_before=busy,
        engine=engine,
        http=http,
        startup=startup,
        profiles=profiles,
        wsgi=wsgi,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, write the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes (smoke test)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the report (default: BENCHMARKS.md; with --quick, stdout)",
    )
    args = parser.parse_args(argv)
    command = " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])])
    run = measure(QUICK if args.quick else FULL, command, args.quick)
    text = render(run, notes(run))
    output = args.output or (None if args.quick else REPO_ROOT / "BENCHMARKS.md")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        _progress(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
