"""The shipped instruments and their test vectors, and responses built from published values."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.vectors import response_for, weight_of

FOLDER = Path(__file__).resolve().parents[2] / "questionnaires"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def questionnaires() -> dict[str, dict[str, Any]]:
    """Every shipped Questionnaire by id (CodeSystems in the folder are left out)."""
    found = {}
    for path in sorted(FOLDER.glob("*.json")):
        if path.name.endswith(".vectors.json"):
            continue
        resource = _load(path)
        if resource.get("resourceType") == "Questionnaire":
            found[resource["id"]] = resource
    return found


@cache
def compiled(name: str) -> CompiledQuestionnaire:
    """A shipped Questionnaire, compiled once per test session."""
    return compile_questionnaire(questionnaires()[name])


def vectors() -> list[tuple[str, dict[str, Any]]]:
    """(instrument id, vector) for every vector of every `*.vectors.json`."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FOLDER.glob("*.vectors.json")):
        name = path.name.removesuffix(".vectors.json")
        found.extend((name, vector) for vector in _load(path)["vectors"])
    return found


def build_response(
    name: str, answers: dict[str, Any], status: str = "completed", **extra: Any
) -> dict[str, Any]:
    """A QuestionnaireResponse answering `answers` (linkId -> published value), nested as the
    items are nested in the Questionnaire (the builder `python -m service lint` uses)."""
    return response_for(questionnaires()[name], answers, status, **extra)


def full_answers(name: str, value_index: int = 0) -> dict[str, Any]:
    """Answers to every answerable item: the `value_index`-th option, or that integer."""
    found: dict[str, Any] = {}
    stack = list(questionnaires()[name]["item"])
    while stack:
        item = stack.pop()
        stack.extend(item.get("item", []))
        if item["type"] == "choice" and "answerOption" in item and not item.get("readOnly"):
            options = item["answerOption"]
            if any(weight_of(o) is not None for o in options):
                found[item["linkId"]] = weight_of(options[value_index % len(options)])
        elif item["type"] == "integer" and not item.get("readOnly"):
            found[item["linkId"]] = value_index
    return found
