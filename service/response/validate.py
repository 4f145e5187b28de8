"""Validating a QuestionnaireResponse against its compiled Questionnaire, in one pass.

Plain dict walking (no model construction). Issue `expression`s are FHIRPath into the
response with indexes, `value[x]` written `.value`
(`QuestionnaireResponse.item[2].answer[0].value`); `location` is the linkId.

Each issue carries a rule of the registry (service/rules/response.py, answers.py and
conditions.py; docs/rules.md lists them with their tests).

The other elements of the resource, items and answers, and the inside of complex
answer values, are checked against their R4 datatypes by `datatypes` (its own rules:
qr-invalid-type, qr-invalid-value, qr-empty-value, qr-element-missing, ...).

Required answers (and minOccurs) are not demanded of `stopped` /
`entered-in-error` responses, nor of disabled items (SDC: required applies to
enabled items only), nor of calculated items, which scoring fills in.
enableWhen is decided per group instance (see `service.questionnaire.enable_when`);
enableWhenExpression and targetConstraint are evaluated as `evaluate` describes, the
latter only on enabled items.
Responses nested deeper than `MAX_DEPTH` or with more than `Limits.max_response_nodes` items
and answers raise `PayloadTooDeep`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service import rules
from service.errors import PayloadTooDeep
from service.fhir.outcome import MAX_ISSUES, Issue, IssueCapReached, IssueSeverity, IssueType
from service.questionnaire.compile import CompiledQuestionnaire, ItemDef
from service.questionnaire.enable_when import Enablement, Frame
from service.rules import Rule

from .answers import Answers, check_answer, check_exclusive, plain_answer
from .datatypes import ANSWER, ITEM, check_elements
from .evaluate import Evaluator
from .occurs import check_occurs, too_few
from .placement import bad_item, place
from .structure import check_resource

__all__ = ["MAX_DEPTH", "Validation", "validate_response"]

#: The rule for answers on an item that takes none, by item type.
_ANSWER_ON = {"group": rules.QR_ANSWER_ON_GROUP, "display": rules.QR_ANSWER_ON_DISPLAY}

MAX_DEPTH = 32
_ABSENT: Any = object()  # an element left out, as against one sent as null


@dataclass(slots=True)
class Validation:
    """The outcome of validation: issues, the items answered, the evaluation deadline; when
    it walked all of `response`, each answer Coding in it with the item it answers.
    """

    issues: list[Issue]
    answered: frozenset[str] = frozenset()
    deadline: float | None = None  # for evaluation, scoring's included (`Limits.deadline`)
    # (linkId, Coding) in document order, the very dicts of `response` (`weights`); None if
    # the walk stopped short of the end (no walk, the issue cap).
    codings: list[tuple[str, Any]] | None = None
    response: Any = None
    stopped: bool = False  # at the issue cap: what follows was never checked, nor scorable

    @property
    def errors(self) -> list[Issue]:
        """The issues of severity error or fatal."""
        return [i for i in self.issues if i.severity in (IssueSeverity.ERROR, IssueSeverity.FATAL)]


def validate_response(cq: CompiledQuestionnaire, response: Any, *, base: str = "") -> Validation:
    """Validate `response` (parsed JSON) against `cq`; raise PayloadTooDeep if too big.

    `base` is the FHIR base URL this service answers at: `questionnaire` may name `cq` there.
    """
    deadline = cq.limits.deadline()
    walk = _Walk(cq, response)
    try:
        status = check_resource(walk.out, cq, response, base)
        if status is None:
            return Validation(walk.out.issues, deadline=deadline)
        walk.items(
            response.get("item", _ABSENT), "QuestionnaireResponse", None, cq.root_children, 1
        )
        walk.finish(status, deadline)
    except IssueCapReached:  # the cost of a check is bounded by the cap, not by the body
        text = f"Validation stopped after {MAX_ISSUES - 1} issues; fix these and validate again"
        stopped = Issue(IssueSeverity.INFORMATION, IssueType.TOO_COSTLY, text)
        return Validation([*walk.out.issues, stopped], deadline=deadline, stopped=True)
    answered = frozenset(walk.root.values if walk.conditions else walk.answered)
    return Validation(walk.out.issues, answered, deadline, walk.codings, response)


@dataclass(slots=True)
class _Container:
    """Where items of one level live: its path, its expected children, which are answered."""

    path: str
    children: tuple[str, ...]
    answered: set[str]
    frame: Frame
    # For items with minOccurs: answers (questions) or repetitions (groups), and where.
    counts: dict[str, tuple[int, str]]


@dataclass(slots=True)
class _Level:
    """The items of one level as the walk goes: its path and container, each linkId's count."""

    path: str
    parent: str | None
    container: _Container
    seen: dict[str, int]
    groups: set[str]  # those of them groups with minOccurs (never `_plain`'s)


class _Walk:
    """One pass over a response's items."""

    def __init__(self, cq: CompiledQuestionnaire, response: Any) -> None:
        self.cq = cq
        self.response = response
        self.out = Answers(cq.terminology)
        self.nodes = 0
        self.root = self.frame = Frame(response, "QuestionnaireResponse")
        # Frames per instance only when enableWhen or item variables (their %context) need them.
        self.framed = bool(cq.conditional or cq.item_variables)
        # The answers themselves only for enableWhen to compare; without it, which items have one.
        self.conditions = bool(cq.conditional)
        self.answered: set[str] = set()
        self.answered_at: list[tuple[str, str, Frame]] = []
        self.codings: list[tuple[str, Any]] = []  # `Validation.codings`
        self.containers: list[_Container] = []
        self.occurrences: list[tuple[str, dict[str, Any], str, Frame]] = []  # for constraints

    def error(self, code: IssueType, text: str, where: str, rule: Rule, link: str | None) -> None:
        """Record an error about `where`."""
        self.out.issues.append(Issue(IssueSeverity.ERROR, code, text, where, link, rule))

    def items(
        self, raw: Any, path: str, parent: str | None, expected: tuple[str, ...], depth: int
    ) -> bool:
        """Check the items at one level; True if any of them has an answer."""
        container = _Container(path, expected, set(), self.frame, {})
        self.containers.append(container)
        if raw is _ABSENT or not self._array(raw, path, "item", parent):
            return False
        if depth > MAX_DEPTH:
            raise PayloadTooDeep(f"items nest deeper than {MAX_DEPTH} levels", expression=path)
        level = _Level(path, parent, container, {}, set())
        index, last = self._plain(raw, 0, -1, level)
        while index < len(raw):
            last = self._other(raw[index], f"{path}.item[{index}]", last, level, depth)
            index, last = self._plain(raw, index + 1, last, level)
        for link in level.groups:  # repetitions of a group with minOccurs, once all are seen
            container.counts[link] = (level.seen[link], path)
        return bool(container.answered)

    def _other(self, item: Any, where: str, last: int, level: _Level, depth: int) -> int:
        """Any item but the common one (`_plain`), at `where`; the new last position."""
        parent = level.parent
        key = item.get("linkId") if type(item) is dict else None
        definition = self.cq.items.get(key) if type(key) is str else None
        if definition is None or definition.parent != parent:
            bad_item(self.out.issues, self.cq.items, item, where, parent)
            return last
        link, seen, container = definition.link_id, level.seen, level.container
        if last <= definition.position and link not in seen and definition.max_occurs != 0:
            seen[link], last = 1, definition.position  # in order, first: `place` agrees
        else:
            last = place(self.out.issues, definition, where, last, seen)
        if link in self.cq.constraints:
            self.occurrences.append((link, item, where, self.frame))
        if self._item(item, definition, where, depth):
            container.answered.add(link)
        if definition.min_occurs and definition.type == "group":
            level.groups.add(link)
        elif definition.min_occurs:
            answers = item.get("answer")
            count = len(answers) if type(answers) is list else 0
            container.counts[link] = (count, where)
        return last

    def _array(self, raw: Any, path: str, element: str, link: str | None) -> bool:
        """`raw`, the `element` (item or answer) of `path`, is a non-empty array within limits."""
        if type(raw) is list and raw:
            self.nodes += len(raw)
            most = self.cq.limits.max_response_nodes
            if self.nodes <= most:
                return True
            where = f"{path}.{element}"
            raise PayloadTooDeep(f"more than {most} items and answers", expression=where)
        where = f"{path}.{element}"
        if raw is None:
            text = "must not be null: leave the element out"
            self.error(IssueType.STRUCTURE, text, where, rules.QR_EMPTY_VALUE, link)
        elif type(raw) is not list:
            self.error(IssueType.STRUCTURE, "must be a JSON array", where, rules.QR_NOT_ARRAY, link)
        else:
            self.error(IssueType.STRUCTURE, "must not be empty", where, rules.QR_EMPTY_ARRAY, link)
        return False

    def _plain(self, raw: list[Any], start: int, last: int, level: _Level) -> tuple[int, int]:
        """From `start`, the common items in one loop: `{linkId, answer: [a plain value]}` to
        a question of `cq.plain_questions`, in Questionnaire order and first of its linkId
        (positions only grow: `place` would find nothing to report); what `_item` would do
        with each, its path written only where kept. The index of the first other item
        (`_item`'s to check; nothing done with it) and the last position.
        """
        plain, out, answered = self.cq.plain_questions, self.out, level.container.answered
        most, conditional = self.cq.limits.max_response_nodes, self.cq.conditional
        parent, seen = level.parent, level.seen
        for index in range(start, len(raw)):
            item = raw[index]
            if type(item) is not dict or len(item) != 2:
                return index, last
            key, answers = item.get("linkId"), item.get("answer")
            definition = plain.get(key) if type(key) is str else None
            if definition is None or definition.parent != parent or definition.position <= last:
                return index, last
            if type(answers) is not list or len(answers) != 1:
                return index, last
            value = plain_answer(out, definition, answers[0])
            if value is None:
                return index, last
            link = definition.link_id
            if self.nodes < most:
                self.nodes += 1  # `_array`'s count of the answer, inline
            else:  # one over the limit: PayloadTooDeep
                self._array(answers, f"{level.path}.item[{index}]", "answer", link)
            # One answer keeps any maxOccurs of a plain question: `check_occurs` finds nothing.
            if link in conditional:
                self.answered_at.append((link, f"{level.path}.item[{index}]", self.frame))
            self._note(link, value)
            answered.add(link)
            if definition.min_occurs:
                level.container.counts[link] = (1, f"{level.path}.item[{index}]")
            seen[link], last = 1, definition.position
        return len(raw), last

    def _note(self, link: str, value: tuple[str, Any]) -> None:
        """An item answered: its value kept for enableWhen to compare, else only that it is;
        a Coding noted with its item (`Validation.codings`)."""
        if value[0] == "Coding":
            self.codings.append((link, value[1]))
        if self.conditions:
            self.frame.record(link, value)
        else:
            self.answered.add(link)

    def _item(self, item: dict[str, Any], definition: ItemDef, where: str, depth: int) -> bool:
        check_elements(self.out.issues, ITEM, item, where, definition.link_id)
        text, wanted = item.get("text"), definition.text
        if wanted is not None and type(text) is str and text.strip() and text != wanted:
            self.out.add(
                IssueSeverity.WARNING,
                IssueType.VALUE,
                f"text differs from the Questionnaire's: {definition.text!r}",
                where=f"{where}.text",
                rule=rules.QR_TEXT_MISMATCH,
                link=definition.link_id,
            )
        if definition.type in ("group", "display"):
            if "answer" in item:
                text = f"a {definition.type} item takes no answers"
                self.error(
                    IssueType.STRUCTURE,
                    text,
                    f"{where}.answer",
                    _ANSWER_ON[definition.type],
                    definition.link_id,
                )
            children = definition.children if definition.type == "group" else ()
            return self._nested(item, where, definition, children, depth)
        if "item" in item:
            text = f"items under question '{definition.link_id}' belong in answer.item (qrs-1)"
            self.error(
                IssueType.STRUCTURE,
                text,
                f"{where}.item",
                rules.QR_ITEM_MISPLACED,
                definition.link_id,
            )
        return self._answers(item.get("answer", _ABSENT), definition, where, depth, item)

    def _answers(
        self, raw: Any, definition: ItemDef, where: str, depth: int, item: dict[str, Any]
    ) -> bool:
        link = definition.link_id
        if raw is _ABSENT or not self._array(raw, where, "answer", link):
            return False
        if len(raw) > 1 or definition.min_occurs is not None or definition.max_occurs is not None:
            check_occurs(self.out, raw, definition, where)
        if link in self.cq.conditional:  # only these can be disabled
            self.answered_at.append((link, where, self.frame))
        values: list[tuple[str, Any]] = []
        # An answer holding nothing but its value leaves nothing to check below it when the
        # item has no children, or none that must be there (required, minOccurs: `_complete`).
        quiet = not definition.children or link in self.cq.optional_children
        for index, answer in enumerate(raw):
            value = check_answer(self.out, definition, answer, where, index)
            values.append(value or ("", None))
            if value is not None:
                self._note(link, value)
            if type(answer) is not dict:
                continue
            if len(answer) == 1 and value is not None and quiet:
                continue  # a value[x] and nothing else: no elements to check, no items
            here = f"{where}.answer[{index}]"
            check_elements(self.out.issues, ANSWER, answer, here, link)
            if "item" in answer or definition.children:
                self._nested(answer, here, definition, definition.children, depth, item=item)
        if len(values) > 1:
            check_exclusive(self.out, definition, values, where)
        return True

    def _nested(
        self,
        node: dict[str, Any],
        where: str,
        definition: ItemDef,
        children: tuple[str, ...],
        depth: int,
        *,
        item: dict[str, Any] | None = None,
    ) -> bool:
        """The items of a group instance or an answer to `item`, in their own frame if needed."""
        outer = self.frame
        if self.framed:
            self.frame = Frame(node, where, outer, definition.link_id, item)
        try:
            return self.items(
                node.get("item", _ABSENT), where, definition.link_id, children, depth + 1
            )
        finally:
            self.frame = outer

    def finish(self, status: str, deadline: float | None) -> None:
        """The checks that need the whole response: enablement, constraints, completeness."""
        cq = self.cq
        evaluator: Evaluator | None = None
        if cq.enable_expressions or cq.constraints:
            evaluator = Evaluator(cq, self.response, self.out, deadline)
            enabled = Enablement(cq.items, cq.conditional, self.root, evaluator.enabled)
        else:  # no expression to evaluate (most instruments): no environment to build
            enabled = Enablement(cq.items, cq.conditional, self.root)
        for link, where, frame in self.answered_at:
            if not enabled(link, frame):
                text = f"item '{link}' is disabled (enableWhen) but has answers"
                here = f"{where}.answer"
                self.error(IssueType.INVARIANT, text, here, rules.QR_ANSWER_ON_DISABLED, link)
        if evaluator is not None:
            for constraint in cq.constraints.get(None, ()):
                evaluator.check(constraint, None, self.response, "QuestionnaireResponse")
            for link, item, where, frame in self.occurrences:
                if enabled(link, frame):
                    for constraint in cq.constraints[link]:
                        evaluator.check(constraint, link, item, where, frame)
        severity = _REQUIRED_SEVERITY.get(status)
        if severity is not None:
            self._complete(severity, enabled)

    def _complete(self, severity: IssueSeverity, enabled: Enablement) -> None:
        """Required items and minOccurs, on enabled items only."""
        items, calculated = self.cq.items, self.cq.calculated
        for container in self.containers:
            for link in container.children:
                definition = items[link]
                missing = definition.required and link not in container.answered
                if not (missing or definition.min_occurs) or link in calculated:
                    continue  # nothing to demand; calculated items are the service's (SDC)
                if enabled(link, container.frame):
                    count, where = container.counts.get(link, (0, container.path))
                    too_few(
                        self.out,
                        severity,
                        definition,
                        missing=missing,
                        path=container.path,
                        count=count,
                        where=where,
                    )


#: How missing required answers are reported, by status (like the HL7 validator).
_REQUIRED_SEVERITY = {
    "completed": IssueSeverity.ERROR,
    "amended": IssueSeverity.ERROR,
    "in-progress": IssueSeverity.WARNING,
    "": IssueSeverity.WARNING,  # status missing or invalid: already an error of its own
}
