"""SDC scoring rules for our content: scored options carry weights, expressions name real
linkIds, and every calculated score has a code to file it under."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from service import rules
from service.fhir.outcome import Issue
from service.fhirpath import FhirPathError, referenced_linkids
from service.questionnaire.issues import content_error
from service.questionnaire.walk import ItemRef, dicts

from .expressions import expression_extensions

__all__ = ["check_sdc"]

_CALCULATED = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
_SCORING = frozenset({_CALCULATED, "http://hl7.org/fhir/StructureDefinition/variable"})
_LINKED = _SCORING | {
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression",
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression",
}
# SDC STU4 itemWeight, and its earlier name ordinalValue, which content from elsewhere uses.
_WEIGHTS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    }
)


def check_sdc(resource: dict[str, Any], items: list[ItemRef]) -> list[Issue]:
    """Unknown linkIds in expressions, unweighted options of scored items, uncoded scores."""
    link_ids = {ref.link_id for ref in items if ref.link_id is not None}
    scored: set[str] = set()
    issues: list[Issue] = []
    for path, link_id, extension in expression_extensions(resource, "Questionnaire", None):
        url = extension.get("url")
        if not isinstance(url, str) or url not in _LINKED:
            continue
        used = _linkids(extension)
        if url in _SCORING:
            scored |= used
        for missing in sorted(used - link_ids):
            text = f"expression refers to linkId {missing!r}, which no item has"
            issues.append(content_error(rules.SDC_LINKID, text, path, link_id))
    for ref in items:
        issues.extend(_unweighted(ref, scored))
        issues.extend(_uncoded(ref))
    return issues


def _linkids(extension: dict[str, Any]) -> set[str]:
    value = extension.get("valueExpression")
    if not isinstance(value, dict) or value.get("language") != "text/fhirpath":
        return set()
    expression = value.get("expression")
    if not isinstance(expression, str):
        return set()
    return set(_referenced(expression))


@lru_cache(maxsize=2048)
def _referenced(expression: str) -> frozenset[str]:
    try:
        return referenced_linkids(expression)
    except FhirPathError:
        return frozenset()  # reported by the FHIRPath check


def _unweighted(ref: ItemRef, scored: set[str]) -> Iterator[Issue]:
    if ref.link_id not in scored or ref.item.get("type") not in ("choice", "open-choice"):
        return
    for index, option in dicts(ref.item, "answerOption"):
        urls = (str(extension.get("url")) for _, extension in dicts(option, "extension"))
        if not any(url in _WEIGHTS for url in urls):
            text = "a scored choice item needs an itemWeight on every answerOption"
            path = f"{ref.path}.answerOption[{index}]"
            yield content_error(rules.SDC_WEIGHT, text, path, ref.link_id)


def _uncoded(ref: ItemRef) -> Iterator[Issue]:
    calculated = any(e.get("url") == _CALCULATED for _, e in dicts(ref.item, "extension"))
    if calculated and "code" not in ref.item:
        text = "a score item (calculatedExpression) needs a code to be filed under"
        yield content_error(rules.SDC_SCORE_CODE, text, ref.path, ref.link_id)
