"""Checks on one QuestionnaireResponse.item.answer: its value[x], type, option and limits.

`value[x]` is reported as `.value` in issue expressions (the FHIRPath name of a
choice element), e.g. `QuestionnaireResponse.item[2].answer[0].value`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue, IssueList, IssueSeverity, IssueType
from service.fhirpath.regex import MAX_RESPONSE_STEPS
from service.questionnaire.extensions import ITEM_WEIGHT, ORDINAL_VALUE, extensions
from service.questionnaire.items import ItemDef, Option, answer_key, expected_options
from service.questionnaire.terminology import Terminology
from service.rules import Rule

from .datatypes import check_value
from .limits import check_limits
from .primitives import check_primitive

__all__ = ["Answers", "check_answer", "check_exclusive", "plain_answer"]

_PATTERNS = {
    "Date": r4.DATE,
    "DateTime": r4.DATE_TIME,
    "Time": r4.TIME,
}
_INT32 = (-(2**31), 2**31 - 1)
_COMPLEX = frozenset({"Coding", "Quantity", "Attachment", "Reference"})
_PLAIN_CODING = frozenset({"system", "code", "display"})


class Answers:
    """What the answer checks write to: issues, and the terminology they consult."""

    __slots__ = ("issues", "regex_budget", "terminology")

    def __init__(self, terminology: Terminology) -> None:
        # RE2 work left for this response's `regex` checks (`Pattern.cost` units): one answer
        # may cost MAX_STEPS, all of them together MAX_RESPONSE_STEPS.
        self.regex_budget = MAX_RESPONSE_STEPS
        self.issues: list[Issue] = IssueList()  # stops the check at the cap (IssueCapReached)
        self.terminology = terminology

    def add(
        self,
        severity: IssueSeverity,
        code: IssueType,
        text: str,
        *,
        where: str,
        rule: Rule,
        link: str,
    ) -> None:
        """Record an issue at `where` about the item `link`."""
        self.issues.append(Issue(severity, code, text, where, link, rule))

    def error(self, code: IssueType, text: str, where: str, rule: Rule, link: str) -> None:
        """Record an error."""
        self.add(IssueSeverity.ERROR, code, text, where=where, rule=rule, link=link)


def check_answer(
    out: Answers, definition: ItemDef, answer: Any, item_where: str, index: int
) -> tuple[str, Any] | None:
    """Check answer `index` of the item at `item_where`; its (value type, value) when the
    value is usable, else None. The common case (`plain_answer`) is decided before the
    answer's path is even written out.
    """
    found = plain_answer(out, definition, answer)
    if found is not None:
        return found
    return _check_answer(out, definition, answer, f"{item_where}.answer[{index}]")


def plain_answer(out: Answers, definition: ItemDef, answer: Any) -> tuple[str, Any] | None:
    """The common answer, a value[x] and nothing else that the full checks would pass
    without an issue (one of the item's option Codings, an integer within its bounds): its
    (value type, value), with nothing written to `out`. None: the full checks must look.
    """
    if type(answer) is dict and len(answer) == 1:
        if "valueCoding" in answer:
            value = answer["valueCoding"]
            if "Coding" in definition.answer_types and _known_coding(out, definition, value):
                return "Coding", value
        elif "valueInteger" in answer:
            value, span = answer["valueInteger"], definition.integer_range
            # A 32-bit integer within the item's numeric bounds (`ItemDef.integer_range`).
            if type(value) is int and span is not None and span[0] <= value <= span[1]:
                return "Integer", value
    return None


def _check_answer(
    out: Answers, definition: ItemDef, answer: Any, where: str
) -> tuple[str, Any] | None:
    link = definition.link_id
    if type(answer) is not dict:
        out.error(
            IssueType.STRUCTURE, "an answer must be a JSON object", where, rules.QR_NOT_OBJECT, link
        )
        return None
    keys = [key for key in answer if key.startswith("value")]
    if len(keys) != 1:
        rule = rules.QR_ANSWER_VALUE_MISSING if not keys else rules.QR_ANSWER_VALUE_MULTIPLE
        text = "an answer needs exactly one value[x]" + (f", got {', '.join(keys)}" if keys else "")
        out.error(IssueType.REQUIRED if not keys else IssueType.STRUCTURE, text, where, rule, link)
        return None
    value_type, value = keys[0][5:], answer[keys[0]]
    where += ".value"
    allowed = definition.answer_types
    if value_type not in allowed:
        wanted = " or ".join("value" + t for t in sorted(allowed))
        text = f"item '{link}' ({definition.type}) takes {wanted}, not {keys[0]}"
        out.error(IssueType.VALUE, text, where, rules.QR_ANSWER_TYPE, link)
        return None
    problem = _complex(value_type, value) if value_type in _COMPLEX else _format(value_type, value)
    if problem is not None:
        out.error(IssueType.VALUE, f"{keys[0]} {problem}", where, rules.QR_ANSWER_INVALID, link)
        return None
    if value_type in _COMPLEX and not check_value(
        out.issues, value_type, value, where, link, rule=rules.QR_ANSWER_INVALID
    ):
        return None  # the R4 datatype itself: unknown elements, types, formats
    kind = definition.type
    if kind == "choice" or (kind == "open-choice" and value_type != "String"):
        _check_option(out, definition, value_type, value, where)
    elif kind == "open-choice" or not definition.options:
        check_limits(out, definition, value_type, value, where)
    elif _check_option(out, definition, value_type, value, where):
        # R4 que-5 lets integer, date, time and string items list answerOptions: an answer
        # must be one of them as for a choice (the HL7 validator's checkOption); an
        # open-choice's free string is the only answer not drawn from them.
        check_limits(out, definition, value_type, value, where)
    return value_type, value  # well-formed: enableWhen may compare it even if not allowed


def _known_coding(out: Answers, definition: ItemDef, value: Any) -> bool:
    """A Coding (the value of an answer holding nothing else) decided clean by one lookup
    when it is, byte for byte as canonical JSON (so `1` is not `1.0` nor `true`), one of
    the item's option Codings as the Questionnaire writes them (`ItemDef.coding_forms`, with
    their weight extensions, with or without display: what Smart Forms sends) that the full
    checks pass. Those are checked once per item, when first needed; the checks see nothing
    but the value, the item and the terminology, so the result stands. Any other Coding is
    for the full checks (False); nothing from a response is kept.
    """
    known = definition.clean_codings
    if definition.coding_forms:
        if not known:
            known.update(_accepted(out, definition))
        try:
            if orjson.dumps(value, option=orjson.OPT_SORT_KEYS) in known:
                return True
        except orjson.JSONEncodeError:  # beyond 64-bit integers, lone surrogates, ...
            pass
    return _plain_option(definition, value)


def _accepted(out: Answers, definition: ItemDef) -> set[bytes]:
    """The item's option Coding forms the full checks find clean (b"": checked, none were)."""
    accepted = {b""}
    for form in definition.coding_forms:
        scratch = Answers(out.terminology)
        found = _check_answer(scratch, definition, {"valueCoding": orjson.loads(form)}, "")
        if found is not None and not scratch.issues:
            accepted.add(form)
    return accepted


def _plain_option(definition: ItemDef, value: Any) -> bool:
    """The common case, checked in one go: a well-formed Coding that is one of the options,
    with no elements but system, code and the option's display. False for anything else,
    which the general checks then look at.
    """
    if type(value) is not dict or not value.keys() <= _PLAIN_CODING:
        return False
    code, system = value.get("code"), value.get("system")
    if type(code) is not str or not code or not (type(system) is str or "system" not in value):
        return False
    option = definition.options.get(("Coding", system, code))
    if option is None:
        return False
    display = value.get("display")
    return display is None or display == option.display


def _format(value_type: str, value: Any) -> str | None:
    """Why `value` is not a valid FHIR `value_type` (a primitive), or None if it is."""
    kind = type(value)
    if value_type == "Boolean":
        return None if kind is bool else "must be true or false"
    if value_type == "Integer":
        ok = kind is int and _INT32[0] <= value <= _INT32[1]
        return None if ok else "must be a 32-bit integer"
    if value_type == "Decimal":
        ok = kind is int or (kind is float and math.isfinite(value))
        return None if ok else "must be a finite number"
    if kind is not str or not value.strip():
        return "must be a non-empty string"
    if value_type == "Uri":  # urn:uuid: and urn:oid: included (see `primitives`)
        problem = check_primitive("uri", value)
        return None if problem is None else problem.text
    pattern = _PATTERNS.get(value_type)
    return None if pattern is None or pattern.fullmatch(value) else "is not a valid " + value_type


def _complex(value_type: str, value: Any) -> str | None:
    if type(value) is not dict or not value:
        return "must be a non-empty JSON object"
    if value_type == "Coding" and (type(value.get("code")) is not str or not value["code"]):
        return "needs a code"
    if value_type == "Coding" and not isinstance(value.get("system", ""), str):
        return "has a system that is not a string"
    if value_type == "Quantity" and "value" in value and _format("Decimal", value["value"]):
        return "has a value that is not a number"
    return None


def _check_option(
    out: Answers, definition: ItemDef, value_type: str, value: Any, where: str
) -> bool:
    if value_type == "Coding":
        key: Any = ("Coding", value.get("system"), value.get("code"))  # answer_key, inline
    else:
        key = answer_key(value_type, value)
    link = definition.link_id
    if not definition.options:
        return _check_value_set(out, definition, key, value, where)
    option = definition.options.get(key)
    if option is None:
        text = f"{_show(value_type, value)} is not an answerOption of item '{link}'"
        if value_type == "Coding" and not value.get("system"):
            text += " (the Coding has no system, and an option is its system and code)"
        text += f"; {expected_options(definition.options.values())}"
        out.error(IssueType.CODE_INVALID, text, where, rules.QR_ANSWER_NOT_IN_OPTIONS, link)
        return False
    if value_type == "Coding":
        _coding(out, definition, option, value, where)
    return True


def _check_value_set(out: Answers, definition: ItemDef, key: Any, value: Any, where: str) -> bool:
    link = definition.link_id
    codes = out.terminology.codes(definition.answer_value_set or "")
    if codes is None:
        text = f"answerValueSet {definition.answer_value_set!r} is not known; code not checked"
        out.add(
            IssueSeverity.INFORMATION,
            IssueType.INFORMATIONAL,
            text,
            where=where,
            rule=rules.QR_ANSWER_VALUESET_UNCHECKED,
            link=link,
        )
    elif key not in codes:
        text = f"{_show('Coding', value)} is not in {definition.answer_value_set} of item '{link}'"
        out.error(IssueType.CODE_INVALID, text, where, rules.QR_ANSWER_NOT_IN_VALUESET, link)
        return False
    weight = out.terminology.weights.get((value.get("system"), value.get("code")))
    _weigh(out, definition, weight, value, where)
    return True


def _coding(out: Answers, definition: ItemDef, option: Option, value: Any, where: str) -> None:
    display = value.get("display")
    if option.display is not None and display is not None and display != option.display:
        text = f"display {display!r} differs from the option's {option.display!r}"
        out.add(
            IssueSeverity.WARNING,
            IssueType.VALUE,
            text,
            where=where,
            rule=rules.QR_ANSWER_DISPLAY_MISMATCH,
            link=definition.link_id,
        )
    if "extension" in value:
        weight = _option_weight(out, option, value.get("system"), value.get("code"))
        _weigh(out, definition, weight, value, where)


def _option_weight(out: Answers, option: Option, system: Any, code: Any) -> float | None:
    """The option's own weight, else its CodeSystem's (SDC lookup order)."""
    if option.weight is not None:
        return option.weight
    return out.terminology.weights.get((system, code))


def _weigh(out: Answers, definition: ItemDef, weight: float | None, value: Any, where: str) -> None:
    """An itemWeight the client put on its Coding is not trusted: scoring uses the content's
    (`weights`); one that differs from it is a warning."""
    if "extension" not in value:
        return
    for _, ext in extensions(value, ITEM_WEIGHT) + extensions(value, ORDINAL_VALUE):
        if ext.get("valueDecimal", ext.get("valueInteger")) != weight:
            text = "the answer's own itemWeight differs from the Questionnaire's; ignored"
            out.add(
                IssueSeverity.WARNING,
                IssueType.VALUE,
                text,
                where=where,
                rule=rules.QR_ANSWER_WEIGHT_IGNORED,
                link=definition.link_id,
            )


def check_exclusive(
    out: Answers, definition: ItemDef, values: list[tuple[str, Any]], where: str
) -> None:
    """An optionExclusive option must be the only answer (questionnaire-optionExclusive)."""
    for index, (value_type, value) in enumerate(values):
        option = definition.options.get(answer_key(value_type, value)) if value_type else None
        if option is not None and option.exclusive:
            link = definition.link_id
            text = f"{_show(value_type, value)} is exclusive: it cannot be given with other answers"
            here = f"{where}.answer[{index}].value"
            out.error(IssueType.BUSINESS_RULE, text, here, rules.QR_ANSWER_EXCLUSIVE, link)


def _show(value_type: str, value: Any) -> str:
    if value_type == "Coding":
        return f"{value.get('system', '')}|{value.get('code')}"
    return repr(value)
