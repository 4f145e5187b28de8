"""A small typed syntax tree, built from fhirpathpy's parse-tree dictionaries.

Only what the compiler and the static analyses need is modelled; everything
else (date, time and quantity literals, `$index`, `$total`, `is`/`as`) becomes
an `Opaque` node that keeps its sub-expressions, so analyses still see inside it
and the compiler knows to fall back to the interpreter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._parser import ParseTree

__all__ = [
    "Binary",
    "Call",
    "Chain",
    "Index",
    "Literal",
    "Member",
    "Node",
    "Opaque",
    "This",
    "Unary",
    "Variable",
    "build",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant collection: `{}`, a string, a number or a boolean."""

    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """An external constant, `%name`."""

    name: str


@dataclass(frozen=True, slots=True)
class This:
    """`$this`: the item the enclosing function iterates over, or the evaluation focus."""


@dataclass(frozen=True, slots=True)
class Member:
    """Navigation to a child element by name."""

    name: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function invocation with its (unevaluated) arguments."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """`base.step`: a member or function applied to the result of `base`."""

    base: Node
    step: Node


@dataclass(frozen=True, slots=True)
class Index:
    """`base[index]`."""

    base: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Unary:
    """A polarity operator, `-x` or `+x`."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """An infix operator, e.g. `+`, `=`, `and`, `|`, `in`."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Opaque:
    """A construct the compiler does not support; `kind` says which."""

    kind: str
    children: tuple[Node, ...] = ()


Node = Literal | Variable | This | Member | Call | Chain | Index | Unary | Binary | Opaque

_BINARY = frozenset(
    {
        "MultiplicativeExpression",
        "AdditiveExpression",
        "UnionExpression",
        "InequalityExpression",
        "EqualityExpression",
        "MembershipExpression",
        "AndExpression",
        "OrExpression",
        "XorExpression",
        "ImpliesExpression",
    }
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPED = {"f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def build(tree: ParseTree) -> Node:
    """The typed tree of a parsed expression (the root returned by `_parser.parse`)."""
    return _expression(tree["children"][0])


def walk(node: Node) -> list[Node]:
    """Every node of a tree, parents before children."""
    seen: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        seen.append(current)
        stack.extend(reversed(_children(current)))
    return seen


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Call(args=args):
            return args
        case Chain(base=base, step=step):
            return (base, step)
        case Index(base=base, index=index):
            return (base, index)
        case Unary(operand=operand):
            return (operand,)
        case Binary(left=left, right=right):
            return (left, right)
        case Opaque(children=children):
            return children
        case _:
            return ()


def _expression(node: ParseTree) -> Node:
    kind: str = node["type"]
    children: list[ParseTree] = node.get("children", [])
    if kind in ("TermExpression", "ParenthesizedTerm"):
        return _expression(children[0])
    if kind == "LiteralTerm":
        return _literal(children[0])
    if kind == "ExternalConstantTerm":
        return Variable(_constant_name(children[0]))
    if kind == "InvocationTerm":
        return _invocation(children[0], at_root=True)
    if kind == "InvocationExpression":
        return Chain(_expression(children[0]), _invocation(children[1], at_root=False))
    if kind == "IndexerExpression":
        return Index(_expression(children[0]), _expression(children[1]))
    if kind == "PolarityExpression":
        return Unary(node["terminalNodeText"][0], _expression(children[0]))
    if kind in _BINARY:
        op = node["terminalNodeText"][0]
        return Binary(op, _expression(children[0]), _expression(children[1]))
    # TypeExpression (`is`/`as`): the type specifier is not an expression.
    return Opaque(node["terminalNodeText"][0], (_expression(children[0]),))


def _invocation(node: ParseTree, *, at_root: bool) -> Node:
    kind: str = node["type"]
    children: list[ParseTree] = node.get("children", [])
    if kind == "MemberInvocation":
        return Member(_identifier(children[0]))
    if kind == "FunctionInvocation":
        functn = children[0]["children"]
        params = functn[1]["children"] if len(functn) > 1 else []
        return Call(_identifier(functn[0]), tuple(_expression(p) for p in params))
    if kind == "ThisInvocation" and at_root:
        return This()
    # $index, $total, and `$this` after a dot.
    return Opaque(node["terminalNodeText"][0])


def _literal(node: ParseTree) -> Node:
    kind: str = node["type"]
    text: str = node.get("text", "")
    if kind == "NullLiteral":
        return Literal(())
    if kind == "BooleanLiteral":
        return Literal((text == "true",))
    if kind == "StringLiteral":
        return Literal((unescape(text[1:-1]),))
    if kind == "NumberLiteral":
        return Literal((float(text) if "." in text else int(text),))
    return Opaque(kind)  # DateTimeLiteral, TimeLiteral, QuantityLiteral


def _identifier(node: ParseTree) -> str:
    text: str = node["text"]
    return unescape(text[1:-1]) if text.startswith("`") else text


def _constant_name(node: ParseTree) -> str:
    if "children" in node:
        return _identifier(node["children"][0])
    return unescape(node["terminalNodeText"][1][1:-1])  # %'name'


def unescape(text: str) -> str:
    """Resolve FHIRPath string escapes (\\', \\`, \\\\, \\/, \\f, \\n, \\r, \\t, \\uXXXX)."""
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if len(escaped) == 5:
            return chr(int(escaped[1:], 16))
        return _ESCAPED.get(escaped, escaped)

    return _ESCAPE.sub(replace, text)
