"""Compiled function invocations: each builder turns arguments into a `Step`.

The lambda-taking functions (`where`, `select`, `repeat`, `exists`, `all`,
`iif`) evaluate their arguments per item (or, for `iif`, on the input), with
that item as `$this`, exactly as fhirpath.js does. Their truth tests follow
fhirpath.js too: `iif` and `all` need exactly `true`; `where` and `exists` keep an
item unless the criterion is empty, `false` or an empty string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _functions as functions
from ._ast import Binary, Member, Node
from ._code import Compile, Step
from ._env import Run, as_collection
from ._errors import FhirPathError
from ._values import Seen, choice_names, distinct, to_boolean

__all__ = ["FUNCTIONS", "PLAIN", "field_in_strings", "resource_repeat"]

Builder = Callable[[tuple[Node, ...], Compile], Step]


def _plain(function: Callable[[list[Any]], list[Any]]) -> Builder:
    def build(args: tuple[Node, ...], compile_: Compile) -> Step:
        def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
            return function(items)

        return step

    return build


def _not(items: list[Any]) -> list[Any]:
    value = to_boolean(items, "not()")
    return [] if value is None else [not value]


def _weight(args: tuple[Node, ...], compile_: Compile) -> Step:
    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        by_id = run.env.weights
        if by_id is None:
            return functions.weight(items, run.env.weight)
        return [found for item in items if (found := by_id.get(id(item))) is not None]

    return step


def _round(args: tuple[Node, ...], compile_: Compile) -> Step:
    precision = compile_(args[0]).fn if args else None
    fixed = compile_(args[0]).value if args else None
    if fixed is not None:  # round(2): the places checked once, here
        try:
            places = functions.places_of(list(fixed))
        except FhirPathError:
            pass  # an error only for a number to round: left to run time
        else:
            return _round_to(places, list(fixed))

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        return functions.round_(items, precision(this, run) if precision else None)

    return step


def _round_to(places: int, precision: list[Any]) -> Step:
    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        if len(items) == 1:
            kind = type(items[0])
            if kind is float or kind is int:  # round_() with its checks passed, inlined
                return functions.round_places(items[0], places)
        return functions.round_(items, precision)

    return step


def _combine(args: tuple[Node, ...], compile_: Compile) -> Step:
    other = compile_(args[0]).fn

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        combined = items + other(this, run)
        run.spend(len(combined))
        return combined

    return step


def _selected(criterion: list[Any]) -> bool:
    # fhirpath.js keeps an item when the criterion's first item is truthy in JavaScript.
    return bool(criterion) and criterion[0] is not False and criterion[0] != ""


def _where(args: tuple[Node, ...], compile_: Compile) -> Step:
    criterion = compile_(args[0]).fn
    fast = field_in_strings(args[0], compile_)

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        run.spend(len(items))
        return [item for item in items if _selected(criterion([item], run))]

    if fast is None:
        return step
    name, strings = fast

    def fast_step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        run.spend(len(items))
        kept = []
        for item in items:
            if type(item) is dict:
                value = item.get(name)
                if type(value) is str:  # the common case, decided without evaluating
                    if value in strings:
                        kept.append(item)
                    continue
            if _selected(criterion([item], run)):
                kept.append(item)
        return kept

    return fast_step


def field_in_strings(node: Node, compile_: Compile) -> tuple[str, frozenset[str]] | None:
    """For `name in ('a' | 'b')` or `name = 'a'`: the name and the strings; else None."""
    match node:
        case Binary(op="in" | "=", left=Member(name=name), right=right) if not name[:1].isupper():
            values = compile_(right).value
            if values is None or not all(type(v) is str for v in values):
                return None
            if node.op == "=" and len(values) != 1:
                return None  # collection equality, not membership
            return name, frozenset(values)
        case _:
            return None


def _exists(args: tuple[Node, ...], compile_: Compile) -> Step:
    if not args:
        return lambda items, this, run: [bool(items)]
    criterion = compile_(args[0]).fn

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        run.spend(len(items))
        return [any(_selected(criterion([item], run)) for item in items)]

    return step


def _all(args: tuple[Node, ...], compile_: Compile) -> Step:
    criterion = compile_(args[0]).fn

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        run.spend(len(items))
        for item in items:
            result = criterion([item], run)
            if not (len(result) == 1 and result[0] is True):
                return [False]
        return [True]

    return step


def _select(args: tuple[Node, ...], compile_: Compile) -> Step:
    projection = compile_(args[0]).fn

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        run.spend(len(items))
        selected = []
        for item in items:
            found = projection([item], run)
            run.spend(len(found))  # as it comes: a cross product fails before it is built
            selected.extend(found)
        return selected

    return step


def _repeat(args: tuple[Node, ...], compile_: Compile) -> Step:
    match args[0]:
        case Member(name=name) if not name[:1].isupper():
            return _repeat_member(name)
        case _:
            pass
    projection = compile_(args[0]).fn

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        # fhirpath.js: breadth first; an item equal to one already found is dropped.
        found: list[Any] = []
        seen = Seen()
        frontier = items
        while frontier:
            run.spend(len(frontier))
            fresh: list[Any] = []
            for item in frontier:
                projected = projection([item], run)
                run.spend(len(projected))  # each is looked up in `seen`, however many repeat
                fresh.extend(new for new in projected if seen.add(new))
            found.extend(fresh)
            frontier = fresh
        return found

    return step


def _repeat_member(name: str) -> Step:
    """repeat(name): navigating a whole round at once gives the same items in the same order."""
    choices = choice_names(name)

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        found: list[Any] = []
        children = Seen().fresh_children
        frontier = items
        while frontier:
            run.spend(len(frontier))
            frontier = children(frontier, name, choices)
            found.extend(frontier)
        return found

    return step


def resource_repeat(name: str) -> Step:
    """`%resource.repeat(name)`, kept in `Env.memo` (when there is one) for the next evaluation.

    A kept result is shared, as constants are (results are never mutated), and is charged
    to the budget as computing it again would be: the budget is exceeded exactly as often.
    """
    repeat = _repeat_member(name)
    key = ("repeat", name)

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        env = run.env
        memo = env.memo
        if memo is None:
            return repeat(as_collection(env.resource), this, run)
        kept: tuple[list[Any], int] | None = memo.get(key)
        if kept is None:
            left = run.left
            found = repeat(as_collection(env.resource), this, run)
            memo[key] = kept = (found, left - run.left)
        else:
            run.spend(kept[1])
        return kept[0]

    return step


def _iif(args: tuple[Node, ...], compile_: Compile) -> Step:
    condition, then = compile_(args[0]).fn, compile_(args[1]).fn
    otherwise = compile_(args[2]).fn if len(args) > 2 else None

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        result = condition(items, run)
        if len(result) == 1 and result[0] is True:
            return then(items, run)
        return otherwise(items, run) if otherwise else []

    return step


def _trace(args: tuple[Node, ...], compile_: Compile) -> Step:
    """trace(name [, projection]): its input, and nothing written anywhere. What trace()
    would log is the response (patient data), and a log is no place for it; the arguments
    are not even evaluated."""

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        return items

    return step


#: The functions of their input alone (no arguments, no budget): a chain calls them
#: directly rather than through a step.
PLAIN: dict[str, Callable[[list[Any]], list[Any]]] = {
    "empty": lambda items: [not items],
    "count": lambda items: [len(items)],
    "first": lambda items: items[:1],
    "last": lambda items: items[-1:],
    "tail": lambda items: items[1:],
    "single": functions.single,
    "distinct": distinct,
    "not": _not,
    "sum": functions.sum_,
    "min": functions.min_,
    "max": functions.max_,
    "avg": functions.avg,
    "toDecimal": functions.to_decimal,
    "toInteger": functions.to_integer,
    "abs": functions.abs_,
    "floor": functions.floor,
    "ceiling": functions.ceiling,
    "truncate": functions.truncate,
}

#: Function name -> (fewest arguments, most arguments, builder).
FUNCTIONS: dict[str, tuple[int, int, Builder]] = {
    **{name: (0, 0, _plain(function)) for name, function in PLAIN.items()},
    "weight": (0, 0, _weight),
    "ordinal": (0, 0, _weight),  # the SDC name before weight()
    "round": (0, 1, _round),
    "combine": (1, 1, _combine),
    "where": (1, 1, _where),
    "exists": (0, 1, _exists),
    "all": (1, 1, _all),
    "select": (1, 1, _select),
    "repeat": (1, 1, _repeat),
    "iif": (2, 3, _iif),
    "trace": (0, 2, _trace),
}
