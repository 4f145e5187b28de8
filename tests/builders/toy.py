"""A test Questionnaire exercising every item type, enableWhen, groups, value sets and scores."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from service.questionnaire import CompiledQuestionnaire, compile_questionnaire

PATH = Path(__file__).with_name("toy.questionnaire.json")

RESPONSE: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse",
    "id": "r1",
    "questionnaire": "https://example.org/Questionnaire/toy|2.0.0",
    "status": "completed",
    "subject": {"reference": "Patient/p1"},
    "authored": "2026-11-25T09:00:00Z",
    "item": [
        {"linkId": "smoker", "text": "Do you smoke?", "answer": [{"valueBoolean": True}]},
        {"linkId": "packs", "answer": [{"valueInteger": 6}]},
        {
            "linkId": "grp",
            "item": [
                {
                    "linkId": "mood",
                    "answer": [{"valueCoding": {"system": "urn:toy", "code": "high"}}],
                },
                {
                    "linkId": "colour",
                    "answer": [{"valueCoding": {"system": "urn:colours", "code": "red"}}],
                },
                {"linkId": "note", "answer": [{"valueString": "abc"}]},
                {"linkId": "weight", "answer": [{"valueDecimal": 1.5}]},
                {"linkId": "when", "answer": [{"valueDate": "2024-05-01"}]},
                {"linkId": "heavy", "answer": [{"valueString": "yes"}]},
            ],
        },
        {"linkId": "family", "item": [{"linkId": "relation", "answer": [{"valueString": "aunt"}]}]},
        {
            "linkId": "family",
            "item": [
                {
                    "linkId": "relation",
                    "answer": [{"valueCoding": {"system": "urn:family", "code": "father"}}],
                },
                {"linkId": "age", "answer": [{"valueInteger": 60}]},
            ],
        },
        {
            "linkId": "pets",
            "answer": [
                {
                    "valueInteger": 1,
                    "item": [{"linkId": "pet-name", "answer": [{"valueString": "Rex"}]}],
                }
            ],
        },
        {"linkId": "times", "answer": [{"valueTime": "08:00:00"}, {"valueTime": "20:00:00.5"}]},
        {"linkId": "seen", "answer": [{"valueDateTime": "2024-05-01T10:00:00+02:00"}]},
        {"linkId": "site", "answer": [{"valueUri": "https://example.org"}]},
        {"linkId": "photo", "answer": [{"valueAttachment": {"contentType": "image/png"}}]},
        {"linkId": "doctor", "answer": [{"valueReference": {"reference": "Practitioner/1"}}]},
        {"linkId": "height", "answer": [{"valueQuantity": {"value": 180, "unit": "cm"}}]},
        {
            "linkId": "story",
            "_text": {"extension": [{"url": "urn:toy:note", "valueString": "no text"}]},
            "answer": [{"valueString": "Once"}],
        },
        {"linkId": "wake", "answer": [{"valueTime": "07:00:00"}]},
    ],
}


def toy_questionnaire() -> dict[str, Any]:
    """A fresh copy of the toy Questionnaire."""
    return json.loads(PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def toy() -> CompiledQuestionnaire:
    """The toy Questionnaire, compiled."""
    return compile_questionnaire(toy_questionnaire())


def toy_response() -> dict[str, Any]:
    """A fresh copy of a valid, completed response to the toy Questionnaire."""
    return copy.deepcopy(RESPONSE)
