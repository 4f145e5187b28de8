"""Questionnaire search: FHIR R4 search parameters parsed once, then matched against entries.

Semantics follow FHIR R4 search.html: parameters repeated are ANDed, comma-separated
values are ORed; string parameters match case- and accent-insensitively at the start
of the value (`:exact` whole and case-sensitive, `:contains` anywhere); token
parameters take `code`, `system|code`, `|code` and `system|`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from service import rules
from service.errors import InvalidRequest
from service.fhir.outcome import Issue, IssueSeverity, IssueType

__all__ = [
    "SUMMARY_VALUES",
    "SearchQuery",
    "Searchable",
    "fold",
    "parse_search",
    "parse_subset",
    "subset",
]

SUMMARY_VALUES = frozenset({"true", "false", "text", "data", "count"})

_ALWAYS = frozenset({"resourceType", "id", "meta"})
#: The elements R4 marks isSummary, by resource type, plus what every resource keeps.
_SUMMARY_ELEMENTS = {
    "Questionnaire": _ALWAYS | {
        "implicitRules", "url", "identifier", "version", "name", "title", "derivedFrom",
        "status", "experimental", "subjectType", "date", "publisher", "contact", "useContext",
        "jurisdiction", "effectivePeriod", "code",
    },
    "CodeSystem": _ALWAYS | {
        "implicitRules", "url", "identifier", "version", "name", "title", "status",
        "experimental", "date", "publisher", "contact", "useContext", "jurisdiction",
        "caseSensitive", "valueSet", "hierarchyMeaning", "compositional", "versionNeeded",
        "content", "supplements", "count", "filter", "property",
    },
}  # fmt: skip
_MANDATORY = {
    "Questionnaire": frozenset({"status"}),
    "CodeSystem": frozenset({"status", "content"}),
}
_SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
#: Parameters the server understands that are not filters.
_CONTROL = frozenset({"_count", "_offset", "_summary", "_elements", "_format", "_pretty", "_sort"})
#: `_sort` keys (search.html#sort): the Questionnaire element each sorts by.
SORT_KEYS = ("name", "title", "version", "date", "status")
_DIGITS = re.compile(r"(\d+)")
_STRING = frozenset({"name", "title", "publisher"})
_TOKEN = frozenset({"_id", "version", "status", "code", "experimental"})
_URI = frozenset({"url"})
SEARCH_PARAMETERS: dict[str, str] = {
    "_id": "token",
    "url": "uri",
    "version": "token",
    "name": "string",
    "title": "string",
    "status": "token",
    "code": "token",
    "publisher": "string",
    "experimental": "token",
}


class Keys(Protocol):
    """An entry's search keys, folded once when it enters the catalogue."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def publisher(self) -> str: ...
    @property
    def codes(self) -> frozenset[tuple[str | None, str]]: ...


class Searchable(Protocol):
    """What search needs of a catalogue entry."""

    @property
    def keys(self) -> Keys: ...

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def resource(self) -> Mapping[str, Any]: ...


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a string, for string search."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


Matcher = Callable[[Searchable], bool]


@dataclass(slots=True)
class SearchQuery:
    """A parsed search: filters, paging and shaping, plus what was ignored."""

    filters: list[Matcher] = field(default_factory=list)
    count: int = 20
    offset: int = 0
    summary: str | None = None
    elements: tuple[str, ...] = ()
    ignored: list[str] = field(default_factory=list)
    canonical_params: list[tuple[str, str]] = field(default_factory=list)
    sort: tuple[str, ...] = ()  # applied `_sort` keys, `-` for descending
    ignored_sort: list[str] = field(default_factory=list)

    def matches(self, entry: Searchable) -> bool:
        """True when the entry passes every filter."""
        return all(test(entry) for test in self.filters)

    def ordered(self, entries: Sequence[Searchable]) -> list[Searchable]:
        """`entries` in `_sort` order: the first key first; ties keep the catalogue's order."""
        found = list(entries)
        for key in reversed(self.sort):  # stable sorts, least significant key first
            name = key.removeprefix("-")
            valued = [(_sort_value(entry, name), entry) for entry in found]
            present = [(_sort_key(value), entry) for value, entry in valued if value is not None]
            present.sort(key=lambda pair: pair[0], reverse=key.startswith("-"))
            absent = [entry for value, entry in valued if value is None]  # last, either way
            found = [entry for _, entry in present] + absent
        return found

    def warnings(self) -> list[Issue]:
        """One warning per ignored parameter (FHIR search.html#errors)."""
        return [
            Issue(
                IssueSeverity.WARNING,
                IssueType.NOT_SUPPORTED,
                f"Search parameter '{name[:60]}' is not supported here and was ignored",
                location=f"http.{name[:60]}",
                rule=rules.SEARCH_PARAM_IGNORED,
            )
            for name in self.ignored
        ] + [
            Issue(
                IssueSeverity.WARNING,
                IssueType.NOT_SUPPORTED,
                f"_sort key '{key[:60]}' is not supported here and was ignored "
                f"(keys: {', '.join(SORT_KEYS)}, each with '-' for descending)",
                location="http._sort",
                rule=rules.SEARCH_PARAM_IGNORED,
            )
            for key in self.ignored_sort
        ]


def _sort_value(entry: Searchable, name: str) -> str | None:
    value = entry.resource.get(name)
    return value if isinstance(value, str) and value else None


def _sort_key(value: str) -> tuple[tuple[int, int | str], ...]:
    """Text in case- and accent-insensitive order, runs of digits by their number (so that
    version 1.10 comes after 1.9); dates and codes sort as their text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in _DIGITS.split(fold(value))
        if part
    )


def _bad(name: str, text: str) -> InvalidRequest:
    return InvalidRequest(
        f"Search parameter '{name[:60]}': {text}",
        issue_type=IssueType.VALUE,
        expression=None,
    )


def _int(name: str, value: str, low: int, high: int | None) -> int:
    if not (value.isascii() and value.isdigit()):
        raise _bad(name, f"'{value[:30]}' is not a whole number")
    number = int(value[-12:]) if len(value.lstrip("0")) <= 12 else 10**12
    if number < low:
        raise _bad(name, f"must be at least {low}")
    return number if high is None else min(number, high)


def _string_matcher(name: str, modifier: str, values: list[str]) -> Matcher:
    if modifier == "exact":
        wanted = frozenset(values)
        return lambda entry: entry.resource.get(name) in wanted
    folded = [fold(value) for value in values]
    if modifier == "contains":
        return lambda entry: any(v in getattr(entry.keys, name) for v in folded)
    return lambda entry: any(getattr(entry.keys, name).startswith(v) for v in folded)


def _token_test(value: str) -> Callable[[tuple[str | None, str]], bool]:
    if "|" not in value:
        return lambda coding: coding[1] == value
    system, _, code = value.partition("|")
    if not system:
        return lambda coding: coding[0] is None and coding[1] == code
    if not code:
        return lambda coding: coding[0] == system
    return lambda coding: coding == (system, code)


def _code_matcher(values: list[str]) -> Matcher:
    # The keys hold Questionnaire.item.code at every level (R4's `code`) plus the root code.
    tests = [_token_test(value) for value in values]
    return lambda entry: any(t(c) for c in entry.keys.codes for t in tests)


#: The system each plain token parameter's element implies (search.html#token): a `code`
#: takes its required value set's system, a boolean the special-values one; an id or a
#: string has none, so only `code` and `|code` match it.
_IMPLICIT_SYSTEMS: dict[str, str | None] = {
    "_id": None,
    "version": None,
    "status": "http://hl7.org/fhir/publication-status",
    "experimental": "http://hl7.org/fhir/special-values",
}
_TOKEN_VALUES: dict[str, Callable[[Searchable], str | None]] = {
    "_id": lambda entry: entry.id,
    "version": lambda entry: entry.version,
    "status": lambda entry: entry.resource.get("status"),
    "experimental": lambda entry: str(bool(entry.resource.get("experimental", False))).lower(),
}


def _plain_token(name: str, values: list[str]) -> Matcher:
    if name == "experimental":
        for value in values:
            _, bar, code = value.partition("|")
            code = code if bar else value
            if code and code not in {"true", "false"}:
                raise _bad(name, f"'{code[:30]}' is not true or false")
    system, value_of = _IMPLICIT_SYSTEMS[name], _TOKEN_VALUES[name]
    tests = [_token_test(value) for value in values]

    def test(entry: Searchable) -> bool:
        code = value_of(entry)
        return code is not None and any(t((system, code)) for t in tests)

    return test


def _url_matcher(values: list[str]) -> Matcher:
    pairs = [value.partition("|") for value in values]

    def test(entry: Searchable) -> bool:
        return any(
            entry.url == url and (not sep or entry.version == version)
            for url, sep, version in pairs
        )

    return test


_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"", "exact", "contains"}),
    "token": frozenset({""}),
    "uri": frozenset({""}),
}


def _filter(name: str, modifier: str, raw: str) -> Matcher:
    kind = SEARCH_PARAMETERS[name]
    if modifier not in _MODIFIERS[kind]:
        raise _bad(f"{name}:{modifier}", f"modifier ':{modifier[:30]}' is not supported")
    values = _split_values(raw)
    if not values:
        raise _bad(name, "needs a value")
    if kind == "string":
        return _string_matcher(name, modifier, values)
    if name == "url":
        return _url_matcher(values)
    if name == "code":
        return _code_matcher(values)
    return _plain_token(name, values)


def _split_values(raw: str) -> list[str]:
    # Commas separate alternatives; "\\," is a literal comma (search.html#escaping).
    marker = "\x00"
    return [part.replace(marker, ",") for part in raw.replace("\\,", marker).split(",") if part]


def parse_search(
    args: Sequence[tuple[str, str]],
    *,
    page_size: int,
    max_page_size: int,
    strict: bool,
) -> SearchQuery:
    """Parse query arguments (in order, repeats kept); InvalidRequest for bad values."""
    query = SearchQuery(count=page_size)
    for key, value in args:
        name, _, modifier = key.partition(":")
        if name in SEARCH_PARAMETERS:
            query.filters.append(_filter(name, modifier, value))
            query.canonical_params.append((key, value))
        elif name == "_sort" and not modifier:
            _sort(query, value, strict)
        elif name in _CONTROL and not modifier:
            _control(query, name, value, max_page_size)
        elif strict:
            raise _bad(key, "is not supported (Prefer: handling=strict)")
        else:
            query.ignored.append(key)
    return query


def _sort(query: SearchQuery, value: str, strict: bool) -> None:
    """`_sort=key,-key`: known keys are applied in order, others ignored (400 if strict)."""
    for key in (part.strip() for part in value.split(",")):
        if key.removeprefix("-") in SORT_KEYS:
            query.sort = (*query.sort, key)
        elif not key:
            continue
        elif strict:
            raise _bad("_sort", f"'{key[:30]}' is not a sort key (Prefer: handling=strict)")
        else:
            query.ignored_sort.append(key)


def _control(query: SearchQuery, name: str, value: str, max_page_size: int) -> None:
    if name == "_count":
        query.count = _int(name, value, 0, max_page_size)
    elif name == "_offset":
        query.offset = _int(name, value, 0, None)
    elif name == "_summary":
        if value not in SUMMARY_VALUES:
            raise _bad(name, "must be one of true, false, text, data, count")
        query.summary = value
    elif name == "_elements":
        names = tuple(part.strip() for part in value.split(",") if part.strip())
        for element in names:
            if not element.replace("_", "").isalnum():
                raise _bad(name, f"'{element[:40]}' is not an element name")
        query.elements = names


def parse_subset(args: Mapping[str, str]) -> tuple[str | None, tuple[str, ...]]:
    """`_summary` and `_elements` of a read; InvalidRequest for bad values.

    `_summary=count` is refused: it asks for a search total, which a read has not got.
    """
    query = SearchQuery()
    for name in ("_summary", "_elements"):
        value = args.get(name)
        if value is not None:
            _control(query, name, value, query.count)
    if query.summary == "count":
        raise _bad("_summary", "count is for searches; a read takes true, false, text or data")
    return query.summary, query.elements


def subset(
    resource: Mapping[str, Any], *, summary: str | None, elements: Sequence[str]
) -> Mapping[str, Any]:
    """The resource as `_summary` / `_elements` ask (tagged SUBSETTED when anything is left out)."""
    kind = str(resource.get("resourceType"))
    mandatory = _MANDATORY.get(kind, frozenset())
    keep: frozenset[str] | set[str]
    if elements:
        keep = _ALWAYS | set(elements) | mandatory
    elif summary == "true":
        keep = _SUMMARY_ELEMENTS.get(kind, _ALWAYS) | mandatory
    elif summary == "text":
        keep = _ALWAYS | {"text"} | mandatory
    elif summary == "data":
        keep = set(resource) - {"text"}
    else:
        return resource
    shaped = {key: value for key, value in resource.items() if key in keep}
    if len(shaped) == len(resource):
        return resource
    meta = dict(shaped.get("meta") or {})
    meta["tag"] = [*meta.get("tag", ()), _SUBSETTED]
    shaped["meta"] = meta
    return shaped
