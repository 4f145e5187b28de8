"""The errors FHIRPath compilation and evaluation raise.

ValueError
└── FhirPathError       does not parse, is unsupported, or fails at evaluation
    ├── UnsupportedRegex a pattern needing backtracking (not-supported)
    └── BudgetExceeded  evaluation materialised more elements than Env.budget, would build
                        a string over MAX_STRING, ran past Env.deadline or out of memory
"""

from __future__ import annotations

__all__ = ["BudgetExceeded", "FhirPathError", "UnsupportedRegex"]


class FhirPathError(ValueError):
    """An expression that does not parse, uses something unsupported, or fails at evaluation."""


class BudgetExceeded(FhirPathError):
    """Evaluation cost more than allowed: elements, string length, time or memory."""


class UnsupportedRegex(FhirPathError):
    """A matches()/replaceMatches() pattern with a construct RE2 cannot run (backreference,
    lookaround, possessive quantifier): refused as not-supported, never run elsewhere."""
