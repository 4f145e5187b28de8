"""The compiled-Questionnaire cache (inline and contained Questionnaires) is bounded by the
memory its entries take, not by their count."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from service.catalog.lookup import (
    DEFAULT_CACHE_BYTES,
    cached_bytes,
    resolve_questionnaire,
    set_cache_bytes,
)
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
