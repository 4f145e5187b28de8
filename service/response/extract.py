"""SDC observation-based extraction: one Observation per extracted score, in a transaction.

Observations follow US Core's screening-assessment shape: category survey,
the score item's code, subject/encounter/effective/issued/performer from the
response, `valueQuantity` in UCUM `{score}` (valueBoolean for flags), the band
as `interpretation`, and `derivedFrom` the response. A response without a
subject (or whose subject is one of its contained resources) cannot be filed
and is refused: UnprocessableContent, `required`.

Each entry is a conditional update (R4 http.html#cond-update): `PUT
Observation?identifier=<system>|<value>` creates the Observation when none has
that identifier and updates the one that does. So re-sending a response never
creates duplicates, and the same response completed or amended later replaces
what was filed for it (a conditional create, `ifNoneExist`, would keep the
first, preliminary, values forever).

The identifier value is the first 32 hex digits of sha256(`<identity>` newline
`<code system>|<code>`, plus newline and the repetition's number, from 0 in
document order, for a score under a repeating group or question), where
identity is `identifier|<system>|<value>|<subject>` of the response's identifier
(when it has both), else `id|<id>|<subject>`, else
`content|<sha256 of the canonical content>`: the Questionnaire's canonical, the
subject, `authored`, and each answer as its linkId path and value (a Coding as
system and code only), leaving out the calculated and read-only items, texts,
displays and extensions, which a client or this service may fill in or drop
without changing the answers. fullUrl is `urn:uuid:` + uuid5(URL namespace,
`<identifier system>|<value>`). Status: completed → final, amended → amended,
in-progress and stopped → preliminary, entered-in-error → entered-in-error.

Each Observation claims US Core 6.1.0 Observation Screening Assessment (`ExtractOptions.
us_core`; docs/results.md maps its elements), with `hasMember` from a score to the
extracted scores its expression uses. With a baseline, each extracted score also gets the
Observation of its change (`change.py`); a positive safety item adds a Flag (`safety.py`);
the Provenance of every entry comes last (`provenance.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from service.errors import UnprocessableContent
from service.fhir import r4
from service.fhir.outcome import IssueType
from service.questionnaire.compile import CompiledQuestionnaire

from .change import Change, Scored, change_observation
from .entries import add_members, conditional_entry, full_url
from .provenance import provenance_entry
from .safety import FLAG_SUBJECTS, positive_scores, safety_flag
from .score import Score, ScoreResult

__all__ = [
    "OBSERVATION_SYSTEM",
    "US_CORE_SCREENING_ASSESSMENT",
    "ExtractOptions",
    "extract_observations",
    "observation_identifier",
]

OBSERVATION_SYSTEM = "https://rapport-fhir.github.io/fhir/sid/observation"
#: US Core 6.1.0 (STU6.1) Observation Screening Assessment: see docs/results.md.
US_CORE_SCREENING_ASSESSMENT = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
)
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
#: A literal reference, relative or absolute, and its resource type (R4 references.html#literal).
_LITERAL = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^?#]*/)?([A-Z][A-Za-z]{1,63})"
    rf"/{r4.ID_PATTERN}(?:/_history/{r4.ID_PATTERN})?"
)
_CORE_TYPE = "http://hl7.org/fhir/StructureDefinition/"
#: The targets R4 allows for Observation.subject, .encounter and .performer.
_SUBJECTS = frozenset({"Patient", "Group", "Device", "Location"})
_ENCOUNTERS = frozenset({"Encounter"})
_PERFORMERS = frozenset(
    {"Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient", "RelatedPerson"}
)
#: Left out of answer values when identifying a response by its content.
_NOT_CONTENT = frozenset({"id", "extension", "modifierExtension", "display"})


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """Site choices for $extract: the US Core profile claim, safety Flags."""

    us_core: bool = True
    safety: bool = True


def extract_observations(
    cq: CompiledQuestionnaire,
    result: ScoreResult,
    response: dict[str, Any],
    options: ExtractOptions | None = None,
    *,
    baseline: tuple[list[Change], Scored] | None = None,
) -> dict[str, Any]:
    """A Bundle (transaction) of Observations for the computed scores marked observationExtract,
    with `baseline` (the changes, and the earlier response scored) one more for each score's
    change, a Flag for each positive safety item, and the Provenance of them all.

    UnprocessableContent when the response has no subject the Observations could carry.
    """
    options = options or ExtractOptions()
    context = _context(response)
    identity = _identity(cq, response, context["subject"])
    entries: list[dict[str, Any]] = []
    values: dict[str, str] = {}  # linkId -> identifier value of its (first) Observation
    scored: dict[tuple[str, int | None], str] = {}  # and of each repetition's
    for score in result.scores:
        definition = cq.score(score.link_id)
        if score.value is None or definition is None or not definition.extract:
            continue
        value = observation_identifier(identity, score)
        values.setdefault(score.link_id, value)
        scored[score.link_id, score.instance] = value
        observation = _observation(score, context, result.status, value)
        entries.append(_entry(observation, value, options))
    add_members(cq, entries, OBSERVATION_SYSTEM, values)
    sources = [context["derivedFrom"][0]] if "derivedFrom" in context else []
    if baseline is not None:
        changes, earlier = baseline
        before = _derived_from(earlier.response)
        sources += [before] if before else []
        base = (
            f"{identity}\nchange from {_identity(earlier.cq, earlier.response, context['subject'])}"
        )
        for change in changes:
            definition = cq.score(change.score.link_id)
            if definition is not None and definition.extract:
                value = observation_identifier(base, change.score)
                observation = _observation(change.score, context, result.status, value)
                own = scored.get((change.score.link_id, change.score.instance))
                _changed(change, observation, before, own)
                entries.append(_entry(observation, value, options))
    if options.safety:
        entries.extend(_flags(cq, result, context, identity))
    tag = observation_identifier(identity, Score("", {"code": "provenance"}, None))
    targets = [entry["fullUrl"] for entry in entries]
    provenance = provenance_entry(cq, response, tag, targets, sources)
    if provenance is not None:
        entries.append(provenance)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _entry(observation: dict[str, Any], value: str, options: ExtractOptions) -> dict[str, Any]:
    if options.us_core:
        observation["meta"] = {"profile": [US_CORE_SCREENING_ASSESSMENT]}
    return conditional_entry(observation, OBSERVATION_SYSTEM, value)


def _changed(
    change: Change, observation: dict[str, Any], before: dict[str, Any], own: str | None
) -> None:
    """Make a score's Observation the one of its change, derived from both responses and
    from the score's own Observation (`own`, its identifier value)."""
    change_observation(change, observation, _quantity)
    derived = [*observation.get("derivedFrom", []), *([before] if before else [])]
    if own is not None:
        derived.append({"reference": full_url(OBSERVATION_SYSTEM, own)})
    if derived:
        observation["derivedFrom"] = derived


def _flags(
    cq: CompiledQuestionnaire, result: ScoreResult, context: dict[str, Any], identity: str
) -> list[dict[str, Any]]:
    """A Flag entry for each positive safety item, when the subject may carry a Flag."""
    if _target_type(context["subject"]) not in (None, *FLAG_SUBJECTS):
        return []
    found = []
    for score in positive_scores(cq, result):
        value = observation_identifier(identity, score)
        mine = {"reference": full_url(OBSERVATION_SYSTEM, value)}
        evidence = context.get("derivedFrom", [mine])[0]
        found.append(safety_flag(score, value, context, evidence, result.status))
    return found


def observation_identifier(identity: str, score: Score) -> str:
    """The stable identifier value of a score's Observation for a response identity."""
    code = score.code or {}
    text = f"{identity}\n{code.get('system', '')}|{code.get('code', '')}"
    if score.instance is not None:  # a score per repetition: an Observation each
        text += f"\n{score.instance}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _context(response: dict[str, Any]) -> dict[str, Any]:
    """The elements every Observation of this response shares, subject first."""
    subject = response.get("subject")
    found = _reference(subject, _SUBJECTS)
    if found is None:
        local = type(subject) is dict and str(subject.get("reference", "")).startswith("#")
        raise UnprocessableContent(
            "QuestionnaireResponse.subject is a contained resource: Observations are filed "
            "apart from the response, so it must reference the Patient on the server"
            if local
            else "QuestionnaireResponse.subject is required to extract Observations: a "
            "reference to the Patient (or Group, Device, Location) they are about",
            issue_type=IssueType.REQUIRED,
            expression="QuestionnaireResponse.subject",
        )
    context: dict[str, Any] = {"subject": found}
    encounter = _reference(response.get("encounter"), _ENCOUNTERS)
    if encounter is not None:
        context["encounter"] = encounter
    authored = response.get("authored")
    if type(authored) is str:
        context["effectiveDateTime"] = authored
        if r4.INSTANT.fullmatch(authored):
            context["issued"] = authored
    performer = _reference(response.get("author"), _PERFORMERS, typed=True)
    if performer is not None:
        context["performer"] = [performer]
    derived = _derived_from(response)
    if derived:
        context["derivedFrom"] = [derived]
    return context


def _reference(value: Any, targets: frozenset[str], *, typed: bool = False) -> Any:
    """A copy of a Reference the Observation may carry, or None.

    It must point outside the response (a `#` reference would dangle in an Observation
    without the response's contained resources), by literal reference or identifier, at
    one of `targets`; `typed` also refuses a target whose type cannot be told.
    """
    if type(value) is not dict:
        return None
    literal = value.get("reference")
    if literal is not None and (type(literal) is not str or literal.startswith("#")):
        return None
    if literal is None and type(value.get("identifier")) is not dict:
        return None
    kind = _target_type(value)
    if kind is None and (typed or "type" in value):
        return None
    if kind is not None and kind not in targets:
        return None
    return dict(value)


def _target_type(reference: dict[str, Any]) -> str | None:
    """The resource type a Reference names by `type` or its literal reference; None if unclear."""
    literal = reference.get("reference")
    matched = _LITERAL.fullmatch(literal) if type(literal) is str else None
    named = matched.group(1) if matched else None
    declared = reference.get("type")
    if declared is None:
        return named
    if type(declared) is not str:
        return None
    declared = declared.removeprefix(_CORE_TYPE)
    return declared if named in (None, declared) else None


def _identity(cq: CompiledQuestionnaire, response: dict[str, Any], subject: Any) -> str:
    """What identifies the response: its subject with its business identifier, else with its
    id, else its content (which includes the subject)."""
    # Neither a business identifier nor a logical id is unique beyond the system that issued
    # it (two clinics' `forms|42`, two servers' `QuestionnaireResponse/1`): the subject is
    # always part of the identity, so one patient's response never updates another's
    # Observations.
    about = json.dumps(_content(subject), sort_keys=True, separators=(",", ":"))
    identifier = response.get("identifier")
    if identifier is not None and type(identifier) is not dict:
        raise _malformed("identifier", "one Identifier")
    if identifier is not None:
        system, value = identifier.get("system"), identifier.get("value")
        if type(system) is str and type(value) is str:
            return f"identifier|{system}|{value}|{about}"
    response_id = response.get("id")
    if response_id is not None and type(response_id) is not str:
        raise _malformed("id", "a string")
    if response_id:
        return f"id|{response_id}|{about}"
    canonical = f"{cq.url}|{cq.version or ''}" if cq.url else response.get("questionnaire")
    answers: list[Any] = []
    _answers(cq, response.get("item"), "", answers)
    content = {
        "questionnaire": canonical,
        "subject": _content(subject),
        "authored": response.get("authored"),
        "answers": answers,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "content|" + hashlib.sha256(text.encode()).hexdigest()


def _malformed(element: str, expected: str) -> UnprocessableContent:
    return UnprocessableContent(
        f"QuestionnaireResponse.{element} must be {expected}",
        issue_type=IssueType.STRUCTURE,
        expression=f"QuestionnaireResponse.{element}",
    )


def _answers(cq: CompiledQuestionnaire, items: Any, path: str, found: list[Any]) -> None:
    """(linkId path, value type, value) of each answer the respondent gave, in order."""
    for item in items if type(items) is list else ():
        link_id = item.get("linkId") if type(item) is dict else None
        if type(link_id) is not str:
            continue
        definition = cq.items.get(link_id)
        if link_id in cq.calculated or (definition is not None and definition.read_only):
            continue  # filled in by a renderer or by this service, not answered
        where = f"{path}/{link_id}"
        answers = item.get("answer")
        for answer in answers if type(answers) is list else ():
            if type(answer) is not dict:
                continue
            for key, value in answer.items():
                if key == "valueCoding" and type(value) is dict:
                    found.append([where, key, [value.get("system"), value.get("code")]])
                elif key.startswith("value"):
                    found.append([where, key, _content(value)])
            _answers(cq, answer.get("item"), where, found)
        _answers(cq, item.get("item"), where, found)


def _content(value: Any) -> Any:
    """A value without the elements that do not change its meaning (displays, extensions)."""
    if type(value) is not dict:
        return value
    return {key: _content(part) for key, part in value.items() if key not in _NOT_CONTENT}


def _observation(
    score: Score, context: dict[str, Any], status: str, identifier: str
) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": OBSERVATION_SYSTEM, "value": identifier}],
        "status": _STATUS[status],
        "category": [_CATEGORY],
        "code": {"coding": [dict(score.code or {})]},  # copies: never share the content's dicts
        "subject": context["subject"],
    }
    for element in ("encounter", "effectiveDateTime", "issued", "performer"):
        if element in context:
            observation[element] = context[element]
    if type(score.value) is bool:
        observation["valueBoolean"] = score.value
    else:
        observation["valueQuantity"] = _quantity(score.value)
    if score.interpretation is not None:
        observation["interpretation"] = [{"coding": [dict(score.interpretation)]}]
    if "derivedFrom" in context:
        observation["derivedFrom"] = context["derivedFrom"]
    return observation


def _quantity(value: Any) -> dict[str, Any]:
    """A score as a valueQuantity in UCUM `{score}`."""
    return {
        "value": value,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }


def _derived_from(response: dict[str, Any]) -> dict[str, Any]:
    reference: dict[str, Any] = {}
    if type(response.get("id")) is str:
        reference["reference"] = f"QuestionnaireResponse/{response['id']}"
    identifier = response.get("identifier")
    if type(identifier) is dict and type(identifier.get("value")) is str:
        reference["identifier"] = identifier
    return reference
