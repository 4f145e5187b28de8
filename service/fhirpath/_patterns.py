"""`matches()` and `replaceMatches()`, with fhirpathpy's semantics, run on RE2.

Python's `re` backtracks without bound (`'aaaa…!'.matches('^(a+)+$')` takes minutes), so
the patterns go through `service.fhirpath.regex` (RE2, linear time): a literal pattern it
refuses makes the expression fail to compile, and at evaluation a pattern it refuses, or
an input too long for the pattern's program, fails the evaluation (FhirPathError) rather
than running. As in fhirpathpy, `matches()` searches with `.` matching newlines
and `replaceMatches()` substitutes every match, `$1` naming the first group; a result
that could pass MAX_STRING characters is refused (BudgetExceeded) before it is built.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ._ast import Call, Literal, Node, walk
from ._env import check_length
from ._errors import FhirPathError, UnsupportedRegex
from .regex import MAX_STEPS, Pattern, UnsafePattern, UnsupportedPattern, compile_pattern

__all__ = ["check_patterns", "matches", "replace_matches"]

#: The functions whose first argument is a regex: whether `.` matches newlines (as in
#: fhirpathpy, which compiles matches() with DOTALL and replaceMatches() without).
_FLAGS = {"matches": True, "replaceMatches": False}
_GROUP = re.compile(r"\$(\d+)")


def check_patterns(tree: Node) -> None:
    """Raise FhirPathError for a literal pattern of matches()/replaceMatches() that RE2
    refuses: content that could not be evaluated safely is refused when compiled."""
    for node in walk(tree):
        if isinstance(node, Call) and node.name in _FLAGS and node.args:
            first = node.args[0]
            if isinstance(first, Literal) and len(first.values) == 1:
                source = first.values[0]
                if isinstance(source, str):
                    _pattern(source, _FLAGS[node.name])


def matches(items: list[Any], regex: Any) -> list[Any]:
    """matches(regex): whether the single string matches anywhere."""
    if not regex or not items:
        return []
    value = _one_string(items, "matches")
    return [_guarded(regex, value, "matches").search(value) is not None]


def replace_matches(items: list[Any], regex: Any, substitution: Any) -> list[Any]:
    """replaceMatches(regex, substitution): the single string with every match replaced."""
    value = _one_string(items, "replaceMatches")
    if isinstance(regex, list) or isinstance(substitution, list):
        return []
    template = _GROUP.sub(r"\\\1", substitution)
    pattern = _guarded(regex, value, "replaceMatches")
    # A bound on the result, known before it is built: each match gives way to the template,
    # each group reference in it (at most one per backslash) to at most the match's text.
    count = matched = 0
    for match in pattern.finditer(value):
        count += 1
        matched += match.end() - match.start()
    check_length(len(value) - matched + count * len(template) + template.count("\\") * matched)
    return [pattern.sub(template, value)]


def _one_string(items: list[Any], function: str) -> str:
    if len(items) == 1 and isinstance(items[0], str):
        return items[0]
    raise FhirPathError(f"{function}() expects a single string, got {items!r:.100}")


def _guarded(source: str, value: str, function: str) -> Any:
    """The compiled pattern, if RE2 runs it and `value` is within its cost; else FhirPathError."""
    pattern = _pattern(source, _FLAGS[function])
    if pattern.cost(len(value)) > MAX_STEPS:
        raise FhirPathError(
            f"{function}(): {len(value)} characters are too many to match {source!r:.100} safely"
        )
    return pattern.compiled


def _pattern(source: str, dot_all: bool) -> Pattern:
    try:
        return _compiled(source, dot_all)
    except UnsupportedPattern as exc:
        raise UnsupportedRegex(f"regex {source!r:.100}: {exc}") from None
    except UnsafePattern as exc:
        raise FhirPathError(f"regex {source!r:.100}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _compiled(source: str, dot_all: bool) -> Pattern:
    return compile_pattern(source, dot_all=dot_all)
