"""What produced the numbers: the Questionnaire version, the engine, the scoring content.

`$extract` adds one R4 Provenance to its transaction, and `$score` the same facts as a
`provenance` parameter. Both are a pure function of the response and the content, so the
same response scored by the same content gives byte-identical provenance:

- `target`: every Observation and Flag of the transaction, by fullUrl (the server rewrites
  those to the ids it assigns, R4 http.html#trules);
- `entity`: the response (role `derivation`: the Observations are computed from it; its
  Reference as in Observation.derivedFrom) and the Questionnaire (role `source`), whose
  Reference carries `url|version` as an identifier, as Reference cannot hold a canonical;
- `agent`: Rapport, type `assembler`, a Device contained in the Provenance. Contained,
  not a Device entry: the Device records what ran at that moment (engine version, digest
  of the scoring content); a shared Device resource updated in place would rewrite the
  history of every earlier Provenance, and a Device per version would need its own
  conditional identity and search;
- `recorded`: the response's `authored` (an instant), else its `meta.lastUpdated`. The
  activity is deterministic, so its record is dated by its input: a wall-clock time would
  make every re-send a new Provenance version with nothing changed. When the EHR filed it
  is in its own audit (`meta.lastUpdated`, AuditEvent). A response with neither instant
  cannot date its provenance honestly and gets none. `occurredDateTime` is `authored`.

Provenance has no `identifier` (R4), so its conditional update is by tag: `PUT
Provenance?_tag=<system>|<value>` with the value derived from the response identity as the
Observations' are; re-sending the response updates the same Provenance.

The scoring digest is sha256 over the canonical JSON (sorted keys, no spaces) of what
decides a number, in document order: for the Questionnaire and each item, its linkId and
its variable, calculatedExpression and score-band extensions, and each answerOption's code
with its itemWeight (or ordinalValue).
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from threading import Lock
from typing import Any

from service.fhir.r4 import INSTANT
from service.questionnaire.compile import CompiledQuestionnaire

from .entries import conditional_entry

__all__ = [
    "ENGINE_VERSION",
    "PROVENANCE_SYSTEM",
    "canonical",
    "provenance_entry",
    "provenance_parameter",
    "scoring_digest",
]

PROVENANCE_SYSTEM = "https://rapport-fhir.github.io/fhir/sid/provenance"
QUESTIONNAIRE_SYSTEM = "https://rapport-fhir.github.io/fhir/sid/canonical"


def _engine_version() -> str:
    try:
        return metadata.version("rapport")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


ENGINE_VERSION = _engine_version()
_SCORING = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/variable",
        "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
        "https://rapport-fhir.github.io/fhir/StructureDefinition/score-band",
    }
)
_WEIGHTS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/itemWeight",
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    }
)
_DEVICE = "rapport"
_digests: dict[int, tuple[dict[str, Any], str]] = {}
_lock = Lock()


def canonical(cq: CompiledQuestionnaire) -> str | None:
    """`url|version` of the Questionnaire that scored (`url` alone if it has no version)."""
    if cq.url is None:
        return None
    return f"{cq.url}|{cq.version}" if cq.version else cq.url


def scoring_digest(cq: CompiledQuestionnaire) -> str:
    """The sha256 (hex) of the content that decides the Questionnaire's scores."""
    key = id(cq.questionnaire)
    with _lock:
        found = _digests.get(key)
    if found is not None and found[0] is cq.questionnaire:
        return found[1]
    parts: list[Any] = []
    _collect(cq.questionnaire, parts)
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with _lock:
        if len(_digests) > 1024:  # site and inline content come and go
            _digests.clear()
        _digests[key] = (cq.questionnaire, digest)
    return digest


def _collect(node: dict[str, Any], parts: list[Any]) -> None:
    extensions = [e for e in _list(node.get("extension")) if e.get("url") in _SCORING]
    weights = []
    for option in _list(node.get("answerOption")):
        weight = [e for e in _list(option.get("extension")) if e.get("url") in _WEIGHTS]
        if weight:
            weights.append([option.get("valueCoding", option.get("valueString")), weight])
    if extensions or weights:
        parts.append([node.get("linkId"), extensions, weights])
    for item in _list(node.get("item")):
        _collect(item, parts)


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if type(v) is dict] if type(value) is list else []


def provenance_parameter(cq: CompiledQuestionnaire) -> dict[str, Any]:
    """$score's compact provenance: engine and scoring digest (the Questionnaire is its own
    `questionnaire` parameter)."""
    return {
        "name": "provenance",
        "part": [
            {"name": "engine", "valueString": f"Rapport {ENGINE_VERSION}"},
            {"name": "expressions", "valueString": f"sha256:{scoring_digest(cq)}"},
        ],
    }


def provenance_entry(
    cq: CompiledQuestionnaire,
    response: dict[str, Any],
    tag: str,
    targets: list[str],
    sources: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """The transaction entry of the Provenance for `targets` (fullUrls), or None when the
    response has no instant to date it; `sources` are the responses' References."""
    authored = response.get("authored")
    meta = response.get("meta")
    updated = meta.get("lastUpdated") if type(meta) is dict else None
    recorded = next((t for t in (authored, updated) if type(t) is str and _instant(t)), None)
    if recorded is None or not targets:
        return None
    entity = [{"role": "derivation", "what": source} for source in sources]
    named = canonical(cq)
    if named is not None:
        what = {
            "type": "Questionnaire",
            "identifier": {"system": QUESTIONNAIRE_SYSTEM, "value": named},
            "display": str(cq.questionnaire.get("title") or cq.questionnaire.get("name") or named),
        }
        entity.append({"role": "source", "what": what})
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": PROVENANCE_SYSTEM, "code": tag}]},
        "contained": [_device(cq)],
        "target": [{"reference": url} for url in targets],
        "recorded": recorded,
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/"
                            "provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": {"reference": f"#{_DEVICE}", "display": "Rapport"},
            }
        ],
    }
    if type(authored) is str:
        provenance["occurredDateTime"] = authored
    if entity:
        provenance["entity"] = entity
    return conditional_entry(provenance, PROVENANCE_SYSTEM, tag, search="_tag")


def _device(cq: CompiledQuestionnaire) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": _DEVICE,
        "deviceName": [{"name": "Rapport", "type": "user-friendly-name"}],
        "version": [
            {"type": {"text": "engine"}, "value": ENGINE_VERSION},
            {"type": {"text": "score expressions sha256"}, "value": scoring_digest(cq)},
        ],
    }


def _instant(text: str) -> bool:
    return INSTANT.fullmatch(text) is not None
