"""QuestionnaireResponse operations: `$validate`, `$score`, `$extract`, alone or in a batch.

Each operation takes the response as the body, or inside a Parameters resource
(`questionnaire-response`, `response` or `resource`, plus an optional `questionnaire`
to use instead of resolving `QuestionnaireResponse.questionnaire`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Response, g

from service.api.http import fhir_response, read_resource, state
from service.api.telemetry import count_score, count_validation
from service.catalog.lookup import resolve_questionnaire
from service.errors import InvalidRequest, RapportError
from service.fhir.outcome import Issue, IssueSeverity, IssueType, operation_outcome
from service.response import check_scores, extract_observations, score_response, validate_response

__all__ = ["OPERATION_NAMES", "blueprint", "run_operation"]

blueprint = Blueprint("operations", __name__)

_RESPONSE_PARAMS = frozenset({"questionnaire-response", "response", "resource"})
_FAILED = "rapport_failed_questionnaires"  # in flask.g: this request's compile failures


def _unpack(
    body: dict[str, Any], ignored: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """The response, the Questionnaire given inline (if any), and the path to the response.

    With `ignored` (a list, for $validate only), `mode` (valueCode) and `profile`
    (valueUri/valueCanonical) parameters are accepted and their names appended to it.
    """
    kind = body.get("resourceType")
    if kind == "QuestionnaireResponse":
        return body, None, "QuestionnaireResponse"
    if kind != "Parameters":
        raise InvalidRequest(
            "Expected a QuestionnaireResponse, or Parameters holding one",
            issue_type=IssueType.STRUCTURE,
            expression="resourceType" if kind is not None else None,
        )
    response: dict[str, Any] | None = None
    questionnaire: dict[str, Any] | None = None
    where = "Parameters"
    params = body.get("parameter")
    if not isinstance(params, list):
        raise InvalidRequest(
            "Parameters.parameter must be a list", issue_type=IssueType.STRUCTURE,
            expression="Parameters.parameter",
        )  # fmt: skip
    for index, param in enumerate(params):
        path = f"Parameters.parameter[{index}]"
        name = param.get("name") if isinstance(param, dict) else None
        if not isinstance(name, str):
            raise InvalidRequest(
                "Each parameter needs a 'name' string",
                issue_type=IssueType.STRUCTURE,
                expression=f"{path}.name",
            )
        resource = param.get("resource") if isinstance(param, dict) else None
        if name in _RESPONSE_PARAMS and isinstance(resource, dict) and response is None:
            response, where = resource, f"{path}.resource"
        elif name == "questionnaire" and isinstance(resource, dict) and questionnaire is None:
            questionnaire = resource
        elif ignored is not None and _validate_option(name, param):
            ignored.append(name)
        else:
            raise InvalidRequest(
                f"Unexpected parameter {str(name)[:40]!r}: expected one questionnaire-response "
                "and at most one questionnaire, each with a resource",
                issue_type=IssueType.STRUCTURE,
                expression=path,
            )
    if response is None or response.get("resourceType") != "QuestionnaireResponse":
        raise InvalidRequest(
            "Parameters must hold a QuestionnaireResponse as 'questionnaire-response'",
            issue_type=IssueType.REQUIRED,
            expression="Parameters.parameter",
        )
    return response, questionnaire, where


def _validate_option(name: str, param: dict[str, Any]) -> bool:
    """A $validate `mode` (valueCode) or `profile` (valueUri/valueCanonical) parameter."""
    if name == "mode":
        return isinstance(param.get("valueCode"), str)
    if name == "profile":
        return isinstance(param.get("valueUri", param.get("valueCanonical")), str)
    return False


def _resolve(response: dict[str, Any], inline: dict[str, Any] | None) -> Any:
    found = state()
    key = _sent_with(response, inline)
    # Compiled Questionnaires are cached by content, failures are not: remember this
    # request's, so a batch sending the same broken Questionnaire in every entry
    # compiles it once.
    failed: dict[bytes, RapportError] = g.setdefault(_FAILED, {})
    if key is not None and key in failed:
        raise failed[key]
    try:
        return resolve_questionnaire(
            found.catalog, response, inline, max_items=found.settings.max_items
        )
    except RapportError as exc:
        if key is not None:
            failed[key] = exc
        raise


def _sent_with(response: dict[str, Any], inline: dict[str, Any] | None) -> bytes | None:
    """A digest of the Questionnaire sent with the request (inline or contained), if any."""
    reference = response.get("questionnaire")
    if inline is None and not (isinstance(reference, str) and reference.startswith("#")):
        return None
    sent = [inline] if inline is not None else [reference, response.get("contained")]
    return hashlib.sha256(orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)).digest()


def _validate(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ignored: list[str] = []
    response, inline, _ = _unpack(body, ignored)
    compiled = _resolve(response, inline)
    validation = validate_response(compiled, response)
    count_validation(validation.issues)
    issues = [*validation.issues, *check_scores(compiled, response, validation)]
    notes = [
        Issue(
            IssueSeverity.INFORMATION,
            IssueType.INFORMATIONAL,
            f"parameter '{name}' is accepted and ignored: validation is against the Questionnaire",
            f"Parameters.parameter.where(name = '{name}')",
        )
        for name in dict.fromkeys(ignored)
    ]
    if notes and not issues:  # still say it is clean
        notes.insert(
            0, Issue(IssueSeverity.INFORMATION, IssueType.INFORMATIONAL, "No problems found")
        )
    return 200, operation_outcome([*issues, *notes])


def _score(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response, inline, _ = _unpack(body)
    compiled = _resolve(response, inline)
    result = score_response(compiled, response)
    count_score(compiled)
    params: list[dict[str, Any]] = [{"name": "response", "resource": result.response}]
    for score in result.scores:
        if score.value is None:
            continue
        parts: list[dict[str, Any]] = []
        if score.code is not None:
            parts.append({"name": "code", "valueCoding": score.code})
        if isinstance(score.value, bool):
            parts.append({"name": "value", "valueBoolean": score.value})
        else:
            parts.append({"name": "value", "valueDecimal": score.value})
        if score.interpretation is not None:
            parts.append({"name": "interpretation", "valueCoding": score.interpretation})
        params.append({"name": "score", "part": parts})
    if result.issues:
        params.append({"name": "issues", "resource": operation_outcome(result.issues)})
    return 200, {"resourceType": "Parameters", "parameter": params}


def _extract(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response, inline, _ = _unpack(body)
    compiled = _resolve(response, inline)
    result = score_response(compiled, response)
    count_score(compiled)
    return 200, extract_observations(compiled, result, response)


OPERATIONS: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
    "$validate": _validate,
    "$score": _score,
    "$extract": _extract,
}
OPERATION_NAMES = tuple(OPERATIONS)


def run_operation(name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run one operation on a parsed body; deliberate failures raise RapportError subclasses."""
    return OPERATIONS[name](body)


def _view(name: str) -> Callable[[], Response]:
    def view() -> Response:
        status, resource = run_operation(name, read_resource())
        return fhir_response(resource, status)

    view.__name__ = f"operation_{name[1:]}"
    view.__doc__ = f"POST /QuestionnaireResponse/{name}"
    return view


for _name in OPERATIONS:
    blueprint.add_url_rule(
        f"/QuestionnaireResponse/{_name}", view_func=_view(_name), methods=["POST"]
    )
