"""Whether an item is enabled (R4 enableWhen / enableBehavior, SDC enableWhenExpression).

An item is enabled when its parent is enabled and its conditions hold (any, or
all with `enableBehavior` all), or its enableWhenExpression gives true. A
condition on a disabled question sees no answers (SDC: disabled items are
treated as unanswered).

Answers are kept per `Frame`: the response, and each group instance or answer
that holds items, each with the answers given anywhere inside it. Enablement is
decided per frame, so within a repeating group each repetition stands alone:
enableWhen.question is looked up in the nearest enclosing instance that
answers it (R4: the ancestor axis first), then across the whole response.
`exists` holds when the question has (answerBoolean true) or lacks (false) an
answer; other operators are false for an unanswered question; `!=` holds when
the question is answered and no answer equals the value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ._items import EnableWhen, ItemDef

__all__ = ["Enablement", "Frame"]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class Frame:
    """One instance holding items (the response, a group instance, an answer), and its answers."""

    __slots__ = ("node", "parent", "path", "values")

    def __init__(self, node: Any, path: str, parent: Frame | None = None) -> None:
        self.node = node
        self.path = path
        self.parent = parent
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

    __slots__ = ("_conditional", "_expression", "_items", "_memo", "_root", "_visiting")

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
        found: Frame | None = frame
        while found is not None and question not in found.values:
            found = found.parent
        occurrences = found.values[question] if found is not None else []
        answers = [(kind, value) for kind, value, at in occurrences if self(question, at)]
        if condition.operator == "exists":
            return bool(answers) is (condition.answer is True)
        if not answers:
            return False
        if condition.operator == "=":
            return any(_equal(condition, answer) for answer in answers)
        if condition.operator == "!=":
            return not any(_equal(condition, answer) for answer in answers)
        compare = _ORDER[condition.operator]
        return any(_ordered(condition, answer, compare) for answer in answers)


def _comparable(value_type: str, value: Any) -> Any:
    """The part of a value that comparisons use."""
    if value_type == "Coding":
        return (value.get("system"), value.get("code"))
    if value_type == "Quantity":
        return value.get("value")
    if value_type == "Reference":
        return value.get("reference")
    return value


def _kind(value_type: str) -> str:
    return "number" if value_type in ("Integer", "Decimal") else value_type


def _equal(condition: EnableWhen, answer: tuple[str, Any]) -> bool:
    if _kind(condition.answer_type) != _kind(answer[0]):
        return False
    return bool(_comparable(condition.answer_type, condition.answer) == _comparable(*answer))


def _ordered(
    condition: EnableWhen, answer: tuple[str, Any], compare: Callable[[Any, Any], bool]
) -> bool:
    if _kind(condition.answer_type) != _kind(answer[0]) or answer[0] in ("Coding", "Boolean"):
        return False
    left, right = _comparable(*answer), _comparable(condition.answer_type, condition.answer)
    if type(left) is not type(right) and not {type(left), type(right)} <= {int, float}:
        return False
    return compare(left, right)
