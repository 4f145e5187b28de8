"""Compiling the expressions validation evaluates: enableWhenExpression and targetConstraint.

Both are compiled once, with the `variable`s in scope where they stand (an
undefined %name is a content error, `q-variable-undefined`). SDC forbids
enableWhenExpression next to enableWhen on one item; so do we
(`q-enablewhen-invalid`). A targetConstraint (or its earlier name
questionnaire-constraint) needs `key`, `severity` error|warning, `human` and
an `expression` (valueExpression text/fhirpath, or the older valueString);
`location` is optional (`q-constraint`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType, error
from service.fhirpath import Expression, FhirPathError
from service.rules import Rule

from .extensions import CONSTRAINTS, ENABLE_WHEN_EXPRESSION, extensions
from .logic import Compiler, expression_issue, expression_of, uses_of

__all__ = ["Constraint", "constraints", "enable_expression"]

_SEVERITIES = {"error": IssueSeverity.ERROR, "warning": IssueSeverity.WARNING}


@dataclass(frozen=True, slots=True)
class Constraint:
    """One targetConstraint: an invariant on the response, reported with its own severity."""

    key: str
    severity: IssueSeverity
    human: str
    expression: Expression
    location: str | None


def _issue(where: str, text: str, rule: Rule) -> Issue:
    return error(IssueType.INVALID, text, where, rule=rule)


def enable_expression(
    item: dict[str, Any],
    path: str,
    visible: dict[str, frozenset[str]],
    compile_: Compiler,
    issues: list[Issue],
) -> Expression | None:
    """The item's enableWhenExpression, compiled; None if it has none (or it is unusable)."""
    found = extensions(item, ENABLE_WHEN_EXPRESSION)
    if not found:
        return None
    index, ext = found[0]
    where = f"{path}.extension[{index}]"
    if "enableWhen" in item:
        text = "enableWhen and enableWhenExpression cannot both be present (SDC)"
        issues.append(_issue(where, text, rules.Q_ENABLEWHEN_INVALID))
        return None
    compiled = expression_of(ext, where, compile_, issues)
    if compiled is None:
        return None
    uses_of(compiled[1].source, visible, where, issues)
    return compiled[1]


def constraints(
    element: dict[str, Any],
    path: str,
    visible: dict[str, frozenset[str]],
    compile_: Compiler,
    issues: list[Issue],
) -> tuple[Constraint, ...]:
    """The targetConstraints on a Questionnaire or an item, compiled."""
    found = []
    for url in CONSTRAINTS:
        for index, ext in extensions(element, url):
            where = f"{path}.extension[{index}]"
            constraint = _constraint(ext, where, visible, compile_, issues)
            if constraint is not None:
                found.append(constraint)
    return tuple(found)


def _constraint(
    ext: dict[str, Any],
    where: str,
    visible: dict[str, frozenset[str]],
    compile_: Compiler,
    issues: list[Issue],
) -> Constraint | None:
    subs = ext.get("extension")
    parts = {sub.get("url"): sub for sub in subs if type(sub) is dict} if type(subs) is list else {}
    key = parts.get("key", {}).get("valueId")
    severity = _SEVERITIES.get(str(parts.get("severity", {}).get("valueCode")))
    human = parts.get("human", {}).get("valueString")
    location = parts.get("location", {}).get("valueString")
    expression = parts.get("expression", {})
    if (
        type(key) is not str
        or severity is None
        or type(human) is not str
        or not isinstance(location, str | None)
    ):
        text = "targetConstraint needs key, severity (error|warning), human and expression"
        issues.append(_issue(where, text, rules.Q_CONSTRAINT))
        return None
    compiled = _compile(expression, where, compile_, issues)
    if compiled is None:
        return None
    uses_of(compiled.source, visible, where, issues)
    return Constraint(key, severity, human, compiled, location)


def _compile(
    expression: dict[str, Any], where: str, compile_: Compiler, issues: list[Issue]
) -> Expression | None:
    """The constraint's expression: a valueExpression, or a FHIRPath valueString."""
    if "valueExpression" in expression:
        found = expression_of(expression, where, compile_, issues)
        return None if found is None else found[1]
    source = expression.get("valueString")
    if type(source) is not str:
        text = "targetConstraint needs an expression (valueExpression or valueString)"
        issues.append(_issue(where, text, rules.Q_CONSTRAINT))
        return None
    try:
        return compile_(source)
    except FhirPathError as exc:
        issues.append(expression_issue(where, exc))
        return None
