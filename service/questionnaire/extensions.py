"""The extension URLs scoring reads, and small helpers over Questionnaire JSON."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "CALCULATED",
    "CONSTRAINTS",
    "ENABLE_WHEN_EXPRESSION",
    "EXTRACT",
    "HIDDEN",
    "ITEM_WEIGHT",
    "MAX_DECIMAL_PLACES",
    "MAX_LENGTH",
    "MAX_OCCURS",
    "MAX_QUANTITY",
    "MAX_SIZE",
    "MAX_VALUE",
    "MIME_TYPE",
    "MIN_LENGTH",
    "MIN_OCCURS",
    "MIN_QUANTITY",
    "MIN_VALUE",
    "OPTION_EXCLUSIVE",
    "ORDINAL_VALUE",
    "REFERENCE_RESOURCE",
    "REGEX",
    "SCORE_BAND",
    "UNIT_OPTION",
    "UNIT_VALUE_SET",
    "VARIABLE",
    "extensions",
    "finite_number",
    "first_value",
]

ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"  # pre-STU4 name
HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
EXTRACT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MIN_LENGTH = "http://hl7.org/fhir/StructureDefinition/minLength"
MAX_LENGTH = "http://hl7.org/fhir/StructureDefinition/maxLength"  # maxLength is an element too
ENABLE_WHEN_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)
#: targetConstraint, and questionnaire-constraint, its name before the extensions pack.
CONSTRAINTS = (
    "http://hl7.org/fhir/StructureDefinition/targetConstraint",
    "http://hl7.org/fhir/StructureDefinition/questionnaire-constraint",
)
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
MIN_OCCURS = "http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs"
MAX_OCCURS = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
#: minQuantity / maxQuantity, and SDC's sdc-questionnaire- names for them.
MIN_QUANTITY = (
    "http://hl7.org/fhir/StructureDefinition/minQuantity",
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-minQuantity",
)
MAX_QUANTITY = (
    "http://hl7.org/fhir/StructureDefinition/maxQuantity",
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-maxQuantity",
)
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
UNIT_VALUE_SET = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitValueSet"
MIME_TYPE = "http://hl7.org/fhir/StructureDefinition/mimeType"
MAX_SIZE = "http://hl7.org/fhir/StructureDefinition/maxSize"
REFERENCE_RESOURCE = "http://hl7.org/fhir/StructureDefinition/questionnaire-referenceResource"
SCORE_BAND = "https://rapport-fhir.github.io/fhir/StructureDefinition/score-band"
#: On a boolean score item: true means the response is positive on a safety item (a Flag).
SAFETY_ALERT = "https://rapport-fhir.github.io/fhir/StructureDefinition/safety-alert"


def extensions(element: dict[str, Any], url: str) -> list[tuple[int, dict[str, Any]]]:
    """The (index, extension) pairs of `element` with this url; malformed entries skipped."""
    found = element.get("extension")
    if type(found) is not list:
        return []
    return [
        (index, ext)
        for index, ext in enumerate(found)
        if type(ext) is dict and ext.get("url") == url
    ]


def first_value(extension: dict[str, Any]) -> tuple[str, Any] | None:
    """The (`valueX` key, value) of an extension, or None if it has no value."""
    for key, value in extension.items():
        if key.startswith("value"):
            return key, value
    return None


def finite_number(value: Any) -> float | None:
    """`value` if it is a finite JSON number (not a boolean), else None."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    return None
