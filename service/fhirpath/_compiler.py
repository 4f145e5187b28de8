"""Compile the supported FHIRPath subset to plain-Python closures.

Each node becomes `fn(focus, run) -> list`, where the focus is also `$this`
(fhirpath.js evaluates operands and non-lambda arguments against `$this`).
Constants are folded at compile time, so `linkId in ('1' | '2')` tests a
frozenset. Data flow through untouched: navigation returns the very dicts of
the resource, which the weight lookup relies on (it keys Codings by identity).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._ast import Binary, Call, Chain, Index, Literal, Member, Node, This, Unary, Variable
from ._calls import FUNCTIONS, PLAIN, field_in_strings, resource_repeat
from ._code import Code, Fn, NotCompilableError, Step, constant
from ._env import Env, Run, as_collection
from ._errors import BudgetExceeded, FhirPathError
from ._fused import repeat_where
from ._operators import BINARY, negate
from ._values import MISSING, choice_names, navigate

__all__ = ["CompiledExpression", "compile_tree"]

#: The variables the Env itself holds, not its `variables`.
_ENV_VARIABLES = frozenset({"resource", "context", "questionnaire", "qitem"})
_SYSTEMS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}


class CompiledExpression:
    """An expression compiled to closures."""

    __slots__ = ("_fn", "compiled", "source")

    def __init__(self, source: str, code: Code) -> None:
        self.source = source
        self.compiled = True
        self._fn = code.fn

    def evaluate(self, focus: list[Any], env: Env) -> list[Any]:
        """Evaluate against `focus`; the result is a new list of the data's own objects."""
        try:
            return [*self._fn(focus, Run(env))]
        except RecursionError as exc:
            raise FhirPathError("FHIRPath evaluation nests too deeply") from exc
        except OverflowError as exc:  # integers beyond the range of a float
            raise FhirPathError(f"FHIRPath arithmetic overflow: {exc}") from exc
        except MemoryError as exc:  # what the budget did not foresee is still too costly
            raise BudgetExceeded("evaluation ran out of memory") from exc

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def compile_tree(node: Node) -> Code:
    """Compile a typed tree; NotCompilableError names the first unsupported construct."""
    match node:
        case Literal(values=values):
            return constant(values)
        case Variable(name=name):
            return _variable(name)
        case This():
            return Code(lambda focus, run: focus)
        case Member() | Call():
            return _chain([(_step(node, at_root=True), None)])
        case Chain():
            return _chain(_steps(node))
        case Index(base=base, index=index):
            return _index(compile_tree(base).fn, compile_tree(index).fn)
        case Unary(op=op, operand=operand):
            return _unary(op, compile_tree(operand))
        case Binary(op=op, left=left, right=right):
            return _binary(op, compile_tree(left), compile_tree(right))
        case _:
            raise NotCompilableError(f"not compiled: {node.kind}")


def _variable(name: str) -> Code:
    if name == "resource":
        return Code(lambda focus, run: as_collection(run.env.resource))
    if name == "context":
        return Code(
            lambda focus, run: as_collection(
                run.env.resource if run.env.context is None else run.env.context
            )
        )
    if name == "questionnaire":
        return Code(lambda focus, run: as_collection(run.env.questionnaire))
    if name == "qitem":
        return Code(lambda focus, run: as_collection(run.env.qitem))
    if name in _SYSTEMS:
        return constant((_SYSTEMS[name],))
    step = _user_variable(name)
    return Code(lambda focus, run: step(focus, focus, run))


def _user_variable(name: str) -> Step:
    """`%name`, a variable of the Env, as a step: what a chain such as `%v.sum()` starts with."""

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        value = run.env.variables.get(name, MISSING)
        if type(value) is list:  # as_collection, inlined: variables are nearly all lists
            return value
        if value is MISSING:
            raise FhirPathError(f"undefined FHIRPath variable %{name}")
        return [] if value is None else [value]

    return step


#: A chain's step, and the function it applies when it is one of `PLAIN` (else None).
_Part = tuple[Step, Callable[[list[Any]], list[Any]] | None]


def _steps(node: Node) -> list[_Part]:
    """The steps of a dotted chain, first to last; its start is a step applied to the focus."""
    parts: list[_Part] = []
    while isinstance(node, Chain):
        fused = _repeat_where(node)
        if fused is not None:
            parts.append((fused, None))
            parts.reverse()
            return parts
        repeated = _resource_repeat(node)
        if repeated is not None:
            parts.append((resource_repeat(repeated), None))
            parts.reverse()
            return parts
        step = node.step
        plain = PLAIN.get(step.name) if isinstance(step, Call) and not step.args else None
        parts.append((_step(step, at_root=False), plain))
        node = node.base
    if isinstance(node, Member | Call):
        parts.append((_step(node, at_root=True), None))
    elif isinstance(node, Variable) and node.name not in _ENV_VARIABLES | _SYSTEMS.keys():
        parts.append((_user_variable(node.name), None))
    else:
        start = compile_tree(node).fn
        parts.append((lambda items, this, run: start(items, run), None))
    parts.reverse()
    return parts


def _resource_repeat(node: Chain) -> str | None:
    """For `%resource.repeat(name)`, what nearly every scoring rule starts with: the name."""
    match node:
        case Chain(
            base=Variable(name="resource"), step=Call(name="repeat", args=(Member(name=name),))
        ) if not name[:1].isupper():
            return name
        case _:
            return None


def _repeat_where(node: Chain) -> Step | None:
    """For `%resource.repeat(name).where(<field> in <strings>)`: the fused step; else None."""
    name = _resource_repeat(node.base) if isinstance(node.base, Chain) else None
    match node.step:
        case Call(name="where", args=(criterion,)) if name is not None:
            fast = field_in_strings(criterion, compile_tree)
            if fast is None:
                return None
            return repeat_where(name, *fast, _step(node.step, at_root=False))
        case _:
            return None


def _chain(parts: list[_Part]) -> Code:
    (first, _), rest = parts[0], parts[1:]
    if not rest:
        return Code(lambda focus, run: first(focus, focus, run))
    plains = [plain for _, plain in rest if plain is not None]
    if len(plains) == len(rest):  # `%v.count()`, `%v.sum()`: one call per function
        if len(plains) == 1:
            (last,) = plains
            return Code(lambda focus, run: last(first(focus, focus, run)))

        def apply(focus: list[Any], run: Run) -> list[Any]:
            items = first(focus, focus, run)
            for plain in plains:
                items = plain(items)
            return items

        return Code(apply)
    steps = [step for step, _ in rest]

    def fn(focus: list[Any], run: Run) -> list[Any]:
        items = first(focus, focus, run)
        for step in steps:
            items = step(items, focus, run)
        return items

    return Code(fn)


def _step(node: Node, *, at_root: bool) -> Step:
    match node:
        case Member(name=name):
            if at_root and name[:1].isupper():
                return _type_or_member(name)
            return _member(name)
        case Call(name=name, args=args):
            if name not in FUNCTIONS:
                raise NotCompilableError(f"not compiled: function {name}()")
            fewest, most, build = FUNCTIONS[name]
            if not fewest <= len(args) <= most:
                raise FhirPathError(f"{name}() takes {fewest}..{most} arguments, got {len(args)}")
            return build(args, compile_tree)
        case _:
            raise NotCompilableError(f"not compiled: {node}")


def _member(name: str) -> Step:
    choices = choice_names(name)

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        found = navigate(items, name, choices)
        run.left -= len(found)
        if run.left < run.mark:  # Run.spend, inlined: navigation is most of the work
            run.checkpoint()
        return found

    return step


def _type_or_member(name: str) -> Step:
    """A capitalised first name: the resources of that type, as in `QuestionnaireResponse.item`."""
    member = _member(name)

    def step(items: list[Any], this: list[Any], run: Run) -> list[Any]:
        typed = [i for i in items if type(i) is dict and i.get("resourceType") == name]
        return typed or member(items, this, run)

    return step


def _index(base: Fn, index: Fn) -> Code:
    def fn(focus: list[Any], run: Run) -> list[Any]:
        items, position = base(focus, run), index(focus, run)
        if not position:
            return []
        at = position[0]
        if type(at) is float and math.isfinite(at):
            at = math.trunc(at)  # fhirpath.js parseInt()s the index
        if type(at) is not int:
            raise FhirPathError(f"an index must be an integer, got {at!r}")
        return [items[at]] if 0 <= at < len(items) else []

    return Code(fn)


def _unary(op: str, operand: Code) -> Code:
    if operand.value is not None:
        folded = _fold(lambda: negate(list(operand.value or ()), op))
        if folded is not None:
            return folded
    inner = operand.fn
    return Code(lambda focus, run: negate(inner(focus, run), op))


def _binary(op: str, left: Code, right: Code) -> Code:
    apply = BINARY[op]
    if left.value is not None and right.value is not None:
        folded = _fold(lambda: apply(list(left.value or ()), list(right.value or ())))
        if folded is not None:
            return folded
    lhs, rhs = left.fn, right.fn
    if op in _CHARGED:
        charge = _CHARGED[op]
        return Code(lambda focus, run: charge(apply(lhs(focus, run), rhs(focus, run)), run))
    if right.value is not None:
        fast = _against_constant(op, lhs, right.value)
        if fast is not None:
            return Code(fast)
        fixed = list(right.value)
        return Code(lambda focus, run: apply(lhs(focus, run), fixed))
    return Code(lambda focus, run: apply(lhs(focus, run), rhs(focus, run)))


def _charge_string(result: list[Any], run: Run) -> list[Any]:
    if result and type(result[0]) is str:
        run.spend_string(len(result[0]))
    return result


def _charge_items(result: list[Any], run: Run) -> list[Any]:
    run.spend(len(result))
    return result


#: Operators whose result the budget pays for: strings by their length (the operator
#: itself refuses one over MAX_STRING before building it), a union by its items.
_CHARGED = {"+": _charge_string, "&": _charge_string, "|": _charge_items}


def _fold(compute: Any) -> Code | None:
    """A constant for a computation on constants; None if it fails (it must fail at run time)."""
    try:
        return constant(tuple(compute()))
    except FhirPathError:
        return None


def _against_constant(op: str, lhs: Fn, values: tuple[Any, ...]) -> Fn | None:
    """Shortcuts for `x in <strings>` and `x = <string or integer>`, the shapes of scoring rules."""
    generic = BINARY[op]
    fixed = list(values)
    if op == "in" and values and all(type(v) is str for v in values):
        strings = frozenset(values)

        def member_of(focus: list[Any], run: Run) -> list[Any]:
            items = lhs(focus, run)
            if len(items) == 1 and type(items[0]) is str:
                return [items[0] in strings]
            return generic(items, fixed)

        return member_of
    if op == "=" and len(values) == 1 and type(values[0]) in (str, int):
        (value,) = values
        kind = type(value)

        def equals(focus: list[Any], run: Run) -> list[Any]:
            items = lhs(focus, run)
            if len(items) == 1 and type(items[0]) is kind:
                return [items[0] == value]
            return generic(items, fixed)

        return equals
    return None
