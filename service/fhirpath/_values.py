"""FHIRPath semantics of single values, as fhirpath.js 5.x applies them to plain JSON.

Numbers are Python ints and floats. fhirpath.js computes with IEEE doubles and
compares decimals after rounding both sides to a multiple of 1e-8
(`numbers.roundToMaxPrecision`), so `0.1 + 0.2 = 0.3` is true; `round8` is that
rounding, done with the same floating-point operations so results agree bit for bit.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._errors import FhirPathError

__all__ = [
    "FHIR_TYPE_SUFFIXES",
    "MISSING",
    "Seen",
    "choice_names",
    "compare",
    "distinct",
    "equal",
    "equivalent",
    "is_number",
    "js_round",
    "navigate",
    "round8",
    "to_boolean",
]

#: The FHIR R4 open types: the suffixes a choice element `value[x]` can carry.
FHIR_TYPE_SUFFIXES = frozenset(
    {
        "Address",
        "Age",
        "Annotation",
        "Attachment",
        "Base64Binary",
        "Boolean",
        "Canonical",
        "Code",
        "CodeableConcept",
        "Coding",
        "ContactDetail",
        "ContactPoint",
        "Contributor",
        "Count",
        "DataRequirement",
        "Date",
        "DateTime",
        "Decimal",
        "Distance",
        "Dosage",
        "Duration",
        "Expression",
        "HumanName",
        "Id",
        "Identifier",
        "Instant",
        "Integer",
        "Markdown",
        "Meta",
        "Money",
        "Oid",
        "ParameterDefinition",
        "Period",
        "PositiveInt",
        "Quantity",
        "Range",
        "Ratio",
        "Reference",
        "RelatedArtifact",
        "SampledData",
        "Signature",
        "String",
        "Time",
        "Timing",
        "TriggerDefinition",
        "UnsignedInt",
        "Uri",
        "Url",
        "UsageContext",
        "Uuid",
    }
)

MISSING: Any = object()

_PRECISION_STEP = 1e-8
# JavaScript's \p{White_Space}, which fhirpath.js maps to a space for `~` on strings.
_WHITE_SPACE = re.compile(
    "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_DECIMAL_PLACES = re.compile(r"(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$")


def is_number(value: Any) -> bool:
    """True for ints and floats, never for booleans."""
    kind = type(value)
    return kind is int or kind is float


def js_round(x: float) -> float:
    """JavaScript's Math.round: the nearest integer, halves towards +infinity."""
    if not math.isfinite(x):
        return x
    down = math.floor(x)
    return float(down + 1 if x - down >= 0.5 else down)


def round8(x: float) -> float:
    """fhirpath.js's roundToMaxPrecision: `x` to the nearest multiple of 1e-8."""
    return js_round(x / _PRECISION_STEP) * _PRECISION_STEP


def choice_names(name: str) -> frozenset[str]:
    """The keys a choice element `name[x]` can take: `valueCoding`, `valueInteger`, ..."""
    return frozenset(name + suffix for suffix in FHIR_TYPE_SUFFIXES)


def navigate(items: list[Any], name: str, choices: frozenset[str]) -> list[Any]:
    """The children called `name`, or `name[Type]` if absent, of the objects among `items`."""
    found: list[Any] = []
    for item in items:
        if type(item) is not dict:
            continue
        value = item.get(name, MISSING)
        if value is MISSING:
            # One pass over the keys, the first choice in the object's order: an answer has
            # one key (`valueCoding`), and a set test first (isdisjoint) costs more than it.
            for key in item:
                if key in choices:
                    value = item[key]
                    break
            else:
                continue
        if type(value) is list:
            if None in value:  # JSON nulls pad arrays that carry primitive extensions
                value = [v for v in value if v is not None]
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


def to_boolean(collection: list[Any], what: str) -> bool | None:
    """FHIRPath singleton evaluation as a Boolean: empty is None, one non-boolean item is True."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathError(f"{what} expects a single Boolean, got {len(collection)} items")
    value = collection[0]
    return value if value is True or value is False else True


def equal(a: Any, b: Any) -> bool:
    """FHIRPath `=` on two items: same type and value; objects compared member by member."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return bool(a == b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return round8(a) == round8(b)
    if ta is not tb:
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if ta is list:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def equivalent(a: Any, b: Any) -> bool:
    """FHIRPath `~` on two items: case- and whitespace-blind strings, precision-blind numbers."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _numbers_equivalent(a, b)
    if ta is not tb:
        return False
    if ta is str:
        return _normalized(a) == _normalized(b)
    if ta is dict:
        return a.keys() == b.keys() and all(equivalent(a[k], b[k]) for k in a)
    if ta is list:
        return len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _normalized(text: str) -> str:
    return _WHITE_SPACE.sub(" ", text.upper())


def _numbers_equivalent(a: float, b: float) -> bool:
    # numbers.isEquivalent: compare at the lesser of the two precisions.
    if float(a).is_integer() and float(b).is_integer():
        return a == b
    places = min(_decimal_places(a), _decimal_places(b))
    if places == 0:
        return js_round(a) == js_round(b)
    scale = 10.0**places
    return js_round(a * scale) / scale == js_round(b * scale) / scale


def _decimal_places(x: float) -> int:
    match = _DECIMAL_PLACES.search(repr(float(x)))
    if match is None:  # inf or nan
        return 0
    fraction, exponent = match.group(2) or "", int(match.group(3) or 0)
    return max(0, (0 if fraction == "0" else len(fraction)) - exponent)


def compare(a: Any, b: Any) -> int:
    """Order two items for `<`, `min()` and friends: -1, 0 or 1; FhirPathError if incomparable."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return int(a > b) - int(a < b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        x, y = round8(a), round8(b)
        return int(x > y) - int(x < y)
    if ta is str and tb is str:
        if not (a.isascii() and b.isascii()):
            # JavaScript orders strings by UTF-16 code unit, not by code point.
            a, b = a.encode("utf-16-be"), b.encode("utf-16-be")
        return int(a > b) - int(a < b)
    if ta is bool and tb is bool:
        return int(a) - int(b)
    raise FhirPathError(f"cannot compare {_type_name(a)} with {_type_name(b)}")


def _type_name(value: Any) -> str:
    names = {bool: "Boolean", int: "Integer", float: "Decimal", str: "String"}
    return names.get(type(value), "an object")


class Seen:
    """The items kept so far when removing duplicates by FHIRPath equality."""

    __slots__ = ("_buckets", "_strings")

    def __init__(self) -> None:
        self._strings: set[str] = set()
        self._buckets: dict[Any, list[Any]] = {}

    def add(self, item: Any) -> bool:
        """Remember `item`; False if an equal item was already there."""
        kind = type(item)
        if kind is str:
            if item in self._strings:
                return False
            self._strings.add(item)
            return True
        if kind is dict:  # inline for speed: repeat(item) adds every item it finds
            key = item.get("linkId")
            if type(key) is not str:
                key = _bucket(item, kind)
        else:
            key = _bucket(item, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [item]
            return True
        for kept in bucket:
            if kept is item or equal(kept, item):
                return False
        bucket.append(item)
        return True

    def fresh(self, items: list[Any]) -> list[Any]:
        """The items not seen before, in order, each remembered: `add` on each, in one call."""
        buckets, add = self._buckets, self.add
        kept = []
        for item in items:
            if type(item) is dict:  # repeat(item)'s case, inline: a linkId not seen before
                key = item.get("linkId")
                if type(key) is str and key not in buckets:
                    buckets[key] = [item]
                    kept.append(item)
                    continue
            if add(item):
                kept.append(item)
        return kept

    def fresh_children(self, items: list[Any], name: str, choices: frozenset[str]) -> list[Any]:
        """`fresh(navigate(items, name, choices))` in one pass: what a round of repeat() finds."""
        buckets, add = self._buckets, self.add
        kept = []
        for item in items:
            if type(item) is not dict:
                continue
            value = item.get(name, MISSING)
            if value is MISSING:  # as navigate(): the first choice key, in the object's order
                for key in item:
                    if key in choices:
                        value = item[key]
                        break
                else:
                    continue
            for child in value if type(value) is list else (value,):
                if type(child) is dict:  # as fresh(): a linkId not seen before
                    link = child.get("linkId")
                    if type(link) is str and link not in buckets:
                        buckets[link] = [child]
                        kept.append(child)
                        continue
                if child is not None and add(child):  # navigate() drops JSON nulls
                    kept.append(child)
        return kept


def _bucket(item: Any, kind: type) -> Any:
    # Equal items always share a bucket; unequal ones rarely do (and are then compared):
    # a bucket holding many items would make removing duplicates quadratic.
    if kind is int or kind is float:
        return round8(item)
    if kind is dict:
        named = _name(item)
        if named is not None:
            return named
        return frozenset((name, _member(value)) for name, value in item.items())
    if kind is list:
        return len(item)
    return item  # bool: True and 1.0 share a bucket, and `equal` tells them apart


def _name(item: dict[str, Any]) -> str | None:
    for name in ("linkId", "code"):
        value = item.get(name)
        if type(value) is str:
            return value
    return None


def _member(value: Any) -> Any:
    """What a dict's bucket keeps of one member: enough to tell most answers apart."""
    kind = type(value)
    if kind is int or kind is float:
        return round8(value)
    if kind is dict:
        return _name(value) or len(value)  # a Coding by its code
    if kind is list:
        return len(value)
    return value  # a string, boolean or None


def distinct(items: list[Any]) -> list[Any]:
    """`items` without repeats by FHIRPath equality, first occurrences kept in order."""
    if len(items) < 2:
        return list(items)
    seen = Seen()
    return [item for item in items if seen.add(item)]
