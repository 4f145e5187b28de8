"""The served catalogue: shipped files overlaid by the site store, refreshed when it changes.

Each worker keeps its own compiled copy and serves from it: a request only reads the current
reference, never Redis. A daemon thread per process (started as gunicorn forks the worker, or
by the first request) asks the store every `POLL_SECONDS` whether anything changed (one cheap
read) and, if so, reloads what did and swaps the reference. A second thread listens for the
store's change notifications (Redis pub/sub) and wakes the first at once, so a write reaches
every worker within milliseconds, and a request waits for a change it was notified of
(`freshness`): a client that wrote through one worker reads its write from any other. When
the store is unreachable or hangs, only those threads wait: the worker keeps serving its
last copy.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from service.errors import (
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    ResourceGone,
    ResourceNotFound,
    ServiceUnavailable,
)
from service.fhir.outcome import Issue
from service.questionnaire import CompiledQuestionnaire
from service.questionnaire.checks import Compiler, check_resource
from service.questionnaire.checks.codes import check_codings, code_index
from service.questionnaire.issues import CatalogError

from ._catalog import Catalog
from ._entry import Entry, build_entry
from ._site_rules import (
    canonical,
    check_id,
    check_size,
    duplicate,
    questionnaire_body,
    stale,
    without_server_meta,
)
from .freshness import POLL_SECONDS, Notices, listen, poll
from .interfaces import SiteCatalogue, Version
from .site import ENABLE_WRITES, NullSiteStore, Outcome, SiteRecord, SiteStore

__all__ = ["POLL_SECONDS", "SHIPPED_IS_READ_ONLY", "SiteCatalog", "open_site"]

log = logging.getLogger(__name__)

#: The first request of a worker waits this long at most for the first load, so a fresh
#: worker serves the site's Questionnaires too; a hung Redis delays it this once only.
FIRST_LOAD_SECONDS = 5.0

#: Why a shipped id cannot be written: the files are the reference content every site shares.
SHIPPED_IS_READ_ONLY = (
    "is shipped content: it cannot be replaced or deleted through the API. Add your own "
    "Questionnaire under a new id and url; switch a shipped one off with "
    "RAPPORT_INSTRUMENTS_DISABLED"
)


def open_site(redis_url: str, base: Catalog, compiler: Compiler) -> SiteCatalog:
    """The site catalogue for these settings; logs the one line that names the mode."""
    if not redis_url:
        log.info("catalogue mode: embedded (files only; writes answer 405)")
        return SiteCatalog(base, NullSiteStore(), compiler)
    from .redis_site import RedisSiteStore, redacted  # noqa: PLC0415 - only with Redis

    log.info("catalogue mode: redis (%s, shared site catalogue)", redacted(redis_url))
    return SiteCatalog(base, RedisSiteStore(redis_url), compiler)


class SiteCatalog(SiteCatalogue):
    """The base catalogue plus the site's own Questionnaires, each compiled once per worker."""

    def __init__(self, base: Catalog, store: SiteStore, compiler: Compiler) -> None:
        self.base = base
        self.store = store
        #: What this worker serves now: replaced whole, never changed in place.
        self.current = base
        self._compiler = compiler
        self._site: Mapping[str, Entry] = {}
        self._deleted: Mapping[str, str] = {}  # id → the version that deleted it
        self._token: str | None = None
        self._down = False
        self._writes = 0  # this worker's own writes: a reload begun before one is stale
        self._lock = threading.Lock()  # guards the swap of current, _site, _deleted
        self._reloading = threading.Lock()
        self._poller = 0  # the pid whose poller runs
        self._loaded = threading.Event()
        #: This process's change notifications (service/catalog/freshness.py).
        self.notices = Notices(store.unread)
        if store.writable:
            # gunicorn preloads the app in the master and forks the workers; threads do not
            # survive a fork, so each worker starts its own poller at once, loaded before
            # (or by) its first request.
            os.register_at_fork(after_in_child=functools.partial(_forked, weakref.ref(self)))

    def _forked(self) -> None:
        # A thread of the parent may have held a lock as it forked: the child's are new.
        self._lock, self._reloading = threading.Lock(), threading.Lock()
        self.notices.forked()
        self._start_poller()

    def serving(self) -> Catalog:
        """The catalogue to serve now; the first call in a process without a poller starts
        one, and calls wait (boundedly) for its first load."""
        if self.store.writable:
            if self._poller != os.getpid():
                self._start_poller()
            self._loaded.wait(FIRST_LOAD_SECONDS)  # returns at once after the first load
            self.notices.wait()  # a change is loading: read it, not the past
        return self.current

    def _start_poller(self) -> None:
        with self._lock:
            if self._poller == os.getpid():
                return
            self._poller = os.getpid()
            self._loaded = threading.Event()
            ref = weakref.ref(self)
            for target, name in (
                (poll, "rapport-site-poller"),
                (listen, "rapport-site-listener"),
            ):
                threading.Thread(target=target, args=(ref,), name=name, daemon=True).start()

    def refresh(self) -> bool:
        """Ask the store now and reload what changed; False when the result was stale (a
        write of this worker came in meanwhile) and should be asked for again at once."""
        with self._reloading:
            try:
                fresh = self._reload()
            except ServiceUnavailable:
                if not self._down:
                    log.warning("site catalogue unreachable: serving the last copy")
                self._down = True
                return True
            finally:
                self._loaded.set()
            if self._down:
                log.info("site catalogue reachable again")
            self._down = False
            return fresh

    def _reload(self) -> bool:
        token = self.store.token()
        if token == self._token:
            return True
        writes = self._writes
        snapshot = self.store.snapshot()
        site = self._site
        kept = {
            rid: entry
            for rid, entry in site.items()
            if snapshot.versions.get(rid) == entry.version_id
        }
        changed = [rid for rid in snapshot.versions if rid not in kept]
        for record in self.store.records(changed):
            if self.shipped(record.id):
                # Stored by a version that let a site override a shipped file: never served
                # (DELETE removes it); the shipped file is.
                log.warning(
                    "site Questionnaire %r not served: the id is shipped content", record.id
                )
                continue
            entry = self._compiled_entry(record)
            if entry is not None:
                kept[record.id] = entry
        with self._lock:
            if writes != self._writes:
                return False  # it may not show this worker's latest write: read again
            self._site = kept
            self._deleted = snapshot.deleted
            self._token = snapshot.token
            self.current = self._merge(kept)
        return True

    def _compiled_entry(self, record: SiteRecord) -> Entry | None:
        assert record.resource is not None
        try:
            compiled = self._compiler(record.resource)
        except ValueError as exc:  # accepted once, but this build cannot compile it
            log.warning("site Questionnaire %r not served: %s", record.id, exc)
            return None
        return _entry(record, compiled)

    def _merge(self, site_entries: Mapping[str, Entry]) -> Catalog:
        disabled = self.base.disabled
        site = [entry for rid, entry in site_entries.items() if not self.shipped(rid)]
        ids = {entry.id for entry in site}
        kept = [
            e for e in self.base.entries() if e.resource_type != "Questionnaire" or e.id not in ids
        ]
        return Catalog([*kept, *site], disabled=disabled)

    def _wrote(self, id: str, entry: Entry | None, deleted_by: str = "") -> None:
        """Serve this worker's own write at once, without waiting for the poller."""
        with self._lock:
            self._writes += 1
            site = {rid: e for rid, e in self._site.items() if rid != id}
            deleted = {rid: v for rid, v in self._deleted.items() if rid != id}
            if entry is not None:
                site[id] = entry
            if deleted_by:
                deleted[id] = deleted_by
            self._site, self._deleted = site, deleted
            self.current = self._merge(site)

    def gone(self, id: str) -> ResourceGone | None:
        """The 410 for Questionnaire `id` when the site deleted it and nothing is served under
        it now, else None."""
        deleted_by = self._deleted.get(id)
        if deleted_by is None or self.current.get("Questionnaire", id) is not None:
            return None
        return ResourceGone(f"Questionnaire/{id} was deleted (version {deleted_by})")

    def shipped(self, id: str) -> bool:
        """Whether Questionnaire `id` is one of the files' (served or switched off)."""
        return id in self.base.disabled or self.base.get("Questionnaire", id) is not None

    def put(
        self, id: str, resource: dict[str, Any], *, if_match: str = "", create_only: bool = False
    ) -> tuple[Outcome, Entry]:
        """Create or update Questionnaire `id` after every shipped-content check; 412 if stale.

        `create_only` (a token that may create but not update) stores only a new id: 403 when
        the id has a current version. A shipped id is never written: 405.
        """
        self.check_writable(id)
        check_id(id)
        if questionnaire_body(resource).get("id") != id:
            raise InvalidRequest(
                f"Questionnaire.id must be '{id}', the id in the URL",
                expression="Questionnaire.id",
            )
        return self._store(id, resource, if_match, create_only)

    def create(self, resource: dict[str, Any]) -> tuple[Outcome, Entry]:
        """Store a new Questionnaire under an id the server assigns (any id sent is ignored)."""
        self.check_writable()
        id = str(uuid.uuid4())
        return self._store(id, {**questionnaire_body(resource), "id": id}, "", create_only=True)

    def _store(
        self, id: str, resource: dict[str, Any], if_match: str, create_only: bool
    ) -> tuple[Outcome, Entry]:
        clean, compiled = self._checked(id, resource)
        result = self.store.write(
            id,
            clean,
            if_match=if_match,
            base_version=self._base(id),
            canonical=canonical(clean),
            create_only=create_only,
        )
        if result.outcome is Outcome.STALE:
            raise stale(if_match, result.version_id)
        if result.outcome is Outcome.EXISTS:
            # SMART 2.x: `c` creates, `u` updates; checked in the same atomic step as the write.
            raise Forbidden(
                f"Questionnaire/{id} exists (version {result.version_id}): updating it needs "
                "system/Questionnaire.u (or .write); a token with only .c creates new ids"
            )
        if result.outcome is Outcome.DUPLICATE:
            raise CatalogError({f"Questionnaire/{id}": [duplicate(clean, result.holder)]})
        record = SiteRecord(id, result.version_id, result.last_updated, "PUT", clean)
        entry = _entry(record, compiled)
        self._wrote(id, entry)
        return result.outcome, entry

    def delete(self, id: str, *, if_match: str = "") -> bool:
        """Delete the site's Questionnaire `id`; True when a shipped file is served again."""
        self.check_writable()
        check_id(id)
        result = self.store.write(
            id, None, if_match=if_match, base_version=self._base(id), canonical=""
        )
        if result.outcome is Outcome.STALE:
            raise stale(if_match, result.version_id)
        if result.outcome is Outcome.SHIPPED:
            raise MethodNotAllowed(f"Questionnaire/{id} {SHIPPED_IS_READ_ONLY}")
        if result.outcome is Outcome.MISSING:
            raise ResourceNotFound(f"Questionnaire/{id} is not in the site catalogue")
        self._wrote(id, None, deleted_by=result.version_id)
        return self.base.get("Questionnaire", id) is not None

    def history(self, id: str) -> list[Version]:
        """Every version of Questionnaire `id`, newest first; the shipped file's is the oldest."""
        self.check_writable()
        check_id(id)
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

    def check_writable(self, id: str = "") -> None:
        """405 with how to enable writes, unless the store takes them; 405 saying why for a
        shipped `id`."""
        if not self.store.writable:
            raise MethodNotAllowed(ENABLE_WRITES)
        if id and self.shipped(id):
            raise MethodNotAllowed(f"Questionnaire/{id} {SHIPPED_IS_READ_ONLY}")

    def _base(self, id: str) -> str:
        shipped = self.base.get("Questionnaire", id)
        return "" if shipped is None else shipped.version_id

    def _checked(
        self, id: str, resource: dict[str, Any]
    ) -> tuple[dict[str, Any], CompiledQuestionnaire | None]:
        """The resource as stored (server meta dropped) and its compiled form; 400/422 if bad."""
        check_size(resource)
        clean = without_server_meta(resource)
        issues, compiled = check_resource(clean, self._compiler)
        issues.extend(self._clashes(clean))
        if issues:
            raise CatalogError({f"Questionnaire/{id}": issues})
        return clean, compiled

    def _clashes(self, resource: dict[str, Any]) -> list[Issue]:
        """What the loader checks across files: codes that exist, and a url|version no shipped
        file has (Redis claims it among site entries, atomically with the write)."""
        issues = []
        url, version = resource.get("url"), resource.get("version")
        for other in self.base.questionnaires():
            # The same id is a site version of that very file: it keeps the file's canonical.
            same = url is not None and (other.url, other.version) == (url, version)
            if same and other.id != resource["id"]:
                issues.append(duplicate(resource, other.id))
        index = code_index([entry.resource for entry in self.current.code_systems()])
        issues.extend(check_codings(resource, index))
        return issues


def _forked(ref: weakref.ref[SiteCatalog]) -> None:
    """In a new child process: its own poller, if the catalogue is still in use."""
    site = ref()
    if site is not None:
        site._forked()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _entry(record: SiteRecord, compiled: CompiledQuestionnaire | None) -> Entry:
    assert record.resource is not None
    source = Path("redis") / "Questionnaire" / record.id
    modified = _instant(record.last_updated)
    return build_entry(record.resource, source, modified, compiled, version_id=record.version_id)
