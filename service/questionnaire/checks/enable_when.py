"""enableWhen: the question exists, and the answer fits the target item's type and the operator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service import rules
from service.fhir.outcome import Issue
from service.questionnaire.issues import content_error
from service.questionnaire.walk import ItemRef, dicts
from service.rules import Rule

__all__ = ["check_enable_when"]

# The answer[x] that can meet each item type (R4 enableWhen.answer[x] vs item.type).
_ANSWERS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"answerBoolean"}),
    "decimal": frozenset({"answerDecimal"}),
    "integer": frozenset({"answerInteger"}),
    "date": frozenset({"answerDate"}),
    "dateTime": frozenset({"answerDateTime"}),
    "time": frozenset({"answerTime"}),
    "string": frozenset({"answerString"}),
    "text": frozenset({"answerString"}),
    "url": frozenset({"answerString"}),
    "choice": frozenset({"answerCoding"}),
    "open-choice": frozenset({"answerCoding", "answerString"}),
    "attachment": frozenset(),
    "reference": frozenset({"answerReference"}),
    "quantity": frozenset({"answerQuantity"}),
}
# Ordering operators need ordered values.
_ORDERED = frozenset(
    {
        "answerDecimal",
        "answerInteger",
        "answerDate",
        "answerDateTime",
        "answerTime",
        "answerQuantity",
    }
)
_NO_ANSWERS = frozenset({"group", "display"})


def check_enable_when(items: list[ItemRef]) -> list[Issue]:
    """Every enableWhen whose question is missing, or whose answer cannot match it."""
    targets = {ref.link_id: ref.item for ref in items if ref.link_id is not None}
    issues: list[Issue] = []
    for ref in items:
        for index, when in dicts(ref.item, "enableWhen"):
            path = f"{ref.path}.enableWhen[{index}]"
            for rule, text in _check_one(when, targets):
                issues.append(content_error(rule, text, path, ref.link_id))
    return issues


def _check_one(
    when: dict[str, Any], targets: dict[str, dict[str, Any]]
) -> Iterator[tuple[Rule, str]]:
    question = when.get("question")
    target = targets.get(question) if isinstance(question, str) else None
    if target is None:
        yield (
            rules.ENABLEWHEN_QUESTION,
            f"question {question!r} is not a linkId in this Questionnaire",
        )
        return
    kind = target.get("type")
    if isinstance(kind, str) and kind in _NO_ANSWERS:
        yield (
            rules.ENABLEWHEN_QUESTION,
            f"question {question!r} is a {kind} item, which has no answers",
        )
        return
    operator = when.get("operator")
    answer = next((key for key in when if key.startswith("answer")), None)
    if operator == "exists" or answer is None or not isinstance(kind, str):
        return  # que-7 and the R4 model cover these
    allowed = _allowed_answers(target, kind)
    if answer not in allowed:
        expected = " or ".join(sorted(allowed)) or "only the 'exists' operator"
        yield (
            rules.ENABLEWHEN_ANSWER,
            f"{answer} cannot match {kind} item {question!r}: use {expected}",
        )
    elif operator in (">", "<", ">=", "<=") and answer not in _ORDERED:
        yield (
            rules.ENABLEWHEN_OPERATOR,
            f"operator {operator!r} needs an ordered answer, not {answer}",
        )
    elif answer == "answerCoding" and kind == "choice":
        yield from _check_option(when["answerCoding"], target, str(question))


def _allowed_answers(target: dict[str, Any], kind: str) -> frozenset[str]:
    allowed = _ANSWERS.get(kind, frozenset())
    if kind not in ("choice", "open-choice"):
        return allowed
    # R4 answerOption.value[x] is integer | date | time | string | Coding | Reference.
    values = {key for _, option in dicts(target, "answerOption") for key in option}
    typed = {"answer" + key[len("value") :] for key in values if key.startswith("value")}
    return allowed | frozenset(typed)


def _check_option(coding: Any, target: dict[str, Any], question: str) -> Iterator[tuple[Rule, str]]:
    options = [
        opt["valueCoding"] for _, opt in dicts(target, "answerOption") if "valueCoding" in opt
    ]
    if not options or not isinstance(coding, dict):
        return  # a ValueSet binding: membership is a terminology question
    wanted = (coding.get("system"), coding.get("code"))
    if all((option.get("system"), option.get("code")) != wanted for option in options):
        system, code = wanted
        yield (
            rules.ENABLEWHEN_ANSWER,
            f"{system}|{code} is not an answerOption of item {question!r}",
        )
