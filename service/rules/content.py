"""Rules on scores ($score, $validate) and on Questionnaire content as it is compiled (q-*).

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


SCORE_WITHHELD = Rule(
    "score-withheld",
    "warning",
    "business-rule",
    "Score withheld",
    definition=(
        "A score's expression gave no value, usually because items it needs are unanswered (they "
        "are named), so the score is left out. A warning."
    ),
)

SCORE_DIFFERS = Rule(
    "score-differs",
    "warning",
    "value",
    "Score differs",
    definition=(
        "The response carried a value for a score that differs from the one the service computes; "
        "the service's value replaces it. A warning."
    ),
)

SCORE_SAFETY = Rule(
    "score-safety",
    "warning",
    "business-rule",
    "Safety item positive",
    definition=(
        "A safety-alert score is true: the response answers a safety item positively (for "
        "example PHQ-9 item 9 at 1 or more), a matter for clinician review; $extract files a "
        "Flag. A warning; sites can switch it off (RAPPORT_SAFETY_FLAGS=off)."
    ),
)

SCORE_BASELINE = Rule(
    "score-baseline",
    "error",
    "business-rule",
    "Baseline not comparable",
    definition=(
        "A baseline sent with $score or $extract answers another Questionnaire, is about another "
        "subject, lacks authored or a subject with a reference or identifier (as does the "
        "response), or is authored after the response. An error (422); nothing is scored."
    ),
)

SCORE_TOO_COSTLY = Rule(
    "score-too-costly",
    "error",
    "too-costly",
    "Scoring too costly",
    definition=(
        "Evaluating a score went beyond the evaluation budget the server allows, so nothing is "
        "scored (422)."
    ),
)

SCORE_FAILED = Rule(
    "score-failed",
    "error",
    "processing",
    "Scoring failed",
    definition=(
        "A score's expression failed, or gave a value of the wrong type or one FHIR cannot carry, "
        "so nothing is scored (422)."
    ),
)

Q_NOT_QUESTIONNAIRE = Rule(
    "q-not-questionnaire",
    "error",
    "invalid",
    "Not a Questionnaire",
    definition=(
        "The content given as the Questionnaire is not a JSON object with resourceType "
        "Questionnaire."
    ),
)

Q_INVALID = Rule(
    "q-invalid",
    "error",
    "invalid",
    "Malformed Questionnaire content",
    definition=(
        "An item, its type, an answerOption, an itemWeight, a display item (que-6), a minOccurs or "
        "maxOccurs, or a maxDecimalPlaces is malformed; or a minQuantity, maxQuantity, unitOption, "
        "mimeType, maxSize or referenceResource extension has the wrong value[x] or value, or is on"
        " an item of a type it does not apply to."
    ),
)

Q_LINKID = Rule(
    "q-linkid",
    "error",
    "invalid",
    "linkId missing or repeated",
    definition="Every item needs a linkId, and no two items may share one (que-2).",
)

Q_ENABLEWHEN_INVALID = Rule(
    "q-enablewhen-invalid",
    "error",
    "invalid",
    "Unusable enableWhen",
    definition=(
        "An enableWhen is malformed or names an unknown question, or an item has both enableWhen "
        "and enableWhenExpression, which SDC forbids."
    ),
)

Q_CONSTRAINT = Rule(
    "q-constraint",
    "error",
    "invalid",
    "Malformed constraint",
    definition=(
        "A targetConstraint (or questionnaire-constraint) needs a key, a severity of error or "
        "warning, a human text and an expression."
    ),
)

Q_REGEX = Rule(
    "q-regex",
    "error",
    "invalid, not-supported",
    "Unusable regex",
    definition=(
        "A regex extension is invalid or longer than 1,000 characters (invalid), or uses what "
        "RE2 cannot run in linear time: backreferences, lookaround, atomic groups, possessive "
        "quantifiers, XML Schema class subtraction (not-supported)."
    ),
)

Q_EXPRESSION = Rule(
    "q-expression",
    "error",
    "invalid, not-supported",
    "Unusable expression",
    definition=(
        "An expression extension has no valueExpression, or its expression is not valid FHIRPath "
        "(invalid), or a matches()/replaceMatches() pattern in it is one RE2 cannot run "
        "(not-supported)."
    ),
)

Q_EXPRESSION_LANGUAGE = Rule(
    "q-expression-language",
    "error",
    "not-supported",
    "Unsupported expression language",
    definition="An expression evaluated by the server must be in text/fhirpath.",
)

Q_VARIABLE = Rule(
    "q-variable",
    "error",
    "invalid",
    "Bad variable",
    definition="A variable has no name, or the same name is declared twice in one scope.",
)

Q_VARIABLE_UNDEFINED = Rule(
    "q-variable-undefined",
    "error",
    "invalid",
    "Undefined variable",
    definition=(
        "An expression uses a %variable that is not in scope where the expression stands (SDC "
        "variable); %qitem is in scope on items only."
    ),
)

Q_CALCULATED_TYPE = Rule(
    "q-calculated-type",
    "error",
    "not-supported",
    "Calculated item of an unsupported type",
    definition="A calculatedExpression may only stand on a decimal, integer or boolean item.",
)

Q_EXTRACT_NEEDS_CODE = Rule(
    "q-extract-needs-code",
    "error",
    "invalid",
    "Extracted score without a code",
    definition="An item marked observationExtract needs a code to file the Observation under.",
)

Q_SCORE_BAND = Rule(
    "q-score-band",
    "error",
    "invalid",
    "Malformed score band",
    definition=(
        "A score-band extension needs an interpretation Coding with a code, and numeric low and "
        "high bounds where given, low not above high; boolean scores take no bands."
    ),
)

Q_SAFETY_ALERT = Rule(
    "q-safety-alert",
    "error",
    "invalid",
    "Malformed safety alert",
    definition=(
        "A safety-alert extension needs a valueBoolean and sits on a boolean score item (whose "
        "true value is the positive answer)."
    ),
)

Q_CHANGE_RULE = Rule(
    "q-change-rule",
    "error",
    "invalid",
    "Malformed change rule",
    definition=(
        "A change-rule extension needs a code Coding, measure value or reduction, comparator <, "
        "<=, >= or >, and a numeric threshold, on a numeric score item."
    ),
)

Q_TOO_LARGE = Rule(
    "q-too-large",
    "error",
    "too-costly",
    "Questionnaire too large",
    definition=(
        "The Questionnaire has more items, deeper nesting or more expressions than the server's "
        "limits allow."
    ),
)
