"""Static questions about an expression, answered without evaluating it."""

from __future__ import annotations

from ._ast import Binary, Call, Chain, Literal, Member, Node, Variable, build, walk
from ._parser import parse

__all__ = ["called_functions", "referenced_linkids", "referenced_variables"]

#: Variables every evaluation provides, which an author need not define.
_PROVIDED = frozenset({"resource", "context", "questionnaire", "ucum", "sct", "loinc"})
#: FHIR's %`vs-[name]` and %`ext-[name]` shorthands for value sets and extensions.
_SHORTHAND_PREFIXES = ("vs-", "ext-")
_LINKID_OPERATORS = frozenset({"=", "!=", "~", "!~", "in", "contains"})


def referenced_variables(source: str, *, max_length: int = 4096) -> frozenset[str]:
    """The %names an expression uses, other than the provided ones and vs-/ext- shorthands."""
    return frozenset(
        node.name
        for node in walk(build(parse(source, max_length=max_length)))
        if isinstance(node, Variable)
        and node.name not in _PROVIDED
        and not node.name.startswith(_SHORTHAND_PREFIXES)
    )


def called_functions(source: str, *, max_length: int = 4096) -> frozenset[str]:
    """The names of the functions an expression calls (`trace`, `where`, ...)."""
    tree = build(parse(source, max_length=max_length))
    return frozenset(node.name for node in walk(tree) if isinstance(node, Call))


def referenced_linkids(source: str, *, max_length: int = 4096) -> frozenset[str]:
    """The string literals an expression compares with `linkId` (`=`, `in`, `contains`, ...)."""
    found: set[str] = set()
    for node in walk(build(parse(source, max_length=max_length))):
        if isinstance(node, Binary) and node.op in _LINKID_OPERATORS:
            if _is_linkid(node.left):
                found.update(_strings(node.right))
            if _is_linkid(node.right):
                found.update(_strings(node.left))
    return frozenset(found)


def _is_linkid(node: Node) -> bool:
    if isinstance(node, Chain):
        node = node.step
    return isinstance(node, Member) and node.name == "linkId"


def _strings(node: Node) -> list[str]:
    """The string literals of a literal or a union of literals; none for anything else."""
    if isinstance(node, Literal):
        return [value for value in node.values if isinstance(value, str)]
    if isinstance(node, Binary) and node.op == "|":
        return _strings(node.left) + _strings(node.right)
    return []
