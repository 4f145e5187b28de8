"""A known JSON value as a client may write it: its objects' members in any order.

An answer Coding is accepted by lookup when it is, as canonical JSON (sorted keys), one of
its item's clean option forms (`service.response.answers`). Sorting the answer's keys to
write it so costs more than writing it as it comes; so each known form is also kept in
every order of its members, and an answer written as it comes (`orjson.dumps`, insertion
order) is one of those exactly when its canonical JSON is the form's: the bytes differ
only in the order of members, and say `1`, `1.0` and `true` apart as canonical JSON does.

A form with more orderings than `MOST_ORDERINGS` is kept as canonical JSON only, with the
`SORTED` mark: its item's answers are then also looked up as canonical JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import permutations, product
from typing import Any

import orjson

__all__ = ["MOST_ORDERINGS", "SORTED", "written_forms"]

#: Orderings kept of one form at most (a Coding of 5 members, one extension of 2: 240).
MOST_ORDERINGS = 720
#: In a set of written forms: some are kept as canonical JSON only (look that up too).
SORTED = b"sorted"


def written_forms(canonical: bytes) -> set[bytes]:
    """The JSON texts of a form (`orjson.dumps` with sorted keys) in every order of its
    members; the canonical text and `SORTED` if there are more than `MOST_ORDERINGS`."""
    value = orjson.loads(canonical)
    if _count(value) > MOST_ORDERINGS:
        return {canonical, SORTED}
    return {orjson.dumps(ordering) for ordering in _orderings(value)}


def _count(value: Any) -> int:
    """How many orderings `value` has."""
    if type(value) is dict:
        return math.factorial(len(value)) * math.prod(_count(v) for v in value.values())
    if type(value) is list:
        return math.prod(_count(v) for v in value)
    return 1


def _orderings(value: Any) -> Iterator[Any]:
    """`value` with the members of each object in it in every order."""
    if type(value) is dict:
        for keys in permutations(value):
            for members in product(*(list(_orderings(value[key])) for key in keys)):
                yield dict(zip(keys, members, strict=True))
    elif type(value) is list:
        for members in product(*(list(_orderings(member)) for member in value)):
            yield list(members)
    else:
        yield value
