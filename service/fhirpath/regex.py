"""Regular expressions from content (the `regex` extension on string items, FHIRPath
`matches()` and `replaceMatches()`), run on RE2: linear time, no backtracking.

Python's `re` backtracks and cannot be interrupted (`(a?){30}a{30}` on 30 characters runs
for ~30 s inside C), so no content pattern ever reaches it. Every pattern is compiled by
RE2 (Google's `google-re2` bindings) after a small translation of the dialects content
uses (XML Schema for the `regex` extension, JavaScript for what form renderers and
fhirpath.js run, both of which RE2's Perl-like syntax covers for the common part):

- `\\uXXXX` (JavaScript) becomes RE2's `\\x{XXXX}`;
- constructs RE2 cannot run in linear time, backreferences (`\\1`, `\\k<n>`), lookaround
  (`(?=`, `(?!`, `(?<=`, `(?<!`), atomic groups (`(?>`), conditionals (`(?(`) and
  possessive quantifiers (`a*+`), and XML Schema's class subtraction (`[a-z-[aeiou]]`,
  which RE2 would read as something else) raise `UnsupportedPattern` (not-supported);
- anything else RE2 refuses raises `UnsafePattern` (invalid).

RE2 follows JavaScript where the dialects differ: `\\d`, `\\w`, `\\s` and `\\b` are ASCII,
`$` matches only at the very end. XML Schema patterns (the `regex` extension) are
implicitly anchored: `Pattern.matches` is a full match. FHIRPath's functions search at
every position, `.` matching newlines for `matches()` ("single line" mode).

RE2 runs in time proportional to the input times the compiled program at worst; an answer
whose `cost` passes `MAX_STEPS`, or that would take a response's answers together past
`MAX_RESPONSE_STEPS`, is not matched (reported unchecked), so one request cannot buy
seconds of matching. RE2's own memory is capped by `max_mem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

__all__ = [
    "MAX_PATTERN",
    "MAX_RESPONSE_STEPS",
    "MAX_STEPS",
    "Pattern",
    "UnsafePattern",
    "UnsupportedPattern",
    "compile_pattern",
]

MAX_PATTERN = 1_000
#: Input length times RE2 program size beyond which a value is not matched (~0.1 s worst).
MAX_STEPS = 20_000_000
#: The same, for all the answers of one response together (~0.5 s worst).
MAX_RESPONSE_STEPS = 100_000_000
_MAX_MEM = 8 << 20  # RE2's default; bounds its DFA cache per pattern

#: Tokens of the pattern source, scanned left to right (this scanner is linear: no
#: alternation inside a repetition). Escapes first, then class brackets and groups.
_TOKEN = re.compile(
    r"\\u(?P<unicode>[0-9A-Fa-f]{4})"
    r"|(?P<backref>\\[1-9]|\\k<)"
    r"|\\."
    r"|(?P<open>\[\^?\]?)"
    r"|(?P<close>\])"
    r"|(?P<subtract>-\[)"
    r"|(?P<group>\(\?(?:=|!|<=|<!|>|\())"
    r"|(?P<possessive>(?:[*+?]|\{\d+(?:,\d*)?\})\+)"
    r"|[^\\\[\]\-(*+?{]+"
    r"|.",
    re.DOTALL,
)
_GROUPS = {
    "(?=": "lookahead",
    "(?!": "negative lookahead",
    "(?<=": "lookbehind",
    "(?<!": "negative lookbehind",
    "(?>": "atomic groups",
    "(?(": "conditional groups",
}


class UnsafePattern(ValueError):
    """A pattern that is not a valid regular expression, or too long."""


class UnsupportedPattern(UnsafePattern):
    """A valid pattern in some dialect that needs backtracking (or another meaning) RE2 lacks."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A pattern compiled by RE2, with the size of its program (what bounds its cost)."""

    source: str
    compiled: Any  # re2._Regexp: the package has no type stubs
    size: int

    def cost(self, length: int) -> int:
        """The worst-case work of matching an input of `length` characters (RE2's NFA)."""
        return self.size * (length + 1)

    def matches(self, value: str) -> bool | None:
        """True/False for a full match of `value`; None when it would cost too much to tell."""
        if self.cost(len(value)) > MAX_STEPS:
            return None
        return self.compiled.fullmatch(value) is not None


def translate(source: str) -> str:
    """The pattern in RE2's syntax; UnsupportedPattern for what RE2 cannot run."""
    out: list[str] = []
    in_class = False
    for token in _TOKEN.finditer(source):
        text = token.group()
        kind = token.lastgroup
        if kind == "unicode":
            out.append("\\x{" + token.group("unicode") + "}")
            continue
        if kind == "backref" and not in_class:
            raise UnsupportedPattern(f"backreferences ({text}) are not supported")
        if kind == "open" and not in_class:
            in_class = True
        elif kind == "close" and in_class:
            in_class = False
        elif kind == "subtract" and in_class:
            raise UnsupportedPattern("character class subtraction (-[...]) is not supported")
        elif kind == "group" and not in_class:
            raise UnsupportedPattern(f"{_GROUPS[text]} ({text}) are not supported")
        elif kind == "possessive" and not in_class:
            raise UnsupportedPattern(f"possessive quantifiers ({text}) are not supported")
        out.append(text)
    return "".join(out)


def compile_pattern(source: str, *, dot_all: bool = False) -> Pattern:
    """Compile a content regex for RE2; UnsupportedPattern / UnsafePattern if it cannot be."""
    if len(source) > MAX_PATTERN:
        raise UnsafePattern(f"longer than {MAX_PATTERN} characters")
    translated = translate(source)
    options = re2.Options()
    options.log_errors = False  # RE2 would write the pattern (content) to stderr
    options.max_mem = _MAX_MEM
    options.dot_nl = dot_all
    try:
        compiled = re2.compile(translated, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise UnsafePattern(f"not a valid regular expression: {str(reason)[:120]}") from None
    return Pattern(source, compiled, max(1, int(compiled.programsize)))
