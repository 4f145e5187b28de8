"""Which Questionnaire a response is scored against: catalogue, inline, or contained.

`QuestionnaireResponse.questionnaire` may be a canonical (`url` or `url|version`), a
relative `Questionnaire/{id}` or `Questionnaire/{id}/_history/{vid}` (also at this
service's own base: the address a form was fetched from), or `#id` of a contained
Questionnaire (a site's own instrument). Inline and contained Questionnaires pass the same
checks as catalogue content (`check_resource`) and are compiled per request, bounded by the
limits below, and kept in a cache keyed by their content; content that fails is refused
with every problem.

The cache is bounded by memory, not by count: each compiled Questionnaire is measured as it
is stored (every object it alone reaches, by `sys.getsizeof`; about ten times its JSON) and
the least recently used ones go until the total is within `RAPPORT_INLINE_CACHE_BYTES` per
worker (32 MiB by default). One larger than the whole budget is used and not kept.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import sys
import types
from collections import OrderedDict
from threading import Lock
from typing import Any

import orjson

from service import rules
from service.catalog._catalog import Catalog
from service.catalog._entry import Entry
from service.errors import InvalidRequest, UnknownQuestionnaire, UnprocessableContent
from service.fhir.bundle import local_reference
from service.fhir.outcome import IssueType, error
from service.questionnaire import CompiledQuestionnaire, Limits, compile_questionnaire
from service.questionnaire.checks import check_resource
from service.questionnaire.checks.expressions import EXPRESSION_EXTENSIONS, expression_extensions
from service.questionnaire.issues import CatalogError

from ._site_rules import check_size

__all__ = ["DEFAULT_CACHE_BYTES", "cached_bytes", "resolve_questionnaire", "set_cache_bytes"]

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
_budget = DEFAULT_CACHE_BYTES
_cache: OrderedDict[bytes, tuple[CompiledQuestionnaire, int]] = OrderedDict()
_total = 0  # bytes the cached entries take, as measured
_lock = Lock()


def set_cache_bytes(budget: int) -> None:
    """Bound the cache (RAPPORT_INLINE_CACHE_BYTES); drops what no longer fits."""
    global _budget  # noqa: PLW0603 - one cache per process, as the settings are
    with _lock:
        _budget = budget
        _evict()


def cached_bytes() -> tuple[int, int]:
    """(entries, bytes) the cache holds now."""
    with _lock:
        return len(_cache), _total


def _evict() -> None:
    global _total  # noqa: PLW0603
    while _cache and _total > _budget:
        _, (_, size) = _cache.popitem(last=False)
        _total -= size


def _retained(compiled: object) -> int:
    """Bytes of every object `compiled` reaches, leaving out classes, modules and module
    globals (shared by everything); shared small objects count too, so it errs high."""
    shared = {id(vars(module)) for module in list(sys.modules.values()) if module is not None}
    seen: set[int] = set()
    stack: list[object] = [compiled]
    total = 0
    while stack:
        found = stack.pop()
        key = id(found)
        if key in seen or key in shared or isinstance(found, type | types.ModuleType):
            continue
        seen.add(key)
        total += sys.getsizeof(found)
        stack.extend(gc.get_referents(found))
    return total


#: A Questionnaire sent with a request is compiled on the worker's clock: its expressions
#: may total 8,000 characters (about a second of parsing at worst; the shipped instruments
#: use at most 1,300), 2,048 each, and compiling stops after two seconds of wall clock.
#: Evaluating them for the response stops after one second (the shipped instruments take
#: a millisecond), so that no expression can hold the request for longer.
_INLINE = Limits(
    max_expression_chars=8_000,
    max_expression_length=2_048,
    max_compile_seconds=2.0,
    max_evaluation_seconds=1.0,
)
#: The catalogue checks run before compiling, so what bounds their cost is checked first:
#: the items (as for a site write), the JSON (the R4 model takes about 1.6 µs a byte; this
#: is several times the largest shipped instrument) and the expressions, by `_INLINE`,
#: before they are parsed (the compiler counts those it evaluates; the checks parse all).
_MAX_INLINE_BYTES = 512 * 1024


def _compile_inline(
    questionnaire: dict[str, Any], max_items: int, source: str, siblings: list[Any] | None = None
) -> CompiledQuestionnaire:
    """Compile (or find in the cache) a Questionnaire sent with a request; `siblings` are the
    ValueSets contained beside a contained one, where its `#id` answerValueSets may be.
    """
    content = orjson.dumps(questionnaire, option=orjson.OPT_SORT_KEYS)
    beside = orjson.dumps(siblings, option=orjson.OPT_SORT_KEYS) if siblings else b""
    key = hashlib.sha256(content + beside + str(max_items).encode()).digest()
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[0]
    check_size(questionnaire)
    _check_cost(questionnaire, len(content))
    limits = dataclasses.replace(_INLINE, max_response_nodes=max_items)
    compiler = functools.partial(compile_questionnaire, limits=limits, siblings=siblings or ())
    issues, compiled = check_resource(questionnaire, compiler)
    if issues:
        raise CatalogError({source: issues})
    assert isinstance(compiled, CompiledQuestionnaire)  # what `compiler` returns
    _store(key, compiled)
    return compiled


def _store(key: bytes, compiled: CompiledQuestionnaire) -> None:
    global _total  # noqa: PLW0603
    size = _retained(compiled)
    with _lock:
        if size > _budget or key in _cache:
            return
        _cache[key] = (compiled, size)
        _total += size
        _evict()


def _check_cost(questionnaire: dict[str, Any], size: int) -> None:
    """Refuse (too-costly) inline content too large to check within the time bound."""
    if size > _MAX_INLINE_BYTES:
        raise _too_costly(f"the Questionnaire is larger than {_MAX_INLINE_BYTES} bytes of JSON")
    characters = 0
    for _, _, extension in expression_extensions(questionnaire, "Questionnaire", None):
        value = extension.get("valueExpression")
        if str(extension.get("url")) in EXPRESSION_EXTENSIONS and isinstance(value, dict):
            expression = value.get("expression")
            characters += len(expression) if isinstance(expression, str) else 0
    if characters > _INLINE.max_expression_chars:
        raise _too_costly(f"more than {_INLINE.max_expression_chars} characters of expressions")


def _too_costly(text: str) -> UnprocessableContent:
    issue = error(IssueType.TOO_COSTLY, text, "Questionnaire", rule=rules.Q_TOO_LARGE)
    return UnprocessableContent(text, issues=[issue], issue_type=IssueType.TOO_COSTLY)


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


def _unknown(catalog: Any, reference: str) -> str:
    """Why `reference` resolves to nothing; a version never falls back to another one."""
    url, _, version = reference.partition("|")
    current = catalog.resolve(url) if version else None
    if current is not None:
        return (
            f"Questionnaire '{url[:200]}' version '{version[:40]}' is not in this server's "
            f"catalogue (it serves version '{current.version}'): a response is scored only by "
            "the version it names"
        )
    return f"Questionnaire '{reference[:200]}' is not in this server's catalogue"


def resolve_questionnaire(
    catalog: Catalog,
    response: dict[str, Any],
    inline: dict[str, Any] | None = None,
    *,
    max_items: int = 10_000,
    base: str = "",
) -> CompiledQuestionnaire:
    """The compiled Questionnaire for a response; UnknownQuestionnaire when none resolves.

    `base` is this service's public FHIR base (no trailing slash): a reference at it is
    read as the relative one.
    """
    if inline is not None:
        if inline.get("resourceType") != "Questionnaire":
            raise InvalidRequest(
                "The 'questionnaire' parameter must be a Questionnaire",
                issue_type=IssueType.STRUCTURE,
            )
        # A resource in a Parameters needs no id; the catalogue checks want one to name it.
        named = inline if "id" in inline else {**inline, "id": "inline"}
        return _compile_inline(named, max_items, "inline Questionnaire")
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
        beside = [
            resource
            for resource in response.get("contained") or ()
            if isinstance(resource, dict) and resource.get("resourceType") == "ValueSet"
        ]  # dom-2: a contained Questionnaire's own `#id` references resolve here too
        return _compile_inline(
            _contained(response, reference[1:]),
            max_items,
            f"contained Questionnaire {reference}",
            beside,
        )
    entry = catalog.resolve(reference)
    if entry is None:
        entry = _by_address(catalog, local_reference(reference, base))
    if entry is None:
        raise UnknownQuestionnaire(
            _unknown(catalog, reference), expression="QuestionnaireResponse.questionnaire"
        )
    assert entry.compiled is not None, "a served catalogue compiles its Questionnaires at load"
    return entry.compiled


def _by_address(catalog: Catalog, reference: str) -> Entry | None:
    """The entry a relative `Questionnaire/{id}[/_history/{vid}]` names, or None.

    A version is served only as it is now (scoring compiles the current one, at load), so
    `_history/{vid}` must name the current version; another is refused with the one to use.
    """
    if not reference.startswith("Questionnaire/"):
        return None
    resource_id, history, version_id = reference.removeprefix("Questionnaire/").partition(
        "/_history/"
    )
    entry = catalog.get("Questionnaire", resource_id)
    if entry is None or (history and not version_id):
        return None
    if not history or version_id == entry.version_id:
        return entry
    raise UnknownQuestionnaire(
        f"Questionnaire/{resource_id[:64]} version {version_id[:64]!r} is not the current one: "
        f"responses are scored against the current version, "
        f"Questionnaire/{resource_id[:64]}"
        f"/_history/{entry.version_id}",
        expression="QuestionnaireResponse.questionnaire",
    )
