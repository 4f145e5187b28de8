"""The notation of `datatypes`'s tables: each element of a type, with its type and cardinality.

`Coding` is 0..1, `Coding*` 0..*, `uri!` 1..1; `@` marks what R4's XML writes as an
attribute (Element.id, Extension.url, Narrative.div): it has no `_name`. `value[x]` lists its
types, `*` for every type an Extension may take.
"""

from __future__ import annotations

from typing import NamedTuple

from .primitives import PRIMITIVES

__all__ = ["Element", "Spec", "make_element", "make_spec"]

_COMPLEX_VALUES = (
    "Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count Distance "
    "Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData "
    "Signature Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition "
    "RelatedArtifact TriggerDefinition UsageContext Dosage Meta"
)


class Element(NamedTuple):
    """One element of a type: its type, cardinality, FHIRPath name and allowed codes."""

    type: str
    many: bool
    required: bool
    primitive: bool
    simple: bool  # a 0..1 or 1..1 primitive with no binding: one call decides it
    companion: bool  # a primitive that may have a `_name`
    path: str  # `value` for value[x]
    codes: frozenset[str] | None  # a required binding


class Spec(NamedTuple):
    """The elements of one type, and those of them the validation walk reads itself."""

    name: str
    elements: dict[str, Element]
    walked: frozenset[str]
    walks_values: bool  # every `value...` key is the walk's (answer.value[x])
    required: tuple[str, ...]


def make_spec(
    name: str,
    elements: dict[str, str],
    walked: tuple[str, ...] = (),
    codes: dict[str, str] | None = None,
) -> Spec:
    """The table of type `name` from its elements' notation (and its bound codes)."""
    parsed: dict[str, Element] = {}
    for key, notation in elements.items():
        if key == "value[x]":
            kinds = notation.split() if notation != "*" else [*PRIMITIVES - {"xhtml"}]
            kinds += _COMPLEX_VALUES.split() if notation == "*" else []
            for kind in kinds:
                parsed["value" + kind[0].upper() + kind[1:]] = make_element(kind, "value", None)
            continue
        bound = frozenset(codes[key].split()) if codes and key in codes else None
        parsed[key] = make_element(notation, key, bound)
    walks_values = "value[x]" in walked
    if walks_values:
        walked += tuple(k for k in parsed if k.startswith("value"))
    required = tuple(k for k, e in parsed.items() if e.required and k not in walked)
    return Spec(name, parsed, frozenset(walked), walks_values, required)


def make_element(notation: str, path: str, codes: frozenset[str] | None) -> Element:
    """One element from its notation."""
    kind = notation.strip("@*!")
    primitive = kind in PRIMITIVES
    companion = primitive and not notation.startswith("@")
    many, required = notation.endswith("*"), notation.endswith("!")
    simple = primitive and not many and codes is None
    return Element(kind, many, required, primitive, simple, companion, path, codes)
