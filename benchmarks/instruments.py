"""The shipped instruments, each with a realistic QuestionnaireResponse built from its vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.config import SHIPPED
from service.vectors import response_for, weight_of

__all__ = ["Instrument", "build_response", "instruments", "weight_of"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One shipped Questionnaire, the vector chosen for it, and that vector as a response."""

    id: str
    questionnaire: dict[str, Any]
    vector: str
    response: dict[str, Any]
    body: bytes

    @property
    def answered(self) -> int:
        """How many items the response answers."""
        return _count_answers(self.response.get("item", []))


def instruments(folder: Path = SHIPPED) -> list[Instrument]:
    """Every shipped Questionnaire with vectors, answered with its most complete vector."""
    found = []
    for path in sorted(folder.glob("*.vectors.json")):
        questionnaire = json.loads(path.with_name(path.name.replace(".vectors", "")).read_bytes())
        vector = max(json.loads(path.read_bytes())["vectors"], key=lambda v: len(v["answers"]))
        response = build_response(questionnaire, vector["answers"], vector["status"])
        body = json.dumps(response, ensure_ascii=False).encode()
        found.append(Instrument(questionnaire["id"], questionnaire, vector["name"], response, body))
    return found


def build_response(
    questionnaire: dict[str, Any], answers: dict[str, Any], status: str
) -> dict[str, Any]:
    """A response as an EHR would send it: identity, subject, author, nested items."""
    return response_for(
        questionnaire,
        answers,
        status,
        identifier={"system": "urn:ietf:rfc:3986", "value": "urn:uuid:bench-0001"},
        subject={"reference": "Patient/bench"},
        authored="2026-01-02T10:00:00Z",
        author={"reference": "Practitioner/bench"},
    )


def _count_answers(items: list[dict[str, Any]]) -> int:
    return sum(len(i.get("answer", [])) + _count_answers(i.get("item", [])) for i in items)
