"""`python -m benchmarks [--quick] [--soak-minutes N] [--output FILE]`: measure, then report."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from harness.gunicorn import REPO_ROOT

from .engine import measure_engine
from .hotspots import hotspots
from .inprocess import measure_wsgi
from .instruments import instruments
from .machine import busy_cores, describe
from .notes import notes
from .portal import measure_portal
from .report import Run, render
from .soak import SoakPlan, soak
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
    soak: SoakPlan | None  # None: no soak
    portal_loads: int = 50


FULL = Mode(
    engine=Plan(repeats=101, block_ns=5_000_000),
    interpreted=Plan(repeats=5, block_ns=300_000_000),
    engine_instruments=None,
    http=HttpPlan(seconds=5.0, pairs=5, latency_seconds=10.0, scaling_pairs=3),
    http_bodies=("wai-sr", "phq-9", "meq-30"),
    startup_runs=5,
    profiled=("phq-9", "meq-30"),
    profile_requests=2000,
    soak=SoakPlan(seconds=600.0, window=30.0),
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
    soak=SoakPlan(seconds=15.0, window=5.0, probe_seconds=1.0, probe_rounds=1, warmup_seconds=0.5),
    portal_loads=3,
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
    _progress("portal page load")
    portal = measure_portal(mode.portal_loads)
    soaked = None
    if mode.soak is not None:
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as work:
            files = []
            for instrument in shipped.values():  # the mix: every shipped instrument in turn
                files.append(Path(work) / f"{instrument.id}.json")
                files[-1].write_bytes(instrument.body)
            soaked = soak(files, mode.soak, Path(work), _progress)
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
        soak=soaked,
        portal=portal,
    )


def _soak_plan(plan: SoakPlan | None, minutes: float | None, recycling: bool) -> SoakPlan | None:
    """The mode's soak with the command line's length (30 s windows from 5 minutes, else 5 s)."""
    if plan is None or (minutes is not None and minutes <= 0):
        return None
    if minutes is not None:
        seconds = 60 * minutes
        plan = replace(plan, seconds=seconds, window=min(30.0 if seconds >= 300 else 5.0, seconds))
    return replace(plan, recycling=recycling)


#: BENCHMARKS.md from this line on is written by hand (dated measurements of one change, with
#: their commands) and survives regeneration.
KEPT = "<!-- kept by make bench: dated sections written by hand below -->"


def _kept(output: Path) -> str:
    old = output.read_text(encoding="utf-8") if output.exists() else ""
    return "\n" + old[old.index(KEPT) :] if KEPT in old else ""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, write the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes (smoke test)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the report (default: BENCHMARKS.md; with --quick, stdout)",
    )
    parser.add_argument(
        "--soak-minutes",
        type=float,
        help="length of the soak (section 4); 0 skips it (default: 10, with --quick 0.25)",
    )
    parser.add_argument(
        "--soak-with-recycling",
        action="store_true",
        help="keep gunicorn.conf.py's max_requests recycling during the soak",
    )
    args = parser.parse_args(argv)
    command = " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])])
    mode = QUICK if args.quick else FULL
    mode = replace(mode, soak=_soak_plan(mode.soak, args.soak_minutes, args.soak_with_recycling))
    run = measure(mode, command, args.quick)
    text = render(run, notes(run))
    output = args.output or (None if args.quick else REPO_ROOT / "BENCHMARKS.md")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text + _kept(output), encoding="utf-8")
        _progress(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
