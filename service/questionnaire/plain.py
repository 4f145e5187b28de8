"""Which questions a response may answer in one step, decided when a Questionnaire compiles.

Validation (`service.response.validate`) decides the common item, `{linkId, answer: [one
clean value]}` in Questionnaire order, without its general walk when the item's definition
leaves nothing else to check there: these tables say for which items that holds.
"""

from __future__ import annotations

from collections.abc import Container

from .items import ItemDef

__all__ = ["optional_children", "plain_questions"]


def optional_children(items: dict[str, ItemDef]) -> frozenset[str]:
    """Questions with items under their answers, none of them required or with minOccurs:
    an answer that leaves them out has nothing to check there."""
    return frozenset(
        link
        for link, definition in items.items()
        if definition.children
        and not any(items[c].required or items[c].min_occurs for c in definition.children)
    )


def plain_questions(
    items: dict[str, ItemDef], constraints: Container[str | None], optional: frozenset[str]
) -> dict[str, ItemDef]:
    """The questions whose one clean answer, sent alone, leaves the walk nothing else to do:
    no group or display (they take no answers), nothing required below the answer, no
    targetConstraint to evaluate on the item, and a maxOccurs that one item and one answer
    keep to (an item with maxOccurs 0 is reported by the general walk).
    """
    return {
        link: definition
        for link, definition in items.items()
        if definition.type not in ("group", "display")
        and (not definition.children or link in optional)
        and link not in constraints
        and (definition.max_occurs is None or definition.max_occurs >= 1)
    }
