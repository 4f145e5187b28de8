"""The FHIR R4 structure of a QuestionnaireResponse: JSON types, formats and empty values.

`_SPECS` names, for the resource, its items and answers and every datatype they use, each
element with its type and cardinality; `check_elements` walks one JSON object by it,
recursing into complex values (extensions nest); primitives are `primitives`'s. The R4
JSON rules (http://hl7.org/fhir/R4/json.html) hold everywhere: no nulls, no empty
strings, objects or arrays; `_name` carries the id and extensions of the primitive
`name`, and without `name` must carry extensions (ele-1). The elements the validation
walk reads itself (`walked`: status, questionnaire, item, linkId, answer,
answer.value[x]) are left to it, their `_name` companions are not.

Tables are written in `notation`'s notation (`Coding` 0..1, `Coding*` 0..*, `uri!` 1..1,
`@` an attribute without `_name`). Datatypes without a table of their own (Address,
Timing, ...) are checked only to be non-empty objects.

Its rules are the registry's (service/rules/response.py; docs/rules.md), among them
qr-unknown-element, qr-not-array, qr-empty-value, qr-invalid-value, qr-extension-value.

Within an answer's value[x] each of these is reported as `qr-answer-invalid`. A Reference
or an Attachment as a whole is `consistency`'s (qr-reference-invalid, qr-reference-type,
qr-attachment-size, qr-attachment-hash: their own codes, in answers too).
"""

from __future__ import annotations

from typing import Any

from service import rules
from service.errors import PayloadTooDeep
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.fhir.r4 import RESOURCE_TYPES
from service.rules import Rule

from .consistency import attachment_problems, reference_problem
from .notation import Element, Spec, make_element, make_spec
from .primitives import check_primitive

__all__ = ["ANSWER", "ITEM", "RESPONSE", "check_elements", "check_value"]

#: Datatypes nest (extensions in extensions) no deeper than this below where a check starts.
MAX_DEPTH = 32

_ELEMENT = {"id": "@string", "extension": "Extension*"}
_BACKBONE = {**_ELEMENT, "modifierExtension": "ModifierExtension*"}
_QUANTITY = make_spec(
    "Quantity",
    {**_ELEMENT, "value": "decimal", "comparator": "code", "unit": "string", "system": "uri"}
    | {"code": "code"},
    codes={"comparator": "< <= >= >"},
)
_SPECS = {
    spec.name: spec
    for spec in (
        make_spec("Extension", {**_ELEMENT, "url": "@uri!", "value[x]": "*"}),
        make_spec(
            "Meta",
            {**_ELEMENT, "versionId": "id", "lastUpdated": "instant", "source": "uri"}
            | {"profile": "canonical*", "security": "Coding*", "tag": "Coding*"},
        ),
        make_spec(
            "Narrative",
            {**_ELEMENT, "status": "code!", "div": "@xhtml!"},
            codes={"status": "generated extensions additional empty"},
        ),
        make_spec(
            "Identifier",
            {**_ELEMENT, "use": "code", "type": "CodeableConcept", "system": "uri"}
            | {"value": "string", "period": "Period", "assigner": "Reference"},
            codes={"use": "usual official temp secondary old"},
        ),
        make_spec(
            "Reference",
            {**_ELEMENT, "reference": "string", "type": "uri", "identifier": "Identifier"}
            | {"display": "string"},
        ),
        make_spec(
            "Coding",
            {**_ELEMENT, "system": "uri", "version": "string", "code": "code"}
            | {"display": "string", "userSelected": "boolean"},
        ),
        make_spec("CodeableConcept", {**_ELEMENT, "coding": "Coding*", "text": "string"}),
        _QUANTITY,
        *(_QUANTITY._replace(name=name) for name in ("Age", "Count", "Distance", "Duration")),
        make_spec(
            "Attachment",
            {**_ELEMENT, "contentType": "code", "language": "code", "data": "base64Binary"}
            | {"url": "url", "size": "unsignedInt", "hash": "base64Binary", "title": "string"}
            | {"creation": "dateTime"},
        ),
        make_spec("Period", {**_ELEMENT, "start": "dateTime", "end": "dateTime"}),
    )
}
#: The datatypes whose 0..1 elements `elements` descends into directly.
_NESTED = dict(_SPECS)
_SPECS["ModifierExtension"] = _SPECS["Extension"]
_PRIMITIVE_EXTENSION = make_spec("primitive", _ELEMENT)
_ID = make_element("id", "id", None)
_OBJECT = make_element("Element", "", None)  # no table: only a non-empty object
_WHOLE = frozenset({"Reference", "Attachment"})  # `consistency`'s
_EXTENSION_VALUES = frozenset(k for k in _SPECS["Extension"].elements if k.startswith("value"))
#: QuestionnaireResponse, with item and answer, as R4 defines them.
RESPONSE = make_spec(
    "QuestionnaireResponse",
    {"resourceType": "@code", "id": "id", "meta": "Meta", "implicitRules": "uri"}
    | {"language": "code", "text": "Narrative", "contained": "Resource*"}
    | {"extension": "Extension*", "modifierExtension": "ModifierExtension*"}
    | {"identifier": "Identifier", "basedOn": "Reference*", "partOf": "Reference*"}
    | {"questionnaire": "canonical", "status": "code!", "subject": "Reference"}
    | {"encounter": "Reference", "authored": "dateTime", "author": "Reference"}
    | {"source": "Reference", "item": "item*"},
    walked=("resourceType", "questionnaire", "status", "item"),
)
ITEM = make_spec(
    "item",
    {**_BACKBONE, "linkId": "string!", "definition": "uri", "text": "string"}
    | {"answer": "answer*", "item": "item*"},
    walked=("linkId", "answer", "item"),
)
ANSWER = make_spec(
    "answer",
    {**_BACKBONE, "value[x]": "boolean decimal integer date dateTime time string uri"}
    | {"item": "item*"},
    walked=("value[x]", "item"),
)


def check_elements(
    issues: list[Issue], spec: Spec, node: dict[str, Any], where: str, link: str | None
) -> bool:
    """Check the elements of `node`, an object of type `spec` at `where`, that the validation
    walk does not read itself; True if they are well-formed."""
    for key in node:
        if key not in spec.walked:
            return _Check(issues, link, None).elements(spec, node, where, 0)
    return True


def check_value(
    issues: list[Issue], kind: str, value: Any, where: str, link: str | None, *, rule: Rule
) -> bool:
    """Check `value`, of the datatype `kind`, at `where`, reporting every problem as `rule`;
    True if it is well-formed."""
    return _Check(issues, link, rule).value(make_element(kind, "", None), value, where, 0)


class _Check:
    """One check: where its issues go, the linkId they concern, the rule they fall under."""

    __slots__ = ("issues", "link", "rule")

    def __init__(self, issues: list[Issue], link: str | None, rule: Rule | None) -> None:
        self.issues, self.link, self.rule = issues, link, rule

    def report(self, rule: Rule, code: IssueType, text: str, where: str) -> bool:
        """Record an error; False, for `return self.report(...)`."""
        rule = self.rule or rule
        self.issues.append(Issue(IssueSeverity.ERROR, code, text, where, self.link, rule))
        return False

    def place(self, problem: Issue, where: str, rule: Rule | None) -> bool:
        """Record what is wrong with a value (`primitives`) at `where`, under `rule`; False."""
        issue = Issue(IssueSeverity.ERROR, problem.code, problem.text, where, self.link, rule)
        self.issues.append(issue)
        return False

    def consistency(self, kind: str, node: dict[str, Any], where: str) -> bool:
        """A Reference's or an Attachment's elements agree (`consistency`), under their own
        rule codes even inside an answer: they say more than `qr-answer-invalid` would."""
        found: list[tuple[str, Issue]] = []
        if kind == "Reference":
            reference = node.get("reference")
            problem = reference_problem(reference) if type(reference) is str else None
            found = [("reference", problem)] if problem is not None else []
        else:
            found = attachment_problems(node)
        for element, issue in found:
            self.place(issue, f"{where}.{element}", issue.rule)
        return not found

    def elements(self, spec: Spec, node: dict[str, Any], where: str, depth: int) -> bool:
        if depth > MAX_DEPTH:
            raise PayloadTooDeep(f"elements nest deeper than {MAX_DEPTH} levels", expression=where)
        clean = True
        for key, value in node.items():
            if key in spec.walked:
                continue
            element = spec.elements.get(key)
            if element is not None:
                if element.simple and check_primitive(element.type, value) is None:
                    continue  # the common case, decided before a path is written
                table = None if element.many else _NESTED.get(element.type)
                if table is not None and type(value) is dict and value:
                    # The common case (`_plain`: what `elements` finds clean) in one step.
                    if depth >= MAX_DEPTH or not _plain(table, value):
                        here = f"{where}.{element.path}"
                        clean &= self.elements(table, value, here, depth + 1)
                    continue
                here = f"{where}.{element.path}"
                if element.many:
                    clean &= self.many(element, value, here, node.get("_" + key), depth)
                else:
                    clean &= self.one(element, value, here, depth)
            elif key.startswith("_"):
                clean &= self.companion(spec, node, key, where, depth)
            elif not (spec.walks_values and key.startswith("value")):
                text = f"unknown element {key!r}"
                clean = self.report(
                    rules.QR_UNKNOWN_ELEMENT, IssueType.STRUCTURE, text, f"{where}.{key}"
                )
        for key in spec.required:
            if key not in node and "_" + key not in node:
                text = f"{spec.name}.{key} is required"
                clean = self.report(
                    rules.QR_ELEMENT_MISSING, IssueType.REQUIRED, text, f"{where}.{key}"
                )
        if spec.name == "Extension":
            clean &= self.extension_value(node, where)
        elif clean and spec.name in _WHOLE:
            clean = self.consistency(spec.name, node, where)
        return clean

    def one(self, element: Element, value: Any, where: str, depth: int) -> bool:
        if type(value) is list:
            wanted = "value" if element.companion else "JSON object"
            text = f"takes one {wanted} (0..1), not an array"
            rule = rules.QR_INVALID_TYPE if element.companion else rules.QR_NOT_OBJECT
            return self.report(rule, IssueType.STRUCTURE, text, where)
        return self.value(element, value, where, depth)

    def many(self, element: Element, value: Any, where: str, companions: Any, depth: int) -> bool:
        if value is None:
            return self.value(element, value, where, depth)
        if type(value) is not list:
            return self.report(
                rules.QR_NOT_ARRAY, IssueType.STRUCTURE, "must be a JSON array", where
            )
        if not value:
            return self.report(
                rules.QR_EMPTY_ARRAY, IssueType.STRUCTURE, "must not be empty", where
            )
        clean = True
        for index, entry in enumerate(value):
            if entry is None and _has(companions, index):
                continue  # a primitive with extensions only: null in its place (R4 JSON)
            clean &= self.value(element, entry, f"{where}[{index}]", depth)
        return clean

    def value(self, element: Element, value: Any, where: str, depth: int) -> bool:
        kind = element.type
        if value is None:
            text = "must not be null: leave the element out"
            return self.report(rules.QR_EMPTY_VALUE, IssueType.STRUCTURE, text, where)
        if element.primitive:
            problem = check_primitive(kind, value)
            if problem is not None:
                return self.place(problem, where, self.rule or problem.rule)
            if element.codes is not None and value not in element.codes:
                text = f"{str(value)[:40]!r} is not one of {', '.join(sorted(element.codes))}"
                return self.report(rules.QR_INVALID_VALUE, IssueType.CODE_INVALID, text, where)
            return True
        if type(value) is not dict:
            text = f"must be a JSON object ({kind})"
            return self.report(rules.QR_NOT_OBJECT, IssueType.STRUCTURE, text, where)
        if not value:
            text = "must not be an empty object"
            return self.report(rules.QR_EMPTY_VALUE, IssueType.STRUCTURE, text, where)
        if kind == "Resource":
            return self.resource(value, where, depth)
        spec = _SPECS.get(kind)
        clean = spec is None or self.elements(spec, value, where, depth + 1)
        if kind == "ModifierExtension":  # R4: a modifier not understood makes the resource unsafe
            url = value.get("url")
            text = f"modifierExtension {str(url)[:200]!r} is not understood: it may change meaning"
            return self.report(rules.QR_MODIFIER_EXTENSION, IssueType.NOT_SUPPORTED, text, where)
        return clean

    def companion(self, spec: Spec, node: dict[str, Any], key: str, where: str, depth: int) -> bool:
        """`_name`: the id and extensions of the primitive `name` (R4 JSON)."""
        name, value = key[1:], node[key]
        element = spec.elements.get(name)
        if element is None or not element.companion:
            text = f"unknown element {key!r}"
            return self.report(
                rules.QR_UNKNOWN_ELEMENT, IssueType.STRUCTURE, text, f"{where}.{name}"
            )
        here = f"{where}.{element.path}"
        if not element.many:
            return self.extensions_of(value, here, name in node, depth)
        if type(value) is not list:
            return self.report(
                rules.QR_NOT_ARRAY, IssueType.STRUCTURE, "must be a JSON array", here
            )
        values = node.get(name)
        if values is not None and type(values) is not list:
            return True  # `name` itself is reported
        if values is not None and len(values) != len(value):
            text = f"{key!r} must have one entry for each of {name!r}"
            return self.report(rules.QR_NOT_ARRAY, IssueType.STRUCTURE, text, here)
        clean = True
        for index, entry in enumerate(value):
            present = _has(values, index)
            if entry is not None or not present:
                clean &= self.extensions_of(entry, f"{here}[{index}]", present, depth)
        return clean

    def extensions_of(self, value: Any, where: str, present: bool, depth: int) -> bool:
        """One `_name` object; `present` if its primitive has a value."""
        if not self.value(_OBJECT, value, where, depth):
            return False
        clean = self.elements(_PRIMITIVE_EXTENSION, value, where, depth + 1)
        if not present and "extension" not in value:
            text = "a primitive without a value needs extensions (ele-1)"
            return self.report(rules.QR_EMPTY_VALUE, IssueType.STRUCTURE, text, where)
        return clean

    def extension_value(self, node: dict[str, Any], where: str) -> bool:
        """ext-1: an extension has either one value[x] or nested extensions, not both."""
        values = {key.removeprefix("_") for key in node} & _EXTENSION_VALUES
        if len(values) + ("extension" in node) == 1:
            return True
        text = "an extension needs exactly one of value[x] and nested extensions (ext-1)"
        return self.report(rules.QR_EXTENSION_VALUE, IssueType.INVARIANT, text, where)

    def resource(self, value: dict[str, Any], where: str, depth: int) -> bool:
        """A contained resource: only its type and id (its body is another type's business)."""
        kind = value.get("resourceType")
        if type(kind) is not str or kind not in RESOURCE_TYPES:
            text = f"resourceType {str(kind)[:40]!r} is not an R4 resource type"
            return self.report(
                rules.QR_RESOURCE_TYPE, IssueType.STRUCTURE, text, f"{where}.resourceType"
            )
        return "id" not in value or self.value(_ID, value["id"], f"{where}.id", depth)


def _plain(spec: Spec, node: dict[str, Any]) -> bool:
    """`node`, a 0..1 datatype below one `_Check.elements` walks, holds nothing but simple
    elements of `spec`, each well-formed, none missing, and as a whole is what
    `consistency` accepts: `elements` would find it clean without a word. False: it must
    look (a node other than that, or one it may report on).
    """
    if not node or spec.name in _LOOKS:
        return False
    elements = spec.elements
    for key, value in node.items():
        element = elements.get(key)
        if element is None or not element.simple or check_primitive(element.type, value):
            return False
    for key in spec.required:
        if key not in node:
            return False
    if spec.name != "Reference":
        return True
    reference = node.get("reference")
    return type(reference) is not str or reference_problem(reference) is None


_LOOKS = frozenset({"Extension", "Attachment"})  # more to check than their elements


def _has(values: Any, index: int) -> bool:
    """`values` is an array with a non-null entry at `index`."""
    return type(values) is list and index < len(values) and values[index] is not None
