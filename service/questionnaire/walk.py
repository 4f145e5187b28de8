"""Walking a Questionnaire's items in document order, with FHIRPath paths and linkIds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ItemRef", "dicts", "link_id_of", "locate", "present", "walk_items"]


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An item, its path such as `Questionnaire.item[3].item[0]`, and its linkId if it has one."""

    item: dict[str, Any]
    path: str
    link_id: str | None


def dicts(node: dict[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects in `node[key]` with their index; anything malformed is skipped."""
    value = node.get(key)
    if isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, dict):
                yield index, child


def present(node: dict[str, Any], key: str) -> bool:
    """FHIRPath `key.exists()`: a value, a non-empty array, or a primitive's extension."""
    value = node.get(key)
    if isinstance(value, list):
        return bool(value)
    return value is not None or f"_{key}" in node


def link_id_of(item: dict[str, Any]) -> str | None:
    """The item's linkId when it is a string."""
    link_id = item.get("linkId")
    return link_id if isinstance(link_id, str) else None


def walk_items(node: dict[str, Any], path: str = "Questionnaire") -> Iterator[ItemRef]:
    """Every item below `node`, depth first in document order."""
    for index, child in dicts(node, "item"):
        child_path = f"{path}.item[{index}]"
        yield ItemRef(child, child_path, link_id_of(child))
        yield from walk_items(child, child_path)


def locate(resource: dict[str, Any], loc: Sequence[str | int], root: str) -> tuple[str, str | None]:
    """The FHIRPath of a JSON location, and the linkId of the innermost item on the way."""
    path, link_id = root, None
    node: Any = resource
    for step in loc:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            if path.endswith(".item") and isinstance(node, dict):
                link_id = link_id_of(node)
            path += f"[{step}]"
        else:
            node = node.get(step) if isinstance(node, dict) else None
            path += f".{step}"
    return path, link_id
