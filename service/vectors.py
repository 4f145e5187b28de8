"""Test vectors (`{id}.vectors.json`): each response, scored by the engine, gives the
hand-worked values. Run by `python -m service lint`, not at start-up."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service import rules
from service.fhir.outcome import Issue
from service.questionnaire import CompiledQuestionnaire
from service.response import score_response

from .catalog._catalog import Catalog
from .catalog._entry import Entry
from .questionnaire.issues import content_error
from .questionnaire.walk import dicts

__all__ = ["check_vectors", "response_for", "weight_of"]

#: Scores are IEEE doubles, as fhirpath.js computes them; vectors write ~16 digits.
TOLERANCE = 1e-9
_WEIGHTS = (
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
)


def check_vectors(catalog: Catalog) -> dict[str, list[Issue]]:
    """Every vector that fails, by vectors file, of each Questionnaire with one beside it."""
    found: dict[str, list[Issue]] = {}
    for entry in catalog.questionnaires():
        path = entry.source.with_name(f"{entry.source.stem}.vectors.json")
        if path.is_file() and isinstance(entry.compiled, CompiledQuestionnaire):
            issues = list(_check_file(path, entry, entry.compiled))
            if issues:
                found.setdefault(str(path), []).extend(issues)
    return found


def _check_file(path: Path, entry: Entry, compiled: CompiledQuestionnaire) -> Iterator[Issue]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        yield content_error(rules.VECTORS, f"cannot read: {exc}")
        return
    canonical = f"{entry.url}|{entry.version}"
    if document.get("questionnaire") != canonical:
        text = f"questionnaire {document.get('questionnaire')!r} should be {canonical!r}"
        yield content_error(rules.VECTORS, text, "questionnaire")
    for index, vector in enumerate(document.get("vectors", [])):
        where = f"vectors[{index}] {vector.get('name', '')!r}"
        for text in _failures(vector, entry.resource, compiled):
            yield content_error(rules.VECTORS, text, where)


def _failures(
    vector: dict[str, Any], questionnaire: dict[str, Any], compiled: CompiledQuestionnaire
) -> Iterator[str]:
    try:
        response = response_for(questionnaire, vector["answers"], vector["status"])
    except (KeyError, StopIteration) as exc:
        yield f"cannot build the response: no option or item for {exc}"
        return
    scores = {score.link_id: score for score in score_response(compiled, response).scores}
    for link_id, expected in vector.get("expected", {}).items():
        got = scores[link_id].value if link_id in scores else "no such score"
        if not _matches(got, expected):
            yield f"score {link_id!r}: expected {expected!r}, got {got!r}"
    for link_id, band in (vector.get("bands") or {}).items():
        found = scores.get(link_id)
        code = ((found.interpretation or {}) if found else {}).get("code")
        if code != band:
            yield f"band of {link_id!r}: expected {band!r}, got {code!r}"


def _matches(got: Any, expected: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return got is expected
    numeric = isinstance(got, int | float) and not isinstance(got, bool)
    return numeric and math.isclose(got, expected, rel_tol=0, abs_tol=TOLERANCE)


def response_for(
    questionnaire: dict[str, Any], answers: dict[str, Any], status: str, **extra: Any
) -> dict[str, Any]:
    """A QuestionnaireResponse giving each linkId its published value, nested as the items.

    The vector format's rule (questionnaires/README.md): a choice item gets the option whose
    itemWeight is the value; other items the value as typed. `extra` adds top-level elements.
    """
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": status,
        **extra,
    }
    items = _answered(questionnaire, answers)
    if items:
        response["item"] = items
    return response


def _answered(node: dict[str, Any], answers: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _, item in dicts(node, "item"):
        if item.get("type") == "group":
            children = _answered(item, answers)
            if children:
                found.append({"linkId": item["linkId"], "item": children})
        elif item.get("linkId") in answers:
            answer = _answer(item, answers[item["linkId"]])
            found.append({"linkId": item["linkId"], "answer": [answer]})
    return found


def _answer(item: dict[str, Any], value: Any) -> dict[str, Any]:
    """For a choice item the option whose itemWeight is `value` (or whose code is `value`, a
    string, for options without a weight); else the value as typed."""
    kind = item.get("type")
    if kind in ("choice", "open-choice"):
        options = (o for _, o in dicts(item, "answerOption"))
        if isinstance(value, str):
            option = next(o for o in options if o.get("valueCoding", {}).get("code") == value)
        else:
            option = next(o for o in options if weight_of(o) == value)
        return {"valueCoding": dict(option["valueCoding"])}
    if kind == "boolean":
        return {"valueBoolean": value}
    return {"valueInteger" if kind == "integer" else "valueDecimal": value}


def weight_of(option: dict[str, Any]) -> Any:
    """The itemWeight (or legacy ordinalValue) of an answerOption, or None."""
    for _, extension in dicts(option, "extension"):
        if extension.get("url") in _WEIGHTS:
            return extension.get("valueDecimal", extension.get("valueInteger"))
    return None
