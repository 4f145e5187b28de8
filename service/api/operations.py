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

from service.api.http import base_url, catalog, fhir_response, read_resource, state
from service.api.scopes import requires
from service.api.telemetry import count_score, count_validation
from service.catalog import CatalogReader
from service.catalog.lookup import resolve_questionnaire
from service.errors import InvalidRequest, RapportError
from service.fhir.outcome import Issue, IssueSeverity, IssueType, error, operation_outcome
from service.questionnaire import CompiledQuestionnaire
from service.response import (
    ExtractOptions,
    check_scores,
    extract_observations,
    score_response,
    validate_response,
)
from service.response.change import (
    Change,
    Scored,
    change_parameters,
    compare_baseline,
    rebase_issues,
)
from service.response.provenance import canonical, provenance_parameter
from service.response.safety import safety_issues

__all__ = [
    "NOT_STORED_ENDPOINT",
    "OPERATION_NAMES",
    "blueprint",
    "extract",
    "run_operation",
    "score",
    "validate",
]

blueprint = Blueprint("operations", __name__)

_RESPONSE_PARAMS = frozenset({"questionnaire-response", "response", "resource"})
_FAILED = "rapport_failed_questionnaires"  # in flask.g: this request's compile failures


def _unpack(
    body: dict[str, Any],
    ignored: list[str] | None = None,
    baseline: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """The response, the Questionnaire given inline (if any), and the path to the response.

    With `ignored` (a list, for $validate only), `mode` (valueCode) and `profile`
    (valueUri/valueCanonical) parameters are accepted and their names appended to it. With
    `baseline` (a dict, for $score and $extract), a `baseline` QuestionnaireResponse is
    accepted and put there with its path (keys `resource`, `where`).
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
        elif name == "baseline" and baseline is not None and not baseline:
            if not isinstance(resource, dict) or resource.get("resourceType") != (
                "QuestionnaireResponse"
            ):
                raise InvalidRequest(
                    "The 'baseline' parameter must hold a QuestionnaireResponse as its resource",
                    issue_type=IssueType.STRUCTURE,
                    expression=f"{path}.resource",
                )
            baseline.update(resource=resource, where=f"{path}.resource")
        elif ignored is not None and _validate_option(name, param):
            ignored.append(name)
        else:
            raise InvalidRequest(
                f"Unexpected parameter {str(name)[:40]!r}: expected one questionnaire-response, "
                "at most one questionnaire and (for $score and $extract) one baseline, each "
                "with a resource",
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


def _resolve(
    response: dict[str, Any], inline: dict[str, Any] | None, base: str
) -> CompiledQuestionnaire:
    reader = catalog()
    reference = response.get("questionnaire")
    if inline is None and type(reference) is str and not reference.startswith("#"):
        return _catalogued(reader, response, reference, base)
    key = _sent_with(response, inline)
    # Compiled Questionnaires are cached by content, failures are not: remember this
    # request's, so a batch sending the same broken Questionnaire in every entry
    # compiles it once.
    failed: dict[bytes, RapportError] = g.setdefault(_FAILED, {})
    if key is not None and key in failed:
        raise failed[key]
    try:
        return resolve_questionnaire(
            reader, response, inline, max_items=state().settings.max_items, base=base
        )
    except RapportError as exc:
        if key is not None:
            failed[key] = exc
        raise


class _Resolved:
    """The catalogue Questionnaire each (reference, base) resolved to in one catalogue: a
    canonical without a version picks the highest of the versions it names each time it is
    resolved. A new catalogue starts afresh; at most 256 references are kept (each is the
    client's to choose), and one that does not resolve is never kept."""

    def __init__(self) -> None:
        # The catalogue and what was resolved in it, read and replaced as one tuple: a
        # thread never pairs one catalogue with another's answers.
        self.kept: tuple[CatalogReader | None, dict[tuple[str, str], CompiledQuestionnaire]]
        self.kept = (None, {})


_RESOLVED = _Resolved()
_RESOLVED_MAX = 256


def _catalogued(
    reader: CatalogReader, response: dict[str, Any], reference: str, base: str
) -> CompiledQuestionnaire:
    kept_in, found = _RESOLVED.kept
    if kept_in is not reader:  # (two threads may both start afresh: no harm)
        found = {}
        _RESOLVED.kept = (reader, found)
    key = (reference, base)
    compiled = found.get(key)
    if compiled is None:
        compiled = resolve_questionnaire(reader, response, base=base)
        if len(found) < _RESOLVED_MAX:
            found[key] = compiled
    return compiled


def _sent_with(response: dict[str, Any], inline: dict[str, Any] | None) -> bytes | None:
    """A digest of the Questionnaire sent with the request (inline or contained), if any."""
    reference = response.get("questionnaire")
    if inline is None and not (isinstance(reference, str) and reference.startswith("#")):
        return None
    sent = [inline] if inline is not None else [reference, response.get("contained")]
    return hashlib.sha256(orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)).digest()


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """$validate: an OperationOutcome of every issue (200 even when it lists errors)."""
    ignored: list[str] = []
    response, inline, _ = _unpack(body, ignored)
    base = base_url()
    compiled = _resolve(response, inline, base)
    validation = validate_response(compiled, response, base=base)
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
    return operation_outcome([*issues, *notes])


def _scored(body: dict[str, Any]) -> tuple[Scored, list[Change] | None, Scored | None]:
    """The response scored, and with a `baseline` parameter its changes and the baseline."""
    sent: dict[str, Any] = {}
    response, inline, _ = _unpack(body, baseline=sent)
    base = base_url()
    compiled = _resolve(response, inline, base)
    result = score_response(compiled, response, base=base)
    count_score(compiled)
    follow_up = Scored(compiled, result, response)
    if not sent:
        return follow_up, None, None
    baseline, where = sent["resource"], sent["where"]
    try:
        base_cq = _resolve(baseline, inline, base)
        earlier = Scored(base_cq, score_response(base_cq, baseline, base=base), baseline)
    except RapportError as exc:  # the baseline's own problems, said to be the baseline's
        raise rebase_issues(exc, where) from exc
    return follow_up, compare_baseline(follow_up, earlier, where), earlier


def score(body: dict[str, Any]) -> dict[str, Any]:
    """$score: Parameters with the scored response, the Questionnaire version that scored
    it, each score, each change from a baseline, provenance and any issues."""
    follow_up, changes, _ = _scored(body)
    compiled, result = follow_up.cq, follow_up.result
    params: list[dict[str, Any]] = [{"name": "response", "resource": result.response}]
    named = canonical(compiled)
    if named is not None:  # which version scored it: the one named, else the current one
        params.append({"name": "questionnaire", "valueCanonical": named})
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
    params.extend(change_parameters(changes or []))
    params.append(provenance_parameter(compiled))
    issues = list(result.issues)
    if state().settings.safety_flags:
        issues.extend(safety_issues(compiled, result))
    if issues:
        params.append({"name": "issues", "resource": operation_outcome(issues)})
    return {"resourceType": "Parameters", "parameter": params}


def extract(body: dict[str, Any]) -> dict[str, Any]:
    """$extract: a transaction Bundle of the scores as Observations (US Core unless the site
    says otherwise), their changes from a baseline, safety Flags and a Provenance."""
    follow_up, changes, earlier = _scored(body)
    settings = state().settings
    options = ExtractOptions(us_core=settings.us_core, safety=settings.safety_flags)
    baseline = (changes, earlier) if changes is not None and earlier is not None else None
    return extract_observations(
        follow_up.cq, follow_up.result, follow_up.response, options, baseline=baseline
    )


#: Each operation by name, for batch entries: it returns the resource a 200 carries and
#: raises a RapportError (with its status) for anything else.
OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "$validate": validate,
    "$score": score,
    "$extract": extract,
}
OPERATION_NAMES = tuple(OPERATIONS)
# $validate, $score and $extract store nothing and return what was sent, worked on: they
# count as reading responses (`r`), or as creating them (`c`) for clients given only that.
_SCOPE = ("QuestionnaireResponse.r", "QuestionnaireResponse.c")


def run_operation(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run one operation on a parsed body; deliberate failures raise RapportError subclasses."""
    return OPERATIONS[name](body)


@blueprint.post("/QuestionnaireResponse/$validate")
@requires(*_SCOPE)
def operation_validate() -> Response:
    """POST /QuestionnaireResponse/$validate"""
    return fhir_response(validate(read_resource()))


@blueprint.post("/QuestionnaireResponse/$score")
@requires(*_SCOPE)
def operation_score() -> Response:
    """POST /QuestionnaireResponse/$score"""
    return fhir_response(score(read_resource()))


@blueprint.post("/QuestionnaireResponse/$extract")
@requires(*_SCOPE)
def operation_extract() -> Response:
    """POST /QuestionnaireResponse/$extract"""
    return fhir_response(extract(read_resource()))


#: The route that answers what FHIR clients' `create()` / `save()` do with a response.
NOT_STORED_ENDPOINT = "operations.responses_not_stored"
_NOT_STORED = (
    "This service stores no QuestionnaireResponses (it keeps no patient data). POST the "
    "response to QuestionnaireResponse/$validate to check it, to QuestionnaireResponse/$score "
    "to score it, or to QuestionnaireResponse/$extract for Observations to store in your own "
    "FHIR server"
)


@blueprint.route("/QuestionnaireResponse", methods=["GET", "POST"], endpoint="responses_not_stored")
@blueprint.route(
    "/QuestionnaireResponse/<fhir_id:resource_id>",  # an id: `$score` is an operation's path
    methods=["GET", "PUT", "DELETE"],
    endpoint="responses_not_stored",
)
@requires(*_SCOPE)  # a 405 saying which operation to call
def responses_not_stored(resource_id: str = "") -> Response:
    """Create, search, read, update or delete a QuestionnaireResponse: 405, and what to call."""
    issue = error(IssueType.NOT_SUPPORTED, _NOT_STORED)
    # RFC 9110 §15.5.6: Allow names what the target supports. Every method is named here and
    # the app's Allow hook keeps those that work, which for a stored response is OPTIONS.
    allow = "DELETE, GET, HEAD, OPTIONS, POST, PUT"
    return fhir_response(operation_outcome([issue]), 405, {"Allow": allow})
