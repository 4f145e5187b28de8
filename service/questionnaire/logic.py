"""Compiling an item's SDC logic: `variable`s, `calculatedExpression` and score bands.

Variables are in scope for their item and its descendants, in document order
(SDC 'variable' extension); a reference to a name not in scope is a content
error found here, at load, rather than an empty result at scoring time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueType, error
from service.fhirpath import (
    Expression,
    FhirPathError,
    UnsupportedRegex,
    referenced_linkids,
    referenced_variables,
)
from service.rules import Rule

from .change_rules import ChangeRule, change_rules
from .extensions import (
    CALCULATED,
    EXTRACT,
    SAFETY_ALERT,
    SCORE_BAND,
    VARIABLE,
    extensions,
    finite_number,
)

__all__ = [
    "Band",
    "Compiler",
    "Scope",
    "ScoreDef",
    "Variable",
    "bands",
    "calculation",
    "expression_of",
    "uses_of",
    "variables",
]

#: The item types whose calculatedExpression is a score (a number or a flag).
SCORE_TYPES = frozenset({"decimal", "integer", "boolean"})

Compiler = Callable[[str], Expression]


@dataclass(frozen=True, slots=True)
class Variable:
    """A named sub-expression (SDC `variable`) and the answer linkIds it depends on."""

    name: str
    expression: Expression
    uses: frozenset[str]


@dataclass(frozen=True, slots=True)
class Band:
    """A published score band: `low` ≤ value ≤ `high` (either may be open) → interpretation."""

    low: float | None
    high: float | None
    interpretation: dict[str, Any]

    def contains(self, value: float) -> bool:
        """True if `value` lies in this band (bounds inclusive)."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True, slots=True)
class ScoreDef:
    """A calculated score item: its code, type, extraction flag, bands and expression."""

    link_id: str
    text: str | None
    code: dict[str, Any] | None
    type: str
    extract: bool
    bands: tuple[Band, ...]
    expression: Expression
    uses: frozenset[str]
    path: str
    safety: bool = False  # a safety-alert item: `true` calls for a clinician (Flag, warning)
    change_rules: tuple[ChangeRule, ...] = ()  # remission/response rules on change from baseline


@dataclass(frozen=True, slots=True)
class Scope:
    """What to evaluate at one item (`link_id` None: the Questionnaire), in document order:
    its variables, its score, its children.
    """

    variables: tuple[Variable, ...]
    score: ScoreDef | None
    children: tuple[Scope, ...]
    link_id: str | None = None


def _issue(expression: str, text: str, rule: Rule, code: IssueType = IssueType.INVALID) -> Issue:
    return error(code, text, expression, rule=rule)


def expression_of(
    ext: dict[str, Any], where: str, compile_: Compiler, issues: list[Issue]
) -> tuple[dict[str, Any], Expression] | None:
    """The valueExpression of an extension, compiled; None (and an issue) if unusable."""
    value = ext.get("valueExpression")
    if type(value) is not dict or type(value.get("expression")) is not str:
        issues.append(
            _issue(where, "needs a valueExpression with an expression", rules.Q_EXPRESSION)
        )
        return None
    if value.get("language") != "text/fhirpath":
        text = f"expression language {value.get('language')!r} is not supported (text/fhirpath)"
        issues.append(_issue(where, text, rules.Q_EXPRESSION_LANGUAGE, IssueType.NOT_SUPPORTED))
        return None
    try:
        return value, compile_(value["expression"])
    except FhirPathError as exc:
        issues.append(expression_issue(where, exc))
        return None


def expression_issue(where: str, exc: FhirPathError) -> Issue:
    """The q-expression issue for an expression that does not compile: not-supported for a
    regex RE2 cannot run (backreference, lookaround), invalid otherwise."""
    if isinstance(exc, UnsupportedRegex):
        text = f"unsupported FHIRPath: {exc}"
        return _issue(where, text, rules.Q_EXPRESSION, IssueType.NOT_SUPPORTED)
    return _issue(where, f"invalid FHIRPath: {exc}", rules.Q_EXPRESSION)


def uses_of(
    source: str, visible: dict[str, frozenset[str]], where: str, issues: list[Issue]
) -> frozenset[str]:
    """The linkIds an expression depends on, through the variables it references."""
    found = set(referenced_linkids(source))
    for name in sorted(referenced_variables(source)):
        if name not in visible:
            text = f"variable %{name} is not defined in this scope (SDC variable)"
            issues.append(_issue(where, text, rules.Q_VARIABLE_UNDEFINED))
        else:
            found |= visible[name]
    return frozenset(found)


def variables(
    element: dict[str, Any],
    path: str,
    visible: dict[str, frozenset[str]],
    compile_: Compiler,
    issues: list[Issue],
) -> tuple[tuple[Variable, ...], dict[str, frozenset[str]]]:
    """The variables declared on `element`, and the names visible to its descendants."""
    declared: list[Variable] = []
    inner = dict(visible)
    for index, ext in extensions(element, VARIABLE):
        where = f"{path}.extension[{index}]"
        found = expression_of(ext, where, compile_, issues)
        if found is None:
            continue
        value, expression = found
        name = value.get("name")
        if type(name) is not str or not name.isidentifier():
            issues.append(
                _issue(where, "a variable needs a name (an identifier)", rules.Q_VARIABLE)
            )
            continue
        if name in inner and name not in visible:
            issues.append(_issue(where, f"variable %{name} is declared twice", rules.Q_VARIABLE))
            continue
        uses = uses_of(expression.source, inner, where, issues)
        declared.append(Variable(name, expression, uses))
        inner[name] = uses
    return tuple(declared), inner


def calculation(
    item: dict[str, Any],
    *,
    kind: str,
    path: str,
    visible: dict[str, frozenset[str]],
    compile_: Compiler,
    issues: list[Issue],
) -> ScoreDef | None:
    """The item's calculatedExpression as a ScoreDef, or None if it has none."""
    found = extensions(item, CALCULATED)
    if not found:
        return None
    index, ext = found[0]
    where = f"{path}.extension[{index}]"
    compiled = expression_of(ext, where, compile_, issues)
    if compiled is None:
        return None
    link_id = item["linkId"]
    if kind not in SCORE_TYPES:
        text = f"calculated item '{link_id}' has type {kind}; scores are decimal|integer|boolean"
        issues.append(_issue(where, text, rules.Q_CALCULATED_TYPE, IssueType.NOT_SUPPORTED))
        return None
    code = _code(item)
    extract = any(e.get("valueBoolean") is True for _, e in extensions(item, EXTRACT))
    if extract and code is None:
        text = f"score '{link_id}' has observationExtract but no code (SDC extraction needs one)"
        issues.append(_issue(f"{path}.code", text, rules.Q_EXTRACT_NEEDS_CODE))
    return ScoreDef(
        link_id=link_id,
        text=item.get("text") if type(item.get("text")) is str else None,
        code=code,
        type=kind,
        extract=extract and code is not None,
        bands=bands(item, path, kind, issues),
        expression=compiled[1],
        uses=uses_of(compiled[1].source, visible, where, issues),
        path=path,
        safety=_safety(item, path, kind, issues),
        change_rules=change_rules(item, path, kind, issues),
    )


def _safety(item: dict[str, Any], path: str, kind: str, issues: list[Issue]) -> bool:
    """Whether the item carries safety-alert true; only a boolean score can (its `true`)."""
    found = extensions(item, SAFETY_ALERT)
    for index, ext in found:
        if kind != "boolean" or type(ext.get("valueBoolean")) is not bool:
            where = f"{path}.extension[{index}]"
            text = "safety-alert needs a valueBoolean, on a boolean score item"
            issues.append(_issue(where, text, rules.Q_SAFETY_ALERT))
            return False
    return any(ext.get("valueBoolean") is True for _, ext in found)


def _code(item: dict[str, Any]) -> dict[str, Any] | None:
    codes = item.get("code")
    if type(codes) is list and codes and type(codes[0]) is dict and codes[0].get("code"):
        return codes[0]
    return None


def bands(item: dict[str, Any], path: str, kind: str, issues: list[Issue]) -> tuple[Band, ...]:
    """The score-band extensions of a score item, checked."""
    found = []
    for index, ext in extensions(item, SCORE_BAND):
        where = f"{path}.extension[{index}]"
        band = _band(ext) if kind != "boolean" else None
        if band is None:
            text = "score-band needs numeric low ≤ high and an interpretation Coding"
            issues.append(_issue(where, text, rules.Q_SCORE_BAND))
        else:
            found.append(band)
    return tuple(found)


def _band(ext: dict[str, Any]) -> Band | None:
    subs = ext.get("extension")
    if type(subs) is not list:
        return None
    parts = {sub["url"]: sub for sub in subs if type(sub) is dict and type(sub.get("url")) is str}
    low = _bound(parts.get("low"))
    high = _bound(parts.get("high"))
    coding = parts.get("interpretation", {}).get("valueCoding")
    if low is False or high is False or type(coding) is not dict or not coding.get("code"):
        return None
    if low is not None and high is not None and low > high:
        return None
    return Band(low, high, coding)


def _bound(part: dict[str, Any] | None) -> float | bool | None:
    """A band bound: a number, None when absent, False when malformed."""
    if part is None:
        return None
    value = finite_number(part.get("valueDecimal", part.get("valueInteger")))
    return False if value is None else value
