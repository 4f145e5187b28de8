"""Limits on quantity, attachment and reference answers, read once per item (checked per
answer by service.response.complex).

| extension | item type | value[x] | an answer must |
|---|---|---|---|
| minQuantity, maxQuantity (1) | quantity | Quantity | be within it (same units only) |
| questionnaire-unitOption (0..*) | quantity | Coding | have the system and code of one |
| questionnaire-unitValueSet | quantity | canonical | have a unit in it (4) |
| mimeType (0..*) | attachment | code | have one as contentType (2) |
| maxSize | attachment | decimal | have at most that many bytes (3) |
| questionnaire-referenceResource (0..*) | reference | code | refer to one of the types |

(1) or SDC's sdc-questionnaire-minQuantity / -maxQuantity; (2) parameters and case aside,
`image/*` allows any image; (3) its `size`, else the length its `data` decodes to; (4)
when the value set is contained or shipped (`terminology`), else an information issue that
the unit was not checked, as for an answerValueSet.

Bounds compare values only when the units are the same (system and code when both
quantities have a code, else the unit text), as there is no UCUM conversion here; other
answers are reported unchecked, as are references whose type cannot be told (`#id`,
`urn:`, no `type`). A misplaced or malformed extension is a content error (`q-invalid`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from service import rules
from service.fhir.outcome import Issue, IssueType, error
from service.fhir.r4 import RESOURCE_TYPES

from .extensions import (
    MAX_QUANTITY,
    MAX_SIZE,
    MIME_TYPE,
    MIN_QUANTITY,
    REFERENCE_RESOURCE,
    UNIT_OPTION,
    UNIT_VALUE_SET,
    finite_number,
)

__all__ = ["Bound", "ComplexLimits", "complex_limits", "same_units"]


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
    unit_value_set: str | None = None


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


def _canonical(value: Any) -> str | None:
    return value if type(value) is str and value and not any(c.isspace() for c in value) else None


#: Each extension: the item type it goes on, its value[x], what that must be, how to read it.
_EXTENSIONS: dict[str, tuple[str, str, str, Callable[[Any], Any]]] = {
    **dict.fromkeys(MIN_QUANTITY, ("quantity", "valueQuantity", "with a value", _quantity)),
    **dict.fromkeys(MAX_QUANTITY, ("quantity", "valueQuantity", "with a value", _quantity)),
    UNIT_OPTION: ("quantity", "valueCoding", "with a code", _coding),
    UNIT_VALUE_SET: ("quantity", "valueCanonical", "that is a canonical URL", _canonical),
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
            error(IssueType.INVALID, text, f"{path}.extension[{index}]", rule=rules.Q_INVALID)
        )
    if not found:
        return None
    low, high = found.get("minQuantity", [None])[0], found.get("maxQuantity", [None])[0]
    if low is not None and high is not None and same_units(low, high) and low.value > high.value:
        text = f"item '{item['linkId']}' has minQuantity above maxQuantity"
        issues.append(error(IssueType.INVALID, text, path, rule=rules.Q_INVALID))
    return ComplexLimits(
        min_quantity=low,
        max_quantity=high,
        units=frozenset(found.get("questionnaire-unitOption", ())),
        mime_types=frozenset(found.get("mimeType", ())),
        max_size=found.get("maxSize", [None])[0],
        reference_types=frozenset(found.get("questionnaire-referenceResource", ())),
        unit_value_set=found.get("questionnaire-unitValueSet", [None])[0],
    )


def same_units(bound: Bound, other: Bound) -> bool:
    """Whether two quantities are in the same units: by system and code when both have a
    code, else by unit text; False when that cannot be told.
    """
    if bound.code is not None and other.code is not None:
        return (bound.system, bound.code) == (other.system, other.code)
    return bound.unit is not None and bound.unit == other.unit
