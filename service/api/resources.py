"""Reads and searches of the catalogue: Questionnaire, CodeSystem, and our conformance resources."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from service.api.http import base_url, conditional_read, fhir_response, state
from service.errors import ResourceNotFound
from service.fhir.bundle import searchset
from service.fhir.outcome import operation_outcome
from service.fhir.search import parse_search, subset

__all__ = ["blueprint"]

blueprint = Blueprint("resources", __name__)


def _not_found(resource_type: str, resource_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"{resource_type}/{resource_id[:64]} is not known to this server")


@blueprint.get("/metadata")
def metadata() -> Response:
    """The CapabilityStatement."""
    return conditional_read(state().conformance.capability)


@blueprint.get("/OperationDefinition/<path:op_id>")
def read_operation_definition(op_id: str) -> Response:
    """One of our OperationDefinitions."""
    published = state().conformance.operations.get(op_id)
    if published is None:
        raise _not_found("OperationDefinition", op_id)
    return conditional_read(published)


@blueprint.get("/Questionnaire/<path:resource_id>")
def read_questionnaire(resource_id: str) -> Response:
    """Read a Questionnaire, with ETag / Last-Modified and conditional 304s."""
    return _read("Questionnaire", resource_id)


@blueprint.get("/CodeSystem/<path:resource_id>")
def read_code_system(resource_id: str) -> Response:
    """Read one of the project's CodeSystems."""
    return _read("CodeSystem", resource_id)


def _read(resource_type: str, resource_id: str) -> Response:
    entry = state().catalog.get(resource_type, resource_id)
    if entry is None:
        raise _not_found(resource_type, resource_id)
    return conditional_read(entry)


@blueprint.get("/Questionnaire")
def search_questionnaires() -> Response:
    """Search the catalogue; a Bundle searchset with paging links."""
    settings = state().settings
    prefer = request.headers.get("Prefer", "")
    query = parse_search(
        list(request.args.items(multi=True)),
        page_size=settings.page_size,
        max_page_size=settings.max_page_size,
        strict="handling=strict" in prefer.replace(" ", "").lower(),
    )
    found = [entry for entry in state().catalog.questionnaires() if query.matches(entry)]
    page: list[Any] = []
    if query.summary != "count":
        chosen = found[query.offset : query.offset + query.count]
        page = [
            subset(entry.resource, summary=query.summary, elements=query.elements)
            for entry in chosen
        ]
    warnings = query.warnings()
    bundle = searchset(
        base=base_url(),
        resource_type="Questionnaire",
        matches=page,
        total=len(found),
        params=_echo(query.canonical_params, query),
        count=query.count,
        offset=query.offset,
        outcome=operation_outcome(warnings) if warnings else None,
    )
    return fhir_response(bundle)


def _echo(params: list[tuple[str, str]], query: Any) -> list[tuple[str, str]]:
    # Links repeat the parameters that were applied, never the ignored ones (search.html#self).
    echoed = list(params)
    if query.summary:
        echoed.append(("_summary", query.summary))
    if query.elements:
        echoed.append(("_elements", ",".join(query.elements)))
    return echoed
