"""R4 structure of the response itself (service.response.datatypes): the cases in
datatype_cases.json, each a change to a response that sets every element."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service import rules as registry
from service.errors import PayloadTooDeep
from service.response import validate_response
from service.response.datatypes import _NESTED, MAX_DEPTH, _Check, _plain
from tests.builders.toy import toy

CORPUS = json.loads(Path(__file__).with_name("datatype_cases.json").read_text(encoding="utf-8"))
VALID: dict[str, Any] = CORPUS["valid"]
CASES: list[dict[str, Any]] = CORPUS["cases"]
SOURCES = [
    Path(__file__).parents[2] / "service" / "response" / name
    for name in ("datatypes.py", "primitives.py")
]


def _found(response: Any) -> list[list[str | None]]:
    issues = validate_response(toy(), response).issues
    return [[i.severity.value, i.rule, i.expression] for i in issues]


def _changed(case: dict[str, Any]) -> dict[str, Any]:
    response = copy.deepcopy(VALID)
    *path, last = case["at"]
    node: Any = response
    for step in path:
        node = node[step]
    if case.get("drop"):
        del node[last]
    else:
        node[last] = case["value"]
    return response


def test_a_response_with_every_element_set_is_clean() -> None:
    assert _found(copy.deepcopy(VALID)) == []


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    assert _found(_changed(case)) == case["expect"]


def test_every_rule_of_the_module_has_a_failing_case() -> None:
    text = "".join(source.read_text(encoding="utf-8") for source in SOURCES)
    names = re.findall(r"\brules\.(QR_[A-Z0-9_]+)\b", text)
    rules = {getattr(registry, name).code for name in names}
    covered = {rule for case in CASES for _, rule, _ in case["expect"]}
    assert rules <= covered, rules - covered


def test_issues_name_the_item_and_say_what_is_wrong() -> None:
    case = next(c for c in CASES if c["name"] == "Coding display a number")
    (issue,) = validate_response(toy(), _changed(case)).issues
    assert issue.location == "mood"
    assert issue.code.value == "structure"
    assert issue.text == "must be a string in JSON"


def test_nesting_is_bounded() -> None:
    extension: dict[str, Any] = {"url": "urn:x", "valueString": "deep"}
    for _ in range(MAX_DEPTH + 1):
        extension = {"url": "urn:x", "extension": [extension]}
    response = copy.deepcopy(VALID)
    response["extension"] = [extension]
    with pytest.raises(PayloadTooDeep):
        validate_response(toy(), response)


# `datatypes._plain` decides a 0..1 datatype in one step: only where `elements` would find
# it clean without a word. Random objects of every nested datatype (its own elements with
# good, near-miss and wrong values, companions, unknown keys) show it, so what it skips
# cannot change an outcome.
_VALUES = st.sampled_from(
    [
        *[
            "Patient/1",
            "Patient/",
            "#",
            "#a",
            "urn:uuid:x",
            "http://x.org/Patient/1",
            "a b",
            " ",
            "",
        ],
        *["urn:ietf:rfc:3986", "official", "usual ", "2026-01-02", "2026-02-30", "1.5", "<"],
        *["YWJj", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", 3, 5],
        *[0, 1, -1, 1.5, True, None, [], {}, ["x"], {"reference": "Patient/1"}, {"code": "x"}],
    ]
)


@st.composite
def _node(draw: st.DrawFn, spec: Any) -> tuple[Any, dict[str, Any]]:
    names = [*list(spec.elements)[:8], "_system", "unknown"]  # Extension: not every value[x]
    keys = draw(st.lists(st.sampled_from(names), max_size=4))
    return spec, {key: draw(_VALUES) for key in keys}


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(list(_NESTED.values())).flatmap(_node))
@example((_NESTED["Extension"], {"url": "urn:ietf:rfc:3986"}))  # ext-1
@example((_NESTED["Attachment"], {"data": "YWJj", "size": 5}))  # consistency
@example((_NESTED["Reference"], {"reference": "Patient/"}))  # consistency
@example((_NESTED["Narrative"], {"div": "<div>x</div>"}))  # status required
def test_a_datatype_decided_in_one_step_is_one_the_general_check_finds_clean(
    case: tuple[Any, dict[str, Any]],
) -> None:
    spec, node = case
    issues: list[Any] = []
    clean = _Check(issues, None, None).elements(spec, node, "x", 1)
    if _plain(spec, node):
        assert clean
        assert issues == []
