"""Operational endpoints: liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response

from service.api.http import catalog, fhir_response, state
from service.config import HOME
from service.errors import ResourceNotFound, ServiceUnavailable
from service.fhir.outcome import Issue, IssueSeverity, IssueType, operation_outcome

__all__ = ["OPENAPI", "blueprint"]

blueprint = Blueprint("ops", __name__)

OPENAPI = HOME / "openapi.yaml"


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering."""
    return fhir_response(operation_outcome([]))


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready: the catalogue is loaded and, with Redis, the site store answers (else 503)."""
    current = state()
    problem = current.site.store.problem()
    if problem is not None:
        raise ServiceUnavailable(f"Not ready: {problem}; reads and scoring go on, writes wait")
    count = len(catalog().questionnaires())
    issue = Issue(
        IssueSeverity.INFORMATION,
        IssueType.INFORMATIONAL,
        f"Ready: {count} Questionnaires in the catalogue ({current.site.store.mode} mode)",
    )
    return fhir_response(operation_outcome([issue]))


@blueprint.get("/openapi.yaml")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    if not OPENAPI.is_file():
        raise ResourceNotFound("openapi.yaml is not installed with this copy of the service")
    return Response(OPENAPI.read_bytes(), content_type="application/yaml; charset=utf-8")
