"""The loaded catalogue: entries by type and id, and canonical resolution."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._entry import Entry
from .interfaces import CatalogReader

__all__ = ["Catalog", "version_key"]

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def version_key(version: str | None) -> tuple[Any, ...]:
    """Sort key: SemVer 2.0.0 precedence; any SemVer above any other version; None lowest."""
    if version is None:
        return (0,)
    match = _SEMVER.fullmatch(version)
    if match is None:
        return (1, version)
    core = tuple(int(part) for part in match.group(1, 2, 3))
    pre = match.group(4)
    if pre is None:
        return (2, core, (1,))  # a release outranks its pre-releases
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (2, core, (0, ids))


class Catalog(CatalogReader):
    """Questionnaires and CodeSystems by id and by canonical url; read-only once built."""

    __slots__ = ("_by_id", "_by_url", "_ordered", "disabled")

    def __init__(self, entries: Iterable[Entry], *, disabled: Iterable[str] = ()) -> None:
        self._ordered = tuple(sorted(entries, key=lambda e: (e.resource_type, e.id)))
        self._by_id = {(e.resource_type, e.id): e for e in self._ordered}
        self._by_url: dict[str, list[Entry]] = {}
        for entry in self._ordered:
            if entry.url is not None:
                self._by_url.setdefault(entry.url, []).append(entry)
        #: Questionnaire ids the site switched off (not served, not resolvable).
        self.disabled: frozenset[str] = frozenset(disabled)

    def __len__(self) -> int:
        return len(self._ordered)

    def entries(self) -> tuple[Entry, ...]:
        """Every entry, by resource type then id."""
        return self._ordered

    def questionnaires(self) -> tuple[Entry, ...]:
        """The served Questionnaires, by id."""
        return self._of_type("Questionnaire")

    def code_systems(self) -> tuple[Entry, ...]:
        """The served CodeSystems, by id."""
        return self._of_type("CodeSystem")

    def _of_type(self, resource_type: str) -> tuple[Entry, ...]:
        return tuple(e for e in self._ordered if e.resource_type == resource_type)

    def get(self, resource_type: str, id: str) -> Entry | None:
        """The entry with this type and id, if served."""
        return self._by_id.get((resource_type, id))

    def resolve(self, canonical: str, *, resource_type: str | None = None) -> Entry | None:
        """The entry a canonical (`url` or `url|version`) names; None if nothing matches.

        Without a version: the highest SemVer version among active entries, else the
        highest of any status.
        """
        url, _, version = canonical.partition("|")
        candidates = [
            e
            for e in self._by_url.get(url, ())
            if resource_type is None or e.resource_type == resource_type
        ]
        if version:
            return next((e for e in candidates if e.version == version), None)
        active = [e for e in candidates if e.status == "active"]
        return max(active or candidates, key=lambda e: version_key(e.version), default=None)
