"""The service as users run it: gunicorn over HTTP, start-up checks, and what the log keeps."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.gunicorn import LiveServer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def fetch(url: str, data: bytes | None = None) -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/fhir+json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers["Content-Type"], json.loads(response.read())


def test_metadata_and_count_over_http(live_server: LiveServer) -> None:
    status, kind, body = fetch(f"{live_server.url}/fhir/metadata")
    assert (status, kind, body["resourceType"]) == (
        200,
        "application/fhir+json; charset=utf-8",
        "CapabilityStatement",
    )
    _, _, bundle = fetch(f"{live_server.url}/fhir/Questionnaire?_summary=count")
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 7


def test_access_log_keeps_no_query_string_or_body(live_server: LiveServer) -> None:
    secret = "zz-secret-search-term"
    fetch(f"{live_server.url}/fhir/Questionnaire?title={secret}")
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "questionnaire": "https://rapport-fhir.github.io/fhir/Questionnaire/gad-7",
        "subject": {"display": secret},
    }
    fetch(f"{live_server.url}/fhir/QuestionnaireResponse/$validate", json.dumps(response).encode())
    log = live_server.read_log()
    assert '"GET /fhir/Questionnaire" 200' in log
    assert secret not in log


def run_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start the service the way gunicorn does (import service.wsgi) and capture stderr."""
    return subprocess.run(
        [sys.executable, "-c", "import service.wsgi"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_setting_stops_start_up_with_one_line() -> None:
    started = run_start({"RAPPORT_MAX_BODY_BYTES": "lots"})
    assert started.returncode == 4
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rapport: cannot start: RAPPORT_MAX_BODY_BYTES='lots'")


def test_bad_content_file_stops_start_up_naming_file_item_and_rule(tmp_path: Path) -> None:
    bad = json.loads((ROOT / "questionnaires" / "gad-7.json").read_text(encoding="utf-8"))
    bad["id"] = "site-gad"
    bad["url"] = "https://example.org/Questionnaire/site-gad"
    bad["item"][1]["linkId"] = bad["item"][0]["linkId"]
    (tmp_path / "site-gad.json").write_text(json.dumps(bad), encoding="utf-8")
    started = run_start({"RAPPORT_QUESTIONNAIRE_DIRS": str(tmp_path)})
    assert started.returncode == 4
    assert "site-gad.json" in started.stderr
    assert f"'{bad['item'][0]['linkId']}'" in started.stderr
    assert "Traceback" not in started.stderr
