"""How many answers or repetitions an item has, against repeats, minOccurs and maxOccurs.

`check_occurs` runs as the validation walk reaches an item's answers; `too_few` once the
whole response is seen, on enabled items only (`validate`'s completeness step).
"""

from __future__ import annotations

from typing import Any

from service import rules
from service.fhir.outcome import IssueSeverity, IssueType
from service.questionnaire.compile import ItemDef

from .answers import Answers

__all__ = ["check_occurs", "too_few"]


def check_occurs(out: Answers, raw: list[Any], definition: ItemDef, where: str) -> None:
    """Answer counts: repeats false allows one; min/maxOccurs bound a repeating question."""
    link, count = definition.link_id, len(raw)
    if count > 1 and not definition.repeats:
        text = f"item '{link}' does not repeat but has {count} answers"
        out.error(IssueType.STRUCTURE, text, f"{where}.answer[1]", rules.QR_ANSWER_REPEATED, link)
    elif definition.max_occurs is not None and count > definition.max_occurs:
        text = f"item '{link}' has {count} answers, more than its maxOccurs"
        here = f"{where}.answer[{definition.max_occurs}]"
        out.error(IssueType.STRUCTURE, text, here, rules.QR_OCCURS_MAX, link)


def too_few(
    out: Answers,
    severity: IssueSeverity,
    definition: ItemDef,
    *,
    missing: bool,
    path: str,
    count: int,
    where: str,
) -> None:
    """Report a required item not answered (at `path`, its container), or fewer answers or
    repetitions (`count`, at `where`) than questionnaire-minOccurs; an item left out counts
    as none (a required one is reported once, as required)."""
    link = definition.link_id
    if missing:
        text = f"required item '{link}' is not answered"
        out.add(
            severity,
            IssueType.REQUIRED,
            text,
            where=path,
            rule=rules.QR_REQUIRED_MISSING,
            link=link,
        )
    least = definition.min_occurs or 0
    if count < least and not (missing and count == 0):
        text = f"item '{link}' occurs or is answered {count} times, fewer than {least}"
        out.add(
            severity, IssueType.REQUIRED, text, where=where, rule=rules.QR_OCCURS_MIN, link=link
        )
