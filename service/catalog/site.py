"""The site catalogue's storage contract, and its null (files-only) implementation.

A site adds or versions Questionnaires at run time; a `SiteStore` keeps them. The real
store is Redis (`service.catalog.redis_site`), shared by every worker of every replica;
the null store is what runs without `RAPPORT_REDIS_URL`: no site entries, and every
write refused with 405 saying how to enable writes.

Records hold Questionnaires only (content, never responses): no patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from service.errors import MethodNotAllowed

__all__ = [
    "ENABLE_WRITES",
    "NullSiteStore",
    "Outcome",
    "SiteRecord",
    "SiteSnapshot",
    "SiteStore",
    "WriteResult",
]

ENABLE_WRITES = (
    "The site catalogue is read-only in the embedded mode: set RAPPORT_REDIS_URL "
    "(e.g. redis://host:6379/0) to add, version and delete Questionnaires"
)


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """One version of one site Questionnaire; `resource` is None for a deletion."""

    id: str
    version_id: str
    last_updated: str
    method: str
    resource: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    """What a worker compares to know the site catalogue changed, each id's version, and the
    ids whose latest version is a deletion (with that version)."""

    token: str
    versions: Mapping[str, str]
    deleted: Mapping[str, str] = field(default_factory=dict)


class Outcome(Enum):
    """What a conditional write did, or why it did nothing."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    STALE = "stale"  # If-Match named another version
    SHIPPED = "shipped"  # DELETE of an id only the shipped files have
    MISSING = "missing"  # DELETE of an id nobody has
    DUPLICATE = "duplicate"  # another id holds the same url|version
    EXISTS = "exists"  # a create-only write of an id that has a current version


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome, the version now current (the new one after a write), and when written;
    for DUPLICATE, `holder` is the id that has the url|version."""

    outcome: Outcome
    version_id: str
    last_updated: str = ""
    holder: str = ""


class SiteStore(Protocol):
    """Where site Questionnaires live; every write is an atomic check-and-set on If-Match."""

    @property
    def mode(self) -> str:
        """`embedded` or `redis`, for the start-up line and readiness."""

    @property
    def writable(self) -> bool:
        """Whether writes and history are available in this mode."""

    def token(self) -> str:
        """What changes with every write: the cheap read a worker polls."""

    def snapshot(self) -> SiteSnapshot:
        """The change token, each current id's version and the deleted ids; ServiceUnavailable
        if unreachable."""

    def records(self, ids: list[str]) -> list[SiteRecord]:
        """The current records of these ids (fewer if some were deleted meanwhile)."""

    def write(
        self,
        id: str,
        resource: dict[str, Any] | None,
        *,
        if_match: str,
        base_version: str,
        canonical: str,
        create_only: bool = False,
    ) -> WriteResult:
        """Store a new version (None deletes) if `if_match` ('' for any) names the current one
        and no other id holds `canonical` (`url|version`, '' for none); else store nothing.
        `create_only` stores only when the id has no current version (EXISTS otherwise).

        `base_version` is the shipped file's version id, '' when no file has this id: it is
        current while the site has no entry of its own. Raises ServiceUnavailable when the
        store cannot be reached or does not confirm the write.
        """

    def history(self, id: str) -> list[SiteRecord]:
        """Every site version of `id`, oldest first."""

    def listen(self, changed: Callable[[], None], alive: Callable[[], bool]) -> None:
        """Call `changed` whenever another writer may have changed the store, until `alive()`
        is False (blocking: a thread of its own runs it)."""

    def unread(self) -> bool:
        """Whether a change notification has arrived that `listen` has not yet handed on."""

    def problem(self) -> str | None:
        """Why the store cannot serve right now, or None when it can."""


class NullSiteStore(SiteStore):
    """The embedded mode: the shipped and site folders only; writes are 405."""

    mode = "embedded"
    writable = False

    def token(self) -> str:
        """Never changes."""
        return ""

    def snapshot(self) -> SiteSnapshot:
        """Never changes."""
        return SiteSnapshot("", {})

    def records(self, ids: list[str]) -> list[SiteRecord]:
        """There are none."""
        return []

    def write(
        self,
        id: str,
        resource: dict[str, Any] | None,
        *,
        if_match: str,
        base_version: str,
        canonical: str,
        create_only: bool = False,
    ) -> WriteResult:
        """Refused: say how to enable writes."""
        raise MethodNotAllowed(ENABLE_WRITES)

    def history(self, id: str) -> list[SiteRecord]:
        """Refused: history is kept by the Redis store only."""
        raise MethodNotAllowed(ENABLE_WRITES)

    def listen(self, changed: Callable[[], None], alive: Callable[[], bool]) -> None:
        """Nothing ever changes."""

    def unread(self) -> bool:
        """Nothing ever changes."""
        return False

    def problem(self) -> str | None:
        """Always ready."""
        return None
