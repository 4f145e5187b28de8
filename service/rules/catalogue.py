"""Rules of the catalogue on the resources it holds (que-* and csd-1 are R4's invariants),
and the one search warning.

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QUE_1 = Rule(
    "que-1",
    "error",
    "invariant",
    "Group without items, or display with items",
    definition=(
        "Group items must have nested items, display items cannot have nested items (FHIR R4 "
        "invariant que-1)."
    ),
)

QUE_2 = Rule(
    "que-2",
    "error",
    "invariant",
    "linkId not unique",
    definition=(
        "The link ids for groups and questions must be unique within the questionnaire (FHIR R4 "
        "invariant que-2)."
    ),
)

QUE_3 = Rule(
    "que-3",
    "error",
    "invariant",
    "Code on a display item",
    definition='Display items cannot have a "code" asserted (FHIR R4 invariant que-3).',
)

QUE_4 = Rule(
    "que-4",
    "error",
    "invariant",
    "Both answerOption and answerValueSet",
    definition=(
        "A question cannot have both answerOption and answerValueSet (FHIR R4 invariant que-4)."
    ),
)

QUE_5 = Rule(
    "que-5",
    "error",
    "invariant",
    "Answer list on an unsuitable item",
    definition=(
        "Only items whose answers can be listed (choice, open-choice, decimal, integer, date, "
        "dateTime, time, string, quantity) can have answerValueSet or answerOption (FHIR R4 "
        "invariant que-5, as its expression states)."
    ),
)

QUE_6 = Rule(
    "que-6",
    "error",
    "invariant",
    "required or repeats on a display item",
    definition="Required and repeat aren't permitted for display items (FHIR R4 invariant que-6).",
)

QUE_7 = Rule(
    "que-7",
    "error",
    "invariant",
    "exists with a non-boolean answer",
    definition=(
        "If the enableWhen operator is 'exists', the value must be a boolean (FHIR R4 invariant "
        "que-7)."
    ),
)

QUE_8 = Rule(
    "que-8",
    "error",
    "invariant",
    "initial on a group or display item",
    definition=(
        "Initial values can't be specified for groups or display items (FHIR R4 invariant que-8)."
    ),
)

QUE_9 = Rule(
    "que-9",
    "error",
    "invariant",
    "readOnly on a display item",
    definition='Read-only can\'t be specified for "display" items (FHIR R4 invariant que-9).',
)

QUE_10 = Rule(
    "que-10",
    "error",
    "invariant",
    "maxLength on an unsuitable item",
    definition=(
        "Maximum length can only be declared for simple question types: boolean, decimal, integer, "
        "string, text, url, open-choice (FHIR R4 invariant que-10)."
    ),
)

QUE_11 = Rule(
    "que-11",
    "error",
    "invariant",
    "initial with answerOption",
    definition=(
        "If one or more answerOption is present, initial[x] must be missing (FHIR R4 invariant "
        "que-11)."
    ),
)

QUE_12 = Rule(
    "que-12",
    "error",
    "invariant",
    "enableBehavior missing",
    definition=(
        "If there are more than one enableWhen, enableBehavior must be specified (FHIR R4 invariant"
        " que-12, enforced as its text says)."
    ),
)

QUE_13 = Rule(
    "que-13",
    "error",
    "invariant",
    "Several initial values on a non-repeating item",
    definition=(
        "Can only have multiple initial values for repeating items (FHIR R4 invariant que-13)."
    ),
)

RESOURCE_TYPE = Rule(
    "resource-type",
    "error",
    "invalid",
    "Not a catalogue resource",
    definition="A catalogue file or site write must be a Questionnaire or a CodeSystem.",
)

JSON = Rule(
    "json",
    "error",
    "invalid",
    "Not FHIR JSON",
    definition=(
        "The content is not JSON, or holds a null, an empty object or an empty array, none of which"
        " FHIR JSON allows."
    ),
)

ID = Rule(
    "id",
    "error",
    "invalid",
    "Bad id",
    definition=(
        "The resource needs an id of 1 to 64 letters, digits, '-' and '.' (the FHIR id pattern),"
        " other than '.' and '..', which are URL dot-segments no client can address."
    ),
)

R4 = Rule(
    "r4",
    "error",
    "invalid",
    "Not valid FHIR R4",
    definition=(
        "The resource breaks the FHIR R4 model: an unknown element, a value of the wrong type, or a"
        " required element missing."
    ),
)

BINDING = Rule(
    "binding",
    "error",
    "invalid",
    "Code outside its required value set",
    definition=(
        "status, item.type, enableWhen.operator, enableBehavior and CodeSystem.content must use a "
        "code from the value set FHIR R4 requires for them."
    ),
)

ENABLEWHEN_QUESTION = Rule(
    "enableWhen-question",
    "error",
    "invalid",
    "enableWhen names no question",
    definition=(
        "enableWhen.question must be the linkId of an item of the Questionnaire that takes answers "
        "(not a group or display item)."
    ),
)

ENABLEWHEN_ANSWER = Rule(
    "enableWhen-answer",
    "error",
    "invalid",
    "enableWhen answer cannot match",
    definition=(
        "enableWhen.answer[x] must be of a kind the question's answers can have, and a Coding must "
        "be one of the question's answerOptions."
    ),
)

ENABLEWHEN_OPERATOR = Rule(
    "enableWhen-operator",
    "error",
    "invalid",
    "Ordering needs an ordered answer",
    definition=(
        "The enableWhen operators >, <, >= and <= need an answer that can be ordered: a decimal, "
        "integer, date, dateTime, time or Quantity."
    ),
)

SDC_EXPRESSION = Rule(
    "sdc-expression",
    "error",
    "invalid",
    "Unusable SDC expression",
    definition=(
        "An SDC expression extension needs a valueExpression in text/fhirpath (or x-fhir-query "
        "where the form filler runs it) that has an expression."
    ),
)

SDC_VARIABLE = Rule(
    "sdc-variable",
    "error",
    "invalid",
    "Variable without a name",
    definition="A variable extension's valueExpression needs a name.",
)

FHIRPATH = Rule(
    "fhirpath",
    "error",
    "invalid",
    "FHIRPath does not parse",
    definition="An expression is not valid FHIRPath.",
)

FHIRPATH_TRACE = Rule(
    "fhirpath-trace",
    "warning",
    "informational",
    "FHIRPath trace() is ignored",
    definition=(
        "A warning of the content checker: an expression calls trace(), which here returns its "
        "input and writes nothing (elsewhere it would log the response, patient data)."
    ),
)

SDC_LINKID = Rule(
    "sdc-linkid",
    "error",
    "invalid",
    "Expression names an unknown linkId",
    definition=(
        "A calculatedExpression, variable, enableWhenExpression or initialExpression refers to a "
        "linkId that no item has."
    ),
)

SDC_WEIGHT = Rule(
    "sdc-weight",
    "error",
    "invalid",
    "Scored option without a weight",
    definition=(
        "Every answerOption of a choice item that a score uses needs an itemWeight (or the older "
        "ordinalValue)."
    ),
)

SDC_SCORE_CODE = Rule(
    "sdc-score-code",
    "error",
    "invalid",
    "Score without a code",
    definition="An item with a calculatedExpression needs a code to be filed under.",
)

COMPILE = Rule(
    "compile",
    "error",
    "invalid",
    "Questionnaire cannot be compiled",
    definition=(
        "The Questionnaire could not be compiled for validation and scoring; the text says why."
    ),
)

CSD_1 = Rule(
    "csd-1",
    "error",
    "invalid",
    "CodeSystem code not unique",
    definition=(
        "Within a code system definition, all the codes SHALL be unique, nested concepts included "
        "(FHIR R4 invariant csd-1)."
    ),
)

CODESYSTEM_COUNT = Rule(
    "codesystem-count",
    "error",
    "invalid",
    "CodeSystem count wrong",
    definition="A complete CodeSystem's count must be the number of concepts it defines.",
)

CODING_UNKNOWN = Rule(
    "coding-unknown",
    "error",
    "invalid",
    "Code not in the CodeSystem",
    definition=(
        "A Coding in one of the catalogue's complete CodeSystems must name a code that CodeSystem "
        "defines."
    ),
)

CODING_DISPLAY = Rule(
    "coding-display",
    "error",
    "invalid",
    "Display differs from the CodeSystem",
    definition=(
        "A Coding in one of the catalogue's complete CodeSystems must carry the display that "
        "CodeSystem gives the code, when it has a display."
    ),
)

DUPLICATE_ID = Rule(
    "duplicate-id",
    "error",
    "invalid",
    "id used twice",
    definition="Two catalogue files define resources of the same type with the same id.",
)

DUPLICATE_CANONICAL = Rule(
    "duplicate-canonical",
    "error",
    "invalid",
    "url and version used twice",
    definition="No two resources of the catalogue may share one canonical url and version.",
)

PATH = Rule(
    "path",
    "error",
    "invalid",
    "File or folder not found",
    definition=(
        "A file or folder given to lint or in RAPPORT_QUESTIONNAIRE_DIRS does not exist or cannot "
        "be read."
    ),
)

VECTORS = Rule(
    "vectors",
    "error",
    "invalid",
    "Test vector fails",
    definition=(
        "A Questionnaire's test vectors file (*.vectors.json) cannot be read or names another "
        "Questionnaire, or a vector's expected scores or bands differ from what the service "
        "computes (python -m service lint)."
    ),
)

SEARCH_PARAM_IGNORED = Rule(
    "search-param-ignored",
    "warning",
    "not-supported",
    "Search parameter ignored",
    definition=(
        "A search parameter this server does not support was ignored; the warning comes in the "
        "searchset's outcome entry. With Prefer: handling=strict it is refused with a 400 instead."
    ),
)
