"""Section 1: the scoring engine per shipped instrument, against the plain-Python floor.

Every engine path starts from the request bytes, as the service does: `jsonio.loads`, then
`validate_response`, `score_response` (validation included) or `score_response` plus
`extract_observations`; `$score` also builds the Parameters the view returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.fhir import jsonio
from service.fhir.outcome import operation_outcome
from service.questionnaire import compile_questionnaire
from service.response import ScoreResult, extract_observations, score_response, validate_response

from .floor import floor_index, floor_score
from .instruments import Instrument
from .timing import Comparison, Plan, compare

__all__ = ["EngineResult", "measure_engine"]

#: The compiled-to-floor ratio goal for `$score` (issue 5).
SCORE_GOAL = 3.0


@dataclass(frozen=True, slots=True)
class EngineResult:
    """One instrument: each engine path compared with the floor, and interpreted vs compiled."""

    instrument: str
    answered: int
    body_bytes: int
    parse: Comparison  # jsonio.loads alone vs the floor
    validate: Comparison
    score: Comparison
    extract: Comparison
    interpreted: Comparison  # $score with fhirpathpy throughout vs compiled


def score_parameters(result: ScoreResult) -> dict[str, Any]:
    """The Parameters `$score` answers with (as service.api.operations builds them)."""
    params: list[dict[str, Any]] = [{"name": "response", "resource": result.response}]
    for score in result.scores:
        if score.value is None:
            continue
        key = "valueBoolean" if isinstance(score.value, bool) else "valueDecimal"
        parts = [{"name": "code", "valueCoding": score.code}, {"name": "value", key: score.value}]
        if score.interpretation is not None:
            parts.append({"name": "interpretation", "valueCoding": score.interpretation})
        params.append({"name": "score", "part": parts})
    if result.issues:
        params.append({"name": "issues", "resource": operation_outcome(result.issues)})
    return {"resourceType": "Parameters", "parameter": params}


def measure_engine(
    instrument: Instrument, plan: Plan, slow_plan: Plan, progress: Callable[[str], None]
) -> EngineResult:
    """Compare each engine path with the floor, alternating, on one instrument's response."""
    progress(f"engine {instrument.id}")
    compiled = compile_questionnaire(instrument.questionnaire)
    interpreted = compile_questionnaire(instrument.questionnaire, interpret=True)
    index = floor_index(instrument.questionnaire, compiled)
    body = instrument.body

    def floor() -> object:
        return floor_score(index, body)

    def score() -> object:
        return score_parameters(score_response(compiled, jsonio.loads(body)))

    def score_interpreted() -> object:
        return score_parameters(score_response(interpreted, jsonio.loads(body)))

    def extract() -> object:
        response = jsonio.loads(body)
        return extract_observations(compiled, score_response(compiled, response), response)

    _check(score(), score_interpreted())
    return EngineResult(
        instrument=instrument.id,
        answered=instrument.answered,
        body_bytes=len(body),
        parse=compare(lambda: jsonio.loads(body), floor, plan),
        validate=compare(lambda: validate_response(compiled, jsonio.loads(body)), floor, plan),
        score=compare(score, floor, plan),
        extract=compare(extract, floor, plan),
        interpreted=compare(score_interpreted, score, slow_plan),
    )


def _check(compiled: object, interpreted: object) -> None:
    """Both engines must agree, or the timing compares different work."""
    if compiled != interpreted:
        raise AssertionError("compiled and interpreted $score results differ")
