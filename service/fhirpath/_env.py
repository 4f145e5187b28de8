"""What an evaluation sees (`Env`), what a compiled expression offers, and the per-run budget.

The budget counts elements materialised and iterations; a string built counts one element
per 64 characters, and none may pass `MAX_STRING`. An Env with a `deadline` also bounds
wall-clock time: the clock is read when a run starts and every `CLOCK_EVERY` elements.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import BudgetExceeded

__all__ = [
    "CLOCK_EVERY",
    "MAX_STRING",
    "Env",
    "Expression",
    "Run",
    "as_collection",
    "check_length",
    "no_weight",
]

#: The longest string an evaluation may build, in characters (a few MB at most).
MAX_STRING = 1_000_000
#: Elements spent between two readings of the clock, when there is a deadline.
CLOCK_EVERY = 1_024
_LATE = "evaluation exceeded its time limit"
_monotonic = time.monotonic


def no_weight(node: Any) -> float | int | None:
    """The default weight lookup: nothing has a weight."""
    return None


@dataclass(slots=True)
class Env:
    """The environment of one evaluation: the resources, the %variables, weights and budget.

    `context` is what %context names (SDC: the response item an item-level
    expression is about); None means the resource, as for root-level expressions.
    `qitem` is what %qitem names (SDC: the Questionnaire item an expression is on).
    `memo`, when a dict, lets compiled code keep what depends on `resource` alone
    (`%resource.repeat(item)`) from one evaluation to the next: whoever changes the
    resource while the Env is in use must clear it. `deadline`, a `time.monotonic()`
    reading, is when every evaluation with this Env stops (BudgetExceeded); None: never.
    """

    resource: Any
    questionnaire: Any = None
    variables: dict[str, list[Any]] = field(default_factory=dict)
    weight: Callable[[Any], float | int | None] = no_weight
    budget: int = 100_000
    context: Any = None
    qitem: Any = None
    memo: dict[Any, Any] | None = None
    # by id() of nodes of `resource`; compiled code uses it instead of calling `weight` for
    # each node (the two must agree)
    weights: dict[int, float | int] | None = None
    deadline: float | None = None


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


def check_length(length: int) -> None:
    """Refuse (BudgetExceeded) to build a string of `length` characters, if over MAX_STRING."""
    if length > MAX_STRING:
        raise BudgetExceeded(
            f"evaluation would build a string of {length} characters, over {MAX_STRING}"
        )


class Run:
    """The state of one evaluation: its environment and what is left of its budget.

    `left` falling below `mark` calls for a checkpoint: the budget is exhausted (`mark`
    is 0 without a deadline, so the hot path makes a single comparison either way) or,
    with a deadline, another CLOCK_EVERY elements have been spent and the clock is read.
    """

    __slots__ = ("env", "left", "mark")

    def __init__(self, env: Env) -> None:
        self.env = env
        self.left = budget = env.budget
        self.mark = 0
        deadline = env.deadline
        if deadline is not None:  # read now too: many short runs must not outlast it
            if _monotonic() > deadline:
                raise BudgetExceeded(_LATE)
            self.mark = budget - CLOCK_EVERY if budget > CLOCK_EVERY else 0

    def spend(self, count: int) -> None:
        """Account for `count` more materialised elements or iterations."""
        self.left -= count
        if self.left < self.mark:
            self.checkpoint()

    def spend_string(self, length: int) -> None:
        """Account for a string of `length` characters built: one element per 64 begun."""
        check_length(length)
        self.spend(-(-length // 64))

    def checkpoint(self) -> None:
        """Raise BudgetExceeded if the budget is spent or the deadline passed; else set `mark`."""
        if self.left < 0:
            raise BudgetExceeded(f"evaluation exceeded its budget of {self.env.budget} elements")
        deadline = self.env.deadline  # never None here: only a deadline sets `mark` above 0
        if deadline is not None and _monotonic() > deadline:
            raise BudgetExceeded(_LATE)
        self.mark = max(self.left - CLOCK_EVERY, 0)
