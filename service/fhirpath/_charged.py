"""fhirpathpy's invocations that build strings or collections, with what they build charged.

As the compiler does: a string costs one element per 64 characters and is refused over
MAX_STRING (before it is built where its length can be known first: `+`, `&`, replace(),
join()); a collection that combines others costs its items; the functions that compare
every item of one collection with every item of another cost the pairs; and an integer
result beyond the range of a double is overflow, empty, as in `functions.finite`.
fhirpathpy's select() and repeat() copy their result for each item (quadratic), so they
are replaced by linear ones with the same results, charging each projection as it comes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, cast

from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.nodes import ResourceNode

from . import _functions as functions
from ._env import Run, check_length

__all__ = ["CHARGED", "charge_strings"]

_REGISTRY = cast(dict[str, dict[str, Any]], invocation_registry)


def _charge(run: Run, built: Any) -> Any:
    """`built`, an invocation's result, paid for; an integer beyond a double's range is empty."""
    if type(built) is str:
        run.spend_string(len(built))
    elif type(built) is list:
        run.spend(len(built))
    elif type(built) is int:
        return functions.finite(built)
    return built


def charge_strings(run: Run, built: list[Any]) -> list[Any]:
    """`built`, a collection of strings, paid for by their lengths."""
    for text in built:
        run.spend_string(len(text))
    return built


def _charged(name: str, before: Callable[..., None] | None = None) -> dict[str, Any]:
    """fhirpathpy's invocation `name`, its result charged, after `before(run, *arguments)`."""
    invocation = _REGISTRY[name]
    function = invocation["fn"]

    def fn(ctx: Any, *args: Any) -> Any:
        if before is not None:
            before(ctx.run, *args)
        return _charge(ctx.run, function(ctx, *args))

    return {**invocation, "fn": fn}


def _strings(*values: Any) -> list[str]:
    data = (value.data if isinstance(value, ResourceNode) else value for value in values)
    return [value for value in data if type(value) is str]


def _before_plus(run: Run, left: list[Any], right: list[Any]) -> None:
    if len(left) == 1 and len(right) == 1:
        check_length(sum(map(len, _strings(left[0], right[0]))))


def _before_amp(run: Run, left: Any, right: Any) -> None:
    check_length(sum(map(len, _strings(left, right))))


def _before_replace(run: Run, items: list[Any], pattern: Any, substitution: Any) -> None:
    text = _strings(*items[:1])
    if len(items) != 1 or not text or len(_strings(pattern, substitution)) != 2:
        return  # fhirpathpy gives empty, or fails
    value = text[0]
    count = len(value) + 1 if pattern == "" else value.count(pattern)  # '' matches everywhere
    check_length(len(value) + count * (len(substitution) - len(pattern)))


def _before_join(run: Run, items: list[Any], separator: Any = "") -> None:
    parts = _strings(*items)
    gap = len(separator) if type(separator) is str else 0
    check_length(sum(map(len, parts)) + gap * max(len(parts) - 1, 0))


def _before_pairs(run: Run, left: list[Any], right: list[Any]) -> None:
    run.spend(len(left) * len(right))


def _select(ctx: Any, items: list[Any], projection: Any) -> list[Any]:
    selected: list[Any] = []
    for index, item in enumerate(items):
        ctx["$index"] = index
        found = projection(item)
        ctx.run.spend(len(found))
        selected.extend(found)
    return selected


def _repeat(ctx: Any, items: list[Any], projection: Any) -> list[Any]:
    # fhirpathpy's order and dedup: first in, first out; only items from earlier rounds drop.
    found: list[Any] = []
    seen: set[Any] = set()
    waiting = deque(items)
    while waiting:
        projected = projection(waiting.popleft())
        ctx.run.spend(len(projected))
        fresh = [item for item in projected if item not in seen]
        seen.update(fresh)
        found.extend(fresh)
        waiting.extend(fresh)
    return found


#: Replacements for fhirpathpy's entries, by name.
CHARGED: dict[str, dict[str, Any]] = {
    "+": _charged("+", _before_plus),
    "&": _charged("&", _before_amp),
    "replace": _charged("replace", _before_replace),
    "join": _charged("join", _before_join),
    **{name: _charged(name) for name in ("upper", "lower", "trim", "toString", "encode", "decode")},
    **{name: _charged(name) for name in ("-", "*")},
    **{name: _charged(name) for name in ("combine", "union", "|", "children", "descendants")},
    **{name: _charged(name) for name in ("split", "toChars")},
    **{
        name: _charged(name, _before_pairs)
        for name in ("exclude", "intersect", "subsetOf", "supersetOf")
    },
    "select": {**_REGISTRY["select"], "fn": _select},
    "repeat": {**_REGISTRY["repeat"], "fn": _repeat},
}
