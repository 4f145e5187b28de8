"""Limits on quantity, attachment and reference answers: compiled once per item, checked
per answer.

| extension | item type | value[x] | an answer must |
|---|---|---|---|
| minQuantity, maxQuantity (1) | quantity | Quantity | be within it (same units only) |
| questionnaire-unitOption (0..*) | quantity | Coding | have the system and code of one |
| mimeType (0..*) | attachment | code | have one as contentType (2) |
| maxSize | attachment | decimal | have at most that many bytes (3) |
| questionnaire-referenceResource (0..*) | reference | code | refer to one of the types |

(1) or SDC's sdc-questionnaire-minQuantity / -maxQuantity; (2) parameters and case aside,
`image/*` allows any image; (3) its `size`, else the length its `data` decodes to.

Bounds compare values only when the units are the same (system and code when both
quantities have a code, else the unit text), as there is no UCUM conversion here; other
answers are reported unchecked, as are references whose type cannot be told (`#id`,
`urn:`, no `type`). A misplaced or malformed extension is a content error (`q-invalid`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from service.fhir.outcome import Issue, IssueSeverity, IssueType, error

from ._content import (
    MAX_QUANTITY,
    MAX_SIZE,
    MIME_TYPE,
    MIN_QUANTITY,
    REFERENCE_RESOURCE,
    UNIT_OPTION,
    finite_number,
)
from ._datatypes import RESOURCE_TYPES

__all__ = ["Bound", "ComplexLimits", "check_complex", "complex_limits"]

_CORE = "http://hl7.org/fhir/StructureDefinition/"  # Reference.type is relative to it (R4)


class Bound(NamedTuple):
    """A minQuantity or maxQuantity: its value and units."""

    value: float
    system: str | None
    code: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class ComplexLimits:
    """An item's limits on Quantity, Attachment and Reference answers (empty: no limit)."""

    min_quantity: Bound | None = None
    max_quantity: Bound | None = None
    units: frozenset[tuple[str | None, str]] = field(default_factory=frozenset)
    mime_types: frozenset[str] = field(default_factory=frozenset)
    max_size: float | None = None
    reference_types: frozenset[str] = field(default_factory=frozenset)


def _quantity(value: Any) -> Bound | None:
    if type(value) is not dict or finite_number(value.get("value")) is None:
        return None
    system, code, unit = (value.get(k) for k in ("system", "code", "unit"))
    if not all(part is None or type(part) is str for part in (system, code, unit)):
        return None
    return Bound(value["value"], system, code, unit)


def _coding(value: Any) -> tuple[str | None, str] | None:
    if type(value) is not dict or type(value.get("code")) is not str or not value["code"]:
        return None
    system = value.get("system")
    return (system, value["code"]) if system is None or type(system) is str else None


def _mime_type(value: Any) -> str | None:
    return value.lower() if type(value) is str and "/" in value else None


def _size(value: Any) -> float | None:
    size = finite_number(value)
    return size if size is not None and size >= 0 else None


def _resource_type(value: Any) -> str | None:
    return value if value in RESOURCE_TYPES else None


#: Each extension: the item type it goes on, its value[x], what that must be, how to read it.
_EXTENSIONS: dict[str, tuple[str, str, str, Callable[[Any], Any]]] = {
    **dict.fromkeys(MIN_QUANTITY, ("quantity", "valueQuantity", "with a value", _quantity)),
    **dict.fromkeys(MAX_QUANTITY, ("quantity", "valueQuantity", "with a value", _quantity)),
    UNIT_OPTION: ("quantity", "valueCoding", "with a code", _coding),
    MIME_TYPE: ("attachment", "valueCode", "that is a MIME type", _mime_type),
    MAX_SIZE: ("attachment", "valueDecimal", "of at least 0 (bytes)", _size),
    REFERENCE_RESOURCE: ("reference", "valueCode", "that is an R4 resource type", _resource_type),
}


def complex_limits(
    item: dict[str, Any], kind: str, path: str, issues: list[Issue]
) -> ComplexLimits | None:
    """The item's ComplexLimits; None, at the cost of one pass over its extensions, when it
    has none. Misplaced or malformed extensions are appended to `issues`.
    """
    raw = item.get("extension")
    if type(raw) is not list:
        return None
    found: dict[str, list[Any]] = {}
    for index, ext in enumerate(raw):
        url = ext.get("url") if type(ext) is dict else None
        if type(url) is not str or url not in _EXTENSIONS:
            continue
        applies, key, wanted, read = _EXTENSIONS[url]
        name = url.rsplit("/", 1)[1].removeprefix("sdc-questionnaire-")
        if kind != applies:
            text = f"{name} goes on {applies} items, not {kind}"
        else:
            value = read(ext.get(key))
            if value is not None:
                found.setdefault(name, []).append(value)  # the first of a 0..1 one counts
                continue
            text = f"{name} needs a {key} {wanted}"
        issues.append(
            error(IssueType.INVALID, text, f"{path}.extension[{index}]", rule="q-invalid")
        )
    if not found:
        return None
    low, high = found.get("minQuantity", [None])[0], found.get("maxQuantity", [None])[0]
    if low is not None and high is not None and _same_units(low, high) and low.value > high.value:
        text = f"item '{item['linkId']}' has minQuantity above maxQuantity"
        issues.append(error(IssueType.INVALID, text, path, rule="q-invalid"))
    return ComplexLimits(
        min_quantity=low,
        max_quantity=high,
        units=frozenset(found.get("questionnaire-unitOption", ())),
        mime_types=frozenset(found.get("mimeType", ())),
        max_size=found.get("maxSize", [None])[0],
        reference_types=frozenset(found.get("questionnaire-referenceResource", ())),
    )


def _same_units(bound: Bound, other: Bound) -> bool:
    """Whether two quantities are in the same units: by system and code when both have a
    code, else by unit text; False when that cannot be told.
    """
    if bound.code is not None and other.code is not None:
        return (bound.system, bound.code) == (other.system, other.code)
    return bound.unit is not None and bound.unit == other.unit


def check_complex(
    issues: list[Issue],
    limits: ComplexLimits,
    value_type: str,
    value: dict[str, Any],
    where: str,
    *,
    link: str,
) -> bool:
    """Check a well-formed Quantity, Attachment or Reference answer against the item's
    limits; False if it breaks one (a limit that cannot be checked is only a warning).
    """
    report = _Report(issues, link, where)
    if value_type == "Quantity":
        return _check_quantity(report, limits, value)
    if value_type == "Attachment":
        return _check_attachment(report, limits, value)
    return not limits.reference_types or _check_reference(report, limits.reference_types, value)


class _Report:
    """Where the issues about one answer go."""

    __slots__ = ("issues", "link", "where")

    def __init__(self, issues: list[Issue], link: str, where: str) -> None:
        self.issues, self.link, self.where = issues, link, where

    def error(self, code: IssueType, text: str, rule: str) -> bool:
        """Record an error; False, for `return report.error(...)`."""
        self.issues.append(Issue(IssueSeverity.ERROR, code, text, self.where, self.link, rule))
        return False

    def unchecked(self, text: str, rule: str) -> None:
        """Record a warning that a limit could not be checked."""
        self.issues.append(
            Issue(IssueSeverity.WARNING, IssueType.NOT_SUPPORTED, text, self.where, self.link, rule)
        )


def _check_quantity(report: _Report, limits: ComplexLimits, value: dict[str, Any]) -> bool:
    system, code = value.get("system"), value.get("code")
    if limits.units and (system, code) not in limits.units:
        allowed = ", ".join(sorted(f"{s or ''}|{c}" for s, c in limits.units))
        text = f"unit {system or ''}|{code or ''} is not a unitOption of item '{report.link}'"
        return report.error(IssueType.CODE_INVALID, f"{text} ({allowed})", "qr-answer-unit")
    number = value.get("value")
    if number is None:
        return True  # a Quantity may have no value: nothing to compare
    answer = Bound(number, system, code, value.get("unit"))
    return _within(report, answer, limits.min_quantity, -1) and _within(
        report, answer, limits.max_quantity, 1
    )


def _within(report: _Report, answer: Bound, bound: Bound | None, side: int) -> bool:
    """The answer is not beyond the bound on `side` (-1: a minimum, 1: a maximum)."""
    if bound is None:
        return True
    name = "minQuantity" if side < 0 else "maxQuantity"
    if not _same_units(bound, answer):
        text = f"{_show(answer)} is not compared with the {name} {_show(bound)}: other units"
        report.unchecked(text, "qr-answer-quantity-unchecked")
        return True
    if (answer.value > bound.value) - (answer.value < bound.value) != side:
        return True
    beyond, rule = (
        ("below", "qr-answer-min-quantity") if side < 0 else ("above", "qr-answer-max-quantity")
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
            return report.error(IssueType.REQUIRED, text, "qr-answer-mime-type")
        base = content_type.split(";", 1)[0].strip().lower()  # parameters (charset) aside
        if base not in limits.mime_types and base.split("/")[0] + "/*" not in limits.mime_types:
            text = f"contentType {content_type!r} is not a mimeType of item '{link}' ({allowed})"
            return report.error(IssueType.CODE_INVALID, text, "qr-answer-mime-type")
    most = limits.max_size
    if most is None:
        return True
    size = value.get("size")
    if type(size) is not int:
        data = value.get("data")
        size = _decoded_length(data) if type(data) is str else None
    if size is not None and size > most:
        text = f"{size} bytes is more than the maxSize {most:g} of item '{link}'"
        return report.error(IssueType.TOO_LONG, text, "qr-answer-max-size")
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
        report.unchecked(text, "qr-answer-reference-unchecked")
        return True
    if kind not in allowed:
        text = f"a reference to a {kind}; item '{report.link}' takes {names}"
        return report.error(IssueType.VALUE, text, "qr-answer-reference-type")
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
