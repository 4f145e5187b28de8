"""The portal's routes: one function per page, each public (`service.api.scopes.PUBLIC` lists
them: they show only the catalogue, and compute in-process what is posted to them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from flask import Blueprint, Response, render_template, request

from service.api.http import base_url, catalog
from service.api.operations import run_operation
from service.errors import RapportError, ResourceNotFound
from service.fhir import jsonio
from service.fhir.errors import status_of
from service.fhir.outcome import operation_outcome
from service.portal import catalogue
from service.portal.catalogue import Instrument
from service.portal.form import EXAMPLE_SUBJECT, fields_of, response_from_form
from service.response import score_response

__all__ = ["CONTENT_SECURITY_POLICY", "blueprint"]

blueprint = Blueprint(
    "portal",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/portal/static",
)

#: No inline script or style, nothing from another origin; Swagger UI's icons are data: SVGs.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_STATUSES: Final = ("completed", "in-progress")


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation's answer, as the API would send it: status, resource, and a curl command."""

    name: str
    status: int
    resource: dict[str, Any]
    curl: str

    @property
    def json(self) -> str:
        """The resource as the page shows it: indented FHIR JSON."""
        return jsonio.dumps(self.resource, pretty=True).decode()


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One score as the results table shows it."""

    link_id: str
    text: str
    value: str
    band: str
    band_code: str
    flag: bool  # a boolean score that is true: a flag for the clinician


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _instrument(questionnaire_id: str) -> Instrument:
    served = catalog()
    entry = served.get("Questionnaire", questionnaire_id)
    found = catalogue.instrument(served, entry) if entry is not None else None
    if found is None:
        raise ResourceNotFound(f"No Questionnaire {questionnaire_id[:64]!r} in the catalogue")
    return found


@blueprint.get("/")
def home() -> str:
    """The catalogue: every Questionnaire served, with its scores and links."""
    return render_template("portal/home.html", instruments=catalogue.instruments(catalog()))


@blueprint.get("/instruments/<questionnaire_id>")
def instrument(questionnaire_id: str) -> str:
    """An instrument as a form."""
    found = _instrument(questionnaire_id)
    fields = fields_of(found.compiled.questionnaire.get("item") or [])
    return render_template(
        "portal/instrument.html", instrument=found, fields=fields, subject=EXAMPLE_SUBJECT
    )


@blueprint.post("/instruments/<questionnaire_id>")
def submit(questionnaire_id: str) -> str:
    """Score a filled form as the API would; store nothing, and show every result."""
    found = _instrument(questionnaire_id)
    status = request.form.get("status", "completed")
    response = response_from_form(
        found.compiled.questionnaire,
        request.form.to_dict(flat=False),
        status if status in _STATUSES else "completed",
    )
    operations = [_operation(name, response) for name in ("$validate", "$score", "$extract")]
    issues = operations[0].resource.get("issue", [])
    fields = fields_of(found.compiled.questionnaire.get("item") or [])
    return render_template(
        "portal/instrument.html",
        instrument=found,
        fields=fields,
        submitted=request.form,
        subject=request.form.get("subject", ""),
        rows=_rows(found, response),
        issues=issues,
        response=jsonio.dumps(response, pretty=True).decode(),
        operations=operations,
    )


@blueprint.get("/docs")
def docs() -> str:
    """The OpenAPI description in Swagger UI, served from this process."""
    return render_template("portal/docs.html")


def _operation(name: str, response: dict[str, Any]) -> Operation:
    try:
        status, result = 200, run_operation(name, response)
    except RapportError as exc:  # what the API's error handler would answer
        status, result = status_of(exc), operation_outcome(exc.issues)
    return Operation(name, status, result, _curl(name))


def _curl(name: str) -> str:
    # Single quotes: `$score` stays literal in the shell.
    return (
        f"curl -sS -X POST '{base_url()}/QuestionnaireResponse/{name}' "
        "-H 'Content-Type: application/fhir+json' --data-binary @response.json"
    )


def _rows(found: Instrument, response: dict[str, Any]) -> list[ScoreRow]:
    """The scores by linkId, from `score_response` (what `$score` runs; its Parameters name
    scores by code alone, and a table needs the item)."""
    try:
        result = score_response(found.compiled, response)
    except RapportError:
        return []  # $score's answer (shown beside) says why
    texts = {score.link_id: score.text for score in found.scores}
    rows = []
    for score in result.scores:
        value = score.value
        if value is None:
            shown = "not computed"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = _number(value)
        interpretation = score.interpretation or {}
        rows.append(
            ScoreRow(
                score.link_id,
                texts.get(score.link_id, ""),
                shown,
                str(interpretation.get("display", "")),
                str(interpretation.get("code", "")),
                value is True,
            )
        )
    return rows


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
