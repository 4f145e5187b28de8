"""The compiled-Questionnaire cache (inline and contained Questionnaires) is bounded by the
memory its entries take, not by their count."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.catalog import lookup
from service.catalog.lookup import (
    DEFAULT_CACHE_BYTES,
    cached_bytes,
    compiles_in_flight,
    reset_compiles_in_flight,
    resolve_questionnaire,
    set_cache_bytes,
)
from service.errors import ServiceUnavailable
from tests.builders.catalog import mini

BOUND = 512 * 1024  # bytes: a small budget, so a few large Questionnaires exceed it


def _large(tag: int, items: int = 250) -> dict[str, Any]:
    """A distinct contained Questionnaire of about 28 KB of JSON (some 250 KB compiled)."""
    questionnaire = {**mini(), "id": "c", "url": f"https://example.org/q/{tag}"}
    extra = [
        {"linkId": f"x{i}", "type": "integer", "text": f"Question {i} of form {tag} " + "x" * 40}
        for i in range(items)
    ]
    questionnaire["item"] = [*questionnaire["item"], *extra]
    return questionnaire


def _resolve(questionnaire: dict[str, Any]) -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "#c",
        "contained": [questionnaire],
    }
    resolve_questionnaire(None, response, max_items=10_000)


@pytest.fixture
def bounded() -> Iterator[None]:
    set_cache_bytes(0)  # empty it
    set_cache_bytes(BOUND)
    yield
    set_cache_bytes(DEFAULT_CACHE_BYTES)


def test_many_large_contained_questionnaires_stay_within_the_bound(bounded: None) -> None:
    forms = [_large(tag) for tag in range(5)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for form in forms:
            _resolve(form)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    entries, size = cached_bytes()
    assert 0 < entries < len(forms)  # some kept, the oldest dropped
    assert size <= BOUND
    # Measured independently of the cache's own accounting: what the five compilations left
    # allocated (on the old count-bounded cache, all five: about 1.3 MB).
    assert retained < BOUND * 1.5, retained


def test_a_cached_questionnaire_is_found_again(bounded: None) -> None:
    form = _large(99, items=50)
    _resolve(form)
    assert cached_bytes()[0] == 1
    _resolve(form)
    assert cached_bytes()[0] == 1
    set_cache_bytes(0)
    assert cached_bytes() == (0, 0)
    _resolve(form)  # larger than the whole budget: used, not kept
    assert cached_bytes() == (0, 0)


def test_one_inline_compile_runs_at_a_time_per_worker(bounded: None) -> None:
    """Eight threads (a gthread worker's) each compiling a distinct 999-item contained
    Questionnaire: at most one compiles at a time, so the worker's memory grows by one
    compilation, not eight (the review: 8 concurrent batches took a worker to 583 MB).
    The count is of compiles, not of turns: without the turn-taking it shows 8."""
    forms = [_large(1000 + tag, items=994) for tag in range(8)]
    start = threading.Barrier(len(forms))
    failures: list[BaseException] = []

    def run(form: dict[str, Any]) -> None:
        start.wait()
        try:
            _resolve(form)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(form,)) for form in forms]
    reset_compiles_in_flight()  # what earlier tests compiled does not count
    assert compiles_in_flight() == (0, 0)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A compile waits at most two seconds for its turn: on a slow machine some may be
    # refused (503, to retry), none may fail otherwise.
    assert all(isinstance(exc, ServiceUnavailable) for exc in failures), failures
    assert len(failures) < len(forms)
    now, most = compiles_in_flight()
    assert now == 0
    assert most == 1


def test_a_compile_waiting_past_its_turn_is_told_to_retry(client: FlaskClient) -> None:
    """While another compile holds the worker's turn for longer than a request may wait,
    a request needing a compile answers 503 `transient` with Retry-After, not a stall."""
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "#c",
        "contained": [_large(2000, items=10)],
    }
    with lookup._compiling:  # a compile in progress elsewhere in this worker
        started = time.monotonic()
        answer = client.post(
            "/fhir/QuestionnaireResponse/$score",
            json=response,
            headers={"Content-Type": "application/fhir+json"},
        )
        waited = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert [issue["code"] for issue in answer.get_json()["issue"]] == ["transient"]
    assert 1.5 < waited < 10, waited
    # Its turn free again, the same request is scored.
    assert client.post("/fhir/QuestionnaireResponse/$score", json=response).status_code == 200
