"""Every test vector of every shipped instrument: `$score` gives the hand-computed values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from service.response import score_response
from tests.builders.instruments import build_response, compiled, questionnaires, vectors

#: Scores are IEEE doubles as fhirpath.js computes them; vectors write them to ~16 digits.
TOLERANCE = 1e-9


def _matches(got: Any, expected: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return got is expected
    return (
        isinstance(got, int | float)
        and not isinstance(got, bool)
        and (math.isclose(got, expected, rel_tol=0, abs_tol=TOLERANCE))
    )


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
    withheld = {s.link_id for s in result.scores if s.value is None}
    warned = {i.location for i in result.issues if i.rule == "score-withheld"}
    assert warned == withheld


def test_every_instrument_has_vectors() -> None:
    assert {name for name, _ in vectors()} == set(questionnaires())
