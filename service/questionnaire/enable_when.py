"""Whether an item is enabled (R4 enableWhen / enableBehavior, SDC enableWhenExpression).

An item is enabled when its parent is enabled and its conditions hold (any, or
all with `enableBehavior` all), or its enableWhenExpression gives true. A
condition on a disabled question sees no answers (SDC: disabled items are
treated as unanswered).

Answers are kept per `Frame`: the response, and each group instance or answer
that holds items, each with the answers given anywhere inside it. Enablement is
decided per frame. enableWhen.question is looked up in the instance, enclosing
the item, of the nearest item that contains both of them (R4: the nearest
occurrence on the ancestor axis; the HL7 validator's "common group"): a
question in the same repeating group is answered in the same repetition or not
at all, never by a sibling repetition; one outside every group that holds the
item is looked up across the whole response (any of its occurrences).
`exists` holds when the question has (answerBoolean true) or lacks (false) an
answer; other operators are false for an unanswered question; `!=` holds when
the question is answered and no answer equals the value.

Values compare as the HL7 validator compares them: numbers as numbers; dates,
dateTimes and times as FHIRPath orders them (`service.fhir.temporal`: precision by
precision, dateTimes with a time as instants), where an order unknown at the
two precisions satisfies no operator, `!=` included; a Coding by system and
code, or by code alone when the condition gives no system; a Quantity by its
value alone, units ignored (as the HL7 validator does); a Reference by its
reference.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from service.fhir.temporal import order

from .items import EnableWhen, ItemDef

__all__ = ["Enablement", "Frame"]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class Frame:
    """One instance holding items (the response, a group instance, an answer), and its answers.

    `link` is the linkId of the group or question it is an instance or answer of (None for
    the response) and `item` that group's or question's response item.
    """

    __slots__ = ("item", "link", "node", "parent", "path", "values")

    def __init__(
        self,
        node: Any,
        path: str,
        parent: Frame | None = None,
        link: str | None = None,
        item: Any = None,
    ) -> None:
        self.node = node
        self.path = path
        self.parent = parent
        self.link = link
        self.item = node if item is None else item
        self.values: dict[str, list[tuple[str, Any, Frame]]] = {}

    def record(self, link_id: str, value: tuple[str, Any]) -> None:
        """Note an answer given in this frame, in it and every enclosing frame."""
        frame: Frame | None = self
        while frame is not None:
            frame.values.setdefault(link_id, []).append((value[0], value[1], self))
            frame = frame.parent


#: Decides an item's enableWhenExpression in a frame.
ExpressionCheck = Callable[[ItemDef, Frame], bool]


def _no_expression(definition: ItemDef, frame: Frame) -> bool:
    return True


class Enablement:
    """Answers `enabled(linkId, frame)`, memoised, for one response."""

    __slots__ = ("_above", "_conditional", "_expression", "_items", "_memo", "_root", "_visiting")

    def __init__(
        self,
        items: dict[str, ItemDef],
        conditional: frozenset[str],
        root: Frame,
        expression: ExpressionCheck = _no_expression,
    ) -> None:
        self._items = items
        self._conditional = conditional
        self._root = root
        self._expression = expression
        self._memo: dict[tuple[str, Frame], bool] = {}
        self._visiting: set[tuple[str, Frame]] = set()
        self._above: dict[str, frozenset[str]] = {}

    def __call__(self, link_id: str, frame: Frame | None = None) -> bool:
        """True if the item is enabled in `frame` (the one holding it; default the response)."""
        if link_id not in self._conditional:
            return True
        key = (link_id, frame or self._root)
        found = self._memo.get(key)
        if found is not None:
            return found
        if key in self._visiting:  # a cycle of conditions: do not disable on it
            return True
        self._visiting.add(key)
        definition = self._items[link_id]
        here = key[1]
        parent = definition.parent
        result = (parent is None or self(parent, here.parent or here)) and self._holds(
            definition, here
        )
        self._visiting.discard(key)
        self._memo[key] = result
        return result

    def _holds(self, definition: ItemDef, frame: Frame) -> bool:
        if not definition.enable_when:
            return self._expression(definition, frame)
        results = (self._condition(c, frame) for c in definition.enable_when)
        return all(results) if definition.enable_all else any(results)

    def _condition(self, condition: EnableWhen, frame: Frame) -> bool:
        question = condition.question
        around = self._ancestors(question)
        found = frame  # up to the instance of the nearest item holding both, or the response
        while found.parent is not None and found.link not in around:
            found = found.parent
        occurrences = found.values.get(question, ())
        answers = [(kind, value) for kind, value, at in occurrences if self(question, at)]
        if condition.operator == "exists":
            return bool(answers) is (condition.answer is True)
        if not answers:
            return False
        if condition.operator == "=":
            return any(_equal(condition, answer) is True for answer in answers)
        if condition.operator == "!=":
            return all(_equal(condition, answer) is False for answer in answers)
        compare = _ORDER[condition.operator]
        return any(_ordered(condition, answer, compare) for answer in answers)

    def _ancestors(self, link: str) -> frozenset[str]:
        """The linkIds of the groups and questions an item is nested in."""
        found = self._above.get(link)
        if found is None:
            chain, parent = set(), self._items[link].parent
            while parent is not None:
                chain.add(parent)
                parent = self._items[parent].parent
            found = self._above[link] = frozenset(chain)
        return found


_TEMPORAL = frozenset({"Date", "DateTime", "Time"})


def _comparable(value_type: str, value: Any) -> Any:
    """The part of a value that comparisons use."""
    if value_type == "Quantity":
        return value.get("value")
    if value_type == "Reference":
        return value.get("reference")
    return value


def _kind(value_type: str) -> str:
    return "number" if value_type in ("Integer", "Decimal") else value_type


def _equal(condition: EnableWhen, answer: tuple[str, Any]) -> bool | None:
    """Whether the answer equals the condition's value; None if that is unknown."""
    kind, value = answer
    if _kind(condition.answer_type) != _kind(kind):
        return False
    wanted = condition.answer
    if kind in _TEMPORAL:
        found = order(value, wanted)
        return None if found is None else found == 0
    if kind == "Coding":
        system = wanted.get("system")
        same_system = system is None or system == value.get("system")
        return same_system and bool(wanted.get("code") == value.get("code"))
    return bool(_comparable(condition.answer_type, wanted) == _comparable(kind, value))


def _ordered(
    condition: EnableWhen, answer: tuple[str, Any], compare: Callable[[Any, Any], bool]
) -> bool:
    if _kind(condition.answer_type) != _kind(answer[0]) or answer[0] in ("Coding", "Boolean"):
        return False
    if answer[0] in _TEMPORAL:
        found = order(answer[1], condition.answer)
        return found is not None and compare(found, 0)
    left, right = _comparable(*answer), _comparable(condition.answer_type, condition.answer)
    if type(left) is not type(right) and not {type(left), type(right)} <= {int, float}:
        return False
    return compare(left, right)
