"""Reads and searches of the catalogue: Questionnaire, CodeSystem, and our conformance resources.

Also what any FHIR URL allows in the current mode: the `Allow` of a 405 and the answer to
OPTIONS name only the methods that work (the site catalogue's need Redis).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.api.http import (
    Published,
    base_url,
    catalog,
    conditional_read,
    fhir_response,
    preference,
    state,
)
from service.api.operations import NOT_STORED_ENDPOINT
from service.api.scopes import requires
from service.errors import ResourceNotFound
from service.fhir import jsonio
from service.fhir.bundle import searchset
from service.fhir.outcome import operation_outcome
from service.fhir.search import parse_search, parse_subset, subset

__all__ = ["blueprint"]

blueprint = Blueprint("resources", __name__)


def _not_found(resource_type: str, resource_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"{resource_type}/{resource_id[:64]} is not known to this server")


@blueprint.get("/metadata")
def metadata() -> Response:
    """The CapabilityStatement."""
    return conditional_read(state().conformance.capability)


# CodeSystem and OperationDefinition reads are part of reading the catalogue, so Questionnaire
# read grants them; their own type's read does too.
@blueprint.get("/OperationDefinition/<path:op_id>")
@requires("Questionnaire.r", "OperationDefinition.r")
def read_operation_definition(op_id: str) -> Response:
    """One of our OperationDefinitions."""
    published = state().conformance.operations.get(op_id)
    if published is None:
        raise _not_found("OperationDefinition", op_id)
    return conditional_read(published)


@blueprint.get("/Questionnaire/<path:resource_id>")
@requires("Questionnaire.r")
def read_questionnaire(resource_id: str) -> Response:
    """Read a Questionnaire, with ETag / Last-Modified and conditional 304s."""
    return _read("Questionnaire", resource_id)


@blueprint.get("/CodeSystem/<path:resource_id>")
@requires("Questionnaire.r", "CodeSystem.r")
def read_code_system(resource_id: str) -> Response:
    """Read one of the project's CodeSystems."""
    return _read("CodeSystem", resource_id)


def _read(resource_type: str, resource_id: str) -> Response:
    summary, elements = parse_subset(request.args)
    entry = catalog().get(resource_type, resource_id)
    if entry is None:
        # FHIR http.html#read: a deleted resource is 410 Gone, an unknown one 404.
        gone = state().site.gone(resource_id) if resource_type == "Questionnaire" else None
        raise gone or _not_found(resource_type, resource_id)
    shaped = subset(entry.resource, summary=summary, elements=elements)
    if shaped is entry.resource:  # nothing left out: the stored bytes
        return conditional_read(entry)
    # The ETag stays the version's: a subset is a view of that version (http.html#read).
    body = jsonio.dumps(shaped)
    return conditional_read(Published(body, entry.version_id, entry.last_updated))


@blueprint.get("/Questionnaire")
@requires("Questionnaire.s")
def search_questionnaires() -> Response:
    """Search the catalogue; a Bundle searchset with paging links."""
    settings = state().settings
    query = parse_search(
        list(request.args.items(multi=True)),
        page_size=settings.page_size,
        max_page_size=settings.max_page_size,
        strict=preference("handling") == "strict",
    )
    found = query.ordered([e for e in catalog().questionnaires() if query.matches(e)])
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
    if query.sort:
        echoed.append(("_sort", ",".join(query.sort)))
    if query.summary:
        echoed.append(("_summary", query.summary))
    if query.elements:
        echoed.append(("_elements", ",".join(query.elements)))
    return echoed


def _allowed_methods(path: str) -> list[str]:
    """The methods that work on `path` in the current mode (writes need the site store)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    site = state().site
    writable = site.store.writable
    methods = {"OPTIONS"}
    for method in adapter.allowed_methods(path):
        try:
            endpoint, args = adapter.match(path, method)
        except HTTPException:
            continue
        # A `path:` id holding a '/' is no FHIR id (`Questionnaire/x/_history` under PUT).
        if any("/" in str(value) for value in args.values()):
            continue
        if endpoint == NOT_STORED_ENDPOINT:  # a route only to say why not, and what instead
            continue
        # The writes blueprint answers 405 in the embedded mode (service/api/writes.py).
        if not str(endpoint).startswith("writes.") or (
            writable and not (method in {"PUT", "DELETE"} and site.shipped(args["resource_id"]))
        ):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@blueprint.after_app_request
def _allow(response: Response) -> Response:
    # RFC 9110 §10.2.1: Allow lists what the target supports. Werkzeug's routing lists every
    # method with a route; Allow here never names one that does not work in this mode. FHIR
    # gives OPTIONS no meaning (capabilities are /metadata): an empty 204 naming the methods.
    req = request._get_current_object()  # type: ignore[attr-defined]
    path = req.path
    if path != "/fhir" and not path.startswith("/fhir/"):
        return response
    if isinstance(req.routing_exception, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(_allowed_methods(path))
    elif response.status_code == 405 and "Allow" in response.headers:
        # A view's own 405 names the methods of its resource: keep those that work here.
        works = _allowed_methods(path)
        named = [method.strip() for method in response.headers["Allow"].split(",")]
        response.headers["Allow"] = ", ".join(method for method in named if method in works)
    elif req.method == "OPTIONS" and response.status_code in {200, 204}:
        response.status_code = 204
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
        response.headers["Allow"] = ", ".join(_allowed_methods(path))
    return response
