"""Rules on quantity, attachment and reference answers: the limits of their items
(minQuantity, maxQuantity, unitOption, unitValueSet, mimeType, maxSize, referenceResource).

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QR_ANSWER_MIN_QUANTITY = Rule(
    "qr-answer-min-quantity",
    "error",
    "value",
    "Below minQuantity",
    definition=(
        "A quantity answer is less than the item's minQuantity (or SDC "
        "sdc-questionnaire-minQuantity). Compared only when both are in the same units: system and "
        "code when both have a code, else the unit text."
    ),
    checks=(
        "minQuantity / maxQuantity (core or SDC url), compared in the same units only (system+code,"
        " else unit)"
    ),
    tests=(
        "C[below minQuantity], C[above maxQuantity], C[above maxQuantity by unit text (SDC url)], "
        "C[above maxQuantity by unit text, the answer coded]; pass C[at minQuantity], C[at "
        "maxQuantity], C[quantity without a value]"
    ),
)

QR_ANSWER_MAX_QUANTITY = Rule(
    "qr-answer-max-quantity",
    "error",
    "value",
    "Above maxQuantity",
    definition=(
        "A quantity answer is more than the item's maxQuantity (or SDC "
        "sdc-questionnaire-maxQuantity). Compared only when both are in the same units: system and "
        "code when both have a code, else the unit text."
    ),
    checks=(
        "minQuantity / maxQuantity (core or SDC url), compared in the same units only (system+code,"
        " else unit)"
    ),
    tests=(
        "C[below minQuantity], C[above maxQuantity], C[above maxQuantity by unit text (SDC url)], "
        "C[above maxQuantity by unit text, the answer coded]; pass C[at minQuantity], C[at "
        "maxQuantity], C[quantity without a value]"
    ),
)

QR_ANSWER_QUANTITY_UNCHECKED = Rule(
    "qr-answer-quantity-unchecked",
    "warning",
    "not-supported",
    "Quantity not compared",
    definition=(
        "A quantity answer is in other units than the item's minQuantity or maxQuantity, or has "
        "none, so it was not compared with it: units are not converted. A warning."
    ),
    checks=(
        "a quantity in other units than minQuantity / maxQuantity (no conversion), or none: not "
        "compared"
    ),
    tests=(
        "C[quantity in other units: not compared], C[quantity of another unit text: not compared], "
        "C[quantity without units: not compared]"
    ),
)

QR_ANSWER_UNIT = Rule(
    "qr-answer-unit",
    "error",
    "code-invalid",
    "Unit not allowed",
    definition=(
        "A quantity answer's system and code must be those of one of the item's "
        "questionnaire-unitOption Codings."
    ),
    checks="a quantity's system+code is a questionnaire-unitOption's",
    tests=(
        "C[unit not a unitOption], C[unit of a unitOption's code in another system], C[unit without"
        " a code]; pass C[quantity in other units: not compared]"
    ),
)

QR_ANSWER_UNIT_NOT_IN_VALUESET = Rule(
    "qr-answer-unit-not-in-valueset",
    "error",
    "code-invalid",
    "Unit not in the unit value set",
    definition=(
        "A quantity answer's unit (system and code) is not in the item's "
        "questionnaire-unitValueSet, contained in the Questionnaire or one of the small HL7 value "
        "sets the service ships."
    ),
    checks=(
        "a quantity's system+code is in the questionnaire-unitValueSet (contained, or shipped: "
        "ucum-bodyweight, ucum-bodytemp)"
    ),
    tests=(
        "K[units/weight in metres], K[units/weight code of another system], K[units/weight unit "
        "text only], K[units/temperature in kelvin (contained value set)]; pass K[units/units in "
        "their value sets], K[units/pounds are body weight units]"
    ),
)

QR_ANSWER_UNIT_UNCHECKED = Rule(
    "qr-answer-unit-unchecked",
    "information",
    "informational",
    "Unit value set not checked",
    definition=(
        "The item's questionnaire-unitValueSet is neither contained nor shipped with the service, "
        "so the quantity's unit was not checked against it."
    ),
    checks="a unitValueSet neither contained nor shipped: unit not checked",
    tests="K[units/value set not known: not checked]",
)


QR_ANSWER_MIME_TYPE = Rule(
    "qr-answer-mime-type",
    "error",
    "code-invalid (required: no contentType)",
    "Attachment type not allowed",
    definition=(
        "An attachment answer must have a contentType that is one of the item's mimeType codes, "
        "parameters and case aside; a code `type/*` allows every subtype."
    ),
    checks=(
        "an attachment's contentType is a mimeType (parameters, case aside; `type/*` any subtype)"
    ),
    tests=(
        "C[contentType not a mimeType], C[attachment without a contentType], C[contentType not of a"
        " type/* mimeType]; pass C[contentType with parameters, in capitals]"
    ),
)

QR_ANSWER_MAX_SIZE = Rule(
    "qr-answer-max-size",
    "error",
    "too-long",
    "Attachment too large",
    definition=(
        "An attachment answer's size, or the decoded length of its data when it has no size, must "
        "not exceed the item's maxSize in bytes."
    ),
    checks="an attachment's size, else its decoded data, is at most maxSize bytes",
    tests=(
        "C[size above maxSize], C[data above maxSize], C[data above maxSize, no mimeType]; pass "
        "C[data of maxSize], C[size within maxSize is taken over data], C[attachment by url only]"
    ),
)

QR_ANSWER_REFERENCE_TYPE = Rule(
    "qr-answer-reference-type",
    "error",
    "value",
    "Reference to a type not allowed",
    definition=(
        "A reference answer's resource type, from Reference.type or else its relative or absolute "
        "URL, must be one of the item's questionnaire-referenceResource codes."
    ),
    checks=(
        "a reference's type (Reference.type, else its relative or absolute URL) is a "
        "questionnaire-referenceResource"
    ),
    tests=(
        "C[reference to another type], C[absolute reference to another type, a version], "
        "C[contained reference of another type given]; pass C[absolute reference to an allowed "
        "type, a version], C[reference type given as a core StructureDefinition]"
    ),
)

QR_ANSWER_REFERENCE_UNCHECKED = Rule(
    "qr-answer-reference-unchecked",
    "warning",
    "not-supported",
    "Reference type not checked",
    definition=(
        "The resource type of a reference answer cannot be told (a #contained or urn: reference "
        "without Reference.type, or an identifier only), so it was not checked against the item's "
        "questionnaire-referenceResource codes. A warning."
    ),
    checks=(
        "a reference whose type cannot be told (`#id` or `urn:` without type, identifier only): not"
        " checked"
    ),
    tests=(
        "C[contained reference of unknown type], C[urn reference of unknown type], C[identifier "
        "only]"
    ),
)
