"""The benchmark code runs: `python -m benchmarks --quick` end to end, a short soak (the CI run
of `make bench`'s 10-minute soak), and its inputs are valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.floor import floor_index, floor_score
from benchmarks.instruments import instruments
from benchmarks.soak import SoakPlan, soak
from harness.gunicorn import REPO_ROOT
from service.fhir import jsonio
from service.questionnaire import compile_questionnaire
from service.response import score_response


def test_every_instrument_has_a_scorable_response_and_a_floor() -> None:
    shipped = instruments()
    assert len(shipped) >= 7
    for instrument in shipped:
        compiled = compile_questionnaire(instrument.questionnaire)
        result = score_response(compiled, jsonio.loads(instrument.body))
        assert [s.value for s in result.scores if s.value is None] == [], instrument.id
        floor = floor_score(floor_index(instrument.questionnaire, compiled), instrument.body)
        assert len(floor["parameter"]) == 1 + len(compiled.scores)


@pytest.mark.slow
def test_quick_run_writes_every_section(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    subprocess.run(
        # The soak has its own test below.
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--soak-minutes",
            "0",
            "--output",
            str(output),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    report = output.read_text(encoding="utf-8")
    headings = (
        "## 1. Engine",
        "## 2. HTTP",
        "## 3. Start-up and memory",
        "## 4. Soak",
        "## 5. Portal page load",
        "## Notes",
    )
    for heading in headings:
        assert heading in report
    http = report.split("under gunicorn")[1]
    rates = next(line for line in http.splitlines() if line.startswith("| phq-9 |"))
    assert rates.endswith("| 0 |")  # no failed requests


@pytest.mark.slow
def test_short_soak_has_no_errors(tmp_path: Path) -> None:
    """About 10 s at 70% of the measured maximum, every instrument in turn: no request fails.

    Only errors are asserted; latency and RSS on a shared CI machine are figures, not checks.
    """
    files = []
    for instrument in instruments():
        files.append(tmp_path / f"{instrument.id}.json")
        files[-1].write_bytes(instrument.body)
    plan = SoakPlan(seconds=10.0, window=5.0, probe_seconds=1.0, probe_rounds=1, warmup_seconds=0.5)
    result = soak(files, plan, tmp_path, lambda _: None)
    assert result.errors == 0, result.windows
    assert result.load.ok > 0
    assert [w.failed for w in result.windows] == [0, 0]
    assert result.replaced == 0  # no worker died (recycling is off for the soak)
    assert all(s.rss_sum_mb > 0 for s in result.samples)
