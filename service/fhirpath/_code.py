"""The shapes compiled code takes: expression closures, invocation steps, constants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._ast import Node
from ._env import Run
from ._errors import FhirPathError

__all__ = ["Code", "Compile", "Fn", "NotCompilableError", "Step", "constant"]

#: An expression: (the focus, which is also `$this`; the run) -> result collection.
Fn = Callable[[list[Any], Run], list[Any]]
#: A member or function after a dot: (input collection, `$this`, run) -> result collection.
Step = Callable[[list[Any], list[Any], Run], list[Any]]


class NotCompilableError(FhirPathError):
    """The expression is valid FHIRPath but uses something the compiler does not support."""


@dataclass(frozen=True, slots=True)
class Code:
    """A compiled expression; `value` is set when it is a constant known at compile time."""

    fn: Fn
    value: tuple[Any, ...] | None = None


Compile = Callable[[Node], Code]


def constant(values: tuple[Any, ...]) -> Code:
    """The code of a constant collection (the list returned is shared: never mutate results)."""
    shared = list(values)

    def fn(focus: list[Any], run: Run) -> list[Any]:
        return shared

    return Code(fn, values)
