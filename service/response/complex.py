"""Checking quantity, attachment and reference answers against their item's limits (read
by service.questionnaire.complex_limits, which documents them).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.questionnaire.complex_limits import Bound, ComplexLimits, same_units
from service.rules import Rule

__all__ = ["check_complex"]

_CORE = "http://hl7.org/fhir/StructureDefinition/"  # Reference.type is relative to it (R4)

#: The codes of a ValueSet by canonical URL, or None when it cannot be resolved.
ValueSets = Callable[[str], frozenset[Hashable] | None]


def check_complex(
    issues: list[Issue],
    limits: ComplexLimits,
    value_type: str,
    value: dict[str, Any],
    where: str,
    *,
    link: str,
    value_sets: ValueSets,
) -> bool:
    """Check a well-formed Quantity, Attachment or Reference answer against the item's
    limits; False if it breaks one (a limit that cannot be checked is only a warning, a
    unit value set that cannot be resolved an information issue).
    """
    report = _Report(issues, link, where)
    if value_type == "Quantity":
        if limits.unit_value_set is not None and not _check_unit(report, limits, value, value_sets):
            return False
        return _check_quantity(report, limits, value)
    if value_type == "Attachment":
        return _check_attachment(report, limits, value)
    return not limits.reference_types or _check_reference(report, limits.reference_types, value)


class _Report:
    """Where the issues about one answer go."""

    __slots__ = ("issues", "link", "where")

    def __init__(self, issues: list[Issue], link: str, where: str) -> None:
        self.issues, self.link, self.where = issues, link, where

    def error(self, code: IssueType, text: str, rule: Rule) -> bool:
        """Record an error; False, for `return report.error(...)`."""
        self.issues.append(Issue(IssueSeverity.ERROR, code, text, self.where, self.link, rule))
        return False

    def unchecked(self, text: str, rule: Rule) -> None:
        """Record a warning that a limit could not be checked."""
        self.issues.append(
            Issue(IssueSeverity.WARNING, IssueType.NOT_SUPPORTED, text, self.where, self.link, rule)
        )


def _check_quantity(report: _Report, limits: ComplexLimits, value: dict[str, Any]) -> bool:
    system, code = value.get("system"), value.get("code")
    if limits.units and (system, code) not in limits.units:
        allowed = ", ".join(sorted(f"{s or ''}|{c}" for s, c in limits.units))
        text = f"unit {system or ''}|{code or ''} is not a unitOption of item '{report.link}'"
        return report.error(IssueType.CODE_INVALID, f"{text} ({allowed})", rules.QR_ANSWER_UNIT)
    number = value.get("value")
    if number is None:
        return True  # a Quantity may have no value: nothing to compare
    answer = Bound(number, system, code, value.get("unit"))
    return _within(report, answer, limits.min_quantity, -1) and _within(
        report, answer, limits.max_quantity, 1
    )


def _check_unit(
    report: _Report, limits: ComplexLimits, value: dict[str, Any], value_sets: ValueSets
) -> bool:
    """questionnaire-unitValueSet: the quantity's system and code are in the value set."""
    url = limits.unit_value_set or ""
    codes = value_sets(url)
    if codes is None:
        text = f"unitValueSet {url[:200]!r} is not known here; the unit was not checked"
        report.issues.append(
            Issue(
                IssueSeverity.INFORMATION,
                IssueType.INFORMATIONAL,
                text,
                report.where,
                report.link,
                rules.QR_ANSWER_UNIT_UNCHECKED,
            )
        )
        return True
    system, code = value.get("system"), value.get("code")
    if ("Coding", system, code) not in codes:  # `answer_key` of a Coding, inline
        text = f"unit {system or ''}|{code or ''} is not in the unitValueSet {url[:200]}"
        return report.error(IssueType.CODE_INVALID, text, rules.QR_ANSWER_UNIT_NOT_IN_VALUESET)
    return True


def _within(report: _Report, answer: Bound, bound: Bound | None, side: int) -> bool:
    """The answer is not beyond the bound on `side` (-1: a minimum, 1: a maximum)."""
    if bound is None:
        return True
    name = "minQuantity" if side < 0 else "maxQuantity"
    if not same_units(bound, answer):
        text = f"{_show(answer)} is not compared with the {name} {_show(bound)}: other units"
        report.unchecked(text, rules.QR_ANSWER_QUANTITY_UNCHECKED)
        return True
    if (answer.value > bound.value) - (answer.value < bound.value) != side:
        return True
    beyond, rule = (
        ("below", rules.QR_ANSWER_MIN_QUANTITY)
        if side < 0
        else ("above", rules.QR_ANSWER_MAX_QUANTITY)
    )
    text = f"{_show(answer)} is {beyond} the {name} {_show(bound)} of item '{report.link}'"
    return report.error(IssueType.VALUE, text, rule)


def _show(quantity: Bound) -> str:
    units = quantity.unit or quantity.code
    return f"{quantity.value} {units}" if units else str(quantity.value)


def _check_attachment(report: _Report, limits: ComplexLimits, value: dict[str, Any]) -> bool:
    link = report.link
    if limits.mime_types:
        content_type = value.get("contentType")
        allowed = ", ".join(sorted(limits.mime_types))
        if type(content_type) is not str:
            text = f"an attachment to item '{link}' needs a contentType ({allowed})"
            return report.error(IssueType.REQUIRED, text, rules.QR_ANSWER_MIME_TYPE)
        base = content_type.split(";", 1)[0].strip().lower()  # parameters (charset) aside
        if base not in limits.mime_types and base.split("/")[0] + "/*" not in limits.mime_types:
            text = f"contentType {content_type!r} is not a mimeType of item '{link}' ({allowed})"
            return report.error(IssueType.CODE_INVALID, text, rules.QR_ANSWER_MIME_TYPE)
    most = limits.max_size
    if most is None:
        return True
    size = value.get("size")
    if type(size) is not int:
        data = value.get("data")
        size = _decoded_length(data) if type(data) is str else None
    if size is not None and size > most:
        text = f"{size} bytes is more than the maxSize {most:g} of item '{link}'"
        return report.error(IssueType.TOO_LONG, text, rules.QR_ANSWER_MAX_SIZE)
    return True


def _decoded_length(data: str) -> int:
    """The bytes a base64 string decodes to (its format is checked before), not decoding it."""
    compact = "".join(data.split())
    return len(compact) // 4 * 3 - compact[-2:].count("=")


def _check_reference(report: _Report, allowed: frozenset[str], value: dict[str, Any]) -> bool:
    kind = _referenced_type(value)
    names = ", ".join(sorted(allowed))
    if kind is None:
        text = f"the type of the reference cannot be told, so not checked against {names}"
        report.unchecked(text, rules.QR_ANSWER_REFERENCE_UNCHECKED)
        return True
    if kind not in allowed:
        text = f"a reference to a {kind}; item '{report.link}' takes {names}"
        return report.error(IssueType.VALUE, text, rules.QR_ANSWER_REFERENCE_TYPE)
    return True


def _referenced_type(value: dict[str, Any]) -> str | None:
    """The resource type a Reference names: its `type`, else that of a relative or absolute
    `reference` URL ([base/]Type/id[/_history/version]); None for `#id`, `urn:` and the like.
    """
    declared = value.get("type")
    if type(declared) is str:
        return declared.removeprefix(_CORE)
    reference = value.get("reference")
    if type(reference) is not str or reference.startswith(("#", "urn:")):
        return None
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        del parts[-2:]
    return parts[-2] if len(parts) >= 2 and parts[-2] else None
