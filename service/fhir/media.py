"""Media types: what we answer (FHIR JSON) and what we accept, per FHIR's http.html#mime-type."""

from __future__ import annotations

from service.errors import NotAcceptable, UnsupportedMediaType

__all__ = ["FHIR_JSON", "check_body_type", "negotiate"]

FHIR_JSON = "application/fhir+json; charset=utf-8"

_JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
_ACCEPTABLE = _JSON_TYPES | {"*/*", "application/*"}
_FORMAT_ALIASES = frozenset({"json", "application/fhir+json", "application/json"})
_FHIR_VERSIONS = frozenset({"4.0", "4.0.1"})


def _params(media_type: str) -> tuple[str, dict[str, str]]:
    kind, *rest = media_type.split(";")
    params: dict[str, str] = {}
    for param in rest:
        key, _, value = param.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def negotiate(accept: str | None, fmt: str | None) -> None:
    """Check that the client accepts FHIR JSON (`_format` wins over `Accept`), else 406."""
    if fmt is not None:
        if fmt.strip().lower() not in _FORMAT_ALIASES:
            raise NotAcceptable(f"_format '{fmt[:60]}' is not supported; this server speaks JSON")
        return
    if not accept:
        return
    for entry in accept.split(","):
        kind, params = _params(entry)
        if kind not in _ACCEPTABLE:
            continue
        try:
            if float(params.get("q", "1")) <= 0:
                continue
        except ValueError:
            continue
        version = params.get("fhirversion")
        if version is not None and version not in _FHIR_VERSIONS:
            continue
        return
    raise NotAcceptable(
        "None of the media types in Accept can be produced; use application/fhir+json "
        "(fhirVersion 4.0)"
    )


def check_body_type(content_type: str | None) -> None:
    """Check a request body's Content-Type is FHIR JSON in UTF-8 and FHIR 4.0, else 415."""
    if not content_type:
        raise UnsupportedMediaType("Content-Type is required: application/fhir+json")
    kind, params = _params(content_type)
    if kind not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type '{kind[:60]}' is not supported; send application/fhir+json"
        )
    charset = params.get("charset", "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise UnsupportedMediaType(f"charset '{charset[:30]}' is not supported; send UTF-8")
    version = params.get("fhirversion")
    if version is not None and version not in _FHIR_VERSIONS:
        raise UnsupportedMediaType(
            f"fhirVersion '{version[:20]}' is not supported; this server speaks FHIR R4 (4.0)"
        )
