"""Scoring: re-computing QuestionnaireResponse scores from SDC calculatedExpressions."""
