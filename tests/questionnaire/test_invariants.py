"""que-1 … que-13 (FHIR R4 4.0.1 Questionnaire): each has a fixture that breaks only it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.catalog import load_catalog
from tests.builders.catalog import EXAMPLE_CS, issues_of, mini, write

Mutation = Callable[[dict[str, Any]], None]
OPTION_A = {"system": EXAMPLE_CS, "code": "a", "display": "A"}


def _items(q: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = q["item"]
    return items


def _group_without_items(q: dict[str, Any]) -> None:
    del _items(q)[2]["item"]


def _display_with_items(q: dict[str, Any]) -> None:
    _items(q)[3]["item"] = [{"linkId": "4", "type": "string", "text": "Four"}]


def _duplicate_link_id(q: dict[str, Any]) -> None:
    _items(q)[2]["item"][0]["linkId"] = "1"


def _display_with_code(q: dict[str, Any]) -> None:
    _items(q)[3]["code"] = [{"system": "http://loinc.org", "code": "00000-0"}]


def _option_and_value_set(q: dict[str, Any]) -> None:
    _items(q)[0]["answerValueSet"] = "http://example.org/fhir/ValueSet/ab"


def _boolean_with_options(q: dict[str, Any]) -> None:
    _items(q)[0]["type"] = "boolean"


def _display_required(q: dict[str, Any]) -> None:
    _items(q)[3]["required"] = False  # que-6 is about presence, not truth


def _exists_with_coding(q: dict[str, Any]) -> None:
    _items(q)[1]["enableWhen"] = [{"question": "1", "operator": "exists", "answerCoding": OPTION_A}]


def _group_initial(q: dict[str, Any]) -> None:
    _items(q)[2]["initial"] = [{"valueString": "x"}]


def _display_read_only(q: dict[str, Any]) -> None:
    _items(q)[3]["readOnly"] = True


def _choice_max_length(q: dict[str, Any]) -> None:
    _items(q)[0]["maxLength"] = 10


def _options_and_initial(q: dict[str, Any]) -> None:
    _items(q)[0]["initial"] = [{"valueCoding": OPTION_A}]


def _two_enable_when(q: dict[str, Any]) -> None:
    _items(q)[2]["item"][0]["enableWhen"] = [
        {"question": "1", "operator": "=", "answerCoding": OPTION_A},
        {"question": "2", "operator": ">", "answerInteger": 3},
    ]


def _two_initials(q: dict[str, Any]) -> None:
    _items(q)[1]["initial"] = [{"valueInteger": 1}, {"valueInteger": 2}]


CASES: list[tuple[str, Mutation, str, str]] = [
    ("que-1", _group_without_items, "g", "Questionnaire.item[2]"),
    ("que-1", _display_with_items, "info", "Questionnaire.item[3]"),
    ("que-2", _duplicate_link_id, "1", "Questionnaire.item[2].item[0]"),
    ("que-3", _display_with_code, "info", "Questionnaire.item[3]"),
    ("que-4", _option_and_value_set, "1", "Questionnaire.item[0]"),
    ("que-5", _boolean_with_options, "1", "Questionnaire.item[0]"),
    ("que-6", _display_required, "info", "Questionnaire.item[3]"),
    ("que-7", _exists_with_coding, "2", "Questionnaire.item[1].enableWhen[0]"),
    ("que-8", _group_initial, "g", "Questionnaire.item[2]"),
    ("que-9", _display_read_only, "info", "Questionnaire.item[3]"),
    ("que-10", _choice_max_length, "1", "Questionnaire.item[0]"),
    ("que-11", _options_and_initial, "1", "Questionnaire.item[0]"),
    ("que-12", _two_enable_when, "3", "Questionnaire.item[2].item[0]"),
    ("que-13", _two_initials, "2", "Questionnaire.item[1]"),
]


def test_the_fixture_is_valid(tmp_path: Path) -> None:
    write(tmp_path, "mini.json", mini())
    assert [e.id for e in load_catalog([tmp_path]).questionnaires()] == ["mini"]


@pytest.mark.parametrize(
    ("rule", "mutate", "link_id", "path"), CASES, ids=[f"{c[0]}-{c[1].__name__}" for c in CASES]
)
def test_invariant_fails_start_up(
    tmp_path: Path, rule: str, mutate: Mutation, link_id: str, path: str
) -> None:
    q = mini()
    mutate(q)
    file = write(tmp_path, "mini.json", q)
    problems, message = issues_of(tmp_path)
    assert {p.rule for p in problems} == {rule}
    assert f"{file}: linkId '{link_id}' ({path}): {rule}: " in message


def test_que_12_counts_from_two_not_three(tmp_path: Path) -> None:
    # R4's published expression says `> 2`; its text, R4B and the HL7 validator say "more than one".
    q = mini()
    _two_enable_when(q)
    _items(q)[2]["item"][0]["enableBehavior"] = "any"
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_que_5_admits_answer_options_on_types_its_expression_lists(tmp_path: Path) -> None:
    q = mini()
    _items(q)[1]["answerOption"] = [{"valueInteger": 1}, {"valueInteger": 2}]
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_que_13_allows_several_initials_when_repeating(tmp_path: Path) -> None:
    q = mini()
    _two_initials(q)
    _items(q)[1]["repeats"] = True
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_primitive_with_only_an_extension_counts_as_present(tmp_path: Path) -> None:
    q = mini()
    _items(q)[3]["_readOnly"] = {"extension": [{"url": "http://example.org/x", "valueCode": "y"}]}
    write(tmp_path, "mini.json", q)
    problems, _ = issues_of(tmp_path)
    assert [p.rule for p in problems] == ["que-9"]


def test_every_invariant_in_one_file_is_reported_at_once(tmp_path: Path) -> None:
    q = mini()
    # que-1 by deletion would drop the group's child; que-5 by retyping would lift que-10.
    for _, mutate, _, _ in CASES[1:]:
        if mutate is not _boolean_with_options:
            mutate(q)
    _items(q)[2]["item"][0]["answerOption"] = [{"valueString": "x"}]
    _items(q)[2]["item"][0]["type"] = "text"  # que-5: no options on text
    write(tmp_path, "mini.json", q)
    problems, _ = issues_of(tmp_path)
    assert {c[0] for c in CASES} <= {p.rule for p in problems}
