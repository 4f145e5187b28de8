"""Provenance: what produced the numbers, identical for the same response and content."""

from __future__ import annotations

import copy
from importlib import metadata
from typing import Any

import orjson
import pytest

from service.questionnaire import compile_questionnaire
from service.response import extract_observations, score_response
from service.response.provenance import PROVENANCE_SYSTEM, provenance_parameter
from tests.builders.instruments import build_response, compiled, full_answers, questionnaires
from tests.support.fhir_schema import validate_bundle

CONTEXT: dict[str, Any] = {
    "id": "qr-3",
    "subject": {"reference": "Patient/p3"},
    "authored": "2026-11-25T09:30:00+01:00",
}
PHQ9 = "https://rapport-fhir.github.io/fhir/Questionnaire/phq-9|1.0.0"


def _extract(content: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
    cq = compile_questionnaire(content) if content is not None else compiled("phq-9")
    answers = dict.fromkeys(full_answers("phq-9"), 1)  # item 9 = 1: a Flag too
    merged = {key: value for key, value in {**CONTEXT, **context}.items() if value is not None}
    response = build_response("phq-9", answers, "completed", **merged)
    return extract_observations(cq, score_response(cq, response), response)


def _provenance(bundle: dict[str, Any]) -> dict[str, Any]:
    (entry,) = (e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance")
    return entry  # type: ignore[no-any-return]


def test_provenance_names_targets_entities_and_agent() -> None:
    bundle = _extract()
    assert validate_bundle(bundle) == []
    entry = _provenance(bundle)
    provenance = entry["resource"]
    others = [e for e in bundle["entry"] if e is not entry]
    assert [e["resource"]["resourceType"] for e in others] == ["Observation", "Observation", "Flag"]
    assert provenance["target"] == [{"reference": e["fullUrl"]} for e in others]
    assert provenance["recorded"] == provenance["occurredDateTime"] == CONTEXT["authored"]
    assert provenance["entity"] == [
        {"role": "derivation", "what": {"reference": "QuestionnaireResponse/qr-3"}},
        {
            "role": "source",
            "what": {
                "type": "Questionnaire",
                "identifier": {
                    "system": "https://rapport-fhir.github.io/fhir/sid/canonical",
                    "value": PHQ9,
                },
                "display": "Patient Health Questionnaire-9 (PHQ-9)",
            },
        },
    ]
    (device,) = provenance["contained"]
    (agent,) = provenance["agent"]
    assert agent["who"]["reference"] == f"#{device['id']}"
    assert agent["type"]["coding"][0]["code"] == "assembler"
    engine, digest = device["version"]
    assert engine == {"type": {"text": "engine"}, "value": metadata.version("rapport")}
    assert digest["type"] == {"text": "score expressions sha256"}
    assert len(digest["value"]) == 64
    (tag,) = provenance["meta"]["tag"]
    assert tag["system"] == PROVENANCE_SYSTEM
    assert entry["request"] == {
        "method": "PUT",
        "url": f"Provenance?_tag={PROVENANCE_SYSTEM}|{tag['code']}",
    }


def test_the_same_response_and_content_give_byte_identical_provenance() -> None:
    first = orjson.dumps(_provenance(_extract()))
    assert orjson.dumps(_provenance(_extract())) == first
    # A fresh compile of the same content: the same digest.
    assert orjson.dumps(_provenance(_extract(copy.deepcopy(questionnaires()["phq-9"])))) == first


def _digest(bundle: dict[str, Any]) -> str:
    return str(_provenance(bundle)["resource"]["contained"][0]["version"][1]["value"])


def _changed(change: str) -> dict[str, Any]:
    content = copy.deepcopy(questionnaires()["phq-9"])
    items = {item["linkId"]: item for item in content["item"]}
    if change == "item text":
        items["1"]["text"] += "."
    elif change == "title":
        content["title"] += " (site copy)"
    elif change == "weight":
        items["1"]["answerOption"][1]["extension"][0]["valueDecimal"] = 2
    elif change == "expression":
        calculated = items["total"]["extension"][2]["valueExpression"]
        calculated["expression"] = calculated["expression"].replace("count() = 9", "count() > 8")
    return content


@pytest.mark.parametrize(
    ("change", "same"),
    [("item text", True), ("title", True), ("weight", False), ("expression", False)],
)
def test_the_digest_follows_what_decides_the_numbers(change: str, same: bool) -> None:
    assert (_digest(_extract(_changed(change))) == _digest(_extract())) is same


def test_score_says_the_same_in_compact_form() -> None:
    device = _provenance(_extract())["resource"]["contained"][0]
    parameter = provenance_parameter(compiled("phq-9"))
    assert parameter == {
        "name": "provenance",
        "part": [
            {"name": "engine", "valueString": f"Rapport {device['version'][0]['value']}"},
            {"name": "expressions", "valueString": f"sha256:{device['version'][1]['value']}"},
        ],
    }


@pytest.mark.parametrize(
    ("authored", "meta", "recorded"),
    [
        ("2026-11-25", {"lastUpdated": "2026-11-26T08:00:00Z"}, "2026-11-26T08:00:00Z"),
        ("2026-11-25", None, None),  # no instant to date it honestly: no Provenance
        (None, None, None),
    ],
)
def test_recorded_comes_from_the_response(
    authored: str | None, meta: dict[str, Any] | None, recorded: str | None
) -> None:
    context: dict[str, Any] = {"authored": authored}
    if meta is not None:
        context["meta"] = meta
    bundle = _extract(**context)
    found = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert [e["resource"]["recorded"] for e in found] == ([recorded] if recorded else [])
