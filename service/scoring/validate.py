"""Validating a QuestionnaireResponse against its compiled Questionnaire, in one pass.

Plain dict walking (no model construction); the same pass records the weight
of every answer Coding for scoring. Issue `expression`s are FHIRPath into the
response with indexes, `value[x]` written `.value`
(`QuestionnaireResponse.item[2].answer[0].value`); `location` is the linkId.

| rule | severity | what |
|---|---|---|
| qr-not-object | error | the resource, an item or an answer is not a JSON object |
| qr-resource-type | error | resourceType is not QuestionnaireResponse |
| qr-unknown-element | error | an element R4 does not define (resource, item or answer level) |
| qr-status-missing | error | no status (1..1) |
| qr-status-invalid | error | status not one of the R4 codes (in-progress, completed, ...) |
| qr-questionnaire-missing | warning | no `questionnaire`; the caller chose one |
| qr-questionnaire-mismatch | error | `questionnaire` names another Questionnaire |
| qr-questionnaire-version | error | `questionnaire` names another version |
| qr-not-array | error | item / answer is not a JSON array |
| qr-empty-array | error | item / answer is an empty array (FHIR forbids empty arrays) |
| qr-linkid-missing | error | an item without a linkId |
| qr-unknown-linkid | error | a linkId the Questionnaire does not have |
| qr-item-misplaced | error | item at the wrong level (group: item.item; question: answer.item) |
| qr-item-order | error | items not in Questionnaire order |
| qr-item-repeated | error | the same non-repeating item twice |
| qr-text-mismatch | warning | item text differs from the Questionnaire's |
| qr-answer-on-group | error | answers on a group item |
| qr-answer-on-display | error | answers on a display item |
| qr-answer-repeated | error | more than one answer to a non-repeating item |
| qr-answer-value-missing | error | an answer without value[x] |
| qr-answer-value-multiple | error | an answer with several value[x] |
| qr-answer-type | error | value[x] of the wrong type for the item type |
| qr-answer-invalid | error | a malformed value (NaN, bad date, empty string, int32 overflow, ...) |
| qr-answer-not-in-options | error | a value that is not an answerOption (Coding: system and code) |
| qr-answer-display-mismatch | warning | an option's Coding with another display |
| qr-answer-not-in-valueset | error | a Coding not in the contained answerValueSet |
| qr-answer-valueset-unchecked | information | answerValueSet not contained, not checked |
| qr-answer-weight-ignored | warning | the answer's own itemWeight differs; the content's is used |
| qr-answer-min-value / qr-answer-max-value | error | outside minValue / maxValue |
| qr-answer-too-long / qr-answer-too-short | error | outside maxLength / minLength |
| qr-answer-on-disabled | error | answers to an item that enableWhen disables |
| qr-required-missing | error (completed/amended), warning (in-progress) | required unanswered |

Required answers are not demanded of `stopped` / `entered-in-error` responses,
nor of disabled items (SDC: required applies to enabled items only), nor of
calculated items, which scoring fills in.
Responses nested deeper than `MAX_DEPTH` or with more than `MAX_NODES` items
and answers raise `PayloadTooDeep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.errors import PayloadTooDeep
from service.fhir.outcome import Issue, IssueSeverity, IssueType

from ._answers import Answers, check_answer
from ._enable import Enablement
from ._structure import check_resource
from .model import CompiledQuestionnaire, ItemDef

__all__ = ["MAX_DEPTH", "MAX_NODES", "Validation", "validate_response"]

MAX_DEPTH = 32
MAX_NODES = 10_000
_ITEM_ELEMENTS = frozenset(
    {"id", "extension", "modifierExtension", "linkId", "definition", "text", "answer", "item"}
)
_ANSWER_ELEMENTS = frozenset({"id", "extension", "modifierExtension", "item"})


@dataclass(slots=True)
class Validation:
    """The outcome of validation: issues, and the weight of each answer Coding by id()."""

    issues: list[Issue]
    weights: dict[int, float] = field(default_factory=dict)
    answered: frozenset[str] = frozenset()

    @property
    def errors(self) -> list[Issue]:
        """The issues of severity error or fatal."""
        return [i for i in self.issues if i.severity in (IssueSeverity.ERROR, IssueSeverity.FATAL)]


def validate_response(cq: CompiledQuestionnaire, response: Any) -> Validation:
    """Validate `response` (parsed JSON) against `cq`; raise PayloadTooDeep if too big."""
    walk = _Walk(cq)
    status = check_resource(walk.out, cq, response)
    if status is None:
        return Validation(walk.out.issues)
    walk.items(response.get("item"), "QuestionnaireResponse", None, cq.root_children, 1)
    walk.finish(status)
    return Validation(walk.out.issues, walk.out.weights, frozenset(walk.values))


@dataclass(slots=True)
class _Container:
    """Where items of one level live: its path, its expected children, which are answered."""

    path: str
    children: tuple[str, ...]
    answered: set[str]


class _Walk:
    """One pass over a response's items."""

    def __init__(self, cq: CompiledQuestionnaire) -> None:
        self.cq = cq
        self.out = Answers(cq.terminology)
        self.nodes = 0
        self.values: dict[str, list[tuple[str, Any]]] = {}
        self.answered_at: list[tuple[str, str]] = []
        self.containers: list[_Container] = []

    def error(self, code: IssueType, text: str, where: str, rule: str, link: str | None) -> None:
        """Record an error about `where`."""
        self.out.issues.append(Issue(IssueSeverity.ERROR, code, text, where, link, rule))

    def items(
        self, raw: Any, path: str, parent: str | None, expected: tuple[str, ...], depth: int
    ) -> bool:
        """Check the items at one level; True if any of them has an answer."""
        container = _Container(path, expected, set())
        self.containers.append(container)
        if raw is None or not self._array(raw, f"{path}.item", parent):
            return False
        if depth > MAX_DEPTH:
            raise PayloadTooDeep(f"items nest deeper than {MAX_DEPTH} levels", expression=path)
        last, seen = -1, set[str]()
        for index, item in enumerate(raw):
            where = f"{path}.item[{index}]"
            definition = self._item_definition(item, where, parent)
            if definition is None:
                continue
            last = self._place(definition, where, last, seen)
            if self._item(item, definition, where, depth):
                container.answered.add(definition.link_id)
        return bool(container.answered)

    def _array(self, raw: Any, where: str, link: str | None) -> bool:
        if type(raw) is not list:
            self.error(IssueType.STRUCTURE, "must be a JSON array", where, "qr-not-array", link)
            return False
        if not raw:
            self.error(IssueType.STRUCTURE, "must not be empty", where, "qr-empty-array", link)
            return False
        self.nodes += len(raw)
        if self.nodes > MAX_NODES:
            raise PayloadTooDeep(f"more than {MAX_NODES} items and answers", expression=where)
        return True

    def _item_definition(self, item: Any, where: str, parent: str | None) -> ItemDef | None:
        if type(item) is not dict:
            self.error(
                IssueType.STRUCTURE, "an item must be a JSON object", where, "qr-not-object", parent
            )
            return None
        link = item.get("linkId")
        if type(link) is not str or not link:
            self.error(
                IssueType.REQUIRED, "an item needs a linkId", where, "qr-linkid-missing", None
            )
            return None
        definition = self.cq.items.get(link)
        if definition is None:
            text = f"linkId '{link}' is not an item of the Questionnaire"
            self.error(IssueType.STRUCTURE, text, where, "qr-unknown-linkid", link)
            return None
        if definition.parent != parent:
            text = f"item '{link}' belongs " + (
                f"under item '{definition.parent}'" if definition.parent else "at the top level"
            )
            self.error(IssueType.STRUCTURE, text, where, "qr-item-misplaced", link)
            return None
        return definition

    def _place(self, definition: ItemDef, where: str, last: int, seen: set[str]) -> int:
        """Order (items in Questionnaire order) and repetition checks; the new last position."""
        link = definition.link_id
        if definition.position < last:
            text = f"item '{link}' is out of Questionnaire order"
            self.error(IssueType.STRUCTURE, text, where, "qr-item-order", link)
        if link in seen and not definition.repeats:
            text = f"item '{link}' does not repeat but appears more than once"
            self.error(IssueType.STRUCTURE, text, where, "qr-item-repeated", link)
        seen.add(link)
        return max(last, definition.position)

    def _item(self, item: dict[str, Any], definition: ItemDef, where: str, depth: int) -> bool:
        self._elements(item, _ITEM_ELEMENTS, where, definition.link_id)
        text = item.get("text")
        if text is not None and definition.text is not None and text != definition.text:
            self.out.add(
                IssueSeverity.WARNING,
                IssueType.VALUE,
                f"text differs from the Questionnaire's: {definition.text!r}",
                where=f"{where}.text",
                rule="qr-text-mismatch",
                link=definition.link_id,
            )
        if definition.type in ("group", "display"):
            if "answer" in item:
                text = f"a {definition.type} item takes no answers"
                self.error(
                    IssueType.STRUCTURE,
                    text,
                    f"{where}.answer",
                    f"qr-answer-on-{definition.type}",
                    definition.link_id,
                )
            children = definition.children if definition.type == "group" else ()
            return self.items(item.get("item"), where, definition.link_id, children, depth + 1)
        if "item" in item:
            text = f"items under question '{definition.link_id}' belong in answer.item (qrs-1)"
            self.error(
                IssueType.STRUCTURE, text, f"{where}.item", "qr-item-misplaced", definition.link_id
            )
        return self._answers(item.get("answer"), definition, where, depth)

    def _elements(
        self, element: dict[str, Any], known: frozenset[str], where: str, link: str
    ) -> None:
        for key in element:
            name = key[1:] if key.startswith("_") else key
            if name not in known and not (known is _ANSWER_ELEMENTS and name.startswith("value")):
                text = f"unknown element {key!r}"
                self.error(IssueType.STRUCTURE, text, f"{where}.{name}", "qr-unknown-element", link)

    def _answers(self, raw: Any, definition: ItemDef, where: str, depth: int) -> bool:
        link = definition.link_id
        if raw is None or not self._array(raw, f"{where}.answer", link):
            return False
        if len(raw) > 1 and not definition.repeats:
            text = f"item '{link}' does not repeat but has {len(raw)} answers"
            self.error(IssueType.STRUCTURE, text, f"{where}.answer[1]", "qr-answer-repeated", link)
        self.answered_at.append((link, f"{where}.answer"))
        values = self.values.setdefault(link, [])
        for index, answer in enumerate(raw):
            here = f"{where}.answer[{index}]"
            value = check_answer(self.out, definition, answer, here)
            if value is not None:
                values.append(value)
            if type(answer) is dict:
                self._elements(answer, _ANSWER_ELEMENTS, here, link)
                if "item" in answer or definition.children:
                    self.items(answer.get("item"), here, link, definition.children, depth + 1)
        return True

    def finish(self, status: str) -> None:
        """The checks that need the whole response: enableWhen, then required items."""
        enabled = Enablement(self.cq.items, self.values, self.cq.conditional)
        for link, where in self.answered_at:
            if not enabled(link):
                text = f"item '{link}' is disabled (enableWhen) but has answers"
                self.error(IssueType.INVARIANT, text, where, "qr-answer-on-disabled", link)
        severity = _REQUIRED_SEVERITY.get(status)
        if severity is None:
            return
        for container in self.containers:
            for link in container.children:
                definition = self.cq.items[link]
                if link in container.answered or link in self.cq.calculated:
                    continue  # calculated items are the service's to fill (SDC)
                if definition.required and enabled(link):
                    text = f"required item '{link}' is not answered"
                    self.out.add(
                        severity,
                        IssueType.REQUIRED,
                        text,
                        where=container.path,
                        rule="qr-required-missing",
                        link=link,
                    )


#: How missing required answers are reported, by status (like the HL7 validator).
_REQUIRED_SEVERITY = {
    "completed": IssueSeverity.ERROR,
    "amended": IssueSeverity.ERROR,
    "in-progress": IssueSeverity.WARNING,
    "": IssueSeverity.WARNING,  # status missing or invalid: already an error of its own
}
