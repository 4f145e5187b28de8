"""Every check one resource must pass on its own, whichever folder (or Redis) it comes from."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from service import rules
from service.errors import RapportError
from service.fhir.outcome import IssueType
from service.questionnaire.compile import CompiledQuestionnaire
from service.questionnaire.problems import Problem
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
    resource: Any, source: str, compiler: Compiler | None = None
) -> tuple[list[Problem], CompiledQuestionnaire | None]:
    """All problems of one resource, and the compiler's result when it has none."""
    if not isinstance(resource, dict) or resource.get("resourceType") not in CATALOGUE_TYPES:
        kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource)
        text = f"resourceType {kind!r} is not one of {', '.join(CATALOGUE_TYPES)}"
        return [Problem(source, rules.RESOURCE_TYPE, text, "resourceType")], None
    root = resource["resourceType"]
    items = list(walk_items(resource, root))
    required = check_required(resource, source, root)
    problems = [
        *check_id(resource, source, root),
        *check_json(resource, source, root),
        *required,
        *check_model(resource, source, root, frozenset(str(p.path) for p in required)),
        *check_bindings(resource, items, source),
    ]
    if root == "CodeSystem":
        problems.extend(check_code_system(resource, source))
        return problems, None
    problems.extend(check_invariants(resource, source))
    problems.extend(check_enable_when(items, source))
    problems.extend(check_expressions(resource, source, root))
    problems.extend(check_sdc(resource, items, source))
    if problems or compiler is None:
        return problems, None
    return _compile(resource, source, compiler)


def _compile(
    resource: dict[str, Any], source: str, compiler: Compiler
) -> tuple[list[Problem], CompiledQuestionnaire | None]:
    try:
        return [], compiler(resource)
    except ValueError as exc:
        return _compile_problems(exc, resource, source), None


def _compile_problems(exc: ValueError, resource: dict[str, Any], source: str) -> list[Problem]:
    """One problem per issue a RapportError carries (with its path and rule), else one."""
    issues = exc.issues if isinstance(exc, RapportError) else []
    if not issues:
        link_id = getattr(exc, "link_id", None)
        path = str(getattr(exc, "expression", None) or "Questionnaire")
        return [Problem(source, rules.COMPILE, str(exc), path, _link_id(resource, path, link_id))]
    return [
        Problem(
            source,
            issue.rule or rules.COMPILE,
            issue.text,
            issue.expression or "Questionnaire",
            _link_id(resource, issue.expression or "Questionnaire", None),
            issue.code if issue.code is IssueType.NOT_SUPPORTED else None,
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
