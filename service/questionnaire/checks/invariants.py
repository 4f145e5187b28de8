"""The que-1 … que-13 invariants of FHIR R4 (4.0.1) Questionnaire, in plain Python.

Each rule keeps the meaning of its published FHIRPath expression: `x.empty()` is about
presence (so `required: false` on a display item still breaks que-6), and a primitive that
carries only an extension counts as present. The one exception is que-12, see `_que_12`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue
from service.questionnaire.issues import content_error
from service.questionnaire.walk import ItemRef, dicts, present, walk_items
from service.rules import Rule

__all__ = ["check_invariants"]


ItemRule = Callable[[dict[str, Any]], str | None]


def _type(item: dict[str, Any]) -> str | None:
    """item.type when it is a string (the R4 model reports it otherwise)."""
    kind = item.get("type")
    return kind if isinstance(kind, str) else None


def _que_1(item: dict[str, Any]) -> str | None:
    # (type='group' implies item.empty().not()) and (type='display' implies item.empty())
    if item.get("type") == "group" and not present(item, "item"):
        return "Group items must have nested items (this group has none)"
    if item.get("type") == "display" and present(item, "item"):
        return "Display items cannot have nested items"
    return None


def _que_3(item: dict[str, Any]) -> str | None:
    # type!='display' or code.empty()
    if item.get("type") == "display" and present(item, "code"):
        return 'Display items cannot have a "code" asserted'
    return None


def _que_4(item: dict[str, Any]) -> str | None:
    # answerOption.empty() or answerValueSet.empty()
    if present(item, "answerOption") and present(item, "answerValueSet"):
        return "A question cannot have both answerOption and answerValueSet"
    return None


def _que_5(item: dict[str, Any]) -> str | None:
    # (type in choice|open-choice|decimal|integer|date|dateTime|time|string|quantity)
    #   or (answerValueSet.empty() and answerOption.empty())
    # The human text says "only choice and open-choice"; the expression, which we follow,
    # also admits the types R4 answerOption values can take.
    if _type(item) in r4.OPTION_ITEM_TYPES:
        return None
    if present(item, "answerValueSet") or present(item, "answerOption"):
        return (
            f"Only 'choice' and 'open-choice' items can have answerValueSet "
            f"(or answerOption; type is {item.get('type')!r})"
        )
    return None


def _que_6(item: dict[str, Any]) -> str | None:
    # type!='display' or (required.empty() and repeats.empty())
    if item.get("type") == "display" and (present(item, "required") or present(item, "repeats")):
        return "Required and repeat aren't permitted for display items"
    return None


def _que_8(item: dict[str, Any]) -> str | None:
    # (type!='group' and type!='display') or initial.empty()
    if item.get("type") in ("group", "display") and present(item, "initial"):
        return "Initial values can't be specified for groups or display items"
    return None


def _que_9(item: dict[str, Any]) -> str | None:
    # type!='display' or readOnly.empty()
    if item.get("type") == "display" and present(item, "readOnly"):
        return 'Read-only can\'t be specified for "display" items'
    return None


def _que_10(item: dict[str, Any]) -> str | None:
    # (type in ('boolean' | 'decimal' | 'integer' | 'string' | 'text' | 'url' | 'open-choice'))
    #   or maxLength.empty()
    if _type(item) not in r4.MAX_LENGTH_ITEM_TYPES and present(item, "maxLength"):
        return (
            f"Maximum length can only be declared for simple question types "
            f"(type is {item.get('type')!r})"
        )
    return None


def _que_11(item: dict[str, Any]) -> str | None:
    # answerOption.empty() or initial.empty()
    if present(item, "answerOption") and present(item, "initial"):
        return "If one or more answerOption is present, initial[x] must be missing"
    return None


def _que_12(item: dict[str, Any]) -> str | None:
    # Published: enableWhen.count() > 2 implies enableBehavior.exists(). Its own text says
    # "more than one", R4B and R5 count from two, and the HL7 validator rewrites the R4
    # expression to `>= 2`: we enforce the rule as written in words.
    if len(list(dicts(item, "enableWhen"))) > 1 and not present(item, "enableBehavior"):
        return "If there are more than one enableWhen, enableBehavior must be specified"
    return None


def _que_13(item: dict[str, Any]) -> str | None:
    # repeats=true or initial.count() <= 1
    if item.get("repeats") is not True and len(list(dicts(item, "initial"))) > 1:
        return "Can only have multiple initial values for repeating items"
    return None


_ITEM_RULES: tuple[tuple[Rule, ItemRule], ...] = (
    (rules.QUE_1, _que_1),
    (rules.QUE_3, _que_3),
    (rules.QUE_4, _que_4),
    (rules.QUE_5, _que_5),
    (rules.QUE_6, _que_6),
    (rules.QUE_8, _que_8),
    (rules.QUE_9, _que_9),
    (rules.QUE_10, _que_10),
    (rules.QUE_11, _que_11),
    (rules.QUE_12, _que_12),
    (rules.QUE_13, _que_13),
)


def check_invariants(resource: dict[str, Any]) -> list[Issue]:
    """Every que-1 … que-13 violation in a Questionnaire, in document order."""
    items = list(walk_items(resource))
    issues = list(_que_2(items))
    for ref in items:
        for rule, check in _ITEM_RULES:
            text = check(ref.item)
            if text is not None:
                issues.append(content_error(rule, text, ref.path, ref.link_id))
        issues.extend(_que_7(ref))
    return issues


def _que_2(items: list[ItemRef]) -> Iterator[Issue]:
    # descendants().linkId.isDistinct(): reported on each repeat, naming the first use.
    first: dict[str, str] = {}
    for ref in items:
        if ref.link_id is None:
            continue
        if ref.link_id in first:
            text = (
                f"The link ids for groups and questions must be unique within the "
                f"questionnaire (also used at {first[ref.link_id]})"
            )
            yield content_error(rules.QUE_2, text, ref.path, ref.link_id)
        else:
            first[ref.link_id] = ref.path


def _que_7(ref: ItemRef) -> Iterator[Issue]:
    # On Questionnaire.item.enableWhen: operator = 'exists' implies (answer is Boolean)
    for index, when in dicts(ref.item, "enableWhen"):
        answers = [key for key in when if key.startswith("answer")]
        if when.get("operator") == "exists" and answers and "answerBoolean" not in answers:
            path = f"{ref.path}.enableWhen[{index}]"
            text = f"If the operator is 'exists', the value must be a boolean (not {answers[0]})"
            yield content_error(rules.QUE_7, text, path, ref.link_id)
