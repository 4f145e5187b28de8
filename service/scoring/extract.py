"""SDC observation-based extraction: one Observation per extracted score, in a transaction.

Observations follow US Core's screening-assessment shape: category survey,
the score item's code, subject/encounter/effective/issued/performer from the
response, `valueQuantity` in UCUM `{score}` (valueBoolean for flags), the band
as `interpretation`, and `derivedFrom` the response.

Each Observation's identifier is deterministic, so re-sending a response never
creates duplicates (`request.ifNoneExist`): its value is the first 32 hex
digits of sha256(`<identity>` newline `<code system>|<code>`), where identity is
`identifier|<system>|<value>` of the response's identifier, else `id|<id>`,
else `content|<sha256 of the canonical JSON of the scored response without
id, meta and text>`. fullUrl is `urn:uuid:` + uuid5(URL namespace,
`<identifier system>|<value>`). Status: completed → final, amended → amended,
in-progress and stopped → preliminary, entered-in-error → entered-in-error.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from .model import CompiledQuestionnaire
from .score import Score, ScoreResult

__all__ = ["OBSERVATION_SYSTEM", "extract_observations", "observation_identifier"]

OBSERVATION_SYSTEM = "https://rapport-fhir.github.io/fhir/sid/observation"
_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
_STATUS = {
    "completed": "final",
    "amended": "amended",
    "in-progress": "preliminary",
    "stopped": "preliminary",
    "entered-in-error": "entered-in-error",
}
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
#: Observation.performer may not reference a Device (which QuestionnaireResponse.author may).
_NOT_PERFORMERS = ("Device/",)


def extract_observations(
    cq: CompiledQuestionnaire, result: ScoreResult, response: dict[str, Any]
) -> dict[str, Any]:
    """A Bundle (transaction) of Observations for the computed scores marked observationExtract."""
    identity = _identity(response, result.response)
    entries = []
    for score in result.scores:
        definition = cq.score(score.link_id)
        if score.value is None or definition is None or not definition.extract:
            continue
        value = observation_identifier(identity, score)
        observation = _observation(score, response, result.status, value)
        full_url = uuid.uuid5(uuid.NAMESPACE_URL, f"{OBSERVATION_SYSTEM}|{value}")
        entries.append(
            {
                "fullUrl": f"urn:uuid:{full_url}",
                "resource": observation,
                "request": {
                    "method": "POST",
                    "url": "Observation",
                    "ifNoneExist": f"identifier={OBSERVATION_SYSTEM}|{value}",
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def observation_identifier(identity: str, score: Score) -> str:
    """The stable identifier value of a score's Observation for a response identity."""
    code = score.code or {}
    text = f"{identity}\n{code.get('system', '')}|{code.get('code', '')}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _identity(response: dict[str, Any], scored: dict[str, Any]) -> str:
    identifier = response.get("identifier")
    if type(identifier) is dict and type(identifier.get("value")) is str:
        return f"identifier|{identifier.get('system', '')}|{identifier['value']}"
    if type(response.get("id")) is str:
        return f"id|{response['id']}"
    content = {k: v for k, v in scored.items() if k not in ("id", "meta", "text")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "content|" + hashlib.sha256(canonical.encode()).hexdigest()


def _observation(
    score: Score, response: dict[str, Any], status: str, identifier: str
) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": OBSERVATION_SYSTEM, "value": identifier}],
        "status": _STATUS[status],
        "category": [_CATEGORY],
        "code": {"coding": [dict(score.code or {})]},  # copies: never share the content's dicts
    }
    for element in ("subject", "encounter"):
        if type(response.get(element)) is dict:
            observation[element] = response[element]
    authored = response.get("authored")
    if type(authored) is str:
        observation["effectiveDateTime"] = authored
        if _INSTANT.fullmatch(authored):
            observation["issued"] = authored
    author = response.get("author")
    if type(author) is dict and not str(author.get("reference", "")).startswith(_NOT_PERFORMERS):
        observation["performer"] = [author]
    if type(score.value) is bool:
        observation["valueBoolean"] = score.value
    else:
        observation["valueQuantity"] = {
            "value": score.value,
            "unit": "{score}",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        }
    if score.interpretation is not None:
        observation["interpretation"] = [{"coding": [dict(score.interpretation)]}]
    derived = _derived_from(response)
    if derived:
        observation["derivedFrom"] = [derived]
    return observation


def _derived_from(response: dict[str, Any]) -> dict[str, Any]:
    reference: dict[str, Any] = {}
    if type(response.get("id")) is str:
        reference["reference"] = f"QuestionnaireResponse/{response['id']}"
    if type(response.get("identifier")) is dict:
        reference["identifier"] = response["identifier"]
    return reference
