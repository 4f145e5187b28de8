"""Limits on an answer that is not drawn from options: minValue / maxValue, minLength /
maxLength, regex, maxDecimalPlaces, the quantity / attachment / reference limits
(`complex`), and line breaks in a `string` answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from service import rules
from service.fhir.outcome import IssueSeverity, IssueType
from service.fhir.temporal import order
from service.questionnaire.extensions import CALCULATED, extensions
from service.questionnaire.items import ItemDef

from .complex import check_complex

if TYPE_CHECKING:  # answers imports this module: the type is only named here
    from .answers import Answers

__all__ = ["check_limits"]

_COMPLEX = frozenset({"Coding", "Quantity", "Attachment", "Reference"})  # as `answers`


def check_limits(
    out: Answers, definition: ItemDef, value_type: str, value: Any, where: str
) -> bool:
    link = definition.link_id
    low, high = definition.min_value, definition.max_value
    if _order(value_type, value, low) == -1:
        text = f"{value} is below the minimum {low} of item '{link}'"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_MIN_VALUE, link)
        return False
    if _order(value_type, value, high) == 1:
        text = f"{value} is above the maximum {high} of item '{link}'"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_MAX_VALUE, link)
        return False
    if value_type == "String":
        if definition.type == "string" and ("\n" in value or "\r" in value):
            _line_break(out, definition, where)
        return _check_length(out, definition, value, where) and _check_pattern(
            out, definition, value, where
        )
    limits = definition.complex_limits  # None for items without such limits: no cost
    if (
        limits is not None
        and value_type in _COMPLEX
        and not check_complex(
            out.issues,
            limits,
            value_type,
            value,
            where,
            link=link,
            value_sets=out.terminology.codes,
        )
    ):
        return False
    number = value.get("value") if value_type == "Quantity" else value
    if definition.max_decimal_places is not None and value_type in ("Decimal", "Quantity"):
        return _check_places(out, definition, number, where)
    return True


def _line_break(out: Answers, definition: ItemDef, where: str) -> None:
    """A warning, not an error: R4's `string` datatype allows line breaks (datatypes.html:
    "Strings SHOULD not contain Unicode character points below 32, except for u0009
    (horizontal tab), u0010 (carriage return) and u0013 (line feed)"), and only the item
    type says a `string` question is a "short (few words to short sentence) free-text entry"
    where `text` is "potentially multi-paragraph" (R4 item-type value set). Nothing in R4 is
    a SHALL here, so the answer is not rejected; the form most likely wanted `text`.
    """
    link = definition.link_id
    text = f"item '{link}' is a string (one line); a multi-line answer belongs in a text item"
    out.add(
        IssueSeverity.WARNING,
        IssueType.VALUE,
        text,
        where=where,
        rule=rules.QR_ANSWER_LINE_BREAK,
        link=link,
    )


def _check_places(out: Answers, definition: ItemDef, number: Any, where: str) -> bool:
    """maxDecimalPlaces, counted on the number as parsed (`1.50` arrives as 1.5). Not on a
    calculated item: scoring replaces its value (at that precision) and says if it differed.
    """
    if type(number) is not float or extensions(definition.qitem, CALCULATED):
        return True  # integers have none; a Quantity may have no value
    exponent = Decimal(repr(number)).as_tuple().exponent
    places = -exponent if type(exponent) is int and exponent < 0 else 0
    most = definition.max_decimal_places
    if most is not None and places > most:
        link = definition.link_id
        text = f"{number} has {places} decimal places; item '{link}' allows {most}"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_DECIMAL_PLACES, link)
        return False
    return True


def _check_pattern(out: Answers, definition: ItemDef, value: str, where: str) -> bool:
    pattern = definition.pattern
    if pattern is None:
        return True
    link = definition.link_id
    cost = pattern.cost(len(value))
    matches = pattern.matches(value) if cost <= out.regex_budget else None
    out.regex_budget -= cost if matches is not None else 0
    if matches is None:
        text = f"too long ({len(value)} characters) to check against the regex of item '{link}'"
        out.add(
            IssueSeverity.WARNING,
            IssueType.TOO_COSTLY,
            text,
            where=where,
            rule=rules.QR_ANSWER_REGEX_UNCHECKED,
            link=link,
        )
        return True
    if not matches:
        text = f"does not match the pattern {pattern.source!r} of item '{link}'"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_REGEX, link)
    return matches


def _order(value_type: str, value: Any, bound: Any) -> int | None:
    """How an answer compares with a minValue / maxValue: numbers as numbers; dates,
    dateTimes and times as FHIRPath compares them (see `_temporal`); None when they do not
    compare or the order is unknown at their precisions, which is not reported.
    """
    if value_type in ("Integer", "Decimal"):
        if type(bound) in (int, float):
            return int(value > bound) - int(value < bound)
        return None
    if value_type in ("Date", "DateTime", "Time"):
        return order(value, bound)
    return None


def _check_length(out: Answers, definition: ItemDef, value: str, where: str) -> bool:
    link = definition.link_id
    if definition.max_length is not None and len(value) > definition.max_length:
        text = f"longer than the maxLength {definition.max_length} of item '{link}'"
        out.error(IssueType.TOO_LONG, text, where, rules.QR_ANSWER_TOO_LONG, link)
        return False
    if definition.min_length is not None and len(value) < definition.min_length:
        text = f"shorter than the minLength {definition.min_length} of item '{link}'"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_TOO_SHORT, link)
        return False
    return True
