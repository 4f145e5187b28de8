"""Every check one resource must pass on its own, whichever folder (or Redis) it comes from."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from service import rules
from service.errors import RapportError
from service.fhir.outcome import Issue, IssueType
from service.questionnaire.compile import CompiledQuestionnaire
from service.questionnaire.issues import content_error
from service.questionnaire.walk import locate, walk_items

from .codes import check_code_system
from .enable_when import check_enable_when
from .expressions import check_expressions
from .invariants import check_invariants
from .sdc import check_sdc
from .structure import check_bindings, check_id, check_json, check_model, check_required

__all__ = ["CATALOGUE_TYPES", "Compiler", "check_resource"]

#: Called on each Questionnaire; raises a ValueError for content it cannot compile.
Compiler = Callable[[dict[str, Any]], CompiledQuestionnaire]
#: The resource types the catalogue holds (R4 ones: `service.fhir.r4.RESOURCE_TYPES`).
CATALOGUE_TYPES = ("Questionnaire", "CodeSystem")


def check_resource(
    resource: Any, compiler: Compiler | None = None
) -> tuple[list[Issue], CompiledQuestionnaire | None]:
    """Every issue of one resource, and the compiler's result when it has none."""
    if not isinstance(resource, dict) or resource.get("resourceType") not in CATALOGUE_TYPES:
        kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource)
        text = f"resourceType {kind!r} is not one of {', '.join(CATALOGUE_TYPES)}"
        return [content_error(rules.RESOURCE_TYPE, text, "resourceType")], None
    root = resource["resourceType"]
    items = list(walk_items(resource, root))
    required = check_required(resource, root)
    issues = [
        *check_id(resource, root),
        *check_json(resource, root),
        *required,
        *check_model(resource, root, frozenset(str(i.expression) for i in required)),
        *check_bindings(resource, items),
    ]
    if root == "CodeSystem":
        issues.extend(check_code_system(resource))
        return issues, None
    issues.extend(check_invariants(resource))
    issues.extend(check_enable_when(items))
    issues.extend(check_expressions(resource, root))
    issues.extend(check_sdc(resource, items))
    if issues or compiler is None:
        return issues, None
    return _compile(resource, compiler)


def _compile(
    resource: dict[str, Any], compiler: Compiler
) -> tuple[list[Issue], CompiledQuestionnaire | None]:
    try:
        return [], compiler(resource)
    except ValueError as exc:
        return _compile_issues(exc, resource), None


def _compile_issues(exc: ValueError, resource: dict[str, Any]) -> list[Issue]:
    """The compiler's issues as content errors (each at its path, in its item), else one."""
    issues = exc.issues if isinstance(exc, RapportError) else []
    if not issues:
        link_id = getattr(exc, "link_id", None)
        path = str(getattr(exc, "expression", None) or "Questionnaire")
        return [content_error(rules.COMPILE, str(exc), path, _link_id(resource, path, link_id))]
    return [
        content_error(
            issue.rule or rules.COMPILE,
            issue.text,
            issue.expression or "Questionnaire",
            _link_id(resource, issue.expression or "Questionnaire", None),
            code=issue.code if issue.code is IssueType.NOT_SUPPORTED else None,
        )
        for issue in issues
    ]


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _link_id(resource: dict[str, Any], path: str, given: object) -> str | None:
    """The linkId given, else that of the innermost item on a FHIRPath like `Q.item[3].code`."""
    if isinstance(given, str):
        return given
    _, dot, rest = path.partition(".")
    steps: list[str | int] = [name or int(index) for name, index in _STEP.findall(dot + rest)]
    return locate(resource, steps, "Questionnaire")[1]
