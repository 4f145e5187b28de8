"""The plain-Python floor for `$score`: the useful work and nothing else.

Parse the body with the service's own parser, check each answer's Coding is among the
item's options, sum the option weights of the items each score uses, and build the
Parameters result. Everything that can be prepared per Questionnaire is prepared once,
as the engine's compilation is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.fhir import jsonio
from service.questionnaire import CompiledQuestionnaire

from .instruments import weight_of

__all__ = ["FloorIndex", "floor_index", "floor_score"]


@dataclass(frozen=True, slots=True)
class FloorIndex:
    """Per linkId the weight of each (system, code); per score its code and the items it sums."""

    options: dict[str, dict[tuple[str, str], float | None]]  # None: an unscored option
    scores: tuple[tuple[dict[str, Any] | None, tuple[str, ...]], ...]


def floor_index(questionnaire: dict[str, Any], compiled: CompiledQuestionnaire) -> FloorIndex:
    """Index a Questionnaire's options; the items each score uses come from the compiled form."""
    options: dict[str, dict[tuple[str, str], float | None]] = {}
    stack = list(questionnaire.get("item", []))
    while stack:
        item = stack.pop()
        stack.extend(item.get("item", []))
        weights = {}
        for option in item.get("answerOption", []):
            coding = option.get("valueCoding")
            if coding is not None:
                weights[coding.get("system", ""), coding["code"]] = weight_of(option)
        options[item["linkId"]] = weights
    scores = tuple((s.code, tuple(sorted(s.uses))) for s in compiled.scores)
    return FloorIndex(options, scores)


def floor_score(index: FloorIndex, body: bytes) -> dict[str, Any]:
    """Parse, check every answer against the options, sum per score, build Parameters."""
    response = jsonio.loads(body)
    values: dict[str, float] = {}
    stack = list(response.get("item", ()))
    while stack:
        item = stack.pop()
        if "item" in item:
            stack.extend(item["item"])
        for answer in item.get("answer", ()):
            coding = answer.get("valueCoding")
            if coding is None:
                values[item["linkId"]] = answer["valueInteger"]
                continue
            options = index.options[item["linkId"]]
            key = (coding.get("system", ""), coding["code"])
            if key not in options:
                raise ValueError(f"{coding['code']} is not an option of {item['linkId']}")
            weight = options[key]
            if weight is not None:  # an unscored item (PHQ-9's difficulty question)
                values[item["linkId"]] = weight
    parameters: list[dict[str, Any]] = [{"name": "response", "resource": response}]
    for code, uses in index.scores:
        total = sum(values[link] for link in uses if link in values)
        value = {"name": "value", "valueDecimal": total}
        parameters.append({"name": "score", "part": [{"name": "code", "valueCoding": code}, value]})
    return {"resourceType": "Parameters", "parameter": parameters}
