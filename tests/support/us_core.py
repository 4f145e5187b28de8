"""A conformance check for US Core 6.1.0 Observation Screening Assessment, written from the
profile's published constraints, independently of the service.

Source: http://hl7.org/fhir/us/core/STU6.1/StructureDefinition-us-core-observation-screening-assessment.html
(the same elements and invariants in 7.0.0). What it checks, per Observation:

- meta.profile claims the profile (the service's choice: US Core does not require it);
- status 1..1, required binding ObservationStatus (R4);
- category 1..*, slice `survey` 1..1 (observation-category `survey`), slice
  `screening-assessment` 0..*, required binding US Core Screening Assessment Observation
  Category: the us-core-category codes sdoh, functional-status, disability-status,
  cognitive-status;
- code 1..1 (preferred binding: any code, with a coding or text);
- subject 1..1, Reference(US Core Patient | Group | Device | Location);
- effective[x] must support: here dateTime, a valid R4 dateTime;
- performer must support, Reference(Practitioner | Organization | Patient |
  PractitionerRole | CareTeam | RelatedPerson);
- obs-6: dataAbsentReason only without value[x];
- us-core-2: without component and hasMember, a value[x] or a dataAbsentReason;
- us-core-3: a Quantity value's system, if any, is UCUM;
- derivedFrom must support, Reference(DocumentReference | QuestionnaireResponse |
  MolecularSequence | Observation); hasMember must support, Reference(QuestionnaireResponse |
  MolecularSequence | Observation). A `urn:uuid:` reference must name an entry of the
  transaction of that type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["PROFILE", "check_screening_assessment"]

PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
_STATUS = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
_SCREENING_CATEGORIES = frozenset(
    {"sdoh", "functional-status", "disability-status", "cognitive-status"}
)
_SUBJECTS = frozenset({"Patient", "Group", "Device", "Location"})
_PERFORMERS = frozenset(
    {"Practitioner", "Organization", "Patient", "PractitionerRole", "CareTeam", "RelatedPerson"}
)
_DERIVED_FROM = frozenset(
    {"DocumentReference", "QuestionnaireResponse", "MolecularSequence", "Observation"}
)
_HAS_MEMBER = frozenset({"QuestionnaireResponse", "MolecularSequence", "Observation"})
_DATE_TIME = re.compile(
    r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])"
    r"(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?"
)
_LITERAL = re.compile(r"(?:.*/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/.*)?")
_UCUM = "http://unitsofmeasure.org"


def check_screening_assessment(
    observation: Mapping[str, Any], bundle_types: Mapping[str, str] | None = None
) -> list[str]:
    """What keeps `observation` from conforming; [] if it does. `bundle_types` maps the
    fullUrls of the transaction to their resource types."""
    found: list[str] = []
    types = bundle_types or {}
    if PROFILE not in (observation.get("meta") or {}).get("profile", []):
        found.append("meta.profile: does not claim the profile")
    if observation.get("status") not in _STATUS:
        found.append("status: missing or not an ObservationStatus code")
    found.extend(_category(observation.get("category")))
    code = observation.get("code")
    if not isinstance(code, dict) or not (code.get("coding") or code.get("text")):
        found.append("code: missing (1..1)")
    subject = observation.get("subject")
    if not isinstance(subject, dict):
        found.append("subject: missing (1..1)")
    else:
        found.extend(_reference("subject", subject, _SUBJECTS, types))
    effective = observation.get("effectiveDateTime")
    if effective is not None and not (
        isinstance(effective, str) and _DATE_TIME.fullmatch(effective)
    ):
        found.append("effectiveDateTime: not an R4 dateTime")
    for index, performer in enumerate(observation.get("performer", [])):
        found.extend(_reference(f"performer[{index}]", performer, _PERFORMERS, types))
    values = [key for key in observation if key.startswith("value")]
    if observation.get("dataAbsentReason") is not None and values:
        found.append("obs-6: dataAbsentReason with a value[x]")
    grouped = observation.get("component") or observation.get("hasMember")
    if not grouped and not values and observation.get("dataAbsentReason") is None:
        found.append("us-core-2: no value[x], dataAbsentReason, component or hasMember")
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("system", _UCUM) != _UCUM:
        found.append("us-core-3: valueQuantity.system is not UCUM")
    for element, allowed in (("derivedFrom", _DERIVED_FROM), ("hasMember", _HAS_MEMBER)):
        for index, reference in enumerate(observation.get(element, [])):
            found.extend(_reference(f"{element}[{index}]", reference, allowed, types))
    return found


def _category(categories: Any) -> list[str]:
    if not isinstance(categories, list) or not categories:
        return ["category: missing (1..*)"]
    codings = [c for cc in categories if isinstance(cc, dict) for c in cc.get("coding", [])]
    survey = [
        c for c in codings if c.get("system") == _OBSERVATION_CATEGORY and c.get("code") == "survey"
    ]
    found = [] if len(survey) == 1 else [f"category:survey: {len(survey)} (1..1)"]
    for coding in codings:
        if (
            coding.get("system") == _US_CORE_CATEGORY
            and coding["code"] not in _SCREENING_CATEGORIES
        ):
            found.append(f"category:screening-assessment: {coding['code']} not in the value set")
    return found


def _reference(
    where: str, reference: Any, allowed: frozenset[str], types: Mapping[str, str]
) -> list[str]:
    if not isinstance(reference, dict):
        return [f"{where}: not a Reference"]
    literal = reference.get("reference")
    if literal is None:
        return [] if isinstance(reference.get("identifier"), dict) else [f"{where}: empty"]
    if not isinstance(literal, str):
        return [f"{where}: reference is not a string"]
    if literal.startswith("urn:uuid:"):
        kind = types.get(literal)
        if kind is None:
            return [f"{where}: {literal} is no entry of the transaction"]
    else:
        matched = _LITERAL.fullmatch(literal)
        kind = reference.get("type") or (matched.group(1) if matched else None)
    if kind is not None and kind not in allowed:
        return [f"{where}: a {kind}, not one of {sorted(allowed)}"]
    return []
