"""Change-from-baseline rules a score item carries (content): remission and response.

`https://rapport-fhir.github.io/fhir/StructureDefinition/change-rule`, with parts:
`code` (valueCoding: what the rule decides, e.g. rapport-scores `qids-sr-16-remission`),
`measure` (valueCode: `value`, the follow-up score itself, or `reduction`, the percent
reduction from the baseline, 100 * (baseline - value) / baseline), `comparator` (valueCode:
`<`, `<=`, `>=`, `>`) and `threshold` (valueDecimal). Only a rule a published source
defines belongs in content; its source is in the code's CodeSystem definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueType, error

from .extensions import extensions, finite_number

__all__ = ["CHANGE_RULE", "ChangeRule", "change_rules"]

CHANGE_RULE = "https://rapport-fhir.github.io/fhir/StructureDefinition/change-rule"
_MEASURES = frozenset({"value", "reduction"})
_COMPARATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


@dataclass(frozen=True, slots=True)
class ChangeRule:
    """One rule on a score's change: `measure` `comparator` `threshold` decides `code`."""

    code: dict[str, Any]
    measure: str
    comparator: str
    threshold: float

    def met(self, baseline: float, value: float) -> bool | None:
        """Whether the rule holds, exactly (no float rounding); None when it cannot be told
        (a reduction from a baseline of 0)."""
        if self.measure == "value":
            measured = Fraction(value)
        elif baseline == 0:
            return None
        else:
            measured = 100 * (Fraction(baseline) - Fraction(value)) / Fraction(baseline)
        return bool(_COMPARATORS[self.comparator](measured, Fraction(self.threshold)))


def change_rules(
    item: dict[str, Any], path: str, kind: str, issues: list[Issue]
) -> tuple[ChangeRule, ...]:
    """The change-rule extensions of a score item, checked (numeric scores only)."""
    found = []
    for index, ext in extensions(item, CHANGE_RULE):
        rule = _rule(ext) if kind != "boolean" else None
        if rule is None:
            text = (
                "change-rule needs a code Coding, measure value|reduction, comparator "
                "<|<=|>=|> and a numeric threshold, on a numeric score"
            )
            where = f"{path}.extension[{index}]"
            issues.append(error(IssueType.INVALID, text, where, rule=rules.Q_CHANGE_RULE))
        else:
            found.append(rule)
    return tuple(found)


def _rule(ext: dict[str, Any]) -> ChangeRule | None:
    subs = ext.get("extension")
    if type(subs) is not list:
        return None
    parts = {s["url"]: s for s in subs if type(s) is dict and type(s.get("url")) is str}
    code = parts.get("code", {}).get("valueCoding")
    measure = parts.get("measure", {}).get("valueCode")
    comparator = parts.get("comparator", {}).get("valueCode")
    threshold = parts.get("threshold", {}).get("valueDecimal")
    if type(code) is not dict or type(code.get("code")) is not str:
        return None
    if measure not in _MEASURES or comparator not in _COMPARATORS:
        return None
    number = finite_number(threshold)
    if number is None:
        return None
    return ChangeRule(dict(code), str(measure), str(comparator), number)
