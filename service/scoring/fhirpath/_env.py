"""What an evaluation sees (`Env`), what a compiled expression offers, and the per-run budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import BudgetExceeded

__all__ = ["Env", "Expression", "Run", "as_collection", "no_weight"]


def no_weight(node: Any) -> float | int | None:
    """The default weight lookup: nothing has a weight."""
    return None


@dataclass(slots=True)
class Env:
    """The environment of one evaluation: the resources, the %variables, weights and budget.

    `context` is what %context names (SDC: the response item an item-level
    expression is about); None means the resource, as for root-level expressions.
    `memo`, when a dict, lets compiled code keep what depends on `resource` alone
    (`%resource.repeat(item)`) from one evaluation to the next: whoever changes the
    resource while the Env is in use must clear it.
    """

    resource: Any
    questionnaire: Any = None
    variables: dict[str, list[Any]] = field(default_factory=dict)
    weight: Callable[[Any], float | int | None] = no_weight
    budget: int = 100_000
    context: Any = None
    memo: dict[Any, Any] | None = None
    weights: dict[int, float | int] | None = None  # by id() of the node; compiled code uses
    # it instead of calling `weight` for each node (the two must agree)


class Expression(Protocol):
    """A parsed FHIRPath expression, ready to evaluate many times."""

    source: str
    compiled: bool

    def evaluate(self, focus: list[Any], env: Env) -> list[Any]:
        """Evaluate against `focus` (usually `[env.resource]`); the result is a new list."""
        ...


def as_collection(value: Any) -> list[Any]:
    """A variable's value as a collection: lists as they are, None as empty, else a singleton."""
    if type(value) is list:
        return value
    return [] if value is None else [value]


class Run:
    """The state of one evaluation: its environment and what is left of its budget."""

    __slots__ = ("env", "left")

    def __init__(self, env: Env) -> None:
        self.env = env
        self.left = env.budget

    def spend(self, count: int) -> None:
        """Account for `count` more materialised elements or iterations."""
        self.left -= count
        if self.left < 0:
            raise BudgetExceeded(f"evaluation exceeded its budget of {self.env.budget} elements")
