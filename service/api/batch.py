"""`POST /fhir` with a batch Bundle: each entry runs one operation; one bad entry fails alone."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response

from service.api.http import fhir_response, read_resource, state
from service.api.operations import OPERATION_NAMES, run_operation
from service.errors import InvalidRequest, RapportError
from service.fhir.bundle import instant, new_id
from service.fhir.errors import status_of
from service.fhir.outcome import IssueType, operation_outcome

__all__ = ["blueprint"]

blueprint = Blueprint("batch", __name__)

_PATHS = {f"QuestionnaireResponse/{name}": name for name in OPERATION_NAMES}


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _failed(status: int, outcome: dict[str, Any]) -> dict[str, Any]:
    return {"response": {"status": _status_line(status), "outcome": outcome}}


def _entry_operation(entry: Any, path: str) -> tuple[str, dict[str, Any]]:
    """The operation an entry asks for and its body; InvalidRequest when it asks badly."""
    if not isinstance(entry, dict):
        raise InvalidRequest("A batch entry must be an object", expression=path)
    request = entry.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest(
            "entry.request is required", issue_type=IssueType.REQUIRED, expression=path
        )
    url = str(request.get("url", "")).split("?")[0].lstrip("/")
    operation = _PATHS.get(url)
    if request.get("method") != "POST" or operation is None:
        raise InvalidRequest(
            "Batch entries may only POST QuestionnaireResponse/$validate, $score or $extract",
            issue_type=IssueType.NOT_SUPPORTED,
            expression=f"{path}.request",
        )
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise InvalidRequest(
            "entry.resource is required", issue_type=IssueType.REQUIRED, expression=path
        )
    return operation, resource


def _run_entry(entry: Any, index: int) -> dict[str, Any]:
    path = f"Bundle.entry[{index}]"
    try:
        operation, resource = _entry_operation(entry, path)
        status, result = run_operation(operation, resource)
    except RapportError as exc:
        return _failed(status_of(exc), operation_outcome(exc.issues))
    return {"resource": result, "response": {"status": _status_line(status)}}


@blueprint.post("")
def batch() -> Response:
    """Run a batch Bundle of operations; a batch-response Bundle with a status per entry."""
    bundle = read_resource()
    if bundle.get("resourceType") != "Bundle":
        raise InvalidRequest(
            "POST /fhir takes a Bundle of type batch",
            issue_type=IssueType.STRUCTURE,
            expression="resourceType",
        )
    if bundle.get("type") != "batch":
        raise InvalidRequest(
            "Only Bundle type 'batch' is supported (no transactions: nothing is stored)",
            issue_type=IssueType.NOT_SUPPORTED,
            expression="Bundle.type",
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidRequest("Bundle.entry must be a list", expression="Bundle.entry")
    most = state().settings.batch_max_entries
    if len(entries) > most:
        raise InvalidRequest(
            f"A batch may hold at most {most} entries (it has {len(entries)})",
            issue_type=IssueType.TOO_COSTLY,
            expression="Bundle.entry",
        )
    results = [_run_entry(entry, index) for index, entry in enumerate(entries)]
    answer: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant()},
        "type": "batch-response",
    }
    if results:
        answer["entry"] = results
    return fhir_response(answer)
