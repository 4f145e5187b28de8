"""The benchmark code runs: `python -m benchmarks --quick` end to end, and its inputs are valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.floor import floor_index, floor_score
from benchmarks.instruments import instruments
from service.fhir import jsonio
from service.scoring import compile_questionnaire, score_response
from tests.support.gunicorn import REPO_ROOT


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
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    report = output.read_text(encoding="utf-8")
    for heading in ("## 1. Engine", "## 2. HTTP", "## 3. Start-up and memory", "## Notes"):
        assert heading in report
    http = report.split("under gunicorn")[1]
    rates = next(line for line in http.splitlines() if line.startswith("| phq-9 |"))
    assert rates.endswith("| 0 |")  # no failed requests
