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

A worker compiles one such Questionnaire at a time (its threads take turns): a compile's
transient memory is counted once per worker, not once per thread, and a thread waiting
holds only the request it already had. A thread that waits `_TURN_SECONDS` for its turn
(or past its batch's deadline) is refused with 503 (`transient`, Retry-After: 1).
`compiles_in_flight` tells how many compile now and the most that did at once (since
`reset_compiles_in_flight`); it counts the compiles themselves, not the turn, so it would
show threads compiling together if they did.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import sys
import time
import types
from collections import OrderedDict
from threading import Lock
from typing import Any

import orjson

from service import rules
from service.catalog._entry import Entry
from service.catalog.interfaces import CatalogReader
from service.errors import (
    InvalidRequest,
    ServiceUnavailable,
    UnknownQuestionnaire,
    UnprocessableContent,
)
from service.fhir.bundle import local_reference
from service.fhir.outcome import IssueType, error
from service.questionnaire import CompiledQuestionnaire, Limits, compile_questionnaire
from service.questionnaire.checks import check_resource
from service.questionnaire.checks.expressions import EXPRESSION_EXTENSIONS, expression_extensions
from service.questionnaire.compile import outer_deadline
from service.questionnaire.issues import CatalogError

from ._site_rules import check_size

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "cached_bytes",
    "compiles_in_flight",
    "reset_compiles_in_flight",
    "resolve_questionnaire",
    "set_cache_bytes",
]

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
_budget = DEFAULT_CACHE_BYTES
_cache: OrderedDict[bytes, tuple[CompiledQuestionnaire, int]] = OrderedDict()
_total = 0  # bytes the cached entries take, as measured
_lock = Lock()
#: Held while one inline Questionnaire is checked, compiled and stored.
_compiling = Lock()
#: How long a compile waits for its turn; a compile holds it about two seconds at most.
_TURN_SECONDS = 2.0
_in_flight = 0
_most_in_flight = 0


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


def compiles_in_flight() -> tuple[int, int]:
    """(inline compiles running now, the most that ever ran at once) in this process."""
    with _lock:
        return _in_flight, _most_in_flight


def reset_compiles_in_flight() -> None:
    """Start `compiles_in_flight`'s most again from those running now (for a measurement)."""
    global _most_in_flight  # noqa: PLW0603
    with _lock:
        _most_in_flight = _in_flight


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
    size = len(content)
    del content, beside  # not held while waiting for a turn
    hit = _cached(key)
    if hit is not None:
        return hit
    check_size(questionnaire)
    _check_cost(questionnaire, size)
    if not _compiling.acquire(timeout=_turn_seconds()):
        raise ServiceUnavailable(
            "The server is compiling another Questionnaire sent with a request; send this "
            "one again in a moment",
            retry_after=1,
        )
    try:
        hit = _cached(key)  # another thread may have compiled the same content meanwhile
        if hit is not None:
            return hit
        return _compile_and_store(questionnaire, key, max_items, source, siblings)
    finally:
        _compiling.release()


def _turn_seconds() -> float:
    """How long a compile may wait for its turn: `_TURN_SECONDS`, within a batch's deadline."""
    deadline = outer_deadline()
    if deadline is None:
        return _TURN_SECONDS
    return max(0.0, min(_TURN_SECONDS, deadline - time.monotonic()))


def _cached(key: bytes) -> CompiledQuestionnaire | None:
    with _lock:
        hit = _cache.get(key)
        if hit is None:
            return None
        _cache.move_to_end(key)
        return hit[0]


def _compile_and_store(
    questionnaire: dict[str, Any],
    key: bytes,
    max_items: int,
    source: str,
    siblings: list[Any] | None,
) -> CompiledQuestionnaire:
    """Check and compile (the caller holds `_compiling`), counted in `compiles_in_flight`."""
    global _in_flight, _most_in_flight  # noqa: PLW0603
    with _lock:
        _in_flight += 1
        _most_in_flight = max(_most_in_flight, _in_flight)
    try:
        limits = dataclasses.replace(_INLINE, max_response_nodes=max_items)
        compiler = functools.partial(compile_questionnaire, limits=limits, siblings=siblings or ())
        issues, compiled = check_resource(questionnaire, compiler)
        if issues:
            raise CatalogError({source: issues})
        assert isinstance(compiled, CompiledQuestionnaire)  # what `compiler` returns
        _store(key, compiled)
        return compiled
    finally:
        with _lock:
            _in_flight -= 1


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


def _unknown(catalog: CatalogReader, reference: str) -> str:
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
    catalog: CatalogReader,
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


def _by_address(catalog: CatalogReader, reference: str) -> Entry | None:
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
