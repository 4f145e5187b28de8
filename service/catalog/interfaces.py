"""The catalogue's contracts with the API: what a request reads, and what the site takes.

    CatalogReader   the catalogue a request is served from   Catalog (immutable, swapped whole)
    SiteCatalogue   the worker's catalogue and site writes   SiteCatalog (over a SiteStore)
    SiteStore       where site Questionnaires are kept        RedisSiteStore, NullSiteStore

`api/` sees only these types; each implementation names its contract as a base class, so
mypy checks it there (a member missing or of another signature is an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from service.errors import ResourceGone

from ._entry import Entry
from .site import Outcome, SiteStore

__all__ = ["CatalogReader", "SiteCatalogue", "SiteStore", "Version"]


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of an instance history: the entry served then, or None for a deletion."""

    version_id: str
    last_updated: datetime
    method: str
    entry: Entry | None


class CatalogReader(Protocol):
    """Questionnaires and CodeSystems by id and by canonical url, read-only."""

    __slots__ = ()

    def __len__(self) -> int:
        """How many entries are served."""

    def entries(self) -> tuple[Entry, ...]:
        """Every entry, by resource type then id."""

    def questionnaires(self) -> tuple[Entry, ...]:
        """The served Questionnaires, by id."""

    def code_systems(self) -> tuple[Entry, ...]:
        """The served CodeSystems, by id."""

    def get(self, resource_type: str, id: str) -> Entry | None:
        """The entry with this type and id, if served."""

    def resolve(self, canonical: str, *, resource_type: str | None = None) -> Entry | None:
        """The entry a canonical (`url` or `url|version`) names; None if nothing matches."""


class SiteCatalogue(Protocol):
    """A worker's catalogue: the shipped files plus the site's own Questionnaires, which
    it keeps in step with its `store` and through which writes go."""

    #: Where the site's Questionnaires are kept (its `mode`, `writable`, `problem()`).
    store: SiteStore

    def serving(self) -> CatalogReader:
        """The catalogue to serve now; a request takes it once (`api.http.catalog()`)."""

    def gone(self, id: str) -> ResourceGone | None:
        """The 410 for a Questionnaire the site deleted and nothing serves now, else None."""

    def shipped(self, id: str) -> bool:
        """Whether Questionnaire `id` is one of the files' (served or switched off)."""

    def check_writable(self, id: str = "") -> None:
        """405 unless the store takes writes, and for a shipped `id`."""

    def put(
        self, id: str, resource: dict[str, Any], *, if_match: str = "", create_only: bool = False
    ) -> tuple[Outcome, Entry]:
        """Create or update the site's Questionnaire `id` (FHIR update)."""

    def create(self, resource: dict[str, Any]) -> tuple[Outcome, Entry]:
        """Add a site Questionnaire under a new id (FHIR create)."""

    def delete(self, id: str, *, if_match: str = "") -> bool:
        """Delete the site's Questionnaire `id`; True when a shipped file is served again."""

    def history(self, id: str) -> list[Version]:
        """Every version of Questionnaire `id`, newest first."""
