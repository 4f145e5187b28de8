"""Property: on QuestionnaireResponse-shaped data, the compiled engine agrees with fhirpathpy.

The expressions are the shapes SDC scoring rules take: sums and means of
weights, the maximum of a group, `iif` guarded by an answer count, threshold
flags and Boolean combinations of them. Decimal answers are multiples of 1/4,
exact in binary and in Decimal, so the two engines' arithmetic can only differ
where it divides (means), which is compared to 1e-12.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.fhirpath import Env, FhirPathError, compile_expression, interpret_expression

LINKIDS = [str(n) for n in range(1, 31)]
WEIGHTS = {"a0": 0, "a1": 1, "a2": 2, "a3": 3, "a4": 4}
CODES = [*WEIGHTS, "unweighted"]


@st.composite
def answers(draw: st.DrawFn) -> list[dict[str, Any]]:
    kind = draw(
        st.sampled_from(["coding", "coding", "coding", "integer", "decimal", "boolean", "-"])
    )
    if kind == "coding":
        code = draw(st.sampled_from(CODES))
        return [{"valueCoding": {"system": "urn:example", "code": code}}]
    if kind == "integer":
        return [{"valueInteger": draw(st.integers(-3, 20))}]
    if kind == "decimal":
        return [{"valueDecimal": draw(st.integers(-20, 80)) / 4}]
    if kind == "boolean":
        return [{"valueBoolean": draw(st.booleans())}]
    return []


@st.composite
def responses(draw: st.DrawFn) -> dict[str, Any]:
    """A QuestionnaireResponse: about half of items 1..30, answered or not, some in groups."""
    missing = draw(st.lists(st.booleans(), min_size=len(LINKIDS), max_size=len(LINKIDS)))
    asked = draw(st.permutations([i for i, gone in zip(LINKIDS, missing, strict=True) if not gone]))
    groups: list[dict[str, Any]] = [{"linkId": f"g{n}", "item": []} for n in range(3)]
    top: list[dict[str, Any]] = []
    for linkid in asked:
        item: dict[str, Any] = {"linkId": linkid}
        answered = draw(answers())
        if answered:
            item["answer"] = answered
        where = draw(st.integers(-1, len(groups) - 1))
        (top if where < 0 else groups[where]["item"]).append(item)
    # Nest the second group in the first, as questionnaires nest sections.
    groups[0]["item"].append(groups[1])
    top.extend(g for g in (groups[0], groups[2]) if g["item"])
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": top}


def _answers_of(linkids: list[str]) -> str:
    union = " | ".join(f"'{linkid}'" for linkid in linkids) or "{}"
    return f"%resource.repeat(item).where(linkId in ({union})).answer.value"


@st.composite
def scores(draw: st.DrawFn) -> str:
    """An SDC-style score expression over random sets of items."""
    picked = st.lists(st.sampled_from(LINKIDS), unique=True, min_size=1, max_size=15)
    a, b = _answers_of(draw(picked)), _answers_of(draw(picked))
    k, n = draw(st.integers(0, 12)), draw(st.integers(0, 12))
    shapes = [
        f"{a}.weight().sum()",
        f"{a}.weight().avg()",
        f"{a}.weight().max()",
        f"{a}.weight().min() + {b}.weight().count()",
        f"iif({a}.count() = {n}, {a}.weight().sum(), {{}})",
        f"iif({a}.weight().count() >= {n}, {a}.weight().avg() * {n}, {b}.weight().sum())",
        f"{a}.weight().sum() >= {k}",
        f"({a}.weight().sum() >= {k}) and ({b}.weight().max() < {n})",
        f"({a}.weight().sum() > {k}) or {b}.empty()",
        f"({a}.weight().sum() >= {k}) xor ({b}.weight().sum() >= {n})",
        f"{a}.exists() implies {b}.weight().sum() > {k}",
        f"({a}.weight().sum() + {b}.weight().sum()).not()",
        # valueBoolean, not value: fhirpathpy holds 0 = false (Python's 0 == False).
        f"{a}Boolean.where($this = true).count() - {b}Boolean.where($this = false).count()",
        f"{a}.select($this.weight()).sum() div {n + 1}",
        f"({a}.weight().sum() / {n + 1}).round(1)",
        "%resource.repeat(item).where(linkId in ('1' | '2' | '3'))"
        f".answer.value.where($this > {k})",
        "%resource.repeat(item).answer.valueDecimal.sum()"
        " - %resource.repeat(item).answer.valueInteger.sum()",
        f"%resource.item.where(answer.exists()).linkId.count() = {n}",
    ]
    return draw(st.sampled_from(shapes))


def _weights(resource: dict[str, Any]) -> dict[int, int]:
    found: dict[int, int] = {}
    stack: list[Any] = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("code") in WEIGHTS:
                found[id(node)] = WEIGHTS[node["code"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _outcome(source: str, compiled: bool, resource: dict[str, Any]) -> Any:
    by_id = _weights(resource)
    env = Env(resource, weight=lambda node: by_id.get(id(node)))
    expression = compile_expression(source) if compiled else interpret_expression(source)
    assert expression.compiled is compiled
    try:
        return expression.evaluate([resource], env)
    except FhirPathError as error:
        return type(error)


def _agree(x: Any, y: Any) -> bool:
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(map(_agree, x, y))
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)
    return bool(x == y)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(resource=responses(), source=scores())
def test_compiled_agrees_with_interpreter(resource: dict[str, Any], source: str) -> None:
    compiled = _outcome(source, True, resource)
    interpreted = _outcome(source, False, resource)
    assert _agree(compiled, interpreted), (compiled, interpreted)
