"""What the server says about itself: the CapabilityStatement and its OperationDefinitions.

Both are built from the same tables the API routes use, so they list exactly what is
implemented (a test compares them with the app's routes).
"""

from __future__ import annotations

from typing import Any

from service.fhir.search import SEARCH_PARAMETERS, SORT_KEYS

__all__ = ["BASE", "OPERATIONS", "capability_statement", "operation_definitions"]

BASE = "https://rapport-fhir.github.io/fhir"
SOFTWARE_VERSION = "0.1.0"
DATE = "2026-11-25"

_SEARCH_DEFINITIONS = {
    "_id": "http://hl7.org/fhir/SearchParameter/Resource-id",
    "url": "http://hl7.org/fhir/SearchParameter/conformance-url",
    "version": "http://hl7.org/fhir/SearchParameter/conformance-version",
    "name": "http://hl7.org/fhir/SearchParameter/conformance-name",
    "title": "http://hl7.org/fhir/SearchParameter/conformance-title",
    "status": "http://hl7.org/fhir/SearchParameter/conformance-status",
    "code": "http://hl7.org/fhir/SearchParameter/Questionnaire-code",
    "publisher": "http://hl7.org/fhir/SearchParameter/conformance-publisher",
}


def _param(
    name: str, use: str, card: str, kind: str | None, doc: str, **extra: Any
) -> dict[str, Any]:
    low, _, high = card.partition("..")
    param: dict[str, Any] = {"name": name, "use": use, "min": int(low), "max": high}
    if kind:
        param["type"] = kind
    param["documentation"] = doc
    param.update(extra)
    return param


_QR_IN = _param(
    "questionnaire-response",
    "in",
    "0..1",
    "QuestionnaireResponse",
    "The response (or post the QuestionnaireResponse itself as the body)",
)
_Q_IN = _param(
    "questionnaire",
    "in",
    "0..1",
    "Questionnaire",
    "The Questionnaire to use instead of resolving QuestionnaireResponse.questionnaire",
)
_BASELINE_IN = _param(
    "baseline",
    "in",
    "0..1",
    "QuestionnaireResponse",
    "An earlier response to the same Questionnaire (url) and subject, authored no later: "
    "adds each score's change from it (422 when not comparable). Nothing is stored",
)

_QUESTIONNAIRE_OUT = _param(
    "questionnaire", "out", "0..1", "canonical", "url|version of the Questionnaire that scored"
)
_CHANGE_OUT = _param(
    "change", "out", "0..*", None, "With a baseline: one per numeric score both responses have",
    part=[
        _param("code", "out", "1..1", "Coding", "What was scored"),
        _param("baseline", "out", "1..1", "decimal", "The baseline's value"),
        _param("value", "out", "1..1", "decimal", "The response's value"),
        _param("change", "out", "1..1", "decimal", "value - baseline"),
        _param("percentChange", "out", "0..1", "decimal", "100 * change / baseline, to 0.1"),
        _param(
            "outcome", "out", "0..*", None, "A remission/response rule the content cites",
            part=[
                _param("code", "out", "1..1", "Coding", "The rule (rapport-scores)"),
                _param("value", "out", "1..1", "boolean", "Met"),
            ],
        ),
    ],
)  # fmt: skip
_PROVENANCE_OUT = _param(
    "provenance", "out", "1..1", None, "What produced the numbers",
    part=[
        _param("engine", "out", "1..1", "string", "Rapport and its version"),
        _param("expressions", "out", "1..1", "string", "sha256: of the scoring content"),
    ],
)  # fmt: skip

#: id → (code, name, title, base definition or None, description, parameters)
OPERATIONS: dict[str, dict[str, Any]] = {
    "QuestionnaireResponse-validate": {
        "code": "validate",
        "name": "Validate",
        "title": "Validate a QuestionnaireResponse against its Questionnaire",
        "base": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
        "description": (
            "Checks structure, linkIds, answer types and options, required items and "
            "enableWhen. Always 200 with an OperationOutcome listing every issue; 4xx only "
            "when validation could not run."
        ),
        "parameter": [
            _param("resource", "in", "0..1", "Resource", "The response (or post it as the body)"),
            _param("return", "out", "1..1", "OperationOutcome", "All issues found"),
        ],
    },
    "QuestionnaireResponse-score": {
        "code": "score",
        "name": "Score",
        "title": "Score a QuestionnaireResponse from its Questionnaire's own expressions",
        "base": None,
        "description": (
            "Re-computes every calculated item server-side, with the Questionnaire version the "
            "response names (refused if not served), else the current one, and says which. "
            "A positive safety item is a warning in `issues`. 422 with an OperationOutcome "
            "when the response (or the baseline) has errors."
        ),
        "parameter": [
            _QR_IN,
            _Q_IN,
            _BASELINE_IN,
            _param("response", "out", "1..1", "QuestionnaireResponse", "Scores filled in"),
            _QUESTIONNAIRE_OUT,
            _param(
                "score",
                "out",
                "0..*",
                None,
                "One per score",
                part=[
                    _param("code", "out", "1..1", "Coding", "What was scored"),
                    _param("value", "out", "1..1", "decimal", "The value (boolean for flags)"),
                    _param("interpretation", "out", "0..1", "Coding", "The published band"),
                ],
            ),
            _CHANGE_OUT,
            _PROVENANCE_OUT,
            _param("issues", "out", "0..1", "OperationOutcome", "Warnings (safety items too)"),
        ],
    },
    "QuestionnaireResponse-extract": {
        "code": "extract",
        "name": "Extract",
        "title": "Extract Observations from a QuestionnaireResponse (SDC observation-based)",
        "base": "http://hl7.org/fhir/uv/sdc/OperationDefinition/QuestionnaireResponse-extract",
        "description": (
            "A transaction Bundle of Observations, one per score (US Core 6.1.0 Observation "
            "Screening Assessment unless RAPPORT_US_CORE=off), with deterministic "
            "identifiers, each a conditional update (PUT Observation?identifier=...): a "
            "re-sent response never creates duplicates, an amended one updates them. With a "
            "baseline, an Observation per score's change; a Flag per positive safety item; "
            "and a Provenance (PUT Provenance?_tag=...) naming the Questionnaire url|version, "
            "the engine and a digest of the scoring content."
        ),
        "parameter": [
            _QR_IN,
            _Q_IN,
            _BASELINE_IN,
            _param("return", "out", "1..1", "Bundle", "Observations, Flags, a Provenance"),
        ],
    },
}


def operation_definitions() -> dict[str, dict[str, Any]]:
    """Our OperationDefinitions by id."""
    found = {}
    for op_id, spec in OPERATIONS.items():
        definition: dict[str, Any] = {
            "resourceType": "OperationDefinition",
            "id": op_id,
            "url": f"{BASE}/OperationDefinition/{op_id}",
            "version": SOFTWARE_VERSION,
            "name": spec["name"],
            "title": spec["title"],
            "status": "active",
            "kind": "operation",
            "date": DATE,
            "publisher": "Rapport",
            "description": spec["description"],
            "affectsState": False,
            "code": spec["code"],
            "resource": ["QuestionnaireResponse"],
            "system": False,
            "type": True,
            "instance": False,
            "parameter": spec["parameter"],
        }
        if spec["base"]:
            definition["base"] = spec["base"]
        found[op_id] = definition
    return found


#: What the site catalogue adds when Redis is configured (RAPPORT_REDIS_URL).
_SITE_INTERACTIONS = ("vread", "update", "delete", "history-instance", "create")


def _questionnaire_resource(site_writes: bool) -> dict[str, Any]:
    params = []
    for name, kind in SEARCH_PARAMETERS.items():
        param: dict[str, Any] = {"name": name, "type": kind}
        if name in _SEARCH_DEFINITIONS:
            param["definition"] = _SEARCH_DEFINITIONS[name]
        if name == "experimental":
            param["documentation"] = "Questionnaire.experimental (true or false)"
        if name == "code":
            param["documentation"] = "Questionnaire.code and Questionnaire.item.code"
        params.append(param)
    params.append(
        {
            "name": "_sort",
            "type": "special",
            "documentation": (
                f"Sort by {', '.join(SORT_KEYS)}: comma-separated, '-' for descending; "
                "an entry without the element comes last"
            ),
        }
    )
    interactions = ["read", *(_SITE_INTERACTIONS if site_writes else ()), "search-type"]
    resource: dict[str, Any] = {
        "type": "Questionnaire",
        "profile": "http://hl7.org/fhir/StructureDefinition/Questionnaire",
        "supportedProfile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"],
        "documentation": (
            "Shipped instruments are read-only; with Redis a site may add, version and delete "
            "its own (If-Match honoured; PUT without If-Match overwrites, and history keeps "
            "every version)."
            if site_writes
            else "Read-only: set RAPPORT_REDIS_URL to enable the site catalogue's writes."
        ),
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned-update" if site_writes else "versioned",
        "readHistory": site_writes,
        "conditionalRead": "full-support",
        "searchParam": params,
    }
    if site_writes:
        resource["updateCreate"] = True
        resource["conditionalUpdate"] = False
        resource["conditionalDelete"] = "not-supported"
    return resource


SMART_ON_FHIR = {
    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
    "code": "SMART-on-FHIR",
    "display": "SMART-on-FHIR",
}


#: SMART App Launch 1.0's CapabilityStatement extension for the OAuth endpoints (2.x moved
#: them to .well-known/smart-configuration, which we serve too; clients still read this).
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _security(smart: bool, cors: bool, token_url: str) -> dict[str, Any]:
    """rest.security: SMART Backend Services bearer tokens, or open (development mode)."""
    if not smart:
        return {
            "cors": cors,
            "description": "Open: no authentication (development mode). Do not serve PHI.",
        }
    security: dict[str, Any] = {}
    if token_url:
        uris = [{"url": "token", "valueUri": token_url}]
        security["extension"] = [{"url": OAUTH_URIS, "extension": uris}]
    security.update(
        {
            "cors": cors,
            "service": [{"coding": [SMART_ON_FHIR], "text": "SMART Backend Services"}],
            "description": (
                "Every request except metadata and .well-known/smart-configuration needs "
                "`Authorization: Bearer <JWT>` from the site's authorisation server (RS256, "
                "RS384, ES256 or ES384; `iss` and `aud` checked). Scopes, SMART v1 or v2 "
                "syntax: `system/Questionnaire.r` to read (CodeSystem and OperationDefinition "
                "too), `.s` to search, `.c`/`.u`/`.d` to write the site catalogue; "
                "`system/QuestionnaireResponse.r` or `.c` for $validate, $score, $extract and "
                "batch; `system/*.*` for everything."
            ),
        }
    )
    return security


def _implementation(url: str | None) -> dict[str, Any]:
    # Only a configured RAPPORT_BASE_URL is claimed: the statement is built once, before any
    # request says which host this instance answers on.
    return {"description": "Rapport", "url": url} if url else {"description": "Rapport"}


def _results(*, us_core: bool, safety_flags: bool) -> str:
    """What $extract's transaction holds, as this site is set up."""
    observations = (
        "US Core 6.1.0 Observation Screening Assessment Observations"
        if us_core
        else "Observations (no profile claimed)"
    )
    flags = ", a Flag per positive safety item" if safety_flags else ""
    return (
        f"$extract returns {observations}{flags} and a Provenance; with a `baseline` "
        "parameter, $score and $extract add each score's change from it."
    )


def _read_only(resource_type: str) -> dict[str, Any]:
    # Reads answer If-None-Match and If-Modified-Since with 304, as Questionnaire reads do.
    return {
        "type": resource_type,
        "interaction": [{"code": "read"}],
        "conditionalRead": "full-support",
    }


def capability_statement(
    *,
    batch_max_entries: int,
    implementation_url: str | None,
    site_writes: bool = False,
    smart: bool = False,
    cors: bool = False,
    token_url: str = "",
    us_core: bool = True,
    safety_flags: bool = True,
) -> dict[str, Any]:
    """The CapabilityStatement: exactly what the routes implement (writes only with Redis)."""
    operations = [
        {"name": spec["code"], "definition": f"{BASE}/OperationDefinition/{op_id}"}
        for op_id, spec in OPERATIONS.items()
    ]
    return {
        "resourceType": "CapabilityStatement",
        "id": "rapport",
        "url": f"{BASE}/CapabilityStatement/rapport",
        "version": SOFTWARE_VERSION,
        "name": "Rapport",
        "title": "Rapport FHIR server",
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": "Rapport",
        "description": "Publishes, validates and scores alliance, rapport, psychedelic-"
        "experience and outcome instruments as SDC Questionnaires.",
        "kind": "instance",
        "software": {"name": "Rapport", "version": SOFTWARE_VERSION},
        "implementation": _implementation(implementation_url),
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": _security(smart, cors, token_url),
                "documentation": (
                    f"Batch Bundles of up to {batch_max_entries} entries may invoke "
                    "QuestionnaireResponse $validate, $score and $extract. "
                    + _results(us_core=us_core, safety_flags=safety_flags)
                ),
                "resource": [
                    _questionnaire_resource(site_writes),
                    {"type": "QuestionnaireResponse", "operation": operations},
                    _read_only("CodeSystem"),
                    _read_only("OperationDefinition"),
                ],
                "interaction": [
                    {
                        "code": "batch",
                        "documentation": f"At most {batch_max_entries} entries per Bundle",
                    }
                ],
            }
        ],
    }
