"""`python -m benchmarks.enginecost PATH ID [--calls N] [--profile]`: one engine path, repeated.

The deterministic counterpart of section 1 for a loaded machine: run it under callgrind and
read the instructions between two `os.getppid()` markers, which `--dump-before=os_getppid`
turns into a dump each, so the second dump is exactly the `--calls` measured calls (with the
heap frozen after warm-up, as in a gunicorn worker, so no full collection lands in them):

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/cg.%p \\
        .venv/bin/python -m benchmarks.enginecost score phq-9 --calls 200
    # instructions per call: the `totals:` (or `summary:`) of /tmp/cg.<pid>.2, / 200

PATH is `score` (parse + `score_response` + the Parameters, section 1's $score), `validate`
(parse + `validate_response`) or `floor` (section 1's floor). `--profile` prints the top
functions by own time under cProfile instead (call counts are exact, shares approximate).
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
from .instruments import instruments


def _path(name: str, instrument_id: str) -> Callable[[], object]:
    instrument = {i.id: i for i in instruments()}[instrument_id]
    compiled = compile_questionnaire(instrument.questionnaire)
    body = instrument.body
    if name == "floor":
        index = floor_index(instrument.questionnaire, compiled)
        return lambda: floor_score(index, body)
    if name == "validate":
        return lambda: validate_response(compiled, jsonio.loads(body))
    return lambda: score_parameters(score_response(compiled, jsonio.loads(body)))


def main(argv: list[str] | None = None) -> int:
    """Warm up, mark, run the calls, mark again (or profile them)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.enginecost", description=__doc__)
    parser.add_argument("path", choices=["score", "validate", "floor"])
    parser.add_argument("id")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    call = _path(args.path, args.id)
    for _ in range(20):
        call()
    gc.collect()
    gc.freeze()  # as a gunicorn worker runs (service.runtime): no full collection of the heap
    if not args.profile:
        os.getppid()  # marker: callgrind dumps (and zeroes) here
        for _ in range(args.calls):
            call()
        os.getppid()  # marker: the dump taken here holds exactly the calls above
        return 0
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
