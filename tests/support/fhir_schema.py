"""Check resources against HL7's own FHIR R4 (4.0.1) JSON Schema, independently of the service.

The schema cannot say that a 1..1 primitive (Observation.status) must be there, because its
`_status` sibling may stand in for it; `REQUIRED_PRIMITIVES` adds those rules, from the R4
cardinalities, for the resources Rapport reads and writes. See tests/data/README.md.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError

__all__ = [
    "REQUIRED_PRIMITIVES",
    "SCHEMA_PATH",
    "resource_types",
    "validate_bundle",
    "validate_r4",
]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "fhir.r4.schema.json.gz"
SCHEMA_ID = "http://hl7.org/fhir/json-schema/4.0"
_MARK = "rapport-required-primitive"

# Schema definition -> its 1..1 primitive elements (R4 4.0.1 cardinalities).
REQUIRED_PRIMITIVES: Mapping[str, tuple[str, ...]] = {
    "Bundle": ("type",),
    "Bundle_Link": ("relation", "url"),
    "Bundle_Request": ("method", "url"),
    "Bundle_Response": ("status",),
    "CapabilityStatement": ("status", "date", "kind", "fhirVersion", "format"),
    "CapabilityStatement_Interaction": ("code",),
    "CapabilityStatement_Interaction1": ("code",),
    "CapabilityStatement_Operation": ("name",),
    "CapabilityStatement_Resource": ("type",),
    "CapabilityStatement_Rest": ("mode",),
    "CapabilityStatement_SearchParam": ("name", "type"),
    "CodeSystem": ("status", "content"),
    "CodeSystem_Concept": ("code",),
    "CodeSystem_Designation": ("value",),
    "CodeSystem_Property": ("code", "type"),
    "CodeSystem_Property1": ("code",),
    "Device_DeviceName": ("name", "type"),
    "Device_Version": ("value",),
    "Extension": ("url",),
    "Flag": ("status",),
    "Observation": ("status",),
    "OperationDefinition": ("name", "status", "kind", "code", "system", "type", "instance"),
    "OperationDefinition_Binding": ("strength",),
    "OperationDefinition_Parameter": ("name", "use", "min", "max"),
    "OperationOutcome_Issue": ("severity", "code"),
    "Parameters_Parameter": ("name",),
    "Provenance": ("recorded",),
    "Provenance_Entity": ("role",),
    "Questionnaire": ("status",),
    "Questionnaire_EnableWhen": ("question", "operator"),
    "Questionnaire_Item": ("linkId", "type"),
    "QuestionnaireResponse": ("status",),
    "QuestionnaireResponse_Item": ("linkId",),
}


def validate_r4(resource: object) -> list[str]:
    """What makes `resource` invalid R4 JSON, as "Type.path[0].element: why"; [] if valid."""
    if not isinstance(resource, dict):
        return [f"(root): a resource is a JSON object, not {type(resource).__name__}"]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return ["(root): resourceType is missing or not a string"]
    if resource_type not in resource_types():
        return [f"resourceType: {resource_type!r} is not an R4 resource type"]
    errors = _validator(resource_type).iter_errors(resource)
    return sorted(_describe(resource_type, leaf) for leaf in _leaves(errors))


def validate_bundle(bundle: dict[str, Any]) -> list[str]:
    """validate_r4 for a Bundle, its entries' resources one by one: the same verdict, but the
    schema's `oneOf` over every resource type makes a whole Bundle take seconds."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return validate_r4(bundle)
    shell = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in entries]}
    found = validate_r4(shell)
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is not None:
            found.extend(f"entry[{index}].{error}" for error in validate_r4(resource))
    return found


@cache
def resource_types() -> frozenset[str]:
    """Every R4 resource type the schema knows."""
    return frozenset(_schema()["discriminator"]["mapping"])


@cache
def _schema() -> dict[str, Any]:
    """The vendored schema with the required-primitive rules added, loaded once."""
    with gzip.open(SCHEMA_PATH, "rb") as file:
        schema: dict[str, Any] = json.load(file)
    if schema.get("id") != SCHEMA_ID:
        raise ValueError(f"{SCHEMA_PATH} is not the R4 schema: id {schema.get('id')!r}")
    definitions = schema["definitions"]
    # Erratum: the 4.0.1 schema's FHIRVersion enum stops at 4.0.0, yet R4's own
    # CapabilityStatement must say 4.0.1 (the published R4 value set lists it).
    versions = definitions["CapabilityStatement"]["properties"]["fhirVersion"]
    if "enum" in versions and "4.0.1" not in versions["enum"]:
        versions["enum"].append("4.0.1")
    for name, elements in REQUIRED_PRIMITIVES.items():
        properties = definitions[name]["properties"]  # KeyError: a name no longer in the schema
        rules = [_required_primitive(element) for element in elements if element in properties]
        if len(rules) != len(elements):
            raise ValueError(f"{name} lacks one of {elements} in {SCHEMA_PATH}")
        definitions[name].setdefault("allOf", []).extend(rules)
    Draft6Validator.check_schema(schema)
    return schema


def _required_primitive(element: str) -> dict[str, Any]:
    """The element, or its `_element` extension holder, must be present."""
    return {_MARK: element, "anyOf": [{"required": [element]}, {"required": [f"_{element}"]}]}


@cache
def _validator(resource_type: str) -> Draft6Validator:
    """A validator for one resource type, compiled once (Draft 6 ignores keywords beside $ref)."""
    schema = {**_schema(), "$ref": f"#/definitions/{resource_type}"}
    return Draft6Validator(schema)


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """Replace a failed oneOf over resource types (contained, Bundle.entry) by the real errors."""
    for error in errors:
        instance = error.instance
        if error.validator == "oneOf" and isinstance(instance, dict) and error.context:
            branch = _branch_of(error, instance.get("resourceType"))
            if branch is not None:
                yield from _leaves(e for e in error.context if e.schema_path[0] == branch)
                continue
        yield error


def _branch_of(error: ValidationError, resource_type: object) -> int | None:
    """Index of the oneOf branch for this resource type, if the oneOf is over resource types."""
    target = f"#/definitions/{resource_type}"
    for index, branch in enumerate(error.validator_value):
        if isinstance(branch, dict) and branch.get("$ref") == target:
            return index
    return None


def _describe(resource_type: str, error: ValidationError) -> str:
    """One error as a FHIRPath-like location and a short reason."""
    path = resource_type
    for step in error.absolute_path:
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    if isinstance(error.schema, dict) and _MARK in error.schema:
        reason = f"required element {error.schema[_MARK]!r} is missing"
    elif error.validator in {"anyOf", "oneOf"}:
        reason = f"matches none of the allowed {error.validator} shapes"
    else:
        reason = error.message
    return f"{path}: {reason}"
