"""Indexing one Questionnaire.item: its type, options with weights, enableWhen and limits.

Limits are R4 `maxLength` and the core extensions minValue, maxValue,
minLength, maxLength, regex (see `service.fhirpath.regex`), maxDecimalPlaces,
questionnaire-minOccurs/-maxOccurs (answers of a repeating question, or
repetitions of a repeating group) and questionnaire-optionExclusive; those on
quantity, attachment and reference answers are `complex_limits`'s.

Problems are appended to a list of issues (rule ids `q-*`, see `model`) so an
author sees all of them at once; the caller raises.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from service import rules
from service.fhir import r4
from service.fhir.outcome import Issue, IssueType, error
from service.fhirpath.regex import Pattern, UnsafePattern, UnsupportedPattern, compile_pattern
from service.rules import Rule

from .complex_limits import ComplexLimits, complex_limits
from .extensions import (
    HIDDEN,
    ITEM_WEIGHT,
    MAX_DECIMAL_PLACES,
    MAX_LENGTH,
    MAX_OCCURS,
    MAX_VALUE,
    MIN_LENGTH,
    MIN_OCCURS,
    MIN_VALUE,
    OPTION_EXCLUSIVE,
    ORDINAL_VALUE,
    REGEX,
    extensions,
    finite_number,
    first_value,
)

__all__ = ["EnableWhen", "ItemDef", "Option", "answer_key", "expected_options", "index_item"]

#: The value[x] types an answerOption may carry (R4 Questionnaire.item.answerOption.value[x]).
#: enableWhen.operator (R4 questionnaire-enable-operator).


@dataclass(frozen=True, slots=True)
class Option:
    """One answerOption: its value type and comparison key, display, SDC weight, exclusivity."""

    value_type: str
    key: Hashable
    display: str | None
    weight: float | None
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class EnableWhen:
    """One enableWhen condition: `question` `operator` `answer` (answer key as `answer_key`)."""

    question: str
    operator: str
    answer_type: str
    answer: Any


@dataclass(frozen=True, slots=True)
class ItemDef:
    """What validation needs to know about one Questionnaire item."""

    link_id: str
    type: str
    text: str | None
    path: str
    parent: str | None
    position: int
    required: bool
    repeats: bool
    read_only: bool
    hidden: bool
    options: dict[Hashable, Option]
    option_types: frozenset[str]
    answer_value_set: str | None
    enable_when: tuple[EnableWhen, ...]
    enable_all: bool
    min_value: Any
    max_value: Any
    min_length: int | None
    max_length: int | None
    pattern: Pattern | None
    max_decimal_places: int | None
    min_occurs: int | None
    max_occurs: int | None
    complex_limits: ComplexLimits | None  # None: no limit on its Quantity, Attachment, ...
    initial: tuple[dict[str, Any], ...]
    children: tuple[str, ...]
    qitem: dict[str, Any]  # the item itself, SDC's %qitem in its expressions
    # Each Coding option as the Questionnaire writes it (with its own extensions), and without
    # its display, as canonical JSON: the forms clients copy (`service.response.answers`
    # accepts the ones its full checks pass, once, into `clean_codings`).
    coding_forms: tuple[bytes, ...] = ()
    clean_codings: set[bytes] = field(default_factory=set, compare=False, repr=False)
    answer_types: frozenset[str] = frozenset()  # the value[x] types its answers may carry
    # The integers an answer may be without more checks (an integer question without
    # answerOptions: int32, within minValue and maxValue), or None if no such shortcut.
    integer_range: tuple[float, float] | None = None


def answer_key(value_type: str, value: Any) -> Hashable:
    """The comparison key of an answer value: Codings by (system, code), References by
    reference, others by value; hashable whatever JSON the value is.
    """
    if value_type == "Coding":
        return ("Coding", _frozen(value.get("system")), _frozen(value.get("code")))
    if value_type == "Reference":
        return ("Reference", _frozen(value.get("reference")))
    return (value_type, _frozen(value))


def _frozen(value: Any) -> Hashable:
    """A JSON scalar as it is; an object or array (Quantity, Attachment, malformed content)
    as its canonical JSON text, tagged so that it never equals a string value.
    """
    if type(value) is dict or type(value) is list:
        return ("json", json.dumps(value, sort_keys=True, separators=(",", ":")))
    scalar: Hashable = value  # str, int, float, bool or None
    return scalar


def index_item(
    item: dict[str, Any], path: str, parent: str | None, position: int, issues: list[Issue]
) -> ItemDef:
    """The ItemDef of a Questionnaire item (children are filled in by the caller)."""
    link_id = item["linkId"]
    kind = item.get("type")
    if type(kind) is not str or kind not in r4.ITEM_TYPES:
        issues.append(_bad(f"{path}.type", f"item '{link_id}' has unknown type {kind!r}"))
        kind = "display"
    options = _options(item, path, issues)
    if kind == "display" and (item.get("required") or item.get("repeats")):
        issues.append(_bad(path, f"display item '{link_id}' cannot be required or repeat (que-6)"))
    min_occurs = _count(item, MIN_OCCURS, path, issues)
    max_occurs = _count(item, MAX_OCCURS, path, issues, least=1)
    if min_occurs is not None and max_occurs is not None and min_occurs > max_occurs:
        issues.append(_bad(path, f"item '{link_id}' has minOccurs above maxOccurs"))
    option_types = frozenset(option.value_type for option in options)
    low, high = _limit(item, MIN_VALUE), _limit(item, MAX_VALUE)
    return ItemDef(
        link_id=link_id,
        type=kind,
        text=item.get("text") if type(item.get("text")) is str else None,
        path=path,
        parent=parent,
        position=position,
        required=item.get("required") is True,
        repeats=item.get("repeats") is True,
        read_only=item.get("readOnly") is True,
        hidden=any(ext.get("valueBoolean") is True for _, ext in extensions(item, HIDDEN)),
        options={option.key: option for option in options},
        coding_forms=_coding_forms(item.get("answerOption")),
        option_types=option_types,
        answer_types=_answer_types(kind, option_types),
        integer_range=_integer_range(kind, bool(options), low, high),
        answer_value_set=_string(item.get("answerValueSet")),
        enable_when=_enable_when(item, path, issues),
        enable_all=item.get("enableBehavior") == "all",
        min_value=low,
        max_value=high,
        min_length=_integer(_limit(item, MIN_LENGTH)),
        max_length=_integer(item.get("maxLength", _limit(item, MAX_LENGTH))),
        pattern=_pattern(item, path, issues),
        max_decimal_places=_count(item, MAX_DECIMAL_PLACES, path, issues),
        min_occurs=min_occurs,
        max_occurs=max_occurs,
        complex_limits=complex_limits(item, kind, path, issues),
        initial=tuple(i for i in item.get("initial", ()) if type(i) is dict),
        children=(),
        qitem=item,
    )


def _answer_types(kind: str, option_types: frozenset[str]) -> frozenset[str]:
    """The value[x] types an answer to an item of this type and these options may carry."""
    if kind in ("choice", "open-choice"):
        found = option_types or frozenset({"Coding"})
        return found | {"String"} if kind == "open-choice" else found
    return r4.ANSWER_TYPES_BY_ITEM_TYPE.get(kind, frozenset())


def _integer_range(kind: str, options: bool, low: Any, high: Any) -> tuple[float, float] | None:
    """`ItemDef.integer_range`: int32 narrowed by numeric bounds (a bound of another type
    leaves the answer to the full checks)."""
    bounds = [b for b in (low, high) if b is not None]
    if kind != "integer" or options or not all(type(b) in (int, float) for b in bounds):
        return None
    least, most = -(2**31), 2**31 - 1
    return (least if low is None else max(least, low), most if high is None else min(most, high))


def _bad(expression: str, text: str, rule: Rule = rules.Q_INVALID) -> Issue:
    return error(IssueType.INVALID, text, expression, rule=rule)


def _string(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _integer(value: Any) -> int | None:
    return value if type(value) is int else None


def _limit(item: dict[str, Any], url: str) -> Any:
    for _, ext in extensions(item, url):
        found = first_value(ext)
        if found is not None:
            return found[1]
    return None


def _count(
    item: dict[str, Any], url: str, path: str, issues: list[Issue], least: int = 0
) -> int | None:
    """A non-negative (or at least `least`) valueInteger extension; None if absent."""
    for index, ext in extensions(item, url):
        value = ext.get("valueInteger")
        if type(value) is int and value >= least:
            return value
        name = url.rsplit("/", 1)[1]
        text = f"{name} needs a valueInteger of at least {least}"
        issues.append(_bad(f"{path}.extension[{index}]", text))
    return None


def _pattern(item: dict[str, Any], path: str, issues: list[Issue]) -> Pattern | None:
    for index, ext in extensions(item, REGEX):
        source = ext.get("valueString")
        try:
            if type(source) is not str:
                raise UnsafePattern("needs a valueString")
            return compile_pattern(source)
        except UnsupportedPattern as exc:
            where = f"{path}.extension[{index}].valueString"
            issues.append(
                error(IssueType.NOT_SUPPORTED, f"regex: {exc}", where, rule=rules.Q_REGEX)
            )
        except UnsafePattern as exc:
            issues.append(_bad(f"{path}.extension[{index}]", f"regex: {exc}", rules.Q_REGEX))
    return None


def _coding_forms(raw: Any) -> tuple[bytes, ...]:
    """The option Codings with more than system, code and display, as written and without
    their display, as canonical JSON (sorted keys); content only, a few per option."""
    forms: list[bytes] = []
    for option in raw if type(raw) is list else ():
        coding = option.get("valueCoding") if type(option) is dict else None
        if type(coding) is not dict or coding.keys() <= {"system", "code", "display"}:
            continue  # none, or the plain form, which needs no list
        variants = [coding, {k: v for k, v in coding.items() if k != "display"}]
        for variant in variants[: 1 + ("display" in coding)]:
            try:
                forms.append(orjson.dumps(variant, option=orjson.OPT_SORT_KEYS))
            except orjson.JSONEncodeError:
                break  # not JSON a response could carry: nothing to accept
    return tuple(forms)


def _options(item: dict[str, Any], path: str, issues: list[Issue]) -> list[Option]:
    raw = item.get("answerOption", [])
    if type(raw) is not list:
        issues.append(_bad(f"{path}.answerOption", "answerOption must be an array"))
        return []
    options = []
    for index, option in enumerate(raw):
        here = f"{path}.answerOption[{index}]"
        found = _option(option, here, issues) if type(option) is dict else None
        if found is None:
            issues.append(
                _bad(here, "answerOption needs one value[x] of " + ", ".join(r4.OPTION_VALUE_TYPES))
            )
        else:
            options.append(found)
    return options


def _option(option: dict[str, Any], path: str, issues: list[Issue]) -> Option | None:
    for value_type in r4.OPTION_VALUE_TYPES:
        value = option.get("value" + value_type)
        if value is None:
            continue
        if value_type in ("Coding", "Reference") and type(value) is not dict:
            return None
        display = value.get("display") if value_type == "Coding" else None
        exclusive = any(
            e.get("valueBoolean") is True for _, e in extensions(option, OPTION_EXCLUSIVE)
        )
        return Option(
            value_type,
            answer_key(value_type, value),
            display,
            _weight(option, path, issues),
            exclusive,
        )
    return None


def _weight(option: dict[str, Any], path: str, issues: list[Issue]) -> float | None:
    """SDC itemWeight on the answerOption, else the legacy ordinalValue."""
    for url in (ITEM_WEIGHT, ORDINAL_VALUE):
        for index, ext in extensions(option, url):
            value = finite_number(ext.get("valueDecimal", ext.get("valueInteger")))
            if value is not None:
                return value
            issues.append(
                _bad(f"{path}.extension[{index}]", "itemWeight needs a finite valueDecimal")
            )
    return None


def _enable_when(item: dict[str, Any], path: str, issues: list[Issue]) -> tuple[EnableWhen, ...]:
    raw = item.get("enableWhen", [])
    if type(raw) is not list:
        issues.append(_bad(f"{path}.enableWhen", "enableWhen must be an array"))
        return ()
    conditions = []
    for index, condition in enumerate(raw):
        found = _condition(condition) if type(condition) is dict else None
        if found is None:
            issues.append(
                _bad(
                    f"{path}.enableWhen[{index}]",
                    "enableWhen needs question, a known operator and one answer[x]",
                    rules.Q_ENABLEWHEN_INVALID,
                )
            )
        else:
            conditions.append(found)
    return tuple(conditions)


def _condition(condition: dict[str, Any]) -> EnableWhen | None:
    question, operator = condition.get("question"), condition.get("operator")
    answers = [(k[6:], v) for k, v in condition.items() if k.startswith("answer")]
    if type(question) is not str or type(operator) is not str or len(answers) != 1:
        return None
    if operator not in r4.ENABLE_OPERATORS:
        return None
    value_type, value = answers[0]
    if value_type in ("Coding", "Reference", "Quantity") and type(value) is not dict:
        return None
    return EnableWhen(question, operator, value_type, value)


#: How many options an error lists before it says how many more there are.
_LISTED_OPTIONS = 8


def expected_options(options: Iterable[Option]) -> str:
    """What an item accepts, for an error: each system with its codes, or the values; the
    list is cut after `_LISTED_OPTIONS` with a count of the rest."""
    listed = list(options)
    shown = listed[:_LISTED_OPTIONS]
    more = f" and {len(listed) - len(shown)} more" if len(listed) > len(shown) else ""
    by_system: dict[Any, list[str]] = {}
    values: list[str] = []
    for option in shown:
        key = option.key if isinstance(option.key, tuple) else (option.value_type, option.key)
        if option.value_type == "Coding" and len(key) == 3:  # answer_key: (type, system, code)
            label = f"{key[2]} ({option.display})" if option.display else str(key[2])
            by_system.setdefault(key[1], []).append(label)
        else:
            values.append(repr(key[-1]))
    groups = [
        (f"system {system!r} codes " if system else "codes without a system ") + ", ".join(codes)
        for system, codes in by_system.items()
    ]
    if values:
        groups.append("values " + ", ".join(values))
    return "expected " + "; ".join(groups) + more
