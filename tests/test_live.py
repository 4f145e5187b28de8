"""The service as users run it: gunicorn over HTTP, start-up checks, and what the log keeps."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.gunicorn import LiveServer, run_gunicorn
from tests.support.raw_http import chunked, send_raw

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
    bad = write_bad_content(tmp_path)
    started = run_start({"RAPPORT_QUESTIONNAIRE_DIRS": str(tmp_path)})
    assert started.returncode == 4
    assert "site-gad.json" in started.stderr
    assert f"'{bad['item'][0]['linkId']}'" in started.stderr
    assert "Traceback" not in started.stderr


# -- what gunicorn itself answers and logs ----------------------------------------------------

LIMIT = 2048
VALID_QR = json.dumps(
    {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "questionnaire": "https://rapport-fhir.github.io/fhir/Questionnaire/gad-7",
    }
).encode()


@pytest.fixture(scope="module")
def tuned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """gunicorn with a small body limit, a typo among its settings, and a home of its own."""
    home = tmp_path_factory.mktemp("home")
    env = {
        "RAPPORT_MAX_BODY_BYTES": str(LIMIT),
        "RAPPORT_WORKRES": "2",
        "HOME": str(home / "user"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    (home / "user").mkdir()
    (home / "run").mkdir()
    with run_gunicorn(env, log_dir=tmp_path_factory.mktemp("gunicorn")) as server:
        yield server, home


def post_chunked(server: LiveServer, operation: str, body: bytes) -> tuple[int, str, Any]:
    """POST `body` with Transfer-Encoding: chunked, written chunk by chunk."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.putrequest("POST", f"/fhir/QuestionnaireResponse/{operation}")
        connection.putheader("Content-Type", "application/fhir+json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for chunk in chunked(body):
            connection.send(chunk)
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type", ""), json.loads(answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        # Cut at the limit, this would be a JSON syntax error (400) ...
        ("$score", b'{"resourceType": "QuestionnaireResponse", "x": "' + b"a" * 16_000 + b'"}'),
        # ... and this a valid response (200).
        ("$validate", VALID_QR + b" " * 16_000),
        ("$validate", VALID_QR.ljust(LIMIT + 1)),
    ],
    ids=["truncated-json", "valid-then-spaces", "one-byte-over"],
)
def test_chunked_body_over_the_limit_is_413(
    tuned_server: tuple[LiveServer, Path], operation: str, body: bytes
) -> None:
    status, kind, outcome = post_chunked(tuned_server[0], operation, body)
    assert (status, kind) == (413, "application/fhir+json; charset=utf-8")
    assert outcome["issue"][0]["code"] == "too-costly"
    assert f"({LIMIT} bytes)" in outcome["issue"][0]["details"]["text"]


def test_chunked_body_at_the_limit_is_read_whole(tuned_server: tuple[LiveServer, Path]) -> None:
    status, _, outcome = post_chunked(tuned_server[0], "$validate", VALID_QR.ljust(LIMIT))
    assert status == 200
    assert outcome["resourceType"] == "OperationOutcome"


def test_malformed_chunked_body_is_400(live_server: LiveServer) -> None:
    head = (
        b"POST /fhir/QuestionnaireResponse/$validate HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    answer = send_raw(live_server.host, live_server.port, head + b"zz\r\n{}\r\n0\r\n\r\n")
    assert answer is not None
    assert answer.status == 400
    assert json.loads(answer.body)["issue"][0]["code"] == "structure"


CANARY = "CANARY-RAW-term"
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
#: Requests gunicorn refuses before the app sees them: (bytes up to the blank line, status, code).
REFUSALS = {
    "long-request-line": (b"GET /fhir/Questionnaire?title=%s HTTP/1.1\r\n" % (b"a" * 9000), 414,
                          "too-long"),
    "120-headers": (GET + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)), 431, "too-long"),
    "9-kb-header": (GET + b"X-Big: %s\r\n" % (b"a" * 9000), 431, "too-long"),
    "content-length-abc": (b"POST /fhir HTTP/1.1\r\nContent-Length: abc\r\n", 400, "structure"),
    "http-9.z": (b"GET /healthz HTTP/9.z\r\n", 400, "structure"),
    "space-in-header-name": (GET + b"X %s: 1\r\n" % CANARY.encode(), 400, "structure"),
    "control-char-in-line": (b"GET /fhir/Questionnaire?title=%s\x01 HTTP/1.1\r\n"
                             % CANARY.encode(), 400, "structure"),
}  # fmt: skip


@pytest.mark.parametrize(("request_bytes", "status", "code"), REFUSALS.values(), ids=REFUSALS)
def test_gunicorn_refusals_are_operation_outcomes(
    live_server: LiveServer, request_bytes: bytes, status: int, code: str
) -> None:
    answer = send_raw(live_server.host, live_server.port, request_bytes + b"\r\n")
    assert answer is not None
    assert answer.status == status
    assert answer.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert int(answer.headers["content-length"]) == len(answer.body)
    outcome = json.loads(answer.body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert [issue["code"] for issue in outcome["issue"]] == [code]
    assert CANARY.encode() not in answer.body
    assert b"aaaa" not in answer.body
    assert CANARY not in live_server.read_log()


def test_no_control_socket(tuned_server: tuple[LiveServer, Path]) -> None:
    server, home = tuned_server
    assert "Control server" not in server.read_log()
    assert not list((home / "user").iterdir())
    assert not list((home / "run").iterdir())


def test_unknown_setting_is_named_once_at_start_up(tuned_server: tuple[LiveServer, Path]) -> None:
    (line,) = [line for line in tuned_server[0].read_log().splitlines() if "WORKRES" in line]
    assert json.loads(line)["level"] == "WARNING"
    assert "RAPPORT_WORKRES" in json.loads(line)["message"]


def test_start_up_log_shows_no_redis_password() -> None:
    started = run_start({"RAPPORT_REDIS_URL": "redis://:PW0@127.0.0.1:1/0?password=PW1&db=0"})
    assert started.returncode == 0, started.stderr
    assert "catalogue mode: redis (redis://***@127.0.0.1:1/0?password=***&db=0" in started.stderr
    assert "PW0" not in started.stderr
    assert "PW1" not in started.stderr


def write_bad_content(folder: Path) -> dict[str, Any]:
    """A Questionnaire file with a duplicate linkId in `folder`; the Questionnaire."""
    bad = json.loads((ROOT / "questionnaires" / "gad-7.json").read_text(encoding="utf-8"))
    bad["id"] = "site-gad"
    bad["url"] = "https://example.org/Questionnaire/site-gad"
    bad["item"][1]["linkId"] = bad["item"][0]["linkId"]
    (folder / "site-gad.json").write_text(json.dumps(bad), encoding="utf-8")
    return bad


@pytest.mark.parametrize("failure", ["bad-setting", "bad-content"])
def test_a_failed_start_leaves_no_metrics_folder(tmp_path: Path, failure: str) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    content = tmp_path / "content"
    content.mkdir()
    write_bad_content(content)
    setting = {
        "bad-setting": ("RAPPORT_WORKERS", "abc"),
        "bad-content": ("RAPPORT_QUESTIONNAIRE_DIRS", str(content)),
    }[failure]
    started = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "service.wsgi:app",
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temp), setting[0]: setting[1]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert "rapport: cannot start: " in started.stderr
    assert list(temp.iterdir()) == []


def test_the_metrics_folder_lives_as_long_as_the_master(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with run_gunicorn({"TMPDIR": str(temp)}, workers=2) as server:
        (folder,) = temp.iterdir()
        # A worker leaving (as after max_requests) runs the master's exit handlers too.
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        worker = int(children.read_text().split()[0])
        os.kill(worker, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while worker in map(int, children.read_text().split()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert urllib.request.urlopen(f"{server.url}/metrics", timeout=10).status == 200
        assert folder.is_dir()
    assert list(temp.iterdir()) == []
