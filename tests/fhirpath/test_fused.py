"""`%resource.repeat(item).where(linkId in <strings>)` fused (`_fused.repeat_where`) gives what
the two compiled steps give, on random responses.

Each example evaluates a random sequence of such rules with one Env and its memo, as scoring
does (the second where() over a kept repeat() notes the linkIds and from then on uses them), with a
random budget, once fused and once with the fusion switched off when compiling. Results must
be the very same objects in the same order; errors (the budget's included) the same type and
text. The responses have nested and repeated items, twins that repeat() drops, items that
are not objects, and linkIds that are not strings (numbers, lists, null, `linkIdString`).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.fhirpath import Env, Expression, FhirPathError, compile_expression
from service.fhirpath import _compiler as compiler
from service.fhirpath._fused import fields_of, repeat_where
from service.fhirpath._values import Seen, choice_names, navigate

RULES = [
    "%resource.repeat(item).where(linkId in ('1' | '2')).answer.value",
    "%resource.repeat(item).where(linkId = '2').answer.value",
    "%resource.repeat(item).where(linkId in ('3' | '1' | 'x')).linkId",
    "%resource.repeat(item).where(linkId in ('2' | '3')).count()",
    "%resource.repeat(item).where(linkId = '1')",
    "%resource.repeat(item).count()",  # shares the kept repeat(), not fused
]
#: Mostly strings, as in real responses: the linkIds are noted only when all are strings.
LINK_IDS = st.sampled_from(["1", "2", "3", "4"] * 8 + [7, ["1"], ["1", "2"], None])


@st.composite
def _item(draw: Any, depth: int) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return "x"  # not an object
    item: dict[str, Any] = {}
    key = draw(st.sampled_from(["linkId"] * 30 + ["linkIdString", "none"]))
    if key != "none":
        item[key] = draw(LINK_IDS) if key == "linkId" else draw(st.sampled_from(["1", "2"]))
    if draw(st.booleans()):
        item["answer"] = [{"valueInteger": draw(st.integers(0, 3))}]
    if depth and draw(st.integers(0, 3)) == 0:
        item["item"] = draw(st.lists(_item(depth - 1), max_size=3))
    return item


RESPONSES = st.builds(
    lambda items: {"resourceType": "QuestionnaireResponse", "item": items},
    st.lists(_item(2), max_size=6),
)


def _compiled(fused: bool) -> list[Expression]:
    if fused:
        return [compile_expression(rule) for rule in RULES]
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(compiler, "_repeat_where", lambda node: None)
        return [compile_expression(rule) for rule in RULES]


FUSED, GENERAL = _compiled(True), _compiled(False)


def _outcomes(
    expressions: list[Expression], order: list[int], resource: Any, budget: int, memo: bool
) -> list[Any]:
    env = Env(resource, budget=budget, memo={} if memo else None)
    found: list[Any] = []
    for index in order:
        try:
            found.append(("ok", expressions[index].evaluate([resource], env)))
        except FhirPathError as exc:
            found.append((type(exc), str(exc)))
    return found


def _same(a: Any, b: Any) -> bool:
    if a[0] != "ok" or b[0] != "ok":
        return bool(a == b)
    return len(a[1]) == len(b[1]) and all(x is y for x, y in zip(a[1], b[1], strict=True))


def test_the_rules_are_fused(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def spy(name: str, field: str, strings: frozenset[str], where: Any) -> Any:
        built.append(f"{name}.{field} in {sorted(strings)}")
        return repeat_where(name, field, strings, where)

    monkeypatch.setattr(compiler, "repeat_where", spy)
    for rule in RULES:
        compile_expression(rule)
    assert built == [
        "item.linkId in ['1', '2']",
        "item.linkId in ['2']",
        "item.linkId in ['1', '3', 'x']",
        "item.linkId in ['2', '3']",
        "item.linkId in ['1']",
    ]


@settings(max_examples=400, deadline=None)
@given(
    RESPONSES,
    st.lists(st.integers(0, len(RULES) - 1), min_size=1, max_size=6),
    st.integers(0, 40) | st.just(100_000),
    st.booleans(),
)
def test_fused_as_the_two_steps(resource: Any, order: list[int], budget: int, memo: bool) -> None:
    fused = _outcomes(FUSED, order, resource, budget, memo)
    general = _outcomes(GENERAL, order, resource, budget, memo)
    assert all(map(_same, fused, general)), (fused, general)


@pytest.mark.parametrize("rule", range(len(RULES)))
def test_the_least_budget_is_the_same(rule: int) -> None:
    """Evaluated after two rules over the same kept repeat() (so with the linkIds noted),
    a rule needs exactly the budget it needs unfused."""
    resource = {
        "item": [
            {"linkId": "1", "answer": [{"valueInteger": 1}]},
            {"linkId": "g", "item": [{"linkId": "2", "answer": [{"valueInteger": 2}]}]},
            {"linkId": "3", "answer": [{"valueInteger": 3}, {"valueInteger": 0}]},
        ]
    }

    def least(expressions: list[Expression]) -> int:
        for budget in range(100):
            outcomes = _outcomes(expressions, [0, 1, rule], resource, budget, memo=True)
            if outcomes[-1][0] == "ok":
                return budget
        raise AssertionError("no budget below 100 is enough")

    assert least(FUSED) == least(GENERAL)


def test_fields_only_when_every_item_is_an_object_with_a_string() -> None:
    assert fields_of([{"linkId": "1"}, {"linkId": "2"}], "linkId") == ["1", "2"]
    assert fields_of([], "linkId") == []
    for odd in ("x", {"linkId": 7}, {"linkId": ["1"]}, {}, {"linkIdString": "1"}):
        assert fields_of([{"linkId": "1"}, odd], "linkId") is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(0, 2) | st.sampled_from(["1", "2"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["linkId", "item", "itemString", "code", "a"]), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(JSON, max_size=4), st.lists(JSON, max_size=3), st.booleans())
def test_a_round_of_repeat_in_one_pass(items: list[Any], before: list[Any], twins: bool) -> None:
    """`Seen.fresh_children`, repeat()'s round, is `fresh(navigate(...))`: the same objects,
    and the same remembered (what a later round drops). Twins: each item again, copied."""
    if twins:
        items = items + copy.deepcopy(items)
    one, two = Seen(), Seen()
    one.fresh(before)
    two.fresh(before)
    choices = choice_names("item")
    fused = one.fresh_children(items, "item", choices)
    general = two.fresh(navigate(items, "item", choices))
    assert len(fused) == len(general)
    assert all(x is y for x, y in zip(fused, general, strict=True))
    later = [*items, *before, {"linkId": "1"}, "1", 1]
    fused, general = one.fresh(later), two.fresh(later)
    assert len(fused) == len(general)
    assert all(x is y for x, y in zip(fused, general, strict=True))
