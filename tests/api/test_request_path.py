"""The per-request path does nothing for features that are off (issue 16).

Every `before_request` hook runs on every request; authentication and the rate limit are
off by default, and then they must cost nothing: no hook of theirs is registered at all.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid

import pytest
from flask import Flask, Response, g, request, session
from flask.sessions import NullSession
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from service import create_app
from service.api.http import FhirResponse, base_url
from service.api.telemetry import _REQUEST_LINE, _finish, log
from service.config import load_settings
from service.fhir.media import FHIR_JSON
from service.observability.logs import FIELDS, JsonFormatter, sole_handler


def _hooks(environ: dict[str, str]) -> set[str]:
    app = create_app(load_settings(environ=environ))
    return {f"{hook.__module__}.{hook.__name__}" for hook in app.before_request_funcs[None]}


def test_no_auth_or_rate_limit_hook_when_both_are_off() -> None:
    hooks = _hooks({})
    assert not {
        hook for hook in hooks if hook.startswith(("service.api.auth", "service.api.limits"))
    }
    # What does run: timing and request id, CORS preflight, the catalogue snapshot, negotiation.
    assert "service.api.telemetry._start" in hooks
    assert "service.api._negotiate" in hooks


def test_no_metrics_port_hook_without_a_metrics_port() -> None:
    hook = "service.api.telemetry._metrics_port_serves_metrics_only"
    assert hook not in _hooks({})
    assert hook in _hooks({"RAPPORT_METRICS_BIND": "127.0.0.1:9100"})


@pytest.mark.parametrize(
    ("base", "path"),
    [
        ("http://localhost/", "/fhir/metadata"),
        ("https://ex.org:8443/app/", "/app/fhir/metadata"),
        ("http://[::1]:80/a%20b/", "/a%20b/fhir/metadata"),
        ("http://xn--bcher-kva.ch/r%C3%A9/", "/r%C3%A9/fhir/metadata"),
    ],
)
def test_the_fhir_base_is_what_the_request_came_in_on(base: str, path: str) -> None:
    # base_url() keeps the bases it built; each must still be this request's own.
    app = create_app(load_settings(environ={}))
    for _ in range(2):  # built, then kept
        with app.test_request_context(path, base_url=base):
            assert base_url() == request.url_root.rstrip("/") + "/fhir"


def test_the_request_log_record_names_its_caller(caplog: pytest.LogCaptureFixture) -> None:
    client = create_app(load_settings(environ={})).test_client()
    with caplog.at_level(logging.INFO, logger="service.request"):
        client.get("/fhir/metadata")
    (record,) = [r for r in caplog.records if r.name == "service.request"]
    assert (record.module, record.funcName, record.getMessage()) == (
        "telemetry",
        "_finish",
        "request",
    )


@pytest.mark.parametrize(("given", "sent"), [(None, "Origin"), ("Accept", "Accept, Origin")])
def test_cors_adds_origin_to_vary(given: str | None, sent: str) -> None:
    app = create_app(load_settings(environ={}))  # loopback bind: CORS for local pages
    with app.test_request_context("/fhir/metadata"):
        response = Response(b"{}", headers={"Vary": given} if given else {})
        assert app.process_response(response).headers["Vary"] == sent


def test_without_cors_no_cors_hook_runs() -> None:
    # Off loopback and with no allowed origin, CORS adds nothing: its hooks are not registered.
    app = create_app(load_settings(environ={"RAPPORT_BIND": "0.0.0.0:8080"}))
    hooks = [*app.before_request_funcs[None], *app.after_request_funcs[None]]
    assert not [hook for hook in hooks if "Cors" in getattr(hook, "__qualname__", "")]
    with app.test_request_context("/fhir/metadata", headers={"Origin": "http://localhost:3"}):
        headers = app.process_response(Response(b"{}")).headers
    assert "Vary" not in headers
    assert "Access-Control-Allow-Origin" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_request_log_record_is_the_one_logger_info_makes() -> None:
    fields = {FIELDS: {"method": "GET", "status": 200}}
    made = _REQUEST_LINE._record(fields)
    code = _finish.__code__
    standard = log.makeRecord(
        log.name, logging.INFO, code.co_filename, code.co_firstlineno, "request", (), None,
        "_finish", fields,
    )  # fmt: skip
    moments = ("created", "msecs", "relativeCreated")
    assert {k: v for k, v in made.__dict__.items() if k not in moments} == {
        k: v for k, v in standard.__dict__.items() if k not in moments
    }
    assert list(made.__dict__) == list(standard.__dict__)
    assert abs(made.created - standard.created) < 1


def test_the_request_log_record_times_itself_as_this_python_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Up to 3.12 logging's start time is time.time() (float seconds); from 3.13 it is
    # time.time_ns() (int nanoseconds). Either way, the record made five seconds after the
    # start says so, as LogRecord would on that Python.
    fields = {FIELDS: {"method": "GET", "status": 200}}
    for start in (time.time() - 5.0, time.time_ns() - 5_000_000_000):
        monkeypatch.setattr(logging, "_startTime", start)
        made = _REQUEST_LINE._record(fields)
        assert 5_000 <= made.relativeCreated < 5_000 + 60_000, start
        assert abs(made.created - time.time()) < 60
        assert made.msecs == float(int(made.msecs))
        assert 0 <= made.msecs < 1000


def test_generated_request_ids_are_version_4_uuids() -> None:
    client = create_app(load_settings(environ={})).test_client()
    ids = {client.get("/fhir/metadata").headers["X-Request-ID"] for _ in range(50)}
    assert len(ids) == 50
    for given in ids:
        assert uuid.UUID(hex=given).hex == given
        assert (uuid.UUID(hex=given).version, uuid.UUID(hex=given).variant) == (4, uuid.RFC_4122)


def test_a_forked_worker_logs_its_own_process_id() -> None:
    # The process id is kept per process (gunicorn's workers are forks of the master).
    assert _REQUEST_LINE._record({}).process == os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        ok = _REQUEST_LINE._record({}).process == os.getpid() != os.getppid()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    assert os.read(read, 1) == b"1"
    os.close(read)


def test_negotiation_and_host_checks_answer_the_same_when_repeated() -> None:
    # Accept headers and hosts once judged are kept: a refusal is never kept as acceptance.
    client = create_app(load_settings(environ={})).test_client()
    for _ in range(3):
        for headers, status in (
            ({"Accept": "application/xml"}, 406),
            ({"Accept": "application/json"}, 200),
            ({"Host": "a b"}, 400),
            ({"Host": "ex.org:8080"}, 200),
        ):
            assert client.get("/fhir/metadata", headers=headers).status_code == status


def test_body_type_checks_answer_the_same_when_repeated() -> None:
    client = create_app(load_settings(environ={})).test_client()
    path = "/fhir/QuestionnaireResponse/$validate"
    for _ in range(3):
        for content_type, status in (("text/plain", 415), ("application/fhir+json", 400)):
            assert client.post(path, data=b" ", content_type=content_type).status_code == status


def _answers() -> list[FhirResponse]:
    answers = []
    for status in (200, 201, 204, 304, 404, 422, 500):
        answers.append(FhirResponse(b'{"a": 1}', status=status, content_type="application/json"))
    with_location = FhirResponse(b"{}", status=201)
    with_location.headers["Location"] = "Questionnaire/x/_history/1"
    with_content_location = FhirResponse(b"{}")
    with_content_location.headers["Content-Location"] = "/fhir/Questionnaire/ä"
    closing = FhirResponse(b"{}")
    closing.call_on_close(lambda: None)
    text = FhirResponse(b"{}")
    text.response = ["{}"]  # type: ignore[list-item]
    unsized = FhirResponse(b"{}")
    del unsized.headers["Content-Length"]
    streamed = FhirResponse(iter([b"{", b"}"]))
    passed = FhirResponse(b"{}", direct_passthrough=True)
    return [
        *answers,
        with_location,
        with_content_location,
        closing,
        text,
        unsized,
        streamed,
        passed,
    ]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_fhir_responses_answer_wsgi_as_werkzeug_does(method: str) -> None:
    # FhirResponse skips werkzeug's header copy and body wrapper when neither changes anything.
    environ = {
        "REQUEST_METHOD": method,
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "h",
        "PATH_INFO": "/p",
    }
    for number, answer in enumerate(_answers()):
        ours = answer.get_wsgi_response(environ)
        # (the streamed body can be read once: rebuild it for werkzeug's turn)
        again = _answers()[number]
        theirs = Response.get_wsgi_response(again, environ)
        assert ours[1:] == theirs[1:], number
        assert b"".join(ours[0]) == b"".join(theirs[0]), number


def test_the_request_line_written_directly_is_the_formatted_record(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With only the service's JSON handler to see it, the line is written without a record:
    # it must be the line that record would have been formatted into.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's own capture: away
    app = create_app(load_settings(environ={}))
    fields = {FIELDS: {"method": "GET", "route": "/r", "status": 200, "client": "a b"}}
    with app.test_request_context("/"):
        g.request_id = "ehr.7"
        assert sole_handler(log, logging.INFO) is not None
        capsys.readouterr()
        _REQUEST_LINE.log(fields)
        written = capsys.readouterr().err
        formatted = JsonFormatter().format(_REQUEST_LINE._record(fields))
    direct, standard = json.loads(written), json.loads(formatted)
    assert written.endswith("\n")
    assert written.count("\n") == 1
    assert list(direct) == list(standard)
    assert {**direct, "time": ""} == {**standard, "time": ""}
    with pytest.raises(KeyError):
        _REQUEST_LINE.log({"msg": "x"})  # refused as makeRecord refuses it


def test_the_request_record_is_made_when_anything_else_would_see_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    create_app(load_settings(environ={}))
    assert sole_handler(log, logging.INFO) is not None
    (handler,) = logging.getLogger("service").handlers
    seen: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    for owner in (handler, log, logging.getLogger("service")):
        owner.addFilter(keep)
        try:
            assert sole_handler(log, logging.INFO) is None
            _REQUEST_LINE.log({FIELDS: {"status": 200}})
        finally:
            owner.removeFilter(keep)
    assert len(seen) == 2  # a logger's own filters see only its own records, as in logging
    assert '"status":200' in capsys.readouterr().err
    root = logging.getLogger()
    other = logging.StreamHandler(io.StringIO())
    root.addHandler(other)
    try:
        assert sole_handler(log, logging.INFO) is None
    finally:
        root.removeHandler(other)


_ADAPTER = ("server_name", "script_name", "subdomain", "url_scheme", "path_info")


@pytest.mark.parametrize(
    ("base", "path", "method", "headers"),
    [
        ("http://localhost/", "/fhir/metadata", "GET", {}),
        ("http://localhost:8000/", "/fhir/QuestionnaireResponse/$score?_pretty=true", "POST", {}),
        ("https://EX.org:443/app/", "/app/fhir/Questionnaire/a%20b", "PUT", {}),
        ("http://[::1]:80/", "/fhir/metadata", "HEAD", {}),
        ("http://xn--bcher-kva.ch/", "/fhir/metadata", "GET", {}),
        ("http://h/", "/ws", "GET", {"Connection": "keep-alive, Upgrade", "Upgrade": "websocket"}),
    ],
)
def test_the_url_adapter_kept_is_the_one_flask_makes(
    base: str, path: str, method: str, headers: dict[str, str]
) -> None:
    app = create_app(load_settings(environ={}))
    for _ in range(2):  # made, then kept
        with app.test_request_context(path, base_url=base, method=method, headers=headers):
            req = request._get_current_object()  # type: ignore[attr-defined]
            ours = app.create_url_adapter(req)
            host = req.host
            fresh = app.request_class(dict(req.environ))
            flasks = Flask.create_url_adapter(app, fresh)
            assert host == fresh.host
            assert ours is not None
            assert flasks is not None
            for name in (*_ADAPTER, "default_method", "query_args"):
                assert getattr(ours, name) == getattr(flasks, name), name
            assert _matched(ours) == _matched(flasks)


def _matched(adapter: MapAdapter) -> object:
    try:
        return adapter.match(return_rule=True)
    except HTTPException as exc:  # a 404, 405 or redirect is an answer too
        return type(exc), getattr(exc, "valid_methods", None), getattr(exc, "new_url", None)


def test_a_bad_host_is_refused_each_time() -> None:
    app = create_app(load_settings(environ={}))
    for _ in range(2):  # a refusal is never kept
        answer = app.test_client().get("/fhir/metadata", headers={"Host": "bad host"})
        assert answer.status_code == 400


def test_every_request_has_the_one_empty_null_session() -> None:
    app = create_app(load_settings(environ={}))
    seen = []
    for _ in range(2):
        with app.test_request_context("/fhir/metadata", headers={"Cookie": "session=x"}):
            app.preprocess_request()
            current = session._get_current_object()  # type: ignore[attr-defined]
            seen.append(current)
            assert isinstance(current, NullSession)
            assert not current
            with pytest.raises(RuntimeError):
                session["user"] = "x"
    assert seen[0] is seen[1]
    answer = app.test_client().get("/fhir/metadata", headers={"Cookie": "session=x"})
    assert "Set-Cookie" not in answer.headers
    assert "Cookie" not in answer.headers.get("Vary", "")


@pytest.mark.parametrize("status", [200, 201, 400, 404, 405, 413, 422, 500, 299])
def test_fhir_json_answers_are_the_responses_werkzeug_makes(status: int) -> None:
    # `FhirResponse.fhir_json` sets a Response's attributes without its constructor.
    body = b'{"resourceType": "Parameters"}'
    ours = FhirResponse.fhir_json(body, status)
    theirs = FhirResponse(body, status=status, content_type=FHIR_JSON)
    mine, werkzeugs = dict(vars(ours)), dict(vars(theirs))
    assert list(mine) == list(werkzeugs)
    assert mine.pop("headers").to_wsgi_list() == werkzeugs.pop("headers").to_wsgi_list()
    assert mine == werkzeugs
    assert (ours.status, ours.status_code, ours.get_data()) == (
        theirs.status,
        theirs.status_code,
        theirs.get_data(),
    )


def test_fhir_json_answers_share_no_header_list() -> None:
    first, second = FhirResponse.fhir_json(b"{}", 200), FhirResponse.fhir_json(b"{}", 200)
    first.headers.add("X-Request-ID", "a")
    first.call_on_close(lambda: None)
    assert "X-Request-ID" not in second.headers
    assert not second._on_close
