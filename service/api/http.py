"""Request and response plumbing shared by the views: bodies in, FHIR JSON out."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, Response, current_app, g, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import http_date, parse_date
from werkzeug.routing import BaseConverter
from werkzeug.sansio.utils import get_current_url
from werkzeug.wsgi import get_input_stream

from service.catalog import CatalogReader, SiteCatalogue
from service.config import Settings
from service.errors import InvalidRequest
from service.fhir import jsonio, r4
from service.fhir.media import FHIR_JSON, check_body_type
from service.fhir.outcome import IssueType

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "Conformance",
    "FhirId",
    "FhirResponse",
    "Published",
    "State",
    "base_url",
    "catalog",
    "conditional_read",
    "fhir_response",
    "read_resource",
    "state",
    "wants_pretty",
]


class FhirId(BaseConverter):
    """`<fhir_id:name>`: a path segment that is an R4 id, so `$operation` segments never are."""

    regex = r4.ID_PATTERN


@dataclass(frozen=True, slots=True)
class Published:
    """A resource ready to serve: its bytes and what conditional reads compare."""

    body: bytes
    version_id: str
    last_updated: datetime

    @classmethod
    def of(cls, resource: Mapping[str, Any], last_updated: datetime) -> Published:
        """Serialise once; the version id is a hash of the content."""
        body = jsonio.dumps(resource)
        return cls(body, hashlib.sha256(body).hexdigest()[:16], last_updated)


@dataclass(slots=True)
class Conformance:
    """The CapabilityStatement and OperationDefinitions, serialised once."""

    capability: Published
    operations: dict[str, Published]


@dataclass(frozen=True, slots=True)
class State:
    """What the views need from the app: settings, the site catalogue, the conformance
    resources. Set once by `create_app` and never written after: what a request serves is
    its own (`catalog()`, in flask.g).

    `site` keeps this worker's catalogue in step with the site store and takes the writes.
    """

    settings: Settings
    conformance: Conformance
    site: SiteCatalogue


def state(app: Flask | None = None) -> State:
    """The one accessor for the app's Rapport state."""
    # Through `_get_current_object`: an attribute read through the proxy costs a call more.
    found: State = (app or current_app._get_current_object()).extensions["rapport"]  # type: ignore[attr-defined]
    return found


_CATALOG = "rapport_catalog"  # in flask.g: the catalogue this request is served from


def catalog() -> CatalogReader:
    """The catalogue this request is served from: the worker's current one, taken once per
    request (api/site.py takes it before the views run), so one request never sees two."""
    ctx = g._get_current_object()
    found: CatalogReader | None = ctx.get(_CATALOG)
    if found is None:
        found = state().site.serving()
        setattr(ctx, _CATALOG, found)
    return found


def base_url() -> str:
    """The public base of the FHIR API: the setting, else what this request came in on."""
    configured = state().settings.base_url
    if configured:
        return configured.rstrip("/")
    req = request._get_current_object()  # type: ignore[attr-defined]
    return _fhir_base(req.scheme, req.host, req.root_path)


@functools.lru_cache(maxsize=64)
def _fhir_base(scheme: str, host: str, root_path: str) -> str:
    # `request.url_root` quotes the URL and decodes it again on every request, and a
    # worker sees few distinct hosts (bounded: the Host header is the client's to choose).
    return get_current_url(scheme, host, root_path).rstrip("/") + "/fhir"


def wants_pretty() -> bool:
    """`_pretty=true` asks for indented JSON."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if not req.environ.get("QUERY_STRING"):
        return False  # the common case: no query string to parse
    pretty: str = req.args.get("_pretty", "")
    return pretty.lower() == "true"


class FhirResponse(Response):
    """A Response that skips werkzeug's last fixes to an answer when none of them applies.

    Before answering, werkzeug copies the headers (checking each value again) to make a
    Location absolute, drop the body of a HEAD, 1xx, 204 or 304 answer or count a missing
    Content-Length, and wraps the body in an iterator that runs the close callbacks. A
    buffered body whose Content-Length is set, with no Location, nothing to run on close
    and a status that carries a body, needs none of it: werkzeug would send the same status,
    header list and bytes (tests/api/test_request_path.py compares them).
    """

    def get_wsgi_response(
        self, environ: WSGIEnvironment
    ) -> tuple[Iterable[bytes], str, list[tuple[str, str]]]:
        """As werkzeug's, without the copy and the wrapper when the answer needs neither."""
        body = self.response
        status = self.status_code
        plain = (
            type(body) is list
            and len(body) == 1
            and type(body[0]) is bytes
            and not self._on_close
            and not self.direct_passthrough
            and status >= 200  # 1xx, 204 and 304 answers carry no body
            and status not in {204, 304}
            and environ["REQUEST_METHOD"] != "HEAD"
        )
        if plain and _length_only(self.headers):
            chunks: list[bytes] = body  # type: ignore[assignment]  # one bytes chunk, tested above
            return chunks, self.status, self.headers.to_wsgi_list()
        return super().get_wsgi_response(environ)

    @classmethod
    def fhir_json(cls, data: bytes, status: int) -> FhirResponse:
        """`FhirResponse(data, status=status, content_type=FHIR_JSON)`: the same attributes
        and header list, without parsing the status and checking the two constant header
        values again on every answer (tests/api/test_request_path.py compares the two)."""
        made = cls.__new__(cls)
        made.headers = headers = Headers()
        # What `Headers.add` would append for each, after checking the values.
        headers._list = [("Content-Type", FHIR_JSON), ("Content-Length", str(len(data)))]
        made._status, made._status_code = _status_line(status)
        made.direct_passthrough = False
        made._on_close = []
        made.response = [data]
        return made


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> tuple[str, int]:
    """The status text and code werkzeug makes of `status` (a Response's `_clean_status`)."""
    made = Response(status=status)
    return made.status, made.status_code


#: Headers werkzeug rewrites when it answers (`get_wsgi_headers`).
_REWRITTEN = frozenset({"location", "content-location"})


def _length_only(headers: Headers) -> bool:
    """Whether `headers` set Content-Length and nothing werkzeug rewrites."""
    length = False
    for key, _ in headers:
        lowered = key.lower()
        if lowered in _REWRITTEN:
            return False
        length = length or lowered == "content-length"
    return length


def fhir_response(
    body: Mapping[str, Any] | bytes,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A FHIR JSON response; pre-serialised bytes pass through unless `_pretty` asks otherwise."""
    if isinstance(body, bytes):
        data = jsonio.dumps(jsonio.loads(body), pretty=True) if wants_pretty() else body
    else:
        data = jsonio.dumps(body, pretty=wants_pretty())
    response = FhirResponse.fhir_json(data, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def preference(name: str) -> str | None:
    """What the request's Prefer headers (RFC 7240) say of `name`, in lower case ('' for the
    bare token), or None; `return=OperationOutcome, handling=strict` names two."""
    for header in request.headers.getlist("Prefer"):
        for item in header.split(","):
            token, _, value = item.split(";", 1)[0].partition("=")
            if token.strip().lower() == name:
                return value.strip().strip('"').lower()
    return None


def accepted_once(check: Callable[[str | None], object]) -> Callable[[str | None], bool]:
    """`check` of a request header's value (which raises to refuse it), run once per value
    it accepts: a worker sees few distinct values, each the client's to choose, so at most
    64 are kept; a refused value is never kept and is refused again each time."""

    @functools.lru_cache(maxsize=64)
    def accepted(value: str | None) -> bool:
        check(value)
        return True

    return accepted


_body_type_ok = accepted_once(check_body_type)


def read_resource() -> dict[str, Any]:
    """The request body as FHIR JSON: media type checked (415), size bounded (413), parsed (400)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    _body_type_ok(req.environ.get("CONTENT_TYPE"))  # `req.headers.get("Content-Type")`
    body = _read_body(req.environ, state().settings.max_body_bytes)
    if not body or body.isspace():  # (`strip` would copy the body to say the same)
        raise InvalidRequest("The request has no body", issue_type=IssueType.REQUIRED)
    value = jsonio.loads(body)
    if not isinstance(value, dict):
        raise InvalidRequest(
            "The body must be a JSON object (a FHIR resource)", issue_type=IssueType.STRUCTURE
        )
    return value


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    # Werkzeug caps a body without Content-Length (chunked) at MAX_CONTENT_LENGTH by stopping
    # there and returning what it has: a truncated body that may still parse. Reading one
    # byte past the limit tells "over the limit" from "exactly at it".
    stream = get_input_stream(environ, max_content_length=limit + 1)
    body = stream.read()
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _etag_matches(header: str, version_id: str) -> bool:
    # If-None-Match uses weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    tags = (tag.strip() for tag in header.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == f'"{version_id}"' for tag in tags)


class Readable(Protocol):
    """Anything served by a read: a Published resource or a catalogue entry."""

    @property
    def body(self) -> bytes: ...
    @property
    def version_id(self) -> str: ...
    @property
    def last_updated(self) -> datetime: ...


def conditional_read(published: Readable) -> Response:
    """200 with ETag and Last-Modified, or 304 when If-None-Match / If-Modified-Since say so."""
    headers = {
        "ETag": f'W/"{published.version_id}"',
        "Last-Modified": http_date(published.last_updated),
        "Cache-Control": "no-cache",
    }
    none_match = request.headers.get("If-None-Match")
    if none_match is not None:
        fresh = _etag_matches(none_match, published.version_id)
    else:
        since = parse_date(request.headers.get("If-Modified-Since"))
        fresh = since is not None and published.last_updated.replace(microsecond=0) <= since
    if fresh:
        response = Response(status=304)
        response.headers.update(headers)
        return response
    return fhir_response(published.body, headers=headers)
