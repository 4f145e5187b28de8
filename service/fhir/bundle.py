"""Bundles the service returns: searchset pages with their links, and batch responses."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

__all__ = ["history", "instant", "local_reference", "new_id", "searchset"]


def instant(moment: datetime | None = None) -> str:
    """A FHIR instant in UTC with millisecond precision."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh logical id for a transient resource (a Bundle, say)."""
    return str(uuid.uuid4())


def local_reference(reference: str, base: str) -> str:
    """`reference` made relative when it is at `base` (a FHIR base URL), else as it is.

    FHIR references.html#literal: an absolute URL at the server's own base names the same
    resource as the relative one. Its scheme and host are compared without case (RFC 3986
    3.1, 3.2.2), its path exactly.
    """
    if not base:
        return reference
    prefix = base.rstrip("/") + "/"
    scheme = prefix.find("://")
    host_end = prefix.find("/", scheme + 3) if scheme > 0 else 0  # where the path starts
    if (
        reference[:host_end].lower() == prefix[:host_end].lower()
        and reference[host_end : len(prefix)] == prefix[host_end:]
    ):
        return reference[len(prefix) :]
    return reference


def _page_link(
    relation: str, base: str, params: Sequence[tuple[str, str]], count: int, offset: int
) -> dict[str, str]:
    query = urlencode([*params, ("_count", str(count)), ("_offset", str(offset))])
    return {"relation": relation, "url": f"{base}?{query}"}


def searchset(
    *,
    base: str,
    resource_type: str,
    matches: Sequence[Mapping[str, Any]],
    total: int,
    params: Sequence[tuple[str, str]],
    count: int,
    offset: int,
    outcome: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A searchset page: `matches` are this page's resources; links rebuild the query."""
    endpoint = f"{base}/{resource_type}"
    links = [_page_link("self", endpoint, params, count, offset)]
    if count:
        links.append(_page_link("first", endpoint, params, count, 0))
        if offset > 0:
            links.append(_page_link("previous", endpoint, params, count, max(offset - count, 0)))
        if offset + count < total:
            links.append(_page_link("next", endpoint, params, count, offset + count))
        last = max((total - 1) // count * count, 0)
        links.append(_page_link("last", endpoint, params, count, last))
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{endpoint}/{resource['id']}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in matches
    ]
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant()},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def history(*, url: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A history Bundle of `entries` (newest first, each with its request and response)."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant()},
        "type": "history",
        "total": len(entries),
        "link": [{"relation": "self", "url": url}],
    }
    if entries:
        bundle["entry"] = list(entries)
    return bundle
