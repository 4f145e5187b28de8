"""An answer Coding is looked up as it is written, not as canonical JSON (issue 16).

The lookup of `service.response.answers` once wrote each answer Coding as canonical JSON
(`orjson.dumps` with sorted keys) to find it among the item's clean option forms. It now
writes it as it comes, and finds it among those forms in every order of their members
(`orderings.written_forms`; canonical JSON too for a form with very many orderings). On
random JSON and on near misses of it (numbers as int, float or bool, `0.0` and `-0.0`,
members added or dropped, keys reordered, strings changed), both agree; so do the
Codings an item accepts by lookup, new against old.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response.answers import Answers, _known_coding, _plain_option
from service.response.orderings import MOST_ORDERINGS, SORTED, written_forms

WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
_SORTED = orjson.OPT_SORT_KEYS

_NUMBERS = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.sampled_from([0, 1, 2, 0.0, -0.0, 1.0, 2.5])
    | st.floats(allow_nan=False, allow_infinity=False)
)
_SCALARS = st.none() | _NUMBERS | st.text(max_size=4)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=7)
    ),
    max_leaves=12,
)


def _canonical(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return None


def _twin(draw: st.DrawFn, value: Any) -> Any:
    """A near miss of `value`: the same, or a number in another type, keys in another
    order, a member added or dropped, a string changed."""
    kind = type(value)
    if kind is dict:
        keys = draw(st.permutations(list(value)))
        twin = {key: _twin(draw, value[key]) for key in keys}
        change = draw(st.sampled_from(["none", "none", "add", "drop"]))
        if change == "add":
            twin[draw(st.text(max_size=3))] = draw(_SCALARS)
        elif change == "drop" and twin:
            twin.pop(draw(st.sampled_from(sorted(twin))))
        return twin
    if kind is list:
        return [_twin(draw, member) for member in value]
    if kind in (int, float, bool):
        like = [value, int(value), float(value), -float(value)]
        if value in (0, 1):
            like.append(bool(value))
        return draw(st.sampled_from(like))
    if kind is str:
        return draw(st.sampled_from([value, value + "x", value.upper()]))
    return value


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Any, Any]:
    known = draw(_JSON)
    return known, _twin(draw, known) if draw(st.booleans()) else draw(_JSON)


@settings(max_examples=1500, deadline=None)
@given(_pairs())
@example((1, 1.0))
@example((1, True))
@example((0.0, -0.0))
@example(({"a": [1, {"b": 2.0}]}, {"a": [1, {"b": 2}]}))
@example(({"a": 1, "b": "x"}, {"b": "x", "a": 1}))
@example(({str(n): n for n in range(7)}, {str(n): n for n in reversed(range(7))}))
def test_a_value_is_among_the_written_forms_when_its_canonical_json_is_the_form(
    pair: tuple[Any, Any],
) -> None:
    known, value = pair
    canonical = _canonical(known)
    if canonical is None:
        return  # not a form any Questionnaire gives
    written = written_forms(canonical)
    assert (SORTED in written) == (_count(known) > MOST_ORDERINGS)
    try:
        found = orjson.dumps(value) in written
        found = found or (SORTED in written and orjson.dumps(value, option=_SORTED) in written)
    except orjson.JSONEncodeError:
        found = False
    assert found == (_canonical(value) == canonical)


def _count(value: Any) -> int:
    """How many orderings of its members `value` has."""
    if type(value) is dict:
        return math.factorial(len(value)) * math.prod(_count(v) for v in value.values())
    if type(value) is list:
        return math.prod(_count(v) for v in value)
    return 1


#: Members a Coding may also have: with them, a form has more than `MOST_ORDERINGS`.
_MORE = {"version": "1", "userSelected": True, "id": "c"}


def _coding(display: str | None, weight: Any, *, more: bool = False) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": "urn:s", "code": "a", **(_MORE if more else {})}
    if display is not None:
        coding["display"] = display
    if weight is not None:
        coding["extension"] = [{"url": WEIGHT, "valueDecimal": weight}]
    return coding


def _item(weight: Any, more: bool) -> CompiledQuestionnaire:
    """A choice item whose one option Coding carries `weight` as the Questionnaire writes it
    (and with `more`, more members)."""
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {
                "linkId": "q",
                "type": "choice",
                "answerOption": [
                    {
                        "valueCoding": _coding("A", weight, more=more),
                        "extension": [_weighs(weight)],
                    }
                ],
            }
        ],
    }
    return compile_questionnaire(questionnaire)


def _weighs(weight: Any) -> dict[str, Any]:
    """The itemWeight extension of an answerOption (a number: `true` is refused)."""
    return {"url": WEIGHT, "valueDecimal": 1 if weight is True else weight}


def _old(cq: CompiledQuestionnaire, value: Any) -> bool:
    """`_known_coding` as it was: the canonical JSON looked up among the clean forms (as
    canonical JSON, `clean_codings`)."""
    definition = cq.items["q"]
    try:
        if orjson.dumps(value, option=_SORTED) in definition.clean_codings:
            return True
    except orjson.JSONEncodeError:
        pass
    return _plain_option(definition, value)


_WEIGHTS = st.sampled_from([0, 1, 2, 0.0, -0.0, 1.0, 2.5, True])


@st.composite
def _answers(draw: st.DrawFn) -> tuple[Any, bool, Any]:
    """The option's weight, whether it has more members, and a Coding close to the
    option's (or another)."""
    weight, more = draw(_WEIGHTS), draw(st.booleans())
    coding = _coding(draw(st.sampled_from(["A", "B", None])), draw(_WEIGHTS | st.none()))
    if draw(st.booleans()):
        coding = _twin(draw, _coding("A", weight, more=more))
    return weight, more, coding


@settings(max_examples=600, deadline=None)
@given(_answers())
@example((1, False, _coding("A", 1.0)))
@example((1, False, _coding("A", True)))
@example((0.0, False, _coding(None, -0.0)))
@example((2, False, {"extension": [_weighs(2)], "code": "a", "system": "urn:s"}))
@example((2, True, dict(reversed(_coding("A", 2, more=True).items()))))
def test_an_item_accepts_by_lookup_the_codings_it_did(case: tuple[Any, bool, Any]) -> None:
    weight, more, value = case
    cq = _item(weight, more)
    out = Answers(cq.terminology)
    decided = _known_coding(out, cq.items["q"], copy.deepcopy(value))
    assert out.issues == []  # the lookup writes nothing
    assert decided == _old(cq, value)
