"""Which Questionnaire a response is scored against: catalogue, inline, or contained.

`QuestionnaireResponse.questionnaire` may be a canonical (`url` or `url|version`), a
relative `Questionnaire/{id}`, or `#id` of a contained Questionnaire (a site's own
instrument). Inline and contained Questionnaires are compiled per request, bounded by
the compiler's limits, and kept in a small cache keyed by their content.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from threading import Lock
from typing import Any

import orjson

from service.errors import InvalidRequest, UnknownQuestionnaire
from service.fhir.outcome import IssueType
from service.scoring import CompiledQuestionnaire, Limits, compile_questionnaire

__all__ = ["resolve_questionnaire"]

_CACHE_SIZE = 128
_cache: OrderedDict[bytes, CompiledQuestionnaire] = OrderedDict()
_lock = Lock()


#: A Questionnaire sent with a request is compiled on the worker's clock: its expressions
#: may total 8,000 characters (about a second of parsing at worst; the shipped instruments
#: use at most 1,300), 2,048 each, and compiling stops after two seconds of wall clock.
_INLINE = Limits(max_expression_chars=8_000, max_expression_length=2_048, max_compile_seconds=2.0)


def _compile_inline(questionnaire: dict[str, Any], max_items: int) -> CompiledQuestionnaire:
    content = orjson.dumps(questionnaire, option=orjson.OPT_SORT_KEYS)
    key = hashlib.sha256(content + str(max_items).encode()).digest()
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    limits = dataclasses.replace(_INLINE, max_response_nodes=max_items)
    compiled = compile_questionnaire(questionnaire, limits=limits)
    with _lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _contained(response: dict[str, Any], local_id: str) -> dict[str, Any]:
    for resource in response.get("contained") or ():
        if (
            isinstance(resource, dict)
            and resource.get("resourceType") == "Questionnaire"
            and resource.get("id") == local_id
        ):
            return resource
    raise UnknownQuestionnaire(
        f"No contained Questionnaire with id '{local_id[:64]}'",
        expression="QuestionnaireResponse.questionnaire",
    )


def resolve_questionnaire(
    catalog: Any,
    response: dict[str, Any],
    inline: dict[str, Any] | None = None,
    *,
    max_items: int = 10_000,
) -> CompiledQuestionnaire:
    """The compiled Questionnaire for a response; UnknownQuestionnaire when none resolves."""
    if inline is not None:
        if inline.get("resourceType") != "Questionnaire":
            raise InvalidRequest(
                "The 'questionnaire' parameter must be a Questionnaire",
                issue_type=IssueType.STRUCTURE,
            )
        return _compile_inline(inline, max_items)
    reference = response.get("questionnaire")
    if reference is None:
        raise UnknownQuestionnaire(
            "QuestionnaireResponse.questionnaire is required to know how to check and score it",
            expression="QuestionnaireResponse.questionnaire",
            issue_type=IssueType.REQUIRED,
        )
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidRequest(
            "QuestionnaireResponse.questionnaire must be a canonical URL string",
            issue_type=IssueType.STRUCTURE,
            expression="QuestionnaireResponse.questionnaire",
        )
    if reference.startswith("#"):
        if not isinstance(response.get("contained", []), list):
            raise InvalidRequest(
                "QuestionnaireResponse.contained must be a list",
                issue_type=IssueType.STRUCTURE,
                expression="QuestionnaireResponse.contained",
            )
        return _compile_inline(_contained(response, reference[1:]), max_items)
    entry = catalog.resolve(reference)
    if entry is None and reference.startswith("Questionnaire/"):
        entry = catalog.get("Questionnaire", reference.removeprefix("Questionnaire/"))
    if entry is None:
        raise UnknownQuestionnaire(
            f"Questionnaire '{reference[:200]}' is not in this server's catalogue",
            expression="QuestionnaireResponse.questionnaire",
        )
    compiled: CompiledQuestionnaire = entry.compiled
    return compiled
