"""CodeSystem content rules, and Codings in our own CodeSystems that must exist there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service import rules
from service.fhir.outcome import Issue
from service.questionnaire.issues import content_error
from service.questionnaire.walk import dicts, link_id_of

__all__ = ["CodeIndex", "check_code_system", "check_codings", "code_index", "codings", "concepts"]

#: system url → code → display (from CodeSystems with content `complete`).
CodeIndex = dict[str, dict[str, str | None]]


def concepts(
    node: dict[str, Any], path: str = "CodeSystem"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every concept of a CodeSystem, nested ones included, with its path."""
    for index, concept in dicts(node, "concept"):
        here = f"{path}.concept[{index}]"
        yield here, concept
        yield from concepts(concept, here)


def check_code_system(resource: dict[str, Any]) -> list[Issue]:
    """csd-1 (codes unique, nested ones included) and an honest `count`."""
    issues: list[Issue] = []
    first: dict[Any, str] = {}
    total = 0
    for path, concept in concepts(resource):
        total += 1
        code = concept.get("code")
        if code in first:
            text = (
                f"Within a code system definition, all the codes SHALL be unique: "
                f"{code!r} is also at {first[code]}"
            )
            issues.append(content_error(rules.CSD_1, text, f"{path}.code"))
        else:
            first[code] = path
    count = resource.get("count")
    if resource.get("content") == "complete" and count is not None and count != total:
        text = f"count is {count} but the CodeSystem defines {total} concepts"
        issues.append(content_error(rules.CODESYSTEM_COUNT, text, "CodeSystem.count"))
    return issues


def code_index(code_systems: list[dict[str, Any]]) -> CodeIndex:
    """The codes of every complete CodeSystem, by system url."""
    index: CodeIndex = {}
    for resource in code_systems:
        url = resource.get("url")
        if isinstance(url, str) and resource.get("content") == "complete":
            codes = index.setdefault(url, {})
            for _, concept in concepts(resource):
                codes[str(concept.get("code"))] = concept.get("display")
    return index


def codings(
    node: Any, path: str, link_id: str | None = None
) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Every Coding-shaped object (system and code) with its path and enclosing item's linkId."""
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from codings(child, f"{path}[{index}]", link_id)
        return
    if not isinstance(node, dict):
        return
    if path.rsplit(".", 1)[-1].startswith("item["):
        link_id = link_id_of(node)
    if isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
        yield path, link_id, node
    for key, child in node.items():
        if isinstance(child, (dict, list)):
            yield from codings(child, f"{path}.{key}", link_id)


def check_codings(resource: dict[str, Any], index: CodeIndex) -> list[Issue]:
    """Codings in a loaded complete CodeSystem must name a code it has, with its display."""
    issues: list[Issue] = []
    for path, link_id, coding in codings(resource, str(resource.get("resourceType"))):
        known = index.get(coding["system"])
        if known is None:
            continue
        code, display = coding["code"], coding.get("display")
        if code not in known:
            text = f"{coding['system']} has no code {code!r}"
            issues.append(content_error(rules.CODING_UNKNOWN, text, path, link_id))
        elif display is not None and display != known[code]:
            text = f"display {display!r} of {code!r} differs from the CodeSystem's {known[code]!r}"
            issues.append(content_error(rules.CODING_DISPLAY, text, path, link_id))
    return issues
