"""Contained terminology: the codes of `#id` ValueSets and the itemWeights of CodeSystems.

`answerValueSet` is honoured when it names a ValueSet contained in the
Questionnaire (its `expansion.contains`, or its `compose.include` concepts),
or, for a Questionnaire itself contained in a response, one contained beside it
(dom-2 forbids contained resources inside a contained one, so `#id` resolves in
the Questionnaire first, then in the resource that contains it);
a weight not on the answerOption is looked up as the `itemWeight` property of a
contained CodeSystem concept (SDC weight() lookup order, third step).

Beyond contained ones, `Terminology.codes` knows a few small HL7 value sets by their
canonical URL (`SHIPPED`), so that the common unit value sets can be checked without a
terminology server; any other is reported unchecked by the caller.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from service.fhir import r4

from .extensions import finite_number
from .items import answer_key

__all__ = ["Terminology", "terminology"]


@dataclass(frozen=True, slots=True)
class Terminology:
    """Contained ValueSets (by `#id`) as sets of (system, code), and CodeSystem weights."""

    value_sets: dict[str, frozenset[Hashable]] = field(default_factory=dict)
    weights: dict[tuple[Any, Any], float] = field(default_factory=dict)

    def codes(self, url: str) -> frozenset[Hashable] | None:
        """The (system, code) keys of a contained (`#id`) or shipped ValueSet; None if
        neither (its canonical URL `|version` aside for shipped ones)."""
        found = self.value_sets.get(url)
        return found if found is not None else SHIPPED.get(url.split("|", 1)[0])


_UCUM = "http://unitsofmeasure.org"
#: The R4 unit value sets shipped with the service (`r4.UNIT_VALUE_SETS`), as codes.
SHIPPED: dict[str, frozenset[Hashable]] = {
    url: frozenset(answer_key("Coding", {"system": _UCUM, "code": code}) for code in codes)
    for url, codes in r4.UNIT_VALUE_SETS.items()
}


def terminology(questionnaire: dict[str, Any], siblings: Iterable[Any] = ()) -> Terminology:
    """What the Questionnaire's contained ValueSets and CodeSystems define, and the ValueSets
    among `siblings` (the resources contained beside it) it does not contain itself.
    """
    value_sets: dict[str, frozenset[Hashable]] = {}
    weights: dict[tuple[Any, Any], float] = {}
    contained = questionnaire.get("contained")
    for resource in contained if type(contained) is list else ():
        if type(resource) is not dict or type(resource.get("id")) is not str:
            continue
        if resource.get("resourceType") == "ValueSet":
            value_sets["#" + resource["id"]] = frozenset(_value_set_codes(resource))
        elif resource.get("resourceType") == "CodeSystem":
            weights.update(_code_system_weights(resource))
    for resource in siblings:
        if type(resource) is not dict or type(resource.get("id")) is not str:
            continue
        key = "#" + resource["id"]
        if resource.get("resourceType") == "ValueSet" and key not in value_sets:
            value_sets[key] = frozenset(_value_set_codes(resource))
    return Terminology(value_sets, weights)


def _value_set_codes(value_set: dict[str, Any]) -> Iterator[Hashable]:
    expansion = value_set.get("expansion")
    if type(expansion) is dict:
        yield from _contains(expansion.get("contains"))
    compose = value_set.get("compose")
    includes = compose.get("include") if type(compose) is dict else None
    for include in includes if type(includes) is list else ():
        concepts = include.get("concept") if type(include) is dict else None
        for concept in concepts if type(concepts) is list else ():
            if type(concept) is dict:
                yield answer_key(
                    "Coding", {"system": include.get("system"), "code": concept.get("code")}
                )


def _contains(entries: Any) -> Iterator[Hashable]:
    stack = list(entries) if type(entries) is list else []
    while stack:
        entry = stack.pop()
        if type(entry) is not dict:
            continue
        if "code" in entry:
            yield answer_key("Coding", entry)
        if type(entry.get("contains")) is list:
            stack.extend(entry["contains"])


def _code_system_weights(code_system: dict[str, Any]) -> Iterator[tuple[tuple[Any, Any], float]]:
    system = code_system.get("url")
    concepts = code_system.get("concept")
    if system is not None and type(system) is not str:
        return  # keys are looked up with a well-formed Coding's system: it would never match
    stack = list(concepts) if type(concepts) is list else []
    while stack:
        concept = stack.pop()
        if type(concept) is not dict:
            continue
        weight = _weight_property(concept.get("property"))
        if weight is not None and type(concept.get("code")) is str:
            yield (system, concept["code"]), weight
        if type(concept.get("concept")) is list:
            stack.extend(concept["concept"])


def _weight_property(properties: Any) -> float | None:
    for prop in properties if type(properties) is list else ():
        if type(prop) is dict and prop.get("code") == "itemWeight":
            return finite_number(prop.get("valueDecimal", prop.get("valueInteger")))
    return None
