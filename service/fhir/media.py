"""Media types: what we answer (FHIR JSON) and what we accept, per FHIR's http.html#mime-type."""

from __future__ import annotations

from service.errors import NotAcceptable, UnsupportedMediaType

__all__ = ["FHIR_JSON", "check_body_type", "negotiate"]

FHIR_JSON = "application/fhir+json; charset=utf-8"

_JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
_ACCEPTABLE = _JSON_TYPES | {"*/*", "application/*"}
#: What `_format` may name: the JSON media types, or FHIR's short form (http.html#mime-type).
_FORMATS = _JSON_TYPES | {"json"}
_FHIR_VERSIONS = frozenset({"4.0", "4.0.1"})


def _params(media_type: str) -> tuple[str, dict[str, str]]:
    kind, *rest = media_type.split(";")
    params: dict[str, str] = {}
    for param in rest:
        key, _, value = param.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _speaks(kind: str, params: dict[str, str], kinds: frozenset[str]) -> bool:
    """True when `kind` is one we produce and its fhirVersion (if any) is R4's."""
    version = params.get("fhirversion")
    return kind in kinds and (version is None or version in _FHIR_VERSIONS)


def negotiate(accept: str | None, fmt: str | None) -> None:
    """Check that the client accepts FHIR JSON (`_format` wins over `Accept`), else 406."""
    if fmt is not None and fmt.strip():
        kind, params = _params(fmt)
        # An unencoded '+' in the query string arrives as a space: application/fhir json.
        if not _speaks(kind.replace(" ", "+"), params, _FORMATS):
            raise NotAcceptable(f"_format '{fmt[:60]}' is not supported; this server speaks JSON")
        return
    if not accept:
        return
    for entry in accept.split(","):
        kind, params = _params(entry)
        try:
            if float(params.get("q", "1")) <= 0:
                continue
        except ValueError:
            continue
        if _speaks(kind, params, _ACCEPTABLE):
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
