"""A Questionnaire as an HTML form, and a submitted form as a QuestionnaireResponse.

The fields are read from the Questionnaire's own JSON (the catalogue's, the one the API
compiled), never from a second copy of the content. Each answerable item becomes one field
named `a:<linkId>`; a choice option is sent as its position in `answerOption`, so the
response carries the option's Coding exactly as the Questionnaire writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["EXAMPLE_SUBJECT", "SUBJECT", "Field", "Option", "fields_of", "response_from_form"]

_EXT: Final = "http://hl7.org/fhir/StructureDefinition/"
_HIDDEN: Final = _EXT + "questionnaire-hidden"
_CONTROL: Final = _EXT + "questionnaire-itemControl"
_MIN: Final = _EXT + "minValue"
_MAX: Final = _EXT + "maxValue"
_STEP: Final = _EXT + "questionnaire-sliderStepValue"
_CALCULATED: Final = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
#: Item types the form can answer, and the HTML input each becomes.
_INPUTS: Final = {
    "string": "text",
    "text": "textarea",
    "url": "url",
    "integer": "number",
    "decimal": "number",
    "date": "date",
    "time": "time",
}
_ANSWER_KEY: Final = {
    "string": "valueString",
    "text": "valueString",
    "url": "valueUri",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "date": "valueDate",
    "time": "valueTime",
    "boolean": "valueBoolean",
}
PREFIX: Final = "a:"
#: The form field for `QuestionnaireResponse.subject` ($extract files Observations about it).
SUBJECT: Final = "subject"
#: What the subject field starts with: a placeholder reference, not anyone's record.
EXAMPLE_SUBJECT: Final = "Patient/example"


@dataclass(frozen=True, slots=True)
class Option:
    """One answerOption: its position (the value the form sends) and its label."""

    index: int
    label: str


@dataclass(slots=True)
class Field:
    """One item as the form shows it; `kind` picks the template: display, group, choice,
    boolean, slider, input, or unsupported (an item type the form cannot answer)."""

    link_id: str
    kind: str
    text: str
    prefix: str = ""
    required: bool = False
    repeats: bool = False
    input: str = ""
    options: tuple[Option, ...] = ()
    low: str = ""  # slider anchors, from the `lower` and `upper` display children
    high: str = ""
    minimum: Any = None
    maximum: Any = None
    step: Any = None
    enable_when: str = ""  # a summary for people; the server's $validate decides
    #: The conditions as the script can check them in the browser (form values, JSON), or
    #: "" when some condition is beyond it (then the item stays shown).
    live_when: str = ""
    children: list[Field] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The form field's name."""
        return PREFIX + self.link_id


def _dicts(node: Mapping[str, Any], key: str) -> Iterator[dict[str, Any]]:
    value = node.get(key)
    if isinstance(value, list):
        yield from (child for child in value if isinstance(child, dict))


def _extension(item: Mapping[str, Any], url: str) -> dict[str, Any] | None:
    return next((ext for ext in _dicts(item, "extension") if ext.get("url") == url), None)


def _scalar(ext: dict[str, Any] | None) -> Any:
    if ext is None:
        return None
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def _control(item: Mapping[str, Any]) -> str | None:
    concept = _scalar(_extension(item, _CONTROL))
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if isinstance(codings, list):
        return next((c.get("code") for c in codings if isinstance(c, dict)), None)
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _label(option: Mapping[str, Any]) -> str:
    for key, value in option.items():
        if key == "valueCoding" and isinstance(value, dict):
            return _text(value.get("display")) or _text(value.get("code"))
        if key.startswith("value") and not isinstance(value, dict | list):
            return str(value)
    return "(option)"


def _enable_when(item: Mapping[str, Any]) -> str:
    parts = []
    for condition in _dicts(item, "enableWhen"):
        answer = next((v for k, v in condition.items() if k.startswith("answer")), None)
        if isinstance(answer, dict):
            answer = answer.get("display") or answer.get("code")
        elif isinstance(answer, bool):
            answer = str(answer).lower()
        parts.append(f"{condition.get('question')} {condition.get('operator')} {answer}")
    behaviour = " and " if item.get("enableBehavior") == "all" else " or "
    return behaviour.join(parts)


_ANCHORS: Final = frozenset({"lower", "upper"})  # a slider's labels: shown beside it
_LIVE_OPERATORS: Final = frozenset({"exists", "=", "!=", ">", "<", ">=", "<="})


def _live_when(item: Mapping[str, Any], questions: Mapping[str, dict[str, Any]]) -> str:
    """enableWhen in form values: a Coding as the position of the question's option."""
    conditions = []
    for condition in _dicts(item, "enableWhen"):
        question = questions.get(str(condition.get("question")))
        operator = condition.get("operator")
        answer = next((v for k, v in condition.items() if k.startswith("answer")), None)
        if question is None or operator not in _LIVE_OPERATORS:
            return ""
        if isinstance(answer, bool):
            value = str(answer).lower()
        elif isinstance(answer, int | float | str):
            value = str(answer)
        elif isinstance(answer, dict) and "code" in answer:
            value = next(
                (
                    str(index)
                    for index, option in enumerate(_dicts(question, "answerOption"))
                    if _same_coding(option.get("valueCoding"), answer)
                ),
                "",
            )
            if not value:
                return ""
        else:
            return ""
        conditions.append({"question": question["linkId"], "operator": operator, "value": value})
    behaviour = "all" if item.get("enableBehavior") == "all" else "any"
    return json.dumps({"behavior": behaviour, "conditions": conditions}) if conditions else ""


def _same_coding(option: Any, wanted: dict[str, Any]) -> bool:
    if not isinstance(option, dict) or option.get("code") != wanted.get("code"):
        return False
    return "system" not in wanted or option.get("system") == wanted.get("system")


def _index(items: Sequence[Any], into: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("linkId"), str):
            into.setdefault(item["linkId"], item)
            _index(list(_dicts(item, "item")), into)
    return into


def fields_of(
    items: Sequence[Any], questions: Mapping[str, dict[str, Any]] | None = None
) -> list[Field]:
    """The fields for a list of Questionnaire items; hidden and calculated items are left out.

    `questions` (every item by linkId) is found from `items` when not given.
    """
    questions = _index(items, {}) if questions is None else questions
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            continue
        if _scalar(_extension(item, _HIDDEN)) is True or _extension(item, _CALCULATED):
            continue
        found.append(_field(item, questions))
    return found


def _field(item: dict[str, Any], questions: Mapping[str, dict[str, Any]]) -> Field:
    kind = _text(item.get("type"))
    made = Field(
        link_id=item["linkId"],
        kind="input",
        text=_text(item.get("text")),
        prefix=_text(item.get("prefix")),
        required=item.get("required") is True,
        repeats=item.get("repeats") is True,
        enable_when=_enable_when(item),
        live_when=_live_when(item, questions),
    )
    children = list(_dicts(item, "item"))
    anchors = {_control(child): _text(child.get("text")) for child in children}
    shown = [c for c in children if c.get("type") != "display" or _control(c) not in _ANCHORS]
    made.children = fields_of(shown, questions)
    if kind in {"display", "group"}:
        made.kind = kind
    elif kind in {"choice", "open-choice"} and any(_dicts(item, "answerOption")):
        made.kind = "choice"
        options = enumerate(_dicts(item, "answerOption"))
        made.options = tuple(Option(index, _label(option)) for index, option in options)
    elif kind == "boolean":
        made.kind = "boolean"
    elif kind in {"integer", "decimal"} and _control(item) == "slider":
        made.kind = "slider"
        made.low, made.high = anchors.get("lower", ""), anchors.get("upper", "")
    elif kind in _INPUTS:
        made.input = _INPUTS[kind]
    else:
        made.kind = "unsupported"
    made.minimum = _scalar(_extension(item, _MIN))
    made.maximum = _scalar(_extension(item, _MAX))
    made.step = _scalar(_extension(item, _STEP)) or (1 if kind == "integer" else "any")
    return made


def response_from_form(
    questionnaire: Mapping[str, Any], form: Mapping[str, Sequence[str]], status: str
) -> dict[str, Any]:
    """The QuestionnaireResponse a form submission describes (only what was answered).

    A value the item type cannot hold (text in a number field) is sent as a string, so
    `$validate` reports it against the item rather than the form dropping it silently.
    """
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire.get('url')}|{questionnaire.get('version')}"
        if questionnaire.get("version")
        else str(questionnaire.get("url")),
        "status": status,
    }
    subject = "".join(form.get(SUBJECT, ())).strip()
    if subject:
        response["subject"] = {"reference": subject}
    items = _answered(list(_dicts(questionnaire, "item")), form)
    if items:
        response["item"] = items
    return response


def _answered(items: list[dict[str, Any]], form: Mapping[str, Sequence[str]]) -> list[Any]:
    found: list[dict[str, Any]] = []
    for item in items:
        link_id = item.get("linkId")
        if not isinstance(link_id, str):
            continue
        children = _answered(list(_dicts(item, "item")), form)
        if item.get("type") == "group":
            if children:
                found.append({"linkId": link_id, "item": children})
            continue
        answers = [
            answer
            for raw in form.get(PREFIX + link_id, ())
            if raw.strip() and (answer := _answer(item, raw.strip())) is not None
        ]
        if answers and children:
            answers[0]["item"] = children
        if answers:
            found.append({"linkId": link_id, "answer": answers})
    return found


def _answer(item: dict[str, Any], raw: str) -> dict[str, Any] | None:
    kind = item.get("type")
    if kind in {"choice", "open-choice"}:
        options = list(_dicts(item, "answerOption"))
        if not raw.isdigit() or int(raw) >= len(options):
            return None  # not one of ours: a tampered form
        option = options[int(raw)]
        return {k: v for k, v in option.items() if k.startswith("value")}
    if kind == "boolean":
        return {"valueBoolean": raw == "true"} if raw in {"true", "false"} else None
    key = _ANSWER_KEY.get(str(kind))
    if key is None:
        return None
    if kind in {"integer", "decimal"}:
        return {key: _number(raw, integer=kind == "integer")}
    return {key: raw}


def _number(raw: str, *, integer: bool) -> Any:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return raw
    if not value.is_finite():
        return raw
    if integer:
        return int(value) if value == value.to_integral_value() else raw
    return int(value) if value == value.to_integral_value() and "." not in raw else float(value)
