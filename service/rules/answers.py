"""Rules on the answers of a QuestionnaireResponse: value types, options and limits.

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QR_ANSWER_ON_GROUP = Rule(
    "qr-answer-on-group",
    "error",
    "structure",
    "Answer on a group",
    definition="A group item takes no answers; its children go in item.",
    checks="no answers on groups and display items",
    tests="V[answer on group], V[answer on display]",
)

QR_ANSWER_ON_DISPLAY = Rule(
    "qr-answer-on-display",
    "error",
    "structure",
    "Answer on a display item",
    definition="A display item takes no answers.",
    checks="no answers on groups and display items",
    tests="V[answer on group], V[answer on display]",
)

QR_ANSWER_REPEATED = Rule(
    "qr-answer-repeated",
    "error",
    "structure",
    "More than one answer",
    definition="A question that does not repeat takes at most one answer.",
    checks="one answer to a non-repeating item",
    tests="V[answer repeated], `test_shipped_instrument[duplicate answer]`",
)

QR_ANSWER_VALUE_MISSING = Rule(
    "qr-answer-value-missing",
    "error",
    "required",
    "Answer without a value",
    definition="Each answer must carry exactly one value[x]; this one has none.",
    checks="exactly one value[x]",
    tests="V[answer without value], V[answer with two values]",
)

QR_ANSWER_VALUE_MULTIPLE = Rule(
    "qr-answer-value-multiple",
    "error",
    "structure",
    "Answer with several values",
    definition="Each answer must carry exactly one value[x]; this one has more than one.",
    checks="exactly one value[x]",
    tests="V[answer without value], V[answer with two values]",
)

QR_ANSWER_TYPE = Rule(
    "qr-answer-type",
    "error",
    "value",
    "Wrong kind of answer",
    definition=(
        "The answer's value[x] must fit the item's type, for example valueInteger for an integer "
        "item or valueCoding for a choice item."
    ),
    checks="value[x] fits the item type",
    tests=(
        "V[string for integer], V[string for a choice], `test_shipped_instrument[string for a "
        "choice]`"
    ),
)

QR_ANSWER_INVALID = Rule(
    "qr-answer-invalid",
    "error",
    "value (structure, code-invalid inside a complex value)",
    "Malformed value",
    definition=(
        "An answer's value[x] must be well formed: a 32-bit integer, a finite decimal, a valid "
        "date, dateTime or time, a non-empty string, a uri without whitespace (a urn:uuid: or "
        "urn:oid: in its format), a Coding with a code, and every element of a Coding, Quantity, "
        "Attachment or Reference of its R4 type."
    ),
    checks=(
        "well-formed value (int32, finite, dates, non-empty strings, a uri without whitespace "
        "whose `urn:uuid:` / `urn:oid:` is a lowercase UUID / an OID, Coding code), and every "
        "element of a Coding, Quantity, Attachment or Reference value of its R4 type"
    ),
    tests=(
        "V[int32 overflow], V[date invalid], V[coding without code], K[uri/whitespace], "
        "K[uri/urn:uuid in capitals], K[uri/urn:oid with a letter], D[Coding system a malformed "
        "urn:uuid], D[Coding display a number], "
        "D[Coding userSelected a string], D[Quantity comparator not of the binding], D[Reference "
        "reference empty], D[Attachment size a string], ..."
    ),
)

QR_ANSWER_NOT_IN_OPTIONS = Rule(
    "qr-answer-not-in-options",
    "error",
    "code-invalid",
    "Not one of the options",
    definition=(
        "An answer to an item with answerOptions must be one of them: a Coding with the same "
        "system and code, an integer, date, time or string equal to one, a Reference to the same "
        "reference; for every answer of a repeating item. An open-choice's free string is not "
        "checked."
    ),
    checks=(
        "a listed answerOption, for every option type (que-5: integer, date, time, string items "
        "and choice / open-choice with valueInteger, Date, Time, String, Coding (system+code), "
        "Reference) and every answer of a repeating item; an open-choice's free valueString is "
        "not checked"
    ),
    tests=(
        "V[coding not an option], `test_shipped_instrument[wrong code]`, K[options/integer not an "
        "option], K[options/date not an option], K[options/time not an option], K[options/string "
        "not an option], K[options/reference not an option], K[options/repeating: second answer "
        "not an option]; pass K[options/every answer an option], K[options/open-choice free "
        "string]"
    ),
)

QR_ANSWER_DISPLAY_MISMATCH = Rule(
    "qr-answer-display-mismatch",
    "warning",
    "value",
    "Option display differs",
    definition=(
        "A coded answer's display, when given, should be the display of the answerOption it names. "
        "A warning."
    ),
    checks="an option's display",
    tests="V[coding display differs]; pass V[coding display same]",
)

QR_ANSWER_NOT_IN_VALUESET = Rule(
    "qr-answer-not-in-valueset",
    "error",
    "code-invalid",
    "Not in the value set",
    definition=(
        "A coded answer must be in the item's answerValueSet when that value set is contained in "
        "the Questionnaire."
    ),
    checks="in the contained answerValueSet (the Questionnaire's, else beside a contained one)",
    tests=(
        "V[coding not in contained value set], "
        "`test_a_value_set_resolves_in_the_questionnaire_first_then_beside_it`; pass V[coding in a "
        "value set expansion], `tests/api/test_operations.py::test_a_contained_questionnaire_finds_"
        "its_value_set_beside_it`"
    ),
)

QR_ANSWER_VALUESET_UNCHECKED = Rule(
    "qr-answer-valueset-unchecked",
    "information",
    "informational",
    "Value set not checked",
    definition=(
        "The item's answerValueSet is not contained in the Questionnaire, so the answer was not "
        "checked against it. For information."
    ),
    checks="answerValueSet not contained: not checked",
    tests="V[external value set]",
)

QR_ANSWER_WEIGHT_IGNORED = Rule(
    "qr-answer-weight-ignored",
    "warning",
    "value",
    "Answer's own weight ignored",
    definition=(
        "The answer carries its own itemWeight; scores use the weight of the Questionnaire's "
        "answerOption instead. A warning."
    ),
    checks="the answer's own itemWeight is ignored",
    tests="V[coding carries its own weight]; pass V[coding carries the same weight]",
)

QR_ANSWER_MIN_VALUE = Rule(
    "qr-answer-min-value",
    "error",
    "value",
    "Below the minimum",
    definition="The answer is less than the item's minValue.",
    checks="minValue / maxValue (dates, dateTimes, times by precision)",
    tests=(
        "V[below minValue], V[above maxValue], V[date above maxValue], V[date of other precision "
        "above maxValue], `test_date_and_time_limits`; pass V[date of other precision, order "
        "unknown]"
    ),
)

QR_ANSWER_MAX_VALUE = Rule(
    "qr-answer-max-value",
    "error",
    "value",
    "Above the maximum",
    definition="The answer is greater than the item's maxValue.",
    checks="minValue / maxValue (dates, dateTimes, times by precision)",
    tests=(
        "V[below minValue], V[above maxValue], V[date above maxValue], V[date of other precision "
        "above maxValue], `test_date_and_time_limits`; pass V[date of other precision, order "
        "unknown]"
    ),
)

QR_ANSWER_TOO_LONG = Rule(
    "qr-answer-too-long",
    "error",
    "too-long",
    "Answer too long",
    definition="A text answer is longer than the item's maxLength.",
    checks="maxLength / minLength",
    tests="V[string too long], V[string too short]",
)

QR_ANSWER_TOO_SHORT = Rule(
    "qr-answer-too-short",
    "error",
    "value",
    "Answer too short",
    definition="A text answer is shorter than the item's minLength.",
    checks="maxLength / minLength",
    tests="V[string too long], V[string too short]",
)

QR_ANSWER_REGEX = Rule(
    "qr-answer-regex",
    "error",
    "value",
    "Does not match the pattern",
    definition="A text answer must match the item's regex extension in full.",
    checks="the `regex` extension, full match",
    tests="R[regex mismatch], R[regex partial match]; `test_regex_cost_bound`",
)

QR_ANSWER_REGEX_UNCHECKED = Rule(
    "qr-answer-regex-unchecked",
    "warning",
    "too-costly",
    "Pattern not checked",
    definition=(
        "The answer is too long to match against the item's regex in bounded time (length "
        "times RE2 program size over 2e7, or 1e8 for a response), so it was not checked."
    ),
    checks="an answer too long to match in bounded time (RE2 work over 2e7, 1e8 a response)",
    tests="`test_regex_cost_bound`",
)

QR_ANSWER_DECIMAL_PLACES = Rule(
    "qr-answer-decimal-places",
    "error",
    "value",
    "Too many decimal places",
    definition="A decimal answer has more decimal places than the item's maxDecimalPlaces allows.",
    checks="maxDecimalPlaces; not on a calculated item (scoring replaces it: score-differs)",
    tests="R[too many decimals]; pass R[integer-valued decimal], `test_a_client_score_beyond*`",
)

QR_ANSWER_LINE_BREAK = Rule(
    "qr-answer-line-break",
    "warning",
    "value",
    "String answer with a line break",
    definition=(
        "An answer to a `string` item contains a line break. R4's string datatype allows line "
        "breaks, but the item type `string` is for a short free-text entry and `text` for "
        "multi-paragraph answers, so this is a warning, not an error."
    ),
    checks=(
        "a `string` item's answer has no line break (`text` is for multi-line answers; R4's "
        "string datatype allows them, hence a warning: see conformance.md)"
    ),
    tests=(
        "K[strings/line break in a string], K[strings/carriage return in a string]; pass "
        "K[strings/one line and many]"
    ),
)
