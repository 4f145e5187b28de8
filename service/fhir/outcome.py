"""OperationOutcome: issue codes and severities from the HL7 value sets, and the one builder."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["RULES_SYSTEM", "Issue", "IssueSeverity", "IssueType", "error", "operation_outcome"]

#: Our machine codes for validation rules (`details.coding`), listed in the README.
RULES_SYSTEM = "https://rapport-fhir.github.io/fhir/CodeSystem/rapport-rules"


class IssueSeverity(StrEnum):
    """http://hl7.org/fhir/issue-severity"""

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


class IssueType(StrEnum):
    """http://hl7.org/fhir/issue-type (the codes this service uses)."""

    INVALID = "invalid"
    STRUCTURE = "structure"
    REQUIRED = "required"
    VALUE = "value"
    INVARIANT = "invariant"
    SECURITY = "security"
    LOGIN = "login"
    FORBIDDEN = "forbidden"
    PROCESSING = "processing"
    NOT_SUPPORTED = "not-supported"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not-found"
    CONFLICT = "conflict"
    TOO_LONG = "too-long"
    CODE_INVALID = "code-invalid"
    BUSINESS_RULE = "business-rule"
    TOO_COSTLY = "too-costly"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    EXCEPTION = "exception"
    INFORMATIONAL = "informational"


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong, where, and under which rule."""

    severity: IssueSeverity
    code: IssueType
    text: str
    expression: str | None = None
    location: str | None = None
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The issue as FHIR JSON."""
        details: dict[str, Any] = {"text": self.text}
        if self.rule:
            details["coding"] = [{"system": RULES_SYSTEM, "code": self.rule}]
        issue: dict[str, Any] = {
            "severity": self.severity.value,
            "code": self.code.value,
            "details": details,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        if self.location:
            issue["location"] = [self.location]
        return issue


def error(code: IssueType, text: str, expression: str | None = None, **kw: Any) -> Issue:
    """Shorthand for an error-severity issue."""
    return Issue(IssueSeverity.ERROR, code, text, expression, **kw)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource; a clean run gets the informational 'no problems' issue."""
    listed = [issue.to_json() for issue in issues]
    if not listed:
        listed = [
            {
                "severity": "information",
                "code": "informational",
                "details": {"text": "No problems found"},
            }
        ]
    return {"resourceType": "OperationOutcome", "issue": listed}
