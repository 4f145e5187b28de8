"""SDC expression extensions: each FHIRPath expression must parse (and compile) at load."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.fhirpath import (
    FhirPathError,
    UnsupportedRegex,
    called_functions,
    compile_expression,
)
from service.questionnaire.issues import content_error
from service.questionnaire.walk import dicts, link_id_of

__all__ = ["EXPRESSION_EXTENSIONS", "check_expressions", "expression_extensions", "parse_error"]

_SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"
#: Extension url → whether the server evaluates it (then only FHIRPath is acceptable).
EXPRESSION_EXTENSIONS: dict[str, bool] = {
    f"{_SDC}calculatedExpression": True,
    "http://hl7.org/fhir/StructureDefinition/variable": True,
    f"{_SDC}enableWhenExpression": True,
    f"{_SDC}initialExpression": True,
    f"{_SDC}answerExpression": False,
    f"{_SDC}candidateExpression": False,
    f"{_SDC}contextExpression": False,
}
_FHIRPATH = "text/fhirpath"
_FHIR_QUERY = "application/x-fhir-query"


@lru_cache(maxsize=2048)
def parse_error(expression: str) -> str | None:
    """Why an expression does not parse (or compile), else None; cached, as content repeats."""
    failure = _failure(expression)
    return None if failure is None else str(failure)


@lru_cache(maxsize=2048)
def _failure(expression: str) -> FhirPathError | None:
    try:
        compile_expression(expression)
    except FhirPathError as exc:
        return exc
    return None


def check_expressions(resource: dict[str, Any], root: str) -> list[Issue]:
    """Every expression extension, anywhere in the resource, that is malformed or does not parse."""
    issues: list[Issue] = []
    for path, link_id, extension in expression_extensions(resource, root, None):
        evaluated = EXPRESSION_EXTENSIONS.get(str(extension.get("url")))
        if evaluated is not None:
            issues.extend(_check(extension, evaluated, path, link_id))
    return issues


def expression_warnings(resource: dict[str, Any], root: str) -> list[Issue]:
    """What content may do but should not: `trace()`, which here returns its input and
    writes nothing (it would log the response, patient data, in fhirpath.js or fhirpathpy)."""
    warnings: list[Issue] = []
    for path, link_id, extension in expression_extensions(resource, root, None):
        value = extension.get("valueExpression")
        expression = value.get("expression") if isinstance(value, dict) else None
        if not isinstance(expression, str) or _failure(expression) is not None:
            continue
        if "trace" in called_functions(expression):
            text = "trace() writes nothing here (it would log patient data); remove it"
            warnings.append(
                Issue(
                    IssueSeverity.WARNING,
                    IssueType.INFORMATIONAL,
                    text,
                    f"{path}.valueExpression",
                    rule=rules.FHIRPATH_TRACE,
                    link_id=link_id,
                )
            )
    return warnings


def expression_extensions(
    node: Any, path: str, link_id: str | None
) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Every extension object with its path and the linkId of the item that holds it."""
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from expression_extensions(child, f"{path}[{index}]", link_id)
        return
    if not isinstance(node, dict):
        return
    if path.endswith("]") and path.rsplit(".", 1)[-1].startswith("item["):
        link_id = link_id_of(node)
    for index, extension in dicts(node, "extension"):
        yield f"{path}.extension[{index}]", link_id, extension
    for key, child in node.items():
        if key != "contained" and isinstance(child, (dict, list)):
            yield from expression_extensions(child, f"{path}.{key}", link_id)


def _check(
    extension: dict[str, Any], evaluated: bool, path: str, link_id: str | None
) -> Iterator[Issue]:
    name = str(extension["url"]).rsplit("/", 1)[-1].removeprefix("sdc-questionnaire-")
    value = extension.get("valueExpression")
    if not isinstance(value, dict):
        text = f"{name} needs a valueExpression"
        yield content_error(rules.SDC_EXPRESSION, text, path, link_id)
        return
    path += ".valueExpression"
    if name == "variable" and not isinstance(value.get("name"), str):
        yield content_error(rules.SDC_VARIABLE, "a variable needs a name", path, link_id)
    language, expression = value.get("language"), value.get("expression")
    if language == _FHIR_QUERY and not evaluated:
        return  # a query the client runs; SDC allows it here
    if language != _FHIRPATH:
        text = f"{name} language must be {_FHIRPATH!r}, not {language!r}"
        yield content_error(rules.SDC_EXPRESSION, text, path, link_id)
    elif not isinstance(expression, str):
        yield content_error(rules.SDC_EXPRESSION, f"{name} has no expression", path, link_id)
    else:
        failure = _failure(expression)
        if isinstance(failure, UnsupportedRegex):  # a regex RE2 cannot run: not-supported
            text = f"{name} is not supported: {failure}"
            yield content_error(rules.FHIRPATH, text, path, link_id, code=IssueType.NOT_SUPPORTED)
        elif failure is not None:
            text = f"{name} does not parse: {failure}"
            yield content_error(rules.FHIRPATH, text, path, link_id)
