"""The benchmark code runs: `python -m benchmarks --quick` end to end, a short soak (the CI run
of `make bench`'s 10-minute soak), and its inputs are valid."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmarks.floor import floor_index, floor_score
from benchmarks.instruments import instruments
from benchmarks.load import LoadConfig
from benchmarks.load import run as run_load
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
    # Each window says how busy each worker was, busiest first; none idled throughout.
    for sample in result.samples:
        assert len(sample.worker_cores) == len(sample.workers) == result.workers
        assert list(sample.worker_cores) == sorted(sample.worker_cores, reverse=True)
        assert 0.0 < sample.worker_cores[-1] <= sample.worker_cores[0] < 1.5


class _Closing(http.server.BaseHTTPRequestHandler):
    """Answers every other request `Connection: close`, the rest kept alive."""

    protocol_version = "HTTP/1.1"
    answered = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).answered += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        if type(self).answered % 2 == 0:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_the_load_client_counts_the_connections_it_had_to_open_again(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b"{}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Closing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = LoadConfig(
            port=server.server_address[1],
            path="/x",
            body_files=(str(body),),
            seconds=0.5,
            connections=1,
            rate=40.0,
            window=0.25,
        )
        result = run_load(config)
    finally:
        server.shutdown()
        server.server_close()
    assert result.failed == 0
    assert result.ok == _Closing.answered > 4
    # One connection: every second answer closed it, so half the requests needed a new one.
    assert sum(w.reconnects for w in result.windows) == _Closing.answered // 2
