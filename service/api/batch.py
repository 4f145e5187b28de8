"""`POST /fhir` with a batch Bundle: each entry runs one operation; one bad entry fails alone.

Whatever an entry raises becomes that entry's status (a deliberate error's own, else 500).
A batch has `BUDGET_SECONDS` (less with a RAPPORT_TIMEOUT under 2.25 s: two thirds of it),
so that it answers within the 2 s any request is held to: an entry running past the budget
is stopped inside (422 `too-costly`), those not started answer 503 (`transient`), to be
sent again, and the batch answers 200 with the rest.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response

from service.api.errors import report_unexpected
from service.api.http import base_url, fhir_response, read_resource, state
from service.api.operations import OPERATION_NAMES, run_operation
from service.api.scopes import requires
from service.errors import InvalidRequest, RapportError
from service.fhir.bundle import instant, local_reference, new_id
from service.fhir.errors import status_of
from service.fhir.outcome import IssueType, error, operation_outcome
from service.questionnaire.compile import within_deadline

__all__ = ["BUDGET_SECONDS", "blueprint"]

blueprint = Blueprint("batch", __name__)

_PATHS = {f"QuestionnaireResponse/{name}": name for name in OPERATION_NAMES}
#: The time a batch's entries may take: any answer within 2 s (issue 18), less the overrun
#: of the entry that runs past it (its content checks, one expression) and the answer's
#: serialization. A hundred entries scored against the catalogue take ~0.1 s.
BUDGET_SECONDS = 1.5
#: Never more than this share of the worker timeout, which kills the worker.
_BUDGET_SHARE = 2 / 3
_OUT_OF_TIME = error(
    IssueType.TRANSIENT,
    "The batch ran out of time before this entry started; send it again (in a smaller batch)",
)


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
    url = str(request.get("url", "")).split("?")[0]
    url = local_reference(url, base_url()).lstrip("/")  # absolute at our base, or relative
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
        result = run_operation(operation, resource)
    except RapportError as exc:
        return _failed(status_of(exc), operation_outcome(exc.issues))
    except Exception as exc:  # noqa: BLE001 - the last resort for one entry, as the app's is
        return _failed(500, operation_outcome([report_unexpected(exc)]))
    return {"resource": result, "response": {"status": _status_line(200)}}


def _run_entries(entries: list[Any], seconds: float) -> list[dict[str, Any]]:
    """Each entry's result, in order; those not started within `seconds` answer 503."""
    deadline = time.monotonic() + seconds
    results = []
    with within_deadline(deadline):  # an entry running past the budget is stopped inside
        for index, entry in enumerate(entries):
            if time.monotonic() >= deadline:
                results.append(_failed(503, operation_outcome([_OUT_OF_TIME])))
            else:
                results.append(_run_entry(entry, index))
    return results


@blueprint.post("")
@requires("QuestionnaireResponse.r", "QuestionnaireResponse.c")
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
    settings = state().settings
    most = settings.batch_max_entries
    if len(entries) > most:
        raise InvalidRequest(
            f"A batch may hold at most {most} entries (it has {len(entries)})",
            issue_type=IssueType.TOO_COSTLY,
            expression="Bundle.entry",
        )
    results = _run_entries(entries, min(BUDGET_SECONDS, settings.timeout * _BUDGET_SHARE))
    answer: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": instant()},
        "type": "batch-response",
    }
    if results:
        answer["entry"] = results
    return fhir_response(answer)
