"""What a site write must be before the store sees it: its shape, id, size and canonical."""

from __future__ import annotations

from typing import Any

from service import rules
from service.errors import InvalidRequest, PreconditionFailed, UnprocessableContent
from service.fhir import r4
from service.fhir.outcome import Issue, IssueType, error
from service.questionnaire import Limits
from service.questionnaire.issues import content_error

__all__ = [
    "MAX_ITEMS",
    "canonical",
    "check_id",
    "check_size",
    "duplicate",
    "questionnaire_body",
    "stale",
    "without_server_meta",
]

#: The compiler refuses more items (q-too-large); counting them first refuses a huge
#: Questionnaire before the model checks, which take seconds on tens of thousands of items.
MAX_ITEMS = Limits().max_items
_SERVER_META = ("versionId", "lastUpdated")


def check_size(resource: dict[str, Any]) -> None:
    """422 too-costly for more than MAX_ITEMS items, counted before any costly check."""
    count, pending = 0, [resource]
    while pending:
        items = pending.pop().get("item")
        if isinstance(items, list):
            count += len(items)
            if count > MAX_ITEMS:
                text = f"more than {MAX_ITEMS} items"
                issue = error(
                    IssueType.TOO_COSTLY, text, "Questionnaire.item", rule=rules.Q_TOO_LARGE
                )
                raise UnprocessableContent(text, issues=[issue], issue_type=IssueType.TOO_COSTLY)
            pending.extend(item for item in items if isinstance(item, dict))


def canonical(resource: dict[str, Any]) -> str:
    """`url|version` (`url|` without a version) as claimed in the store; '' without a url."""
    url, version = resource.get("url"), resource.get("version")
    return f"{url}|{version if isinstance(version, str) else ''}" if isinstance(url, str) else ""


def duplicate(resource: dict[str, Any], holder: str) -> Issue:
    """The issue of a url|version that Questionnaire `holder` has already."""
    claimed = f"{resource.get('url')}|{resource.get('version')}"
    text = f"{claimed} is already Questionnaire/{holder}"
    return content_error(rules.DUPLICATE_CANONICAL, text, "Questionnaire.url")


def questionnaire_body(resource: Any) -> dict[str, Any]:
    """The body if it is a Questionnaire, else 400."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Questionnaire":
        raise InvalidRequest("The body must be a Questionnaire", issue_type=IssueType.STRUCTURE)
    return resource


def check_id(id: str) -> None:
    """400 unless `id` is a FHIR id."""
    if not r4.ID.fullmatch(id) or id in r4.DOT_SEGMENTS:
        raise InvalidRequest(
            "A Questionnaire id is 1 to 64 letters, digits, '-' and '.', not '.' or '..'",
            expression="Questionnaire.id",
        )


def stale(if_match: str, current: str) -> PreconditionFailed:
    """The 412 for an If-Match that does not name `current`."""
    now = f'W/"{current}"' if current else "none"
    return PreconditionFailed(f'If-Match "{if_match[:64]}" is not the current version ({now})')


def without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without meta.versionId / lastUpdated, which the server sets."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return resource
    rest = {k: v for k, v in meta.items() if k not in _SERVER_META}
    clean = {k: v for k, v in resource.items() if k != "meta"}
    return {**clean, "meta": rest} if rest else clean
