"""Every test vector of every shipped instrument: `$score` gives the hand-computed values."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from service.response import score_response
from tests.builders.instruments import build_response, compiled, questionnaires, vectors

MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
#: Each decimal score's precision (decimal places). No sheet or cited source publishes
#: one, so the stated default applies (questionnaires/README.md): a sum (every total but
#: MEQ-30's) is a whole number, a mean has 2 decimals.
PRECISION = {
    "arm-5": {"mean": 2},
    "ebi": {"mean": 2, "sum": 0},
    "gad-7": {"total": 0},
    "meq-30": {
        "mystical": 2,
        "positive-mood": 2,
        "transcendence": 2,
        "ineffability": 2,
        "total": 2,
    },
    "phq-9": {"total": 0},
    "qids-sr-16": {"total": 0},
    "wai-sr": {"total": 0, "goal": 0, "task": 0, "bond": 0},
}


def _matches(got: Any, expected: Any) -> bool:
    """Exactly: a score is rounded to its precision, and the vectors write that decimal."""
    if expected is None or isinstance(expected, bool):
        return got is expected
    return isinstance(got, int | float) and not isinstance(got, bool) and got == expected


def _places(value: float) -> int:
    exponent = Decimal(repr(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _codings(response: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = list(response.get("item", []))
    while stack:
        item = stack.pop()
        stack.extend(item.get("item", []))
        yield from (a for a in item.get("answer", []) if "valueCoding" in a)


def _codings_of_scored(name: str, response: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers to items whose options have weights (all but the difficulty items)."""
    weighted = {
        item["linkId"]
        for item in _all_items(questionnaires()[name]["item"])
        if any("extension" in o for o in item.get("answerOption", []))
    }
    return [
        answer
        for item in _all_items(response.get("item", []))
        if item["linkId"] in weighted
        for answer in item.get("answer", [])
    ]


def _all_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _all_items(item.get("item", []))


def _score_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if item.get("readOnly") and item["type"] == "decimal":
            yield item
        yield from _score_items(item.get("item", []))


@pytest.mark.parametrize(
    ("name", "vector"), [pytest.param(n, v, id=f"{n}: {v['name']}") for n, v in vectors()]
)
def test_vector(name: str, vector: dict[str, Any]) -> None:
    response = build_response(name, vector["answers"], vector["status"])
    result = score_response(compiled(name), response)
    scores = {score.link_id: score for score in result.scores}
    assert set(scores) == set(vector["expected"])
    for link_id, expected in vector["expected"].items():
        assert _matches(scores[link_id].value, expected), (link_id, scores[link_id].value)
    for link_id, band in (vector.get("bands") or {}).items():
        interpretation = scores[link_id].interpretation
        assert (interpretation or {}).get("code") == band, link_id
    # A scored answer's Coding carries the option's own itemWeight (copied, as a form filler
    # copies it): equal to the Questionnaire's, so it is used quietly.
    weighed = [a for a in _codings(response) if "extension" in a["valueCoding"]]
    assert len(weighed) >= len(_codings_of_scored(name, response))
    assert [i for i in result.issues if i.rule == "qr-answer-weight-ignored"] == []
    withheld = {s.link_id for s in result.scores if s.value is None}
    warned = {i.location for i in result.issues if i.rule == "score-withheld"}
    assert warned == withheld


@pytest.mark.parametrize("name", sorted(questionnaires()))
def test_every_decimal_score_states_its_precision(name: str) -> None:
    """maxDecimalPlaces on each decimal score, as in PRECISION, and no vector's expected
    value has more places."""
    declared = {
        item["linkId"]: [
            e["valueInteger"] for e in item["extension"] if e["url"] == MAX_DECIMAL_PLACES
        ]
        for item in _score_items(questionnaires()[name]["item"])
    }
    assert declared == {link: [places] for link, places in PRECISION[name].items()}
    for vector_name, vector in vectors():
        if vector_name == name:
            for link_id, places in PRECISION[name].items():
                value = vector["expected"][link_id]
                assert value is None or _places(value) <= places, (vector["name"], link_id)


def test_every_instrument_has_vectors() -> None:
    assert {name for name, _ in vectors()} == set(questionnaires())
