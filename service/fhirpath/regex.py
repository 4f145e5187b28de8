"""Regular expressions from content (the `regex` extension on string items, FHIRPath
`matches()` and `replaceMatches()`), made safe to run on untrusted answers.

Python's `re` backtracks and has no timeout, so a Questionnaire's pattern could
make one answer cost minutes (`(a+)+b`). Patterns are therefore checked when
the Questionnaire is compiled, and answers are matched only when the work is
provably small:

- a pattern is at most `MAX_PATTERN` characters and has no nested repetition
  (`(a+)+`), no alternation or lookaround inside a repetition, and no
  backreference: what is left backtracks at most over the choice of count of
  each repetition, one after another;
- an answer is matched only when that worst case, the product over the
  repetitions of min(their maximum, answer length + 1), times the number of
  alternatives, stays within `MAX_STEPS`; otherwise it is reported unchecked.

FHIR regexes match the whole value (`fullmatch`), like XML Schema patterns; FHIRPath's
functions try every position (`search_cost`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PATTERN", "MAX_STEPS", "Pattern", "UnsafePattern", "compile_pattern"]

MAX_PATTERN = 1_000
MAX_STEPS = 1_000_000
_parser: Any = importlib.import_module("re._parser")  # typeshed has no stub for it
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_LOOKAROUNDS = frozenset({"ASSERT", "ASSERT_NOT"})
_REFERENCES = frozenset({"GROUPREF", "GROUPREF_EXISTS"})


class UnsafePattern(ValueError):
    """A pattern that could backtrack without bound, or that is not a valid regex."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled, checked pattern and what bounds its cost: repetition maxima, alternatives."""

    source: str
    compiled: re.Pattern[str]
    repeats: tuple[int, ...]
    alternatives: int

    def cost(self, length: int) -> int:
        """The worst-case number of backtracking paths for an input of `length` characters."""
        steps = self.alternatives
        for most in self.repeats:
            steps *= min(most, length + 1)
        return steps

    def search_cost(self, length: int) -> int:
        """The worst case of trying the pattern at every position (`search`, `sub`)."""
        return self.cost(length) * (length + 1)

    def matches(self, value: str) -> bool | None:
        """True/False for a full match of `value`; None when it would cost too much to tell."""
        if self.cost(len(value)) > MAX_STEPS:
            return None
        return self.compiled.fullmatch(value) is not None


def compile_pattern(source: str, flags: int = 0) -> Pattern:
    """Compile a Questionnaire's regex; raise UnsafePattern if it is invalid or unsafe."""
    if len(source) > MAX_PATTERN:
        raise UnsafePattern(f"longer than {MAX_PATTERN} characters")
    try:
        compiled = re.compile(source, flags)
        tree = _parser.parse(source, flags)
    except re.error as exc:
        raise UnsafePattern(f"not a valid regular expression: {exc}") from exc
    repeats: list[int] = []
    alternatives = _walk(list(tree.data), repeats, inside=None)
    return Pattern(source, compiled, tuple(repeats), alternatives)


def _walk(sequence: list[Any], repeats: list[int], inside: str | None) -> int:
    """Check a parsed sequence, collecting repetition maxima; its number of alternatives."""
    alternatives = 1
    for op, argument in sequence:
        name = str(op)
        if name in _REFERENCES:
            raise UnsafePattern("backreferences are not supported")
        if name in _REPEATS:
            _, high, body = argument
            wide = high > 1
            if wide and inside is not None:
                raise UnsafePattern(f"a repetition inside {inside} can backtrack without bound")
            if wide:
                repeats.append(high)
            alternatives *= _walk(list(body), repeats, "a repetition" if wide else inside)
        elif name == "BRANCH":
            if inside is not None:
                raise UnsafePattern(f"alternatives inside {inside} can backtrack without bound")
            alternatives *= sum(_walk(list(branch), repeats, inside) for branch in argument[1])
        elif name in _LOOKAROUNDS:
            alternatives *= _walk(list(argument[1]), repeats, "a lookaround")
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            body = argument[-1] if name == "SUBPATTERN" else argument
            alternatives *= _walk(list(body), repeats, inside)
    return alternatives
