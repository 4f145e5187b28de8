"""`python -m benchmarks.enginecost PATH ID [--calls N] [--profile]`: one engine path, repeated.

The deterministic counterpart of section 1 for a loaded machine: run it under callgrind and
read the instructions between two `os.getppid()` markers, which `--dump-before=os_getppid`
turns into a dump each, so the second dump is exactly the `--calls` measured calls (with the
heap frozen after warm-up, as in a gunicorn worker, so no full collection lands in them):

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/cg.%p \\
        .venv/bin/python -m benchmarks.enginecost score phq-9 --calls 200
    # instructions per call: the `totals:` (or `summary:`) of /tmp/cg.<pid>.2, / 200

PATH is `score` (parse + `score_response` + the Parameters, section 1's $score), `validate`
(parse + `validate_response`), `parse` (`jsonio.loads` alone) or `floor` (section 1's
floor). PATH and ID may each be a comma-separated list: every pair is warmed up first, then
measured in turn with a marker after each, so dump k + 1 holds the k-th pair the command
prints (one callgrind start-up for a whole table). `--profile` prints the top functions by
own time under cProfile instead (call counts are exact, shares approximate).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
from collections.abc import Callable

from service.fhir import jsonio
from service.questionnaire import compile_questionnaire
from service.response import score_response, validate_response

from .engine import score_parameters
from .floor import floor_index, floor_score
from .hotspots import _name
from .instruments import Instrument, instruments

_PATHS = ("score", "validate", "parse", "floor")


def _path(name: str, instrument: Instrument) -> Callable[[], object]:
    compiled = compile_questionnaire(instrument.questionnaire)
    body = instrument.body
    if name == "floor":
        index = floor_index(instrument.questionnaire, compiled)
        return lambda: floor_score(index, body)
    if name == "parse":
        return lambda: jsonio.loads(body)
    if name == "validate":
        return lambda: validate_response(compiled, jsonio.loads(body))
    return lambda: score_parameters(score_response(compiled, jsonio.loads(body)))


def main(argv: list[str] | None = None) -> int:
    """Warm up, mark, run the calls, mark again (or profile them)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.enginecost", description=__doc__)
    parser.add_argument("path", help="score, validate, parse or floor; or a comma-separated list")
    parser.add_argument("id", help="an instrument, or a comma-separated list")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    names, ids = args.path.split(","), args.id.split(",")
    if not set(names) <= set(_PATHS):
        parser.error(f"PATH must be among {', '.join(_PATHS)}")
    found = {i.id: i for i in instruments()}
    if not set(ids) <= found.keys():
        parser.error(f"ID must be among {', '.join(found)}")
    pairs = [(f"{name} {i}", _path(name, found[i])) for i in ids for name in names]
    if args.profile and len(pairs) > 1:
        parser.error("--profile takes one PATH and one ID")
    for _, call in pairs:
        for _ in range(20):
            call()
    gc.collect()
    gc.freeze()  # as a gunicorn worker runs (service.runtime): no full collection of the heap
    if not args.profile:
        for dump, (label, _) in enumerate(pairs, start=2):
            sys.stdout.write(f"dump {dump}: {label}\n")
        sys.stdout.flush()
        os.getppid()  # marker: callgrind dumps (and zeroes) here
        for _, call in pairs:
            for _ in range(args.calls):
                call()
            os.getppid()  # marker: the dump taken here holds exactly the calls above
        return 0
    call = pairs[0][1]
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.calls):
        call()
    profile.disable()
    table = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values()) or 1.0
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[: args.top]
    out = sys.stdout
    out.write("| function | calls/call | own share | cumulative share |\n|---|---:|---:|---:|\n")
    for key, row in rows:
        out.write(
            f"| `{_name(key)}` | {row[1] / args.calls:.1f} | {row[2] / total:.1%}"
            f" | {row[3] / total:.1%} |\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
