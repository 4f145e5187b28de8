"""OperationOutcome: issue codes and severities from the HL7 value sets, and the one builder."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.rules import Rule

__all__ = [
    "MAX_ISSUES",
    "RULES_SYSTEM",
    "Issue",
    "IssueCapReached",
    "IssueList",
    "IssueSeverity",
    "IssueType",
    "error",
    "operation_outcome",
]

#: Our machine codes for validation rules (`details.coding`): the registry, service/rules/.
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
    """One OperationOutcome.issue: what went wrong, where, and under which rule.

    `link_id` names the item concerned for people reading a report (`lint`, a refused
    write's message); it is not on the wire (a response's issues put theirs in `location`).
    """

    severity: IssueSeverity
    code: IssueType
    text: str
    expression: str | None = None
    location: str | None = None
    rule: Rule | None = None
    link_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The issue as FHIR JSON (texts that echo client input are clipped)."""
        details: dict[str, Any] = {"text": _clip(self.text)}
        if self.rule:
            details["coding"] = [{"system": RULES_SYSTEM, "code": self.rule.code}]
        issue: dict[str, Any] = {
            "severity": self.severity.value,
            "code": self.code.value,
            "details": details,
        }
        if self.expression:
            issue["expression"] = [_clip(self.expression)]
        if self.location:
            issue["location"] = [_clip(self.location)]
        return issue


#: An OperationOutcome lists at most this many issues; an answer never dwarfs its request.
MAX_ISSUES = 500


class IssueCapReached(Exception):
    """Raised by `IssueList.append` at the cap: the check collecting issues stops there."""


class IssueList(list[Issue]):
    """Issues collected by a check, at most MAX_ISSUES - 1 of them (room for the note that
    says the check stopped): the issue past that raises IssueCapReached, so that the cost of
    a check is bounded by the cap, not by the size of the body it reads."""

    __slots__ = ()

    def append(self, issue: Issue) -> None:
        if len(self) >= MAX_ISSUES - 1:
            raise IssueCapReached
        super().append(issue)


_MAX_TEXT = 1000


def _clip(text: str) -> str:
    """At most `_MAX_TEXT` characters, valid Unicode (client input may hold lone surrogates)."""
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def error(
    code: IssueType,
    text: str,
    expression: str | None = None,
    *,
    location: str | None = None,
    rule: Rule | None = None,
) -> Issue:
    """Shorthand for an error-severity issue."""
    return Issue(IssueSeverity.ERROR, code, text, expression, location, rule)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource; a clean run gets the informational 'no problems' issue."""
    listed: list[dict[str, Any]] = []
    left_out = 0
    for issue in issues:
        if len(listed) < MAX_ISSUES:
            listed.append(issue.to_json())
        else:
            left_out += 1
    if left_out:
        listed.append(
            {
                "severity": "information",
                "code": "too-costly",
                "details": {"text": f"{left_out} more issues were found and not listed"},
            }
        )
    if not listed:
        listed = [
            {
                "severity": "information",
                "code": "informational",
                "details": {"text": "No problems found"},
            }
        ]
    return {"resourceType": "OperationOutcome", "issue": listed}
