"""The errors FHIRPath compilation and evaluation raise.

ValueError
└── FhirPathError       does not parse, is unsupported, or fails at evaluation
    └── BudgetExceeded  evaluation materialised more elements than Env.budget
"""

from __future__ import annotations

__all__ = ["BudgetExceeded", "FhirPathError"]


class FhirPathError(ValueError):
    """An expression that does not parse, uses something unsupported, or fails at evaluation."""


class BudgetExceeded(FhirPathError):
    """Evaluation produced more elements / steps than the budget allows."""
