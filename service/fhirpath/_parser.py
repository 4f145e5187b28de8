"""Strict parsing of FHIRPath source into fhirpathpy's parse-tree dictionaries.

fhirpathpy's own `parse` ignores syntax errors (ANTLR recovers: `1 2` parses as
`1`, `5 mg` as `5`), so this module drives the same generated parser with a
listener that raises, and parses `entireExpression` so trailing input is an error.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from antlr4 import CommonTokenStream, InputStream
from antlr4.atn.PredictionMode import PredictionMode
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from ._errors import FhirPathError

__all__ = ["MAX_TREE_DEPTH", "ParseTree", "parse"]

#: Deepest parse tree accepted. fhirpathpy's evaluator spends about three Python
#: frames per level, so 200 levels stay well inside the default recursion limit
#: while allowing sums of about a hundred terms.
MAX_TREE_DEPTH = 200

ParseTree = dict[str, Any]


class _RaisingErrorListener:
    """An ANTLR error listener (duck-typed) that turns the first syntax error into FhirPathError."""

    def syntaxError(  # noqa: N802, PLR0917 - ANTLR's callback and signature
        self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise FhirPathError(f"FHIRPath syntax error at {line}:{column}: {msg}")

    def reportAmbiguity(self, *args: Any) -> None:  # noqa: N802 - ANTLR's callback name
        """Ambiguities are resolved by the grammar's precedence; nothing to report."""

    def reportAttemptingFullContext(self, *args: Any) -> None:  # noqa: N802
        """Full-context prediction is a parser detail, not an error."""

    def reportContextSensitivity(self, *args: Any) -> None:  # noqa: N802
        """Context sensitivity is a parser detail, not an error."""


def parse(source: str, *, max_length: int) -> ParseTree:
    """Parse `source` into fhirpathpy's tree shape: `{"children": [expression]}`."""
    if len(source) > max_length:
        raise FhirPathError(f"FHIRPath expression longer than {max_length} characters")
    # Loading checks, compiles and analyses each expression several times; ANTLR parsing is
    # the bulk of start-up, so parse each text once and hand out copies (callers may mutate).
    return copy.deepcopy(_parse_once(source))


@functools.lru_cache(maxsize=2048)
def _parse_once(source: str) -> ParseTree:
    return _parse_tree(source)


def _parse_tree(source: str, *, mode: int = PredictionMode.SLL) -> ParseTree:
    """`source` parsed with ANTLR's SLL prediction alone, its first syntax error raised.

    ANTLR's full LL prediction spends ~8x the CPU (~0.2 ms a character of `1+1+...`), and
    the usual two-stage parse (SLL, then LL when SLL bails out) spends it on every invalid
    text. FHIRPath's grammar needs no full context: every corpus and shipped expression
    gives LL's tree (tests/fhirpath/test_parser.py), and invalid ones fail at LL's position,
    some with a plainer message (`missing ')'` for LL's `no viable alternative`).
    """
    listener = _RaisingErrorListener()
    lexer = FHIRPathLexer(InputStream(source))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser._interp.predictionMode = mode
    builder = ASTPathListener()  # type: ignore[no-untyped-call]  # fhirpathpy is untyped
    try:
        ParseTreeWalker().walk(builder, parser.entireExpression())  # type: ignore[no-untyped-call]
    except RecursionError as exc:
        raise FhirPathError("FHIRPath expression nests too deeply") from exc
    entire = builder.parentStack[0]["children"][0]
    root: ParseTree = {"children": [entire["children"][0]]}
    if _depth(root) > MAX_TREE_DEPTH:
        raise FhirPathError("FHIRPath expression nests too deeply")
    return root


def _depth(tree: ParseTree) -> int:
    """The depth of a parse tree, found without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.get("children", ()))
    return deepest
