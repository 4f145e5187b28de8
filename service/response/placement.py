"""Where an item of a response stands: at the right level, in Questionnaire order, as often
as its item allows (qr-unknown-linkid, qr-item-misplaced, qr-item-order, qr-item-repeated,
qr-occurs-max); checked by the validation walk as it reaches each item.
"""

from __future__ import annotations

from typing import Any

from service import rules
from service.fhir.outcome import Issue, IssueSeverity, IssueType
from service.questionnaire.compile import ItemDef
from service.rules import Rule

__all__ = ["bad_item", "place"]


def _error(
    issues: list[Issue], code: IssueType, text: str, where: str, rule: Rule, *, link: str | None
) -> None:
    issues.append(Issue(IssueSeverity.ERROR, code, text, where, link, rule))


def bad_item(
    issues: list[Issue], items: dict[str, ItemDef], item: Any, where: str, parent: str | None
) -> None:
    """Report why `item` is not an item of the Questionnaire (`items`) under `parent`."""
    if type(item) is not dict:
        text = "an item must be a JSON object"
        _error(issues, IssueType.STRUCTURE, text, where, rules.QR_NOT_OBJECT, link=parent)
        return
    link = item.get("linkId")
    if type(link) is not str or not link:
        text = "an item needs a linkId"
        _error(issues, IssueType.REQUIRED, text, where, rules.QR_LINKID_MISSING, link=None)
        return
    definition = items.get(link)
    if definition is None:
        text = f"linkId '{link}' is not an item of the Questionnaire"
        _error(issues, IssueType.STRUCTURE, text, where, rules.QR_UNKNOWN_LINKID, link=link)
        return
    text = f"item '{link}' belongs " + (
        f"under item '{definition.parent}'" if definition.parent else "at the top level"
    )
    _error(issues, IssueType.STRUCTURE, text, where, rules.QR_ITEM_MISPLACED, link=link)


def place(
    issues: list[Issue], definition: ItemDef, where: str, last: int, seen: dict[str, int]
) -> int:
    """Order, repetition and maxOccurs checks; the new last position."""
    link = definition.link_id
    if definition.position < last:
        text = f"item '{link}' is out of Questionnaire order"
        _error(issues, IssueType.STRUCTURE, text, where, rules.QR_ITEM_ORDER, link=link)
    count = seen[link] = seen.get(link, 0) + 1
    if count > 1 and not definition.repeats:
        text = f"item '{link}' does not repeat but appears more than once"
        _error(issues, IssueType.STRUCTURE, text, where, rules.QR_ITEM_REPEATED, link=link)
    elif definition.max_occurs is not None and count == definition.max_occurs + 1:
        text = f"item '{link}' appears more than its maxOccurs {definition.max_occurs} times"
        _error(issues, IssueType.STRUCTURE, text, where, rules.QR_OCCURS_MAX, link=link)
    return definition.position if definition.position > last else last
