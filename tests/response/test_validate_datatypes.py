"""R4 structure of the response itself (service.response.datatypes): the cases in
datatype_cases.json, each a change to a response that sets every element."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from service import rules as registry
from service.errors import PayloadTooDeep
from service.response import validate_response
from service.response.datatypes import MAX_DEPTH
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
