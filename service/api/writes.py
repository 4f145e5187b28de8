"""Site catalogue writes and history: PUT, POST and DELETE of Questionnaires, `_history`.

With Redis (`RAPPORT_REDIS_URL`) these change the shared site catalogue; in the embedded
mode they answer 405 with an OperationOutcome that says how to enable them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.http import http_date

from service.api.auth import permits
from service.api.http import (
    base_url,
    conditional_read,
    fhir_response,
    preference,
    read_resource,
    state,
)
from service.api.scopes import requires
from service.catalog import Entry, SiteCatalogue, Version, expression_warnings
from service.catalog.site import Outcome
from service.errors import InvalidRequest, MethodNotAllowed, ResourceGone, ResourceNotFound
from service.fhir.bundle import history, instant
from service.fhir.outcome import Issue, IssueSeverity, IssueType, operation_outcome

__all__ = ["blueprint"]

blueprint = Blueprint("writes", __name__)


def _site() -> SiteCatalogue:
    return state().site


def _if_match() -> str:
    """The version If-Match names ('' without one, '*' for any); 400 unless exactly one tag."""
    header = request.headers.get("If-Match")
    if header is None:
        return ""
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    tag = tags[0].removeprefix("W/") if len(tags) == 1 else ""
    if tag == "*":
        return tag
    if len(tag) < 3 or tag[0] != '"' or tag[-1] != '"':
        raise InvalidRequest(
            'If-Match must name one version as an ETag, e.g. W/"3"',
            issue_type=IssueType.VALUE,
        )
    return tag[1:-1]


def _written(outcome: Outcome, entry: Entry) -> Response:
    location = f"{base_url()}/Questionnaire/{entry.id}/_history/{entry.version_id}"
    headers = {
        "ETag": f'W/"{entry.version_id}"',
        "Last-Modified": http_date(entry.last_updated),
        "Location" if outcome is Outcome.CREATED else "Content-Location": location,
    }
    status = 201 if outcome is Outcome.CREATED else 200
    wanted = preference("return")  # FHIR http.html#ops: minimal, representation (the default)
    if wanted == "operationoutcome":
        headers["Preference-Applied"] = "return=OperationOutcome"
        return fhir_response(operation_outcome(_notes(entry)), status, headers)
    if wanted == "minimal":
        headers["Preference-Applied"] = "return=minimal"
        empty = Response(status=status, headers=headers)
        del empty.headers["Content-Type"]
        return empty
    return fhir_response(entry.body, status, headers)


def _notes(entry: Entry) -> list[Issue]:
    """What a write's OperationOutcome says: that it was stored, and what `python -m service
    lint` warns about in it (the content was stored all the same)."""
    stored = Issue(
        IssueSeverity.INFORMATION,
        IssueType.INFORMATIONAL,
        f"Questionnaire/{entry.id} stored as version {entry.version_id}",
    )
    return [stored, *expression_warnings(entry.resource, "Questionnaire")]


# `path:` as the read has, so PUT, DELETE and GET match exactly the same URLs (never a 405
# for a GET that the read's converter refuses).
@blueprint.put("/Questionnaire/<path:resource_id>")
@requires("Questionnaire.u", "Questionnaire.c")  # FHIR update may create: either does
def update_questionnaire(resource_id: str) -> Response:
    """Create or update a site Questionnaire (FHIR update); If-Match makes it conditional.

    A token with `c` but not `u` (SMART 2.x) creates only: 403 if the id has a version."""
    site = _site()
    site.check_writable(resource_id)  # 405 before the body is even read
    create_only = not permits("Questionnaire.u")
    outcome, entry = site.put(
        resource_id, read_resource(), if_match=_if_match(), create_only=create_only
    )
    return _written(outcome, entry)


@blueprint.post("/Questionnaire")
@requires("Questionnaire.c")
def create_questionnaire() -> Response:
    """Add a site Questionnaire under an id the server assigns (FHIR create)."""
    site = _site()
    site.check_writable()
    outcome, entry = site.create(read_resource())
    return _written(outcome, entry)


@blueprint.delete("/Questionnaire/<path:resource_id>")
@requires("Questionnaire.d")
def delete_questionnaire(resource_id: str) -> Response:
    """Delete a site Questionnaire; a shipped one with the same id is served again."""
    revealed = _site().delete(resource_id, if_match=_if_match())
    text = f"Questionnaire/{resource_id} deleted from the site catalogue"
    if revealed:
        text += "; the shipped Questionnaire with this id is served again"
    issue = Issue(IssueSeverity.INFORMATION, IssueType.INFORMATIONAL, text)
    return fhir_response(operation_outcome([issue]))


@blueprint.get("/Questionnaire/<resource_id>/_history")
@requires("Questionnaire.r")
def questionnaire_history(resource_id: str) -> Response:
    """Every version of a Questionnaire, newest first (Bundle type history)."""
    versions = _site().history(resource_id)
    url = f"{base_url()}/Questionnaire/{resource_id}"
    entries = [
        _history_entry(resource_id, url, version, versions[i + 1 :])
        for i, version in enumerate(versions)
    ]
    return fhir_response(history(url=f"{url}/_history", entries=entries))


@blueprint.get("/Questionnaire/<resource_id>/_history/<version_id>")
@requires("Questionnaire.r")
def read_questionnaire_version(resource_id: str, version_id: str) -> Response:
    """One version of a Questionnaire (FHIR vread)."""
    for version in _site().history(resource_id):
        if version.version_id == version_id and version.entry is not None:
            return conditional_read(version.entry)
        if version.version_id == version_id:  # FHIR http.html#vread: a deletion is 410
            raise ResourceGone(f"Questionnaire/{resource_id} version {version_id} is a delete")
    raise ResourceNotFound(f"Questionnaire/{resource_id} has no version {version_id[:64]!r}")


def _history_entry(
    resource_id: str, url: str, version: Version, older: list[Version]
) -> dict[str, Any]:
    created = not older or older[0].entry is None
    status = "204" if version.entry is None else "201" if created else "200"
    entry: dict[str, Any] = {"fullUrl": url}
    if version.entry is not None:
        entry["resource"] = version.entry.resource
    entry["request"] = {"method": version.method, "url": f"Questionnaire/{resource_id}"}
    entry["response"] = {
        "status": status,
        "etag": f'W/"{version.version_id}"',
        "lastModified": instant(version.last_updated),
    }
    return entry


def _not_allowed(exc: MethodNotAllowed) -> Response:
    # RFC 9110 §15.5.6: a 405 says which methods the target does support.
    if request.endpoint in {"writes.questionnaire_history", "writes.read_questionnaire_version"}:
        allow = ""
    elif _site().store.writable and not _site().shipped(
        str((request.view_args or {}).get("resource_id", ""))
    ):
        allow = "GET, HEAD, PUT"
    else:
        allow = "GET, HEAD"
    return fhir_response(operation_outcome(exc.issues), 405, {"Allow": allow})


blueprint.register_error_handler(MethodNotAllowed, _not_allowed)
