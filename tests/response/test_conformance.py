"""Conformance: the verdicts of `$validate` on a corpus of Questionnaire/response pairs
written here for the R4 and SDC rule classes (tests/response/conformance/*.json), against
the expectations recorded, from those rules, in conformance/expected.json: valid or
not (no issue of severity error), and the rule code of every issue reported.

The corpus is modelled on the published R4 rules, not copied from a test suite; each file
says which rules it exercises. Where the HL7 Java and .NET validators disagree, the case
name starts with "disagreement" and docs/conformance.md gives our reading.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from service.fhir.outcome import IssueSeverity
from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import validate_response

FOLDER = Path(__file__).with_name("conformance")
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (FOLDER / "expected.json").read_text(encoding="utf-8")
)
CORPUS = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(FOLDER.glob("*.json"))
    if path.name != "expected.json"
}
CASES = [
    (f"{name}/{case['name']}", name, case["response"])
    for name, corpus in CORPUS.items()
    for case in corpus["cases"]
]


@cache
def _compiled(name: str) -> CompiledQuestionnaire:
    return compile_questionnaire(copy.deepcopy(CORPUS[name]["questionnaire"]))


def test_every_case_has_an_expectation_and_no_other() -> None:
    assert sorted(key for key, _, _ in CASES) == sorted(EXPECTED)


def test_the_corpus_has_valid_and_invalid_cases_of_every_class() -> None:
    for name in CORPUS:
        verdicts = {EXPECTED[key]["valid"] for key, file, _ in CASES if file == name}
        assert verdicts == {True, False}, name


@pytest.mark.parametrize(("key", "name", "response"), [pytest.param(*c, id=c[0]) for c in CASES])
def test_verdict(key: str, name: str, response: dict[str, Any]) -> None:
    issues = validate_response(_compiled(name), copy.deepcopy(response)).issues
    errors = [i for i in issues if i.severity in (IssueSeverity.ERROR, IssueSeverity.FATAL)]
    found = {"valid": not errors, "rules": sorted({i.rule or "" for i in issues})}
    assert found == EXPECTED[key]
