"""The fhirpathpy interpreter, for what the compiler does not support.

fhirpathpy 2.2.4 needs three corrections to score questionnaires:

- Without a model `.value` finds nothing, and its R4 model only knows choice
  elements by resource path (lost on variables). A stand-in model makes every
  element a choice element: `name`, else `name[Type]` for each FHIR type.
- Its `sum()`, `min()`, `max()`, `avg()` fail on resource values (TypeError on
  ResourceNode), `{}.sum()` is 0 where fhirpath.js gives empty, it has no
  `weight()`/`ordinal()`, `single()` returns an error dict instead of failing,
  `toDecimal()`/`toInteger()` of several items give empty instead of failing,
  and `round()` rounds halves to even. Those functions are replaced by ours, as are
  `matches()` and `replaceMatches()`, whose patterns run on RE2 (`_patterns`), and
  `trace()`, which printed its input (patient data) to stdout: here it writes nothing.
- Its `evaluate()` copies every dict in the result; the weight lookup needs the
  resource's own objects, so this module runs the evaluator itself and unwraps.

Evaluation is charged to the budget once per element navigated and once per
operand, argument and iteration (each of which assigns `$this` in the context), and
for what the functions in `_charged` build.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhirpathpy.engine import do_eval
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_Quantity, FP_TimeBase, ResourceNode

from . import _functions as functions
from . import _patterns as patterns
from ._charged import CHARGED, charge_strings
from ._env import Env, Run
from ._errors import BudgetExceeded, FhirPathError
from ._parser import ParseTree
from ._values import FHIR_TYPE_SUFFIXES

__all__ = ["InterpretedExpression"]

_CHOICES = ["", *sorted(FHIR_TYPE_SUFFIXES)]


class _Context(dict[str, Any]):
    """fhirpathpy's evaluation context, charging every assignment to the run's budget."""

    __slots__ = ("run",)

    def __init__(self, run: Run, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.run = run

    def __setitem__(self, key: str, value: Any) -> None:
        self.run.spend(1)
        super().__setitem__(key, value)


class _ChargedPaths:
    """The model's `pathsDefinedElsewhere`: looked up once per element navigated."""

    __slots__ = ("run",)

    def __init__(self, run: Run) -> None:
        self.run = run

    def get(self, key: str, default: Any = None) -> Any:
        self.run.spend(1)
        return default

    def __contains__(self, key: object) -> bool:
        # descendants() asks `path in pathsDefinedElsewhere`; nothing is defined elsewhere.
        self.run.spend(1)
        return False


class _EveryChoice:
    """The model's `choiceTypePaths`: every path may be a choice element, itself first."""

    @staticmethod
    def get(key: str, default: Any = None) -> list[str]:
        return _CHOICES


def _plain(value: Any) -> Any:
    """A value as our functions take it: unwrapped from ResourceNode, Decimal as float."""
    if isinstance(value, ResourceNode):
        value = value.data
    return float(value) if isinstance(value, Decimal) else value


def _result(value: Any) -> Any:
    """A result item as plain JSON-like data (quantities as {value, unit}, times as strings)."""
    value = _plain(value)
    if isinstance(value, FP_Quantity):
        return {"value": _plain(value.value), "unit": str(value.unit).strip("'")}
    if isinstance(value, FP_TimeBase):
        return str(value)
    return value


def _is_primitive_extension(value: Any) -> bool:
    # fhirpathpy navigates `_name` too; like its evaluate(), drop those from results.
    if not isinstance(value, ResourceNode):
        return False
    return isinstance(value.data, dict) and list(value.data) == ["extension"]


def _replacing(function: Any) -> dict[str, Any]:
    return {"fn": lambda ctx, items: function([_plain(i) for i in items])}


def _weight(ctx: _Context, items: list[Any]) -> list[Any]:
    return functions.weight([_plain(i) for i in items], ctx.run.env.weight)


def _matches(ctx: _Context, items: list[Any], regex: Any) -> list[Any]:
    return patterns.matches([_plain(i) for i in items], regex)


def _replace_matches(ctx: _Context, items: list[Any], regex: Any, substitution: Any) -> list[Any]:
    replaced = patterns.replace_matches([_plain(i) for i in items], regex, substitution)
    return charge_strings(ctx.run, replaced)


def _round(ctx: _Context, items: list[Any], precision: Any = None) -> list[Any]:
    places = None if precision is None or precision == [] else [_plain(p) for p in precision]
    return functions.round_([_plain(i) for i in items], places)


def _trace(ctx: _Context, items: list[Any], *ignored: Any) -> list[Any]:
    # fhirpathpy's trace() prints its input (the response) to stdout, gunicorn's log.
    return items


_TABLE: dict[str, dict[str, Any]] = {
    **CHARGED,
    "sum": _replacing(functions.sum_),
    "min": _replacing(functions.min_),
    "max": _replacing(functions.max_),
    "avg": _replacing(functions.avg),
    "single": _replacing(functions.single),
    "toDecimal": _replacing(functions.to_decimal),
    "toInteger": _replacing(functions.to_integer),
    "weight": {"fn": _weight},
    "ordinal": {"fn": _weight},
    "round": {"fn": _round, "arity": {0: [], 1: ["Any"]}},  # round_ checks the places
    "matches": {"fn": _matches, "arity": {1: ["String"]}, "nullable_input": True},
    "replaceMatches": {
        "fn": _replace_matches,
        "arity": {2: ["String", "String"]},
        "nullable_input": True,
    },
    "trace": {"fn": _trace, "arity": {0: [], 1: ["String"], 2: ["String", "Expr"]}},
}


class InterpretedExpression:
    """An expression evaluated by fhirpathpy's interpreter."""

    __slots__ = ("_tree", "compiled", "source")

    def __init__(self, source: str, tree: ParseTree) -> None:
        self.source = source
        self.compiled = False
        self._tree = tree["children"][0]

    def evaluate(self, focus: list[Any], env: Env) -> list[Any]:
        """Evaluate against `focus`; the result is a new list of the data's own objects."""
        run = Run(env)
        variables: dict[str, Any] = {
            **env.variables,
            "resource": env.resource,
            "context": env.resource if env.context is None else env.context,
            "questionnaire": env.questionnaire,
            "qitem": env.qitem,
            "ucum": "http://unitsofmeasure.org",
            "sct": "http://snomed.info/sct",
            "loinc": "http://loinc.org",
        }
        model = {
            "pathsDefinedElsewhere": _ChargedPaths(run),
            "choiceTypePaths": _EveryChoice(),
            "path2Type": {},
            "type2Parent": {},
        }
        root = list(focus)
        context = _Context(
            run,
            {
                "dataRoot": root,
                "$this": root,  # fhirpathpy reads a top-level $this from here, or fails
                "vars": variables,
                "model": model,
                "userInvocationTable": _TABLE,
            },
        )
        constants.reset()  # type: ignore[no-untyped-call]  # now()/today() fixed per evaluation
        try:
            found = do_eval(context, root, self._tree)  # type: ignore[no-untyped-call]
        except FhirPathError:
            raise
        except RecursionError as exc:
            raise FhirPathError("FHIRPath evaluation nests too deeply") from exc
        except MemoryError as exc:  # what the budget did not foresee is still too costly
            raise BudgetExceeded("evaluation ran out of memory") from exc
        except Exception as exc:  # fhirpathpy signals evaluation errors with bare Exception
            raise FhirPathError(f"FHIRPath evaluation failed: {exc}") from exc
        return [_result(item) for item in found if not _is_primitive_extension(item)]

    def __repr__(self) -> str:
        return f"InterpretedExpression({self.source!r})"
