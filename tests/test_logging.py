"""Logs are JSON lines with a request id, and never hold patient data: the canary test.

The canary test runs the service as users do (gunicorn, DEBUG, Redis, rate limits,
authentication), sends responses carrying canary values through every operation, and then
reads gunicorn's whole log and every key and value in the private Redis.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from harness.gunicorn import run_gunicorn
from service.api.telemetry import _REQUEST_LINE
from service.observability import JsonFormatter
from service.observability.logs import StderrHandler
from tests.builders.instruments import build_response, full_answers
from tests.support.raw_http import send_raw
from tests.support.tokens import AUDIENCE, ISSUER, Issuer

CT = "application/fhir+json"


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def request_lines(text: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(text) if line["logger"] == "service.request"]


def test_one_json_line_per_request(client: FlaskClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answer = client.get(
        "/fhir/Questionnaire/gad-7?_elements=title", headers={"X-Request-ID": "ehr.42-a"}
    )
    assert answer.headers["X-Request-ID"] == "ehr.42-a"
    (line,) = request_lines(capsys.readouterr().err)
    assert line["request_id"] == "ehr.42-a"
    assert line["method"] == "GET"
    assert line["route"] == "/fhir/Questionnaire/<path:resource_id>"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["client"] == "127.0.0.1"
    assert line["level"] == "INFO"
    assert "gad-7" not in json.dumps(line)
    assert "_elements" not in json.dumps(line)


@pytest.mark.parametrize("given", ["", "has space", "x" * 65, "a/b", "naïve", "<script>"])
def test_unsafe_request_ids_are_replaced(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    capsys.readouterr()
    answer = client.get("/healthz", headers={"X-Request-ID": given} if given else {})
    made = answer.headers["X-Request-ID"]
    assert made != given
    assert len(made) == 32
    assert request_lines(capsys.readouterr().err)[0]["request_id"] == made


def test_unmatched_routes_are_not_logged_by_path(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert client.get("/fhir/Patient/jane-doe-1970").status_code == 404
    err = capsys.readouterr().err
    assert request_lines(err)[0]["route"] == "unmatched"
    assert "jane" not in err


def test_exceptions_are_logged_as_type_and_place_only() -> None:
    try:
        {}["canary-answer-value"]
    except KeyError:
        record = logging.LogRecord(
            "service.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"].startswith("KeyError at ")
    assert __file__ in line["exception"]
    assert "canary" not in json.dumps(line)


def test_urls_in_messages_lose_their_secrets() -> None:
    url = "redis://u:PW0@h:6379/0?password=PW1"
    record = logging.LogRecord("service.x", logging.INFO, __file__, 1, "using %s now", (url,), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "using redis://u:***@h:6379/0?password=*** now"


# -- the canary test ------------------------------------------------------------------------

CANARIES = {
    "subject": "CANARY-SUBJECT-Ada-Lovelace",
    "answer": "CANARY-ANSWER-feels-unheard",
    "identifier": "CANARY-IDENTIFIER-MRN-9917",
    "id": "CANARY-ID-qr-77",
    "search": "CANARY-SEARCH-term",
    "path": "CANARY-PATH-id",
    "contained": "CANARY-CONTAINED-q",
    "request_line": "CANARY-LINE-term",
    "header_name": "CANARY-HEADER-name",
    "header_value": "CANARY-HEADER-value",
    "cut_line": "CANARY-CUT-term",
}

#: Requests gunicorn refuses itself, whose error log line used to quote them.
MALFORMED = (
    f"GET /fhir/Questionnaire?title={CANARIES['request_line']}\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    f"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX {CANARIES['header_name']}: 1\r\n\r\n",
    f"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX-Note: {CANARIES['header_value']}\x01\r\n\r\n",
)


def canary_response() -> dict[str, Any]:
    response = build_response(
        "gad-7",
        full_answers("gad-7"),
        id=CANARIES["id"],
        identifier={"system": "urn:oid:1.2.3", "value": CANARIES["identifier"]},
        subject={"display": CANARIES["subject"]},
    )
    response["item"].append(
        {"linkId": "free-text", "answer": [{"valueString": CANARIES["answer"]}]}
    )
    return response


def contained_response() -> dict[str, Any]:
    questionnaire = {
        "resourceType": "Questionnaire",
        "id": CANARIES["contained"],
        "status": "active",
        "item": [{"linkId": "q1", "type": "string", "text": "How was it?"}],
    }
    return {
        "resourceType": "QuestionnaireResponse",
        "id": CANARIES["id"],
        "contained": [questionnaire],
        "questionnaire": f"#{CANARIES['contained']}",
        "status": "completed",
        "subject": {"display": CANARIES["subject"]},
        "item": [{"linkId": "q1", "answer": [{"valueString": CANARIES["answer"]}]}],
    }


def send(url: str, token: str, body: Any = None, method: str = "GET") -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", CT)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as error:
        error.read()
        error.close()
        return int(error.code)


@pytest.mark.slow
def test_no_canary_reaches_a_log_line_or_redis(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    issuer = Issuer()
    env = {
        "RAPPORT_LOG_LEVEL": "DEBUG",
        "RAPPORT_REDIS_URL": redis_url,
        "RAPPORT_RATE_LIMIT": "1000/minute",
        "RAPPORT_AUTH_JWKS": str(issuer.write_jwks(tmp_path / "jwks.json")),
        "RAPPORT_AUTH_ISSUER": ISSUER,
        "RAPPORT_AUTH_AUDIENCE": AUDIENCE,
    }
    token = issuer.token("system/*.cruds")
    with run_gunicorn(env, workers=2, log_dir=tmp_path) as server:
        fhir = f"{server.url}/fhir"
        statuses = []
        for body in (canary_response(), contained_response()):
            for operation in ("$validate", "$score", "$extract"):
                statuses.append(
                    send(f"{fhir}/QuestionnaireResponse/{operation}", token, body, "POST")
                )
            batch = {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [
                    {
                        "request": {"method": "POST", "url": f"QuestionnaireResponse/{op}"},
                        "resource": body,
                    }
                    for op in ("$validate", "$score", "$extract")
                ],
            }
            statuses.append(send(fhir, token, batch, "POST"))
            wrapped = {
                "resourceType": "Parameters",
                "parameter": [{"name": "questionnaire-response", "resource": body}],
            }
            statuses.append(send(f"{fhir}/QuestionnaireResponse/$score", token, wrapped, "POST"))
        statuses.append(send(f"{fhir}/Questionnaire?title={CANARIES['search']}", token))
        statuses.append(send(f"{fhir}/Questionnaire?{CANARIES['search']}=1", token))
        statuses.append(send(f"{fhir}/Questionnaire/{CANARIES['path']}", token))
        statuses.append(send(f"{fhir}/QuestionnaireResponse/{CANARIES['path']}", token))
        statuses.append(
            send(f"{fhir}/QuestionnaireResponse/$score", token, {"x": CANARIES["answer"]}, "POST")
        )
        refused = [send_raw(server.host, server.port, data.encode()) for data in MALFORMED]
        # A client gone mid-request-line: gunicorn logs what it had read, at debug level.
        line = f"GET /fhir/Questionnaire?title={CANARIES['cut_line']}".encode()
        send_raw(server.host, server.port, line, close_early=True)
        time.sleep(0.5)  # for the worker to notice
        log = server.read_log()
    assert [answer.status if answer else None for answer in refused] == [400] * len(MALFORMED)
    assert "Invalid request from ip=127.0.0.1: InvalidRequestLine" in log
    assert 200 in statuses
    assert any(status >= 400 for status in statuses)  # the error paths ran too
    assert len(request_lines(log)) >= len(statuses)
    for name, canary in CANARIES.items():
        assert canary not in log, f"the {name} canary is in the log"
        assert canary.lower() not in log.lower(), f"the {name} canary is in the log"
    stored = []
    for key in redis_client.scan_iter("*"):
        stored.append(key)
        kind = redis_client.type(key)
        if kind == "string":
            stored.append(str(redis_client.get(key)))
        elif kind == "hash":
            stored.append(json.dumps(redis_client.hgetall(key)))
        elif kind == "list":
            stored.append(json.dumps(redis_client.lrange(key, 0, -1)))
        elif kind in {"set", "zset"}:
            stored.append(
                str(
                    redis_client.zrange(key, 0, -1)
                    if kind == "zset"
                    else redis_client.smembers(key)
                )
            )
        else:
            stored.append(f"unexpected {kind}")
    assert any(key.startswith("rapport:limits") for key in stored)  # Redis was in use
    everything = "\n".join(stored)
    assert "unexpected" not in everything
    for name, canary in CANARIES.items():
        assert canary not in everything, f"the {name} canary is in Redis"


def test_time_field_is_the_records_utc_time_to_the_millisecond() -> None:
    # The formatter keeps each second's text (issue 16); every record must still read as
    # datetime itself formats it, including fractions that round up into the next second.
    formatter = JsonFormatter()
    rng = random.Random(16)
    created = [0.0, 1.9995, 1.9999996, 1765121529.0004999, 1765121529.9999999]
    created += [rng.uniform(1.7e9, 1.8e9) for _ in range(20_000)]
    for value in sorted(created) + created[:200]:  # in order, and jumping back
        record = logging.LogRecord("service.x", logging.INFO, __file__, 1, "m", None, None)
        record.created = value
        expected = datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["time"] == expected, value


class _Stream:
    """A stderr that records what is done to it, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def write(self, text: str) -> int:
        self.calls.append(("write", text))
        return len(text)

    def flush(self) -> None:
        self.calls.append(("flush", ""))


def test_a_written_line_goes_to_the_current_stderr_and_is_flushed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # StderrHandler.write does what `emit` does with a formatted line: write it and its
    # terminator to whatever sys.stderr is now, then flush (as `flush` would, under the lock).
    handler = StderrHandler()
    for _ in range(2):  # a stream swapped between lines is the one written to
        stream = _Stream()
        monkeypatch.setattr(sys, "stderr", stream)
        handler.write('{"a":1}')
        assert stream.calls == [("write", '{"a":1}\n'), ("flush", "")]


def test_a_line_that_cannot_be_written_never_fails_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request line written without its record (service.observability.records) reports a
    # failed write as StreamHandler.emit does: through handleError, whatever the stream
    # raised. With no stderr at all (a detached process) that was an AttributeError.
    reported: list[logging.LogRecord] = []
    handler = StderrHandler()
    monkeypatch.setattr(handler, "handleError", reported.append)
    for stream in (None, _Closed()):
        monkeypatch.setattr(sys, "stderr", stream)
        _REQUEST_LINE._line(handler, {})
    assert [record.getMessage() for record in reported] == ["request", "request"]


class _Closed:
    def write(self, text: str) -> int:
        raise ValueError("I/O operation on closed file.")
