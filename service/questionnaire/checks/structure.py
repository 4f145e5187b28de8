"""Is it R4 at all: resource id, the fhir.resources R4B model, required bindings, FHIR JSON."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue
from service.questionnaire.issues import content_error
from service.questionnaire.walk import ItemRef, dicts, locate

__all__ = ["check_bindings", "check_id", "check_json", "check_model", "check_required"]

_MODELS: dict[str, Any] = {"Questionnaire": Questionnaire, "CodeSystem": CodeSystem}


def check_id(resource: dict[str, Any], root: str) -> list[Issue]:
    """The id every catalogue resource needs, matching the FHIR id pattern."""
    rid = resource.get("id")
    if isinstance(rid, str) and r4.ID.fullmatch(rid) and rid not in r4.DOT_SEGMENTS:
        return []
    text = f"id {rid!r} must match [A-Za-z0-9\\-\\.]{{1,64}} and not be '.' or '..'"
    return [content_error(rules.ID, text, f"{root}.id")]


def check_model(
    resource: dict[str, Any], root: str, known: frozenset[str] = frozenset()
) -> list[Issue]:
    """Whatever the fhir.resources R4B model rejects (but paths in `known`), one per error."""
    unknown = list(_unknown_resources(resource, root))
    if unknown:  # the model raises KeyError or TypeError on these rather than reporting them
        return [content_error(rules.R4, text, path) for path, text in unknown]
    try:
        _MODELS[root].model_validate(resource)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            path, link_id = locate(resource, [_fhir_name(step) for step in error["loc"]], root)
            if path not in known:
                issues.append(content_error(rules.R4, error["msg"], path, link_id))
        return issues
    return []


def _unknown_resources(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Resources below `node` (contained, ...) whose resourceType is not an R4 resource."""
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        here = f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"
        kind = child.get("resourceType", "Resource") if isinstance(child, dict) else None
        if isinstance(child, dict) and not (isinstance(kind, str) and _is_resource(kind)):
            yield here, f"resourceType {kind!r} is not an R4 resource"
        elif isinstance(child, (dict, list)):
            yield from _unknown_resources(child, here)


@functools.lru_cache(maxsize=256)
def _is_resource(name: str) -> bool:
    try:
        found = get_fhir_model_class(name)
    except ValueError:
        return False
    return issubclass(found, Resource)


# 1..1 elements whose absence the model reports only once everything below is well typed.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "Questionnaire": ("status",),
    "CodeSystem": ("status", "content"),
    "item": ("linkId", "type"),
    "enableWhen": ("question", "operator", "answer[x]"),
    "answerOption": ("value[x]",),
    "initial": ("value[x]",),
    "concept": ("code",),
}


def check_required(resource: dict[str, Any], root: str) -> list[Issue]:
    """Every missing 1..1 element of the resource, its items and concepts, at once."""
    return [
        content_error(rules.R4, f"Value for the field '{name}' is required.", path, link_id)
        for path, link_id, name in _missing(resource, root, root, None)
    ]


def _missing(
    node: dict[str, Any], kind: str, path: str, link_id: str | None
) -> Iterator[tuple[str, str | None, str]]:
    if kind == "item":
        link_id = node.get("linkId") if isinstance(node.get("linkId"), str) else None
    for name in _REQUIRED.get(kind, ()):
        if not name.endswith("[x]"):
            if name not in node:
                yield f"{path}.{name}", link_id, name
        elif not any(_is_choice_of(key, name[:-3]) for key in node):
            yield path, link_id, name  # where the model reports a missing choice element
    for key in ("item", "enableWhen", "answerOption", "initial", "concept"):
        for index, child in dicts(node, key):
            yield from _missing(child, key, f"{path}.{key}[{index}]", link_id)


def _is_choice_of(key: str, stem: str) -> bool:
    """`answerDateTime` is a choice of `answer[x]`."""
    return key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper()


def _fhir_name(step: str | int) -> str | int:
    # fhir.resources names a few elements the Python way.
    return {"resource_type": "resourceType"}.get(step, step) if isinstance(step, str) else step


def check_bindings(resource: dict[str, Any], items: list[ItemRef]) -> list[Issue]:
    """Codes from required bindings the R4B models leave unchecked (they type codes as plain
    strings): status, item.type, enableWhen.operator, enableBehavior."""
    root = str(resource.get("resourceType"))
    found: list[tuple[str, str | None, str, str | None]] = [
        (root, None, "status", _bound(resource, "status", r4.PUBLICATION_STATUSES))
    ]
    if root == "CodeSystem":
        found.append((root, None, "content", _bound(resource, "content", r4.CODE_SYSTEM_CONTENT)))
    for ref in items:
        found.append((ref.path, ref.link_id, "type", _bound(ref.item, "type", r4.ITEM_TYPES)))
        behavior = _bound(ref.item, "enableBehavior", r4.ENABLE_BEHAVIORS)
        found.append((ref.path, ref.link_id, "enableBehavior", behavior))
        for index, when in dicts(ref.item, "enableWhen"):
            path = f"{ref.path}.enableWhen[{index}]"
            found.append(
                (path, ref.link_id, "operator", _bound(when, "operator", r4.ENABLE_OPERATORS))
            )
    return [
        content_error(rules.BINDING, text, f"{path}.{key}", link_id)
        for path, link_id, key, text in found
        if text is not None
    ]


def _bound(node: dict[str, Any], key: str, codes: frozenset[str]) -> str | None:
    value = node.get(key)
    if value is None or (type(value) is str and value in codes):
        return None
    return f"{key} {value!r} is not one of {', '.join(sorted(codes))}"


def check_json(resource: dict[str, Any], root: str) -> list[Issue]:
    """FHIR JSON: no null, no empty object or array (the models accept them)."""
    return [
        content_error(rules.JSON, text, path, link_id)
        for path, link_id, text in _empties(resource, root, None)
    ]


def _empties(node: Any, path: str, link_id: str | None) -> Iterator[tuple[str, str | None, str]]:
    if isinstance(node, dict):
        if path.rsplit(".", 1)[-1].startswith("item["):
            link_id = node.get("linkId") if isinstance(node.get("linkId"), str) else link_id
        for key, child in node.items():
            yield from _empty(child, f"{path}.{key}", link_id)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            # null is allowed in a primitive array only when `_key` carries its extension.
            if child is not None:
                yield from _empty(child, f"{path}[{index}]", link_id)


def _empty(node: Any, path: str, link_id: str | None) -> Iterator[tuple[str, str | None, str]]:
    if node is None:
        yield path, link_id, "null is not allowed in FHIR JSON; leave the element out"
    elif isinstance(node, (dict, list)) and not node:
        yield path, link_id, "empty objects and arrays are not allowed in FHIR JSON"
    else:
        yield from _empties(node, path, link_id)
