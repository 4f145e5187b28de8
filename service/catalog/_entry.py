"""A catalogue entry: the served resource, pre-serialised, with its version and search keys."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.fhir.jsonio import dumps
from service.fhir.search import fold
from service.questionnaire import CompiledQuestionnaire
from service.questionnaire.walk import dicts, walk_items

__all__ = ["Entry", "SearchKeys", "build_entry", "content_hash", "fold"]

#: A Coding's (system, code); system is None when the Coding has none (FHIR token `|code`).
Code = tuple[str | None, str]


@dataclass(frozen=True, slots=True)
class SearchKeys:
    """Folded name/title/publisher, and the codes FHIR search param `code` matches."""

    name: str
    title: str
    publisher: str
    #: Questionnaire.item.code (the R4 `code` search parameter), every level, plus the
    #: root Questionnaire.code, so `code=` finds an instrument by its own code too.
    codes: frozenset[Code]


@dataclass(frozen=True, slots=True)
class Entry:
    """One served resource; `body` is its JSON, ready to send."""

    resource_type: str
    id: str
    url: str | None
    version: str | None
    resource: dict[str, Any]
    body: bytes
    version_id: str
    last_updated: datetime
    source: Path
    compiled: CompiledQuestionnaire | None  # a Questionnaire's; None for a CodeSystem
    keys: SearchKeys

    @property
    def status(self) -> str | None:
        """The resource's publication status."""
        status = self.resource.get("status")
        return status if isinstance(status, str) else None


def content_hash(resource: dict[str, Any]) -> str:
    """First 16 hex of the SHA-256 of canonical JSON, meta.versionId/lastUpdated left out."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in _SERVER_META}
    bare = {k: v for k, v in resource.items() if k != "meta"}
    if meta:
        bare["meta"] = meta
    canonical = json.dumps(bare, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


_SERVER_META = frozenset({"versionId", "lastUpdated"})


def build_entry(
    resource: dict[str, Any],
    source: Path,
    modified: datetime,
    compiled: CompiledQuestionnaire | None = None,
    *,
    version_id: str | None = None,
) -> Entry:
    """The entry for a checked resource; `modified` becomes meta.lastUpdated (UTC, seconds).

    `version_id` is the content hash unless given (the site catalogue numbers its versions).
    """
    version_id = version_id or content_hash(resource)
    last_updated = modified.astimezone(UTC).replace(microsecond=0)
    meta = {
        **resource.get("meta", {}),
        "versionId": version_id,
        "lastUpdated": last_updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    served = _with_meta(resource, meta)
    return Entry(
        resource_type=str(resource["resourceType"]),
        id=str(resource["id"]),
        url=_string(resource, "url"),
        version=_string(resource, "version"),
        resource=served,
        body=dumps(served),
        version_id=version_id,
        last_updated=last_updated,
        source=source,
        compiled=compiled,
        keys=_keys(resource),
    )


def _with_meta(resource: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A copy with `meta` where FHIR puts it: right after resourceType and id."""
    head: dict[str, Any] = {k: resource[k] for k in ("resourceType", "id") if k in resource}
    return {**head, "meta": meta, **{k: v for k, v in resource.items() if k != "meta"}}


def _string(resource: dict[str, Any], key: str) -> str | None:
    value = resource.get(key)
    return value if isinstance(value, str) else None


def _keys(resource: dict[str, Any]) -> SearchKeys:
    codes: set[Code] = set()
    if resource.get("resourceType") == "Questionnaire":
        nodes = [resource, *(ref.item for ref in walk_items(resource))]
        for node in nodes:
            for _, coding in dicts(node, "code"):
                if isinstance(coding.get("code"), str):
                    codes.add((_string(coding, "system"), coding["code"]))
    return SearchKeys(
        name=fold(_string(resource, "name") or ""),
        title=fold(_string(resource, "title") or ""),
        publisher=fold(_string(resource, "publisher") or ""),
        codes=frozenset(codes),
    )
