"""FHIRPath for scoring: the SDC subset compiled to Python closures, the rest interpreted.

`compile_expression` parses once; what the compiler supports (navigation,
`where`/`select`/`repeat`, aggregates, `weight()`, arithmetic, comparison,
three-valued logic, `iif`) runs as closures, anything else through fhirpathpy.
Both engines follow fhirpath.js 5.x, the engine SDC form fillers run: see the
module docstrings of `_values`, `_functions`, `_calls` and `_interpreter`.
"""

from __future__ import annotations

from ._analysis import called_functions, referenced_linkids, referenced_variables
from ._ast import build
from ._code import NotCompilableError
from ._compiler import CompiledExpression, compile_tree
from ._env import Env, Expression
from ._errors import BudgetExceeded, FhirPathError, UnsupportedRegex
from ._interpreter import InterpretedExpression
from ._parser import parse
from ._patterns import check_patterns
from ._values import js_round

__all__ = [
    "BudgetExceeded",
    "Env",
    "Expression",
    "FhirPathError",
    "UnsupportedRegex",
    "called_functions",
    "compile_expression",
    "interpret_expression",
    "js_round",
    "referenced_linkids",
    "referenced_variables",
]


def compile_expression(
    source: str, *, allow_fallback: bool = True, max_length: int = 4096
) -> Expression:
    """Parse once; compile the supported subset to closures, else (if allowed) interpret.

    Raises FhirPathError on syntax errors, on expressions longer than
    `max_length` or nested too deeply, on a literal matches()/replaceMatches()
    pattern RE2 cannot run (UnsupportedRegex), and on unsupported constructs
    when `allow_fallback` is False.
    """
    tree = parse(source, max_length=max_length)
    node = build(tree)
    check_patterns(node)
    try:
        return CompiledExpression(source, compile_tree(node))
    except NotCompilableError:
        if not allow_fallback:
            raise
    return InterpretedExpression(source, tree)


def interpret_expression(source: str, *, max_length: int = 4096) -> Expression:
    """Always the fhirpathpy-backed interpreter (for tests, and as the fallback)."""
    tree = parse(source, max_length=max_length)
    check_patterns(build(tree))
    return InterpretedExpression(source, tree)
