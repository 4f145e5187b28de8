"""The shipped instruments, each with a realistic QuestionnaireResponse built from its vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.config import SHIPPED

__all__ = ["WEIGHT_URLS", "Instrument", "instruments", "weight_of"]

WEIGHT_URLS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    }
)


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
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:bench-0001"},
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": status,
        "subject": {"reference": "Patient/bench"},
        "authored": "2026-01-02T10:00:00Z",
        "author": {"reference": "Practitioner/bench"},
        "item": _items(questionnaire.get("item", []), answers),
    }


def weight_of(option: dict[str, Any]) -> float | None:
    """The itemWeight (or legacy ordinalValue) of an answerOption."""
    for ext in option.get("extension", []):
        if ext.get("url") in WEIGHT_URLS:
            return ext.get("valueDecimal", ext.get("valueInteger"))  # type: ignore[no-any-return]
    return None


def _answer(item: dict[str, Any], value: Any) -> dict[str, Any]:
    # A choice item's published value is the itemWeight of the option to pick.
    if item["type"] == "choice":
        option = next(o for o in item["answerOption"] if weight_of(o) == value)
        return {"valueCoding": dict(option["valueCoding"])}
    key = {"integer": "valueInteger", "decimal": "valueDecimal"}.get(item["type"], "valueBoolean")
    return {key: value}


def _items(definitions: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for definition in definitions:
        if definition["type"] == "group":
            children = _items(definition.get("item", []), answers)
            if children:
                found.append({"linkId": definition["linkId"], "item": children})
        elif definition["linkId"] in answers:
            answer = _answer(definition, answers[definition["linkId"]])
            found.append({"linkId": definition["linkId"], "answer": [answer]})
    return found


def _count_answers(items: list[dict[str, Any]]) -> int:
    return sum(len(i.get("answer", [])) + _count_answers(i.get("item", [])) for i in items)
