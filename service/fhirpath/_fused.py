"""`%resource.repeat(name).where(<field> in <strings>)`, the start of nearly every scoring rule,
as one step: the where() over the kept repeat() decided by set membership in C.

With `Env.memo`, the repeat()'s result is kept from one evaluation to the next (see
`resource_repeat`), and an instrument's rules run a where() over it each: MEQ-30 five, over
its 30 items. The second such where() keeps, beside it, the `<field>` of each item found
(`linkId`; not the first: PHQ-9 runs one where() per repeat(), and noting costs a pass of
its own); while every item is an object whose field is a string, each where() is
then `compress(items, map(strings.__contains__, fields))`, which is what the compiled
where() decides for such items without evaluating its criterion, at a fraction of the cost
of a Python loop. Anything else (an item not an object, a field not a string, no memo)
goes through the compiled where() step itself. The budget is charged as the two steps
charge it: the repeat() its cost, the where() its input.
"""

from __future__ import annotations

from itertools import compress
from typing import Any

from ._calls import resource_repeat
from ._code import Step
from ._env import Run

__all__ = ["repeat_where"]

_STRINGS = frozenset({str})
#: In the memo: the where() has run once over that repeat() (the fields are not kept yet).
_ONCE: Any = object()


def repeat_where(name: str, field: str, strings: frozenset[str], where: Step) -> Step:
    """`%resource.repeat(name).where(...)`; `where` is the compiled where() step, whose
    criterion is `field in strings` (or `field = 'a'`, `strings` then being one string)."""
    repeat = resource_repeat(name)
    key = ("fields", name, field)
    contains = strings.__contains__

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        found = repeat(items, this, run)
        memo = run.env.memo
        if memo is None:
            return where(found, this, run)
        kept: tuple[list[Any], Any] | None = memo.get(key)
        if kept is None or kept[0] is not found:
            memo[key] = (found, _ONCE)
            return where(found, this, run)
        fields = kept[1]
        if fields is _ONCE:
            memo[key] = (found, fields := fields_of(found, field))
        if fields is None:
            return where(found, this, run)
        run.spend(len(found))  # as the where() step charges its input
        return list(compress(found, map(contains, fields)))

    return step


def fields_of(items: list[Any], field: str) -> list[Any] | None:
    """The `field` of each item, if every item is an object and every such field a string;
    else None."""
    fields = [item.get(field) if type(item) is dict else None for item in items]
    return fields if set(map(type, fields)) <= _STRINGS else None
