"""Whether an item is enabled (R4 enableWhen / enableBehavior), given the response's answers.

An item is enabled when its parent is enabled and its conditions hold (any, or
all with `enableBehavior` all). A condition on a disabled question sees no
answers (SDC: disabled items are treated as unanswered). Answers are looked up
by linkId across the whole response, which is exact for non-repeating groups;
within repeating groups a condition sees the answers of every repetition.
`exists` holds when the question has (answerBoolean true) or lacks (false) an
answer; other operators are false for an unanswered question; `!=` holds when
the question is answered and no answer equals the value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ._items import EnableWhen, ItemDef

__all__ = ["Enablement"]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class Enablement:
    """Answers `enabled(linkId)`, memoised, for one response."""

    __slots__ = ("_conditional", "_items", "_memo", "_values", "_visiting")

    def __init__(
        self,
        items: dict[str, ItemDef],
        values: dict[str, list[tuple[str, Any]]],
        conditional: frozenset[str],
    ) -> None:
        self._items = items
        self._conditional = conditional
        self._values = values
        self._memo: dict[str, bool] = {}
        self._visiting: set[str] = set()

    def __call__(self, link_id: str) -> bool:
        """True if the item is enabled."""
        if link_id not in self._conditional:
            return True
        found = self._memo.get(link_id)
        if found is not None:
            return found
        if link_id in self._visiting:  # a cycle of conditions: do not disable on it
            return True
        self._visiting.add(link_id)
        definition = self._items[link_id]
        result = (definition.parent is None or self(definition.parent)) and self._holds(definition)
        self._visiting.discard(link_id)
        self._memo[link_id] = result
        return result

    def _holds(self, definition: ItemDef) -> bool:
        if not definition.enable_when:
            return True
        results = (self._condition(c) for c in definition.enable_when)
        return all(results) if definition.enable_all else any(results)

    def _condition(self, condition: EnableWhen) -> bool:
        answers = self._values.get(condition.question, [])
        if answers and not self(condition.question):
            answers = []
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
