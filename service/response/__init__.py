"""Everything about a QuestionnaireResponse: $validate, $score and $extract.

Pure domain code (no Flask, no Redis), working from a Questionnaire compiled once by
service.questionnaire: `validate_response` (with `check_scores` for $validate),
`score_response` and `extract_observations` per request.
"""

from __future__ import annotations

from .extract import ExtractOptions, extract_observations
from .score import Score, ScoreResult, check_scores, score_response
from .validate import Validation, validate_response

__all__ = [
    "ExtractOptions",
    "Score",
    "ScoreResult",
    "Validation",
    "check_scores",
    "extract_observations",
    "score_response",
    "validate_response",
]
