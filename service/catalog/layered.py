"""The served catalogue: shipped files overlaid by the site store, refreshed when it changes.

Each worker keeps its own compiled copy; `refreshed()` asks the store at most every
`POLL_SECONDS` whether anything changed (one cheap read) and, if so, reloads what did.
When the store is unreachable the worker keeps serving its last copy: reads and scoring
never wait for Redis.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service.errors import (
    Conflict,
    InvalidRequest,
    MethodNotAllowed,
    PreconditionFailed,
    ResourceNotFound,
    ServiceUnavailable,
)
from service.fhir.outcome import IssueType

from ._catalog import Catalog
from ._checks import Compiler, check_resource
from ._codes import check_codings, code_index
from ._entry import Entry, build_entry
from ._errors import CatalogError, Problem
from .site import ENABLE_WRITES, ID_PATTERN, NullSiteStore, Outcome, SiteRecord, SiteStore

__all__ = ["POLL_SECONDS", "SiteCatalog", "Version", "open_site"]

log = logging.getLogger(__name__)

#: Every worker sees a write within this (plus one request): the spec asks for one second.
POLL_SECONDS = 0.5
#: How long a worker waits before asking an unreachable store again: doubling up to the
#: cap, so a Redis that times out (rather than refusing) costs a request now and then only.
BACKOFF_SECONDS = (1.0, 5.0)
_SERVER_META = ("versionId", "lastUpdated")


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of an instance history: the entry served then, or None for a deletion."""

    version_id: str
    last_updated: datetime
    method: str
    entry: Entry | None


def open_site(redis_url: str, base: Catalog, compiler: Compiler) -> SiteCatalog:
    """The site catalogue for these settings; logs the one line that names the mode."""
    if not redis_url:
        log.info("catalogue mode: embedded (files only; writes answer 405)")
        return SiteCatalog(base, NullSiteStore(), compiler)
    from .redis_site import RedisSiteStore, redacted  # noqa: PLC0415 - only with Redis

    log.info("catalogue mode: redis (%s, shared site catalogue)", redacted(redis_url))
    return SiteCatalog(base, RedisSiteStore(redis_url), compiler)


class SiteCatalog:
    """The base catalogue plus the site's own Questionnaires, each compiled once per worker."""

    def __init__(self, base: Catalog, store: SiteStore, compiler: Compiler) -> None:
        self.base = base
        self.store = store
        self.current = base
        self._compiler = compiler
        self._site: dict[str, Entry] = {}
        self._token: str | None = None
        self._due = 0.0
        self._down = False
        self._backoff = 0.0
        self._lock = threading.RLock()

    def refreshed(self) -> Catalog:
        """The catalogue to serve now, reloaded first if the store changed (checked ≤ 2/s)."""
        now = time.monotonic()
        if now < self._due or not self.store.writable:
            return self.current
        if not self._lock.acquire(blocking=False):
            return self.current  # another thread of this worker is reloading
        try:
            self._due = now + POLL_SECONDS
            self._reload()
        except ServiceUnavailable:
            first, cap = BACKOFF_SECONDS
            self._backoff = min(cap, self._backoff * 2) if self._backoff else first
            self._due = now + self._backoff
            if not self._down:
                log.warning("site catalogue unreachable: serving the last copy")
            self._down = True
        finally:
            self._lock.release()
        return self.current

    def _reload(self) -> None:
        if self.store.token() == self._token:
            self._recovered()
            return
        snapshot = self.store.snapshot()
        kept = {
            rid: entry
            for rid, entry in self._site.items()
            if snapshot.versions.get(rid) == entry.version_id
        }
        changed = [rid for rid in snapshot.versions if rid not in kept]
        for record in self.store.records(changed):
            entry = self._compiled_entry(record)
            if entry is not None:
                kept[record.id] = entry
        self._site = kept
        self._token = snapshot.token
        self.current = self._merge()
        self._recovered()

    def _recovered(self) -> None:
        if self._down:
            log.info("site catalogue reachable again")
        self._down = False
        self._backoff = 0.0

    def _compiled_entry(self, record: SiteRecord) -> Entry | None:
        assert record.resource is not None
        try:
            compiled = self._compiler(record.resource)
        except ValueError as exc:  # accepted once, but this build cannot compile it
            log.warning("site Questionnaire %r not served: %s", record.id, exc)
            return None
        return _entry(record, compiled)

    def _merge(self) -> Catalog:
        disabled = self.base.disabled
        site = [entry for rid, entry in self._site.items() if rid not in disabled]
        ids = {entry.id for entry in site}
        kept = [
            e for e in self.base.entries() if e.resource_type != "Questionnaire" or e.id not in ids
        ]
        return Catalog([*kept, *site], disabled=disabled)

    def put(self, id: str, resource: Any, *, if_match: str = "") -> tuple[Outcome, Entry]:
        """Create or update Questionnaire `id` after every shipped-content check; 412 if stale."""
        self.check_writable()
        _check_id(id)
        if _questionnaire(resource).get("id") != id:
            raise InvalidRequest(
                f"Questionnaire.id must be '{id}', the id in the URL",
                expression="Questionnaire.id",
            )
        return self._store(id, resource, if_match)

    def create(self, resource: Any) -> tuple[Outcome, Entry]:
        """Store a new Questionnaire under an id the server assigns (any id sent is ignored)."""
        self.check_writable()
        id = str(uuid.uuid4())
        return self._store(id, {**_questionnaire(resource), "id": id}, "")

    def _store(self, id: str, resource: dict[str, Any], if_match: str) -> tuple[Outcome, Entry]:
        clean, compiled = self._checked(id, resource)
        result = self.store.write(id, clean, if_match=if_match, base_version=self._base(id))
        if result.outcome is Outcome.STALE:
            raise _stale(if_match, result.version_id)
        record = SiteRecord(id, result.version_id, result.last_updated, "PUT", clean)
        entry = _entry(record, compiled)
        with self._lock:
            self._site[id] = entry
            self.current = self._merge()
        return result.outcome, entry

    def delete(self, id: str, *, if_match: str = "") -> bool:
        """Delete the site's Questionnaire `id`; True when a shipped file is served again."""
        self.check_writable()
        _check_id(id)
        result = self.store.write(id, None, if_match=if_match, base_version=self._base(id))
        if result.outcome is Outcome.STALE:
            raise _stale(if_match, result.version_id)
        if result.outcome is Outcome.SHIPPED:
            raise MethodNotAllowed(
                f"Questionnaire/{id} is shipped content and cannot be deleted; "
                "switch it off with RAPPORT_INSTRUMENTS_DISABLED"
            )
        if result.outcome is Outcome.MISSING:
            raise ResourceNotFound(f"Questionnaire/{id} is not in the site catalogue")
        with self._lock:
            self._site.pop(id, None)
            self.current = self._merge()
        return self.base.get("Questionnaire", id) is not None

    def history(self, id: str) -> list[Version]:
        """Every version of Questionnaire `id`, newest first; the shipped file's is the oldest."""
        self.check_writable()
        _check_id(id)
        versions = [
            Version(
                record.version_id,
                _instant(record.last_updated),
                record.method,
                None if record.resource is None else _entry(record, None),
            )
            for record in reversed(self.store.history(id))
        ]
        shipped = self.base.get("Questionnaire", id)
        if shipped is not None:
            versions.append(Version(shipped.version_id, shipped.last_updated, "PUT", shipped))
        if not versions:
            raise ResourceNotFound(f"Questionnaire/{id} is not known to this server")
        return versions

    def check_writable(self) -> None:
        """405 with how to enable writes, unless the store takes them."""
        if not self.store.writable:
            raise MethodNotAllowed(ENABLE_WRITES)

    def _base(self, id: str) -> str:
        shipped = self.base.get("Questionnaire", id)
        return "" if shipped is None else shipped.version_id

    def _checked(self, id: str, resource: dict[str, Any]) -> tuple[dict[str, Any], object]:
        """The resource as stored (server meta dropped) and its compiled form; 400/422 if bad."""
        if id in self.base.disabled:
            raise Conflict(f"Questionnaire/{id} is switched off by RAPPORT_INSTRUMENTS_DISABLED")
        clean = _without_server_meta(resource)
        source = f"Questionnaire/{id}"
        problems, compiled = check_resource(clean, source, self._compiler)
        problems.extend(self._clashes(clean, source))
        if problems:
            raise CatalogError(problems)
        return clean, compiled

    def _clashes(self, resource: dict[str, Any], source: str) -> list[Problem]:
        """What the loader checks across files: unique url|version, codes that exist."""
        catalog = self.current
        problems = []
        url, version = resource.get("url"), resource.get("version")
        for other in catalog.questionnaires():
            if url is not None and (other.url, other.version) == (url, version):
                if other.id == resource["id"]:
                    continue  # its own previous version
                text = f"{url}|{version} is already Questionnaire/{other.id}"
                problems.append(Problem(source, "duplicate-canonical", text, "Questionnaire.url"))
        index = code_index([entry.resource for entry in catalog.code_systems()])
        problems.extend(check_codings(resource, index, source))
        return problems


def _questionnaire(resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Questionnaire":
        raise InvalidRequest("The body must be a Questionnaire", issue_type=IssueType.STRUCTURE)
    return resource


def _check_id(id: str) -> None:
    if not ID_PATTERN.fullmatch(id):
        raise InvalidRequest(
            "A Questionnaire id is 1 to 64 letters, digits, '-' and '.'",
            expression="Questionnaire.id",
        )


def _stale(if_match: str, current: str) -> PreconditionFailed:
    now = f'W/"{current}"' if current else "none"
    return PreconditionFailed(f'If-Match "{if_match[:64]}" is not the current version ({now})')


def _without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without meta.versionId / lastUpdated, which the server sets."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return resource
    rest = {k: v for k, v in meta.items() if k not in _SERVER_META}
    clean = {k: v for k, v in resource.items() if k != "meta"}
    return {**clean, "meta": rest} if rest else clean


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _entry(record: SiteRecord, compiled: object) -> Entry:
    assert record.resource is not None
    source = Path("redis") / "Questionnaire" / record.id
    modified = _instant(record.last_updated)
    return build_entry(record.resource, source, modified, compiled, version_id=record.version_id)
