"""Scoring: re-computing QuestionnaireResponse scores from SDC calculatedExpressions.

Pure domain code (no Flask, no Redis): `compile_questionnaire` once per
Questionnaire, then `validate_response` (with `check_scores` for $validate),
`score_response` and `extract_observations` per request.
"""

from __future__ import annotations

from .extract import extract_observations
from .model import CompiledQuestionnaire, Limits, compile_questionnaire
from .score import Score, ScoreResult, check_scores, score_response
from .validate import Validation, validate_response

__all__ = [
    "CompiledQuestionnaire",
    "Limits",
    "Score",
    "ScoreResult",
    "Validation",
    "check_scores",
    "compile_questionnaire",
    "extract_observations",
    "score_response",
    "validate_response",
]
