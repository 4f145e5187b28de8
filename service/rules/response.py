"""Rules on a QuestionnaireResponse as a whole: its R4 structure, datatypes and items.

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QR_NOT_OBJECT = Rule(
    "qr-not-object",
    "error",
    "structure",
    "Not a JSON object",
    definition=(
        "The QuestionnaireResponse, each of its items and answers, each complex element (meta, "
        "subject, a Coding, an extension, ...) and each primitive's `_name` companion must be a "
        "JSON object; an element of cardinality 0..1 is not sent as an array."
    ),
    checks=(
        "the resource, an item, an answer, a complex element (Meta, Reference, Extension, ...) or a"
        " `_name` companion is a JSON object; a 0..1 element is no array"
    ),
    tests=(
        "V[item not an object], V[answer not an object], `test_not_a_response`, D[subject a "
        "string], D[identifier an array], D[text a string], D[contained not an object], D[answer "
        "_valueString a number]"
    ),
)

QR_RESOURCE_TYPE = Rule(
    "qr-resource-type",
    "error",
    "structure",
    "Not a QuestionnaireResponse",
    definition=(
        "The resource checked must have resourceType QuestionnaireResponse; a contained resource "
        "must have the resourceType of an R4 resource."
    ),
    checks="resourceType is QuestionnaireResponse; a contained resource's is an R4 type",
    tests=("`test_not_a_response`, D[contained of no R4 type]; pass D[contained of any R4 type]"),
)

QR_UNKNOWN_ELEMENT = Rule(
    "qr-unknown-element",
    "error",
    "structure",
    "Unknown element",
    definition=(
        "The response, its items and answers, and every datatype inside them may only hold elements"
        " that FHIR R4 defines for them; `_name` only for a primitive element `name`."
    ),
    checks="no element R4 does not define, at any depth; `_name` only for a primitive",
    tests=(
        "V[unknown element], V[item element unknown], V[answer element unknown], D[meta element "
        "unknown], D[item _answer], D[item _id], D[answer _valueCoding], D[Coding element unknown] "
        "(as qr-answer-invalid); pass V[primitive extension]"
    ),
)

QR_STATUS_MISSING = Rule(
    "qr-status-missing",
    "error",
    "required",
    "Status missing",
    definition=(
        "The response must have a status: QuestionnaireResponse.status is required in FHIR R4."
    ),
    checks="status present, an R4 code",
    tests="V[status missing], V[status invalid]",
)

QR_STATUS_INVALID = Rule(
    "qr-status-invalid",
    "error",
    "value",
    "Status not an R4 code",
    definition=(
        "QuestionnaireResponse.status must be one of the R4 codes in-progress, completed, amended, "
        "entered-in-error or stopped."
    ),
    checks="status present, an R4 code",
    tests="V[status missing], V[status invalid]",
)

QR_QUESTIONNAIRE_MISSING = Rule(
    "qr-questionnaire-missing",
    "warning",
    "required",
    "Questionnaire not named",
    definition=(
        "The response does not say which Questionnaire it answers "
        "(QuestionnaireResponse.questionnaire), so it was checked against the one the request "
        "named. A warning."
    ),
    checks="`questionnaire` present",
    tests="V[questionnaire missing]",
)

QR_QUESTIONNAIRE_MISMATCH = Rule(
    "qr-questionnaire-mismatch",
    "error",
    "value",
    "Another Questionnaire named",
    definition=(
        "QuestionnaireResponse.questionnaire must name the Questionnaire the response is checked "
        "against: its canonical url, #id of a contained one, or Questionnaire/id (also with "
        "/_history/vid, relative or at this service's base)."
    ),
    checks=(
        "`questionnaire` names this Questionnaire (url, `#id`, `Questionnaire/id[/_history/vid]`, "
        "also at this service's base)"
    ),
    tests=(
        "V[questionnaire other], V[questionnaire other id], `test_shipped_instrument[another "
        "questionnaire]`; pass V[questionnaire contained]"
    ),
)

QR_QUESTIONNAIRE_VERSION = Rule(
    "qr-questionnaire-version",
    "error",
    "value",
    "Another version named",
    definition=(
        "When QuestionnaireResponse.questionnaire gives url|version, the version must be the one "
        "the response is checked against."
    ),
    checks="`url|version` names this version",
    tests=(
        "V[questionnaire version], `test_shipped_instrument[wrong version]`; pass V[questionnaire "
        "no version]"
    ),
)

QR_NOT_ARRAY = Rule(
    "qr-not-array",
    "error",
    "structure",
    "Not an array",
    definition=(
        "item, answer and every other element of cardinality 0..* must be a JSON array; a primitive"
        " array's `_name` companion has one entry per value."
    ),
    checks="item/answer and every 0..* element are non-empty arrays",
    tests=(
        "V[item not an array], V[item empty], V[answer empty], D[basedOn an object], D[extension "
        "empty], D[partOf empty], D[meta._profile of another length]"
    ),
)

QR_EMPTY_ARRAY = Rule(
    "qr-empty-array",
    "error",
    "structure",
    "Empty array",
    definition=(
        "item, answer and every other array must not be empty: R4 JSON leaves an empty element out."
    ),
    checks="item/answer and every 0..* element are non-empty arrays",
    tests=(
        "V[item not an array], V[item empty], V[answer empty], D[basedOn an object], D[extension "
        "empty], D[partOf empty], D[meta._profile of another length]"
    ),
)

QR_EMPTY_VALUE = Rule(
    "qr-empty-value",
    "error",
    'structure (null, `{}`), value (`""`)',
    "Empty or null value",
    definition=(
        "No element is null, an empty object, or an empty or blank string, and a primitive's "
        "`_name` companion without a value carries extensions (R4 JSON, ele-1): an element with no "
        "content is left out."
    ),
    checks=(
        "no null, empty object, empty or blank string; `_name` without a value has extensions "
        "(ele-1)"
    ),
    tests=(
        "D[id empty], D[authored empty], D[item null], D[answer null], D[item text empty], "
        "D[_status empty], D[answer stray _valueInteger without extensions]; pass D[meta.profile "
        "null with extensions]"
    ),
)

QR_INVALID_TYPE = Rule(
    "qr-invalid-type",
    "error",
    "structure",
    "Wrong JSON type",
    definition=(
        "A primitive element has the JSON type of its R4 type: a string for string, code, uri, "
        "dates and the like, true or false for boolean, a number for integer and decimal."
    ),
    checks="a primitive has its JSON type (string, boolean, number)",
    tests=(
        "D[id a number], D[item id a number], D[item definition a number], D[item text a number], "
        "D[language a number], D[extension valueBoolean a string]"
    ),
)

QR_INVALID_VALUE = Rule(
    "qr-invalid-value",
    "error",
    "value, code-invalid (bound codes)",
    "Invalid primitive value",
    definition=(
        "A primitive element matches its R4 format (the regex of id, code, uri, date, dateTime, "
        "instant, time, oid, uuid, base64Binary; a urn:uuid: or urn:oid: uri in the uuid or oid "
        "format; int32 bounds; a day that exists), and a code with a required binding is one of "
        "its codes."
    ),
    checks=(
        "a primitive matches its R4 format (id, code, uri, date, dateTime, instant, time, oid, "
        "base64Binary, int32, a real day); a bound code is in its value set"
    ),
    tests=(
        "D[id not an R4 id], D[meta.lastUpdated not an instant], D[authored not a dateTime], "
        "D[authored a day that does not exist], D[language not a code], D[implicitRules not a uri],"
        " D[identifier.use not a code of the binding], D[meta.source a urn:uuid in capitals], "
        "D[identifier system a urn:oid with a letter], K[uri/identifier system a bad urn:uuid], "
        "K[uri/implicitRules with whitespace]; pass D[dateTime of a leap day], D[uri of any other "
        "urn]"
    ),
)

QR_ELEMENT_MISSING = Rule(
    "qr-element-missing",
    "error",
    "required",
    "Required element missing",
    definition=(
        "An element that its R4 datatype requires is present: Extension.url, Narrative.status and "
        "Narrative.div."
    ),
    checks="Extension.url, Narrative.status and .div present",
    tests="D[extension without url], D[item extension without url], D[text without div]",
)

QR_EXTENSION_VALUE = Rule(
    "qr-extension-value",
    "error",
    "invariant",
    "Extension without one value",
    definition=(
        "An extension has either exactly one value[x] or nested extensions, not both and not "
        "neither (ext-1)."
    ),
    checks="an extension has one value[x] or nested extensions, not both (ext-1)",
    tests=(
        "D[extension without a value], D[extension with two values], D[extension with a value and "
        "extensions]; pass D[extension with only nested extensions]"
    ),
)

QR_MODIFIER_EXTENSION = Rule(
    "qr-modifier-extension",
    "error",
    "not-supported",
    "Modifier extension not understood",
    definition=(
        "A modifierExtension may change the meaning of what holds it; the service understands none,"
        " so a response that carries one is not processed (R4: a modifier that is not understood is"
        " an error)."
    ),
    checks="no modifierExtension (none is understood) at resource, item or answer level",
    tests="D[modifierExtension], D[item modifierExtension], D[answer modifierExtension]",
)

QR_LINKID_MISSING = Rule(
    "qr-linkid-missing",
    "error",
    "required",
    "linkId missing",
    definition="Every item of the response must carry a linkId.",
    checks="every item has a linkId",
    tests="V[linkId missing]",
)

QR_UNKNOWN_LINKID = Rule(
    "qr-unknown-linkid",
    "error",
    "structure",
    "Unknown linkId",
    definition="An item's linkId must be the linkId of an item of the Questionnaire.",
    checks="the linkId exists",
    tests="V[unknown linkId], `test_shipped_instrument[unknown linkId]`",
)

QR_ITEM_MISPLACED = Rule(
    "qr-item-misplaced",
    "error",
    "structure",
    "Item at the wrong level",
    definition=(
        "An item must stand where the Questionnaire puts it: the children of a group in item, the "
        "children of a question in answer.item (qrs-1)."
    ),
    checks="right level: group children in item, question children in answer.item (qrs-1)",
    tests="V[item misplaced (group child at top)], V[item under a question]",
)

QR_ITEM_ORDER = Rule(
    "qr-item-order",
    "error",
    "structure",
    "Items out of order",
    definition="The items of the response must come in the order of the Questionnaire's items.",
    checks="items in Questionnaire order",
    tests="V[items out of order]",
)

QR_ITEM_REPEATED = Rule(
    "qr-item-repeated",
    "error",
    "structure",
    "Item repeated",
    definition="An item that does not repeat may appear only once among its siblings.",
    checks="a non-repeating item appears once",
    tests="V[item repeated]",
)

QR_TEXT_MISMATCH = Rule(
    "qr-text-mismatch",
    "warning",
    "value",
    "Item text differs",
    definition=(
        "An item's text, when given, should be the text of the Questionnaire's item. A warning."
    ),
    checks="item text equals the Questionnaire's",
    tests="V[text mismatch]",
)
