"""Transaction entries $extract writes: each a conditional update, with a stable fullUrl.

fullUrl is `urn:uuid:` + uuid5(URL namespace, `<system>|<value>`) of the resource's
identifier (or, for the Provenance, its tag), so the same response always gives the same
Bundle, and references between entries (hasMember, derivedFrom, Flag detail, Provenance
target) resolve when the server assigns ids (R4 http.html#trules).
"""

from __future__ import annotations

import uuid
from typing import Any

from service.questionnaire.compile import CompiledQuestionnaire

__all__ = ["add_members", "conditional_entry", "full_url"]


def full_url(system: str, value: str) -> str:
    """The fullUrl of the entry whose identifier (or tag) is `system|value`."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def conditional_entry(
    resource: dict[str, Any], system: str, value: str, search: str = "identifier"
) -> dict[str, Any]:
    """`resource`'s entry: `PUT <type>?<search>=<system>|<value>` (R4 http.html#cond-update)."""
    kind = resource["resourceType"]
    return {
        "fullUrl": full_url(system, value),
        "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}?{search}={system}|{value}"},
    }


def add_members(
    cq: CompiledQuestionnaire, entries: list[dict[str, Any]], system: str, values: dict[str, str]
) -> None:
    """hasMember (US Core): from each score's Observation to those of the extracted scores its
    expression uses; `values` maps a linkId to its Observation's identifier value."""
    links = {value: link for link, value in values.items()}
    for entry in entries:
        observation = entry["resource"]
        definition = cq.score(links.get(observation["identifier"][0]["value"], ""))
        if definition is None:
            continue
        members = [
            {"reference": full_url(system, values[used])}
            for used in sorted(definition.uses, key=lambda u: cq.items[u].position)
            if used in values and used != definition.link_id
        ]
        if members:
            observation["hasMember"] = members
