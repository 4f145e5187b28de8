"""Validation cost is bounded by the issue cap and by time, not by the size of the body.

The review: a 5 MB body with `"extension":[1,1,...]` took 14.9 s and 824 MB in one worker
(`basedOn`: 18.8 s; 1.7 M `contained:[{}...]`: 15.6 s), one issue object built per bad
element before the 500-issue cap applied; and a batch entry running past the batch budget
was not stopped (the deadline was checked only before an entry started).
"""

from __future__ import annotations

import gc
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from harness.gunicorn import run_gunicorn
from service import create_app
from service.config import Settings, load_settings
from service.fhir.jsonio import MAX_CONTAINERS, MAX_VALUES
from service.fhir.outcome import MAX_ISSUES
from tests.hardening.bad_inputs import LONG_REPEAT, _contained, _regex_item

PHQ9 = "https://rapport-fhir.github.io/fhir/Questionnaire/phq-9"
VALIDATE = "/fhir/QuestionnaireResponse/$validate"
CT = {"Content-Type": "application/fhir+json"}
MAX_BODY = Settings().max_body_bytes  # the default RAPPORT_MAX_BODY_BYTES
#: The issue's target, for any body up to the maximum size; generous for a shared machine.
SECONDS = 2.0


def _flood(key: str, unit: bytes, size: int = MAX_BODY) -> bytes:
    """A QuestionnaireResponse to PHQ-9 whose `key` is an array of `unit`, `size` bytes."""
    start = {"resourceType": "QuestionnaireResponse", "questionnaire": PHQ9, "status": "completed"}
    head = json.dumps(start).encode()[:-1] + b', "' + key.encode() + b'": ['
    count = (size - len(head) - 2) // (len(unit) + 1)
    body = head + b",".join([unit] * count) + b"]}"
    assert len(body) <= size
    return body


FLOODS = [
    pytest.param("extension", b"1", id="extension-ones"),
    pytest.param("basedOn", b"1", id="basedOn-ones"),
    pytest.param("contained", b"{}", id="contained-empty"),
    pytest.param("extension", b"[]", id="extension-empty-arrays"),
    pytest.param("extension", b'"a"', id="extension-strings"),
]


#: Elements each fine on its own (contained resources are checked for type and id only).
VALID_FLOOD = pytest.param("contained", b'{"resourceType": "Basic"}', id="contained-basic")


def _stopped(issues: list[dict[str, Any]]) -> None:
    """Validation stopped at the cap; or the body was refused outright (too many objects)."""
    if len(issues) == 1:
        assert issues[0]["code"] == "too-costly"
        text = issues[0]["details"]["text"]
        assert f"more than {MAX_CONTAINERS} objects" in text or f"more than {MAX_VALUES}" in text
        return
    assert len(issues) == MAX_ISSUES
    assert issues[-1]["code"] == "too-costly"
    assert f"stopped after {MAX_ISSUES - 1} issues" in issues[-1]["details"]["text"]


@pytest.mark.parametrize(("key", "unit"), FLOODS)
def test_a_flood_of_bad_elements_stops_at_the_cap(
    client: FlaskClient, key: str, unit: bytes
) -> None:
    body = _flood(key, unit)
    started = time.perf_counter()
    response = client.post(VALIDATE, data=body, headers=CT)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 400)
    _stopped(response.get_json()["issue"])
    assert elapsed < SECONDS * 2  # in-process under pytest; the live test holds the target


def test_a_batch_entry_running_past_the_batch_budget_is_stopped() -> None:
    """With a 3 s timeout the batch budget is 1.5 s (2 s before the default became 1.5 s);
    one entry worth tens of seconds of evaluation (its own limit is 10 s) is stopped at the
    budget, not after it."""
    app = create_app(load_settings({"timeout": 3}, environ={}))
    slow = _contained([LONG_REPEAT] * 140)  # within the 8,000 characters of inline content
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$score"}}
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{**entry, "resource": slow}, {**entry, "resource": slow}]}  # fmt: skip
    with app.test_client() as client:
        started = time.perf_counter()
        response = client.post("/fhir", data=json.dumps(bundle), headers=CT)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    first, second = response.get_json()["entry"]
    assert first["response"]["status"].startswith("422")
    assert first["response"]["outcome"]["issue"][0]["code"] == "too-costly"
    # the second was not started (503), or stopped at once (its compile is past the budget)
    assert second["response"]["status"][:3] in ("422", "503")
    assert elapsed < 2.0 + 1.5, elapsed


def _send(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _peak_rss_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM): what a memory limit would have seen."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.slow
def test_floods_at_the_maximum_size_under_gunicorn(tmp_path: Path) -> None:
    """Any body up to RAPPORT_MAX_BODY_BYTES: answered within 2 s, the worker's peak RSS
    growing by less than 100 MB over its size after a small request; and the regex attack
    answered at once, by the same worker."""
    figures = []
    with run_gunicorn({}, log_dir=tmp_path) as server:
        worker = _worker_pid(server.process.pid)
        small = _flood("extension", b"1", 10_000)
        warm = urllib.request.Request(f"{server.url}{VALIDATE}", data=small, headers=CT)
        urllib.request.urlopen(warm, timeout=30).read()
        before = _peak_rss_kb(worker)
        for param in [*FLOODS, VALID_FLOOD]:
            key, unit = param.values
            request = urllib.request.Request(
                f"{server.url}{VALIDATE}", data=_flood(key, unit), headers=CT, method="POST"
            )
            started = time.perf_counter()
            status, answer = _send(request)
            assert status in (200, 400)
            elapsed = time.perf_counter() - started
            assert _worker_pid(server.process.pid) == worker  # not killed, not recycled
            figures.append((param.id, round(elapsed, 2), (_peak_rss_kb(worker) - before) // 1024))
            if param is not VALID_FLOOD:
                _stopped(answer["issue"])
        # The review's regex attack: ~30 s each in Python's re, two took every worker down.
        for _ in range(2):
            attack = json.dumps(_regex_item("(a?){30}a{30}", "a" * 29)).encode()
            started = time.perf_counter()
            status, answer = _send(
                urllib.request.Request(f"{server.url}{VALIDATE}", data=attack, headers=CT)
            )
            figures.append(("regex-(a?){30}a{30}", round(time.perf_counter() - started, 2), 0))
            assert status == 200
            assert answer["issue"][0]["details"]["coding"][0]["code"] == "qr-answer-regex"
            assert _worker_pid(server.process.pid) == worker
    print(figures)  # recorded in FUZZING.md
    for name, elapsed, grown_mb in figures:
        assert elapsed < SECONDS, figures
        assert grown_mb < 100, (name, figures)


@pytest.mark.parametrize(("key", "unit"), [("extension", b"1"), ("basedOn", b"1")])
def test_validation_stops_at_the_issue_cap(client: FlaskClient, key: str, unit: bytes) -> None:
    """Below the parse limits, a body of bad elements costs the cap, not one issue each."""
    body = _flood(key, unit, size=2 * (MAX_VALUES - 1_000))
    started = time.perf_counter()
    response = client.post(VALIDATE, data=body, headers=CT)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    issues = response.get_json()["issue"]
    assert len(issues) == MAX_ISSUES
    assert f"stopped after {MAX_ISSUES - 1} issues" in issues[-1]["details"]["text"]
    assert elapsed < SECONDS


def _slow_to_compile(tag: int) -> dict[str, Any]:
    """A response to its own contained Questionnaire, valid, a quarter of a second to compile
    (four sums of 100 terms, parsed by the checks and again by the compiler)."""
    sums = [" + ".join(["1"] * 100) + f" + {tag * 10 + n}" for n in range(4)]
    response = _contained(sums)
    response["contained"][0]["url"] = f"https://example.org/Questionnaire/slow-{tag}"
    return response


def test_a_batch_is_answered_within_the_request_target(client: FlaskClient) -> None:
    """With the default settings (RAPPORT_TIMEOUT 30 s) a batch of 40 distinct contained
    Questionnaires, each a quarter of a second to compile, was answered after ~10 s (the
    budget was two thirds of the timeout, 20 s). The issue's target is 2 s for any body: the
    entries the budget does not reach answer 503, the batch still 200, within the target
    plus the last entry's overrun (measured under load: well under 3 s)."""
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$score"}}
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{**entry, "resource": _slow_to_compile(n)} for n in range(40)]}  # fmt: skip
    started = time.perf_counter()
    response = client.post("/fhir", data=json.dumps(bundle), headers=CT)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    statuses = [e["response"]["status"][:3] for e in response.get_json()["entry"]]
    assert statuses[0] == "200"
    assert set(statuses) <= {"200", "422", "503"}, statuses
    assert statuses[-1] == "503", statuses  # not reached within the budget
    assert elapsed < SECONDS + 1.0, (elapsed, statuses)


def test_expressions_slow_to_parse_are_refused_at_the_cost_of_their_length(
    client: FlaskClient,
) -> None:
    """8,000 characters of `1+1+...` (the most a contained Questionnaire may hold, in four
    expressions): each nests too deeply, but ANTLR's full-context prediction spent 3.3-8.6 s
    of CPU on the request before saying so; its SLL prediction takes 0.44-0.9 s. Measured in
    this thread's CPU time, after a collection (in the full suite, on a host running ~2x
    slow, process CPU time with the suite's heap to collect reached 1.8 s)."""
    sums = ["+".join(["1"] * 1000)[:1990] + f"+{n}" for n in range(4)]
    response = _contained(sums)
    gc.collect()
    started = time.thread_time()
    answer = client.post(
        "/fhir/QuestionnaireResponse/$score", data=json.dumps(response), headers=CT
    )
    spent = time.thread_time() - started
    assert answer.status_code == 422
    issues = answer.get_json()["issue"]
    assert all("nests too deeply" in issue["details"]["text"] for issue in issues), issues
    assert len(issues) == 4
    assert spent < 3.0, spent


def _long_key(tail: str) -> bytes:
    """The review's body: a 4,000,000-character key holding 450,000 numbers, `tail` last;
    the space before the first colon sends it to the strict parser."""
    numbers = "0," * 450_000 + tail
    return f'{{"resourceType" :"Parameters","{"k" * 4_000_000}":[{numbers}]}}'.encode()


@pytest.mark.parametrize(("tail", "status"), [("0", 400), ("1e400", 400)])
def test_a_long_key_over_a_long_list_is_parsed_at_the_cost_of_its_length(
    client: FlaskClient, tail: str, status: int
) -> None:
    """The strict parse's search for out-of-range numbers wrote the path of every element
    it passed, the 4 MB key once per item: 42.9 s of CPU (400 after 76 s over HTTP). A
    bound of process CPU time (which other work on the machine moves little), kept ~10x
    below that: it guards against the walk, not a measure of speed."""
    started = time.process_time()
    answer = client.post("/fhir/QuestionnaireResponse/$score", data=_long_key(tail), headers=CT)
    spent = time.process_time() - started
    assert answer.status_code == status
    [issue] = answer.get_json()["issue"]
    assert len(answer.data) < 10_000  # the key is quoted in part, not in full
    if tail == "1e400":
        assert "the number 1e400 is out of range" in issue["details"]["text"].lower()
        assert issue["expression"] == [f"Parameters.{'k' * 40}...[450000]"]
    assert spent < 5.0, spent
