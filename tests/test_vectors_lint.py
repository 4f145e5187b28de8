"""Test vectors beside a Questionnaire: `python -m service lint` scores each and compares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.catalog import describe, load_catalog
from service.questionnaire import compile_questionnaire
from service.vectors import check_vectors

from .builders.catalog import mini, write

CANONICAL = "https://example.org/fhir/Questionnaire/mini|1.0.0"


def _vectors(tmp_path: Path, *vectors: dict[str, Any], canonical: str = CANONICAL) -> Path:
    write(tmp_path, "mini.json", mini())
    return write(tmp_path, "mini.vectors.json", {"questionnaire": canonical, "vectors": vectors})


def _problems(tmp_path: Path) -> list[str]:
    catalog = load_catalog([tmp_path], compiler=compile_questionnaire)
    found = check_vectors(catalog)
    return [describe(source, i) for source, issues in found.items() for i in issues]


def test_passing_vectors(tmp_path: Path) -> None:
    _vectors(
        tmp_path,
        {"name": "four", "status": "completed", "answers": {"2": 4}, "expected": {"total": 5}},
        {"name": "empty", "status": "in-progress", "answers": {}, "expected": {"total": None}},
    )
    assert _problems(tmp_path) == []


def test_a_wrong_expectation_is_reported(tmp_path: Path) -> None:
    file = _vectors(
        tmp_path,
        {"name": "four", "status": "completed", "answers": {"2": 4}, "expected": {"total": 6}},
    )
    assert _problems(tmp_path) == [
        f"{file}: vectors[0] 'four': vectors: score 'total': expected 6, got 5"
    ]


def test_unknown_option_value_and_canonical(tmp_path: Path) -> None:
    file = _vectors(
        tmp_path,
        {"name": "bad", "status": "completed", "answers": {"1": 9}, "expected": {}},
        canonical="https://example.org/fhir/Questionnaire/other|1.0.0",
    )
    problems = _problems(tmp_path)
    assert problems[0].startswith(f"{file}: questionnaire: vectors: questionnaire ")
    assert problems[1].startswith(f"{file}: vectors[0] 'bad': vectors: cannot build the response")


def test_no_vectors_file_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "mini.json", mini())
    assert _problems(tmp_path) == []
