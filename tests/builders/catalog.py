"""A small, valid Questionnaire to break one rule at a time, and helpers to load content."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.catalog import CatalogError, load_catalog
from service.fhir.outcome import Issue

EXAMPLE_CS = "http://example.org/fhir/CodeSystem/mini"
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"

_MINI: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "id": "mini",
    "url": "https://example.org/fhir/Questionnaire/mini",
    "version": "1.0.0",
    "name": "Mini",
    "title": "Mini Questionnaire",
    "status": "active",
    "publisher": "Exämple Clinic",
    "code": [{"system": "http://loinc.org", "code": "00000-0"}],
    "extension": [
        {
            "url": VARIABLE,
            "valueExpression": {
                "name": "two",
                "language": "text/fhirpath",
                "expression": "%resource.item.where(linkId = '2').answer.value",
            },
        }
    ],
    "item": [
        {
            "linkId": "1",
            "type": "choice",
            "text": "One",
            "code": [{"system": EXAMPLE_CS, "code": "q1", "display": "Question one"}],
            "answerOption": [
                {"valueCoding": {"system": EXAMPLE_CS, "code": "a", "display": "A"}},
                {"valueCoding": {"system": EXAMPLE_CS, "code": "b", "display": "B"}},
            ],
        },
        {"linkId": "2", "type": "integer", "text": "Two"},
        {
            "linkId": "g",
            "type": "group",
            "text": "Group",
            "item": [{"linkId": "3", "type": "string", "text": "Three"}],
        },
        {"linkId": "info", "type": "display", "text": "A note"},
        {
            "linkId": "total",
            "type": "decimal",
            "text": "Total",
            "readOnly": True,
            "code": [{"system": EXAMPLE_CS, "code": "total", "display": "Total score"}],
            "extension": [
                {
                    "url": CALCULATED,
                    "valueExpression": {"language": "text/fhirpath", "expression": "%two + 1"},
                }
            ],
        },
    ],
}


def mini() -> dict[str, Any]:
    """A fresh copy of the valid Questionnaire."""
    return copy.deepcopy(_MINI)


def write(folder: Path, name: str, resource: Any) -> Path:
    """Write JSON (or raw text) to `folder/name`, making the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text = resource if isinstance(resource, str) else json.dumps(resource, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(*dirs: Path, **kw: Any) -> tuple[list[Issue], str]:
    """Load expecting failure: the issues and the error message."""
    with pytest.raises(CatalogError) as info:
        load_catalog(list(dirs), **kw)
    return list(info.value.issues), str(info.value)
