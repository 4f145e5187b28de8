"""Validation rules beyond the core: regex, decimals, occurrences, exclusive options,
enableWhenExpression with variables, targetConstraint, and enableWhen per repetition."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.fhirpath.regex import (
    MAX_PATTERN,
    MAX_RESPONSE_STEPS,
    MAX_STEPS,
    UnsafePattern,
    UnsupportedPattern,
    compile_pattern,
)
from service.questionnaire import CompiledQuestionnaire, compile_questionnaire
from service.response import validate_response

QR = "QuestionnaireResponse"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
CORE = "http://hl7.org/fhir/StructureDefinition/"
E, W = "error", "warning"
Expected = list[tuple[str, str, str | None]]
Mutation = Callable[[dict[str, Any]], Any]


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": CORE + name, **value}


def _fhirpath(expression: str, **extra: Any) -> dict[str, Any]:
    return {"language": "text/fhirpath", "expression": expression, **extra}


def _constraint(key: str, severity: str, expression: str, **more: str) -> dict[str, Any]:
    parts = [
        {"url": "key", "valueId": key},
        {"url": "severity", "valueCode": severity},
        {"url": "human", "valueString": f"rule {key}"},
        {"url": "expression", "valueExpression": _fhirpath(expression)},
    ]
    parts += [{"url": name, "valueString": value} for name, value in more.items()]
    return {"url": CORE + "targetConstraint", "extension": parts}


def _option(code: str, *, exclusive: bool = False) -> dict[str, Any]:
    option: dict[str, Any] = {"valueCoding": {"system": "urn:sym", "code": code}}
    if exclusive:
        option["extension"] = [_ext("questionnaire-optionExclusive", valueBoolean=True)]
    return option


QUESTIONNAIRE: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "id": "rules",
    "url": "https://example.org/Questionnaire/rules",
    "status": "active",
    "extension": [
        {
            "url": CORE + "variable",
            "valueExpression": _fhirpath(
                "%resource.repeat(item).where(linkId = 'age').answer.value", name="age"
            ),
        },
        {
            "url": CORE + "variable",
            "valueExpression": _fhirpath(
                "%resource.repeat(item).where(linkId = 'dose').answer.value", name="dose"
            ),
        },
        _constraint("adult-dose", "error", "%age.empty() or %age >= 18 or %dose.empty()"),
    ],
    "item": [
        {"linkId": "age", "type": "integer"},
        {
            "linkId": "code",
            "type": "string",
            "extension": [_ext("regex", valueString="[A-Z]{2}[0-9]{3}")],
        },
        {
            "linkId": "dose",
            "type": "decimal",
            "extension": [_ext("maxDecimalPlaces", valueInteger=1)],
        },
        {
            "linkId": "symptoms",
            "type": "choice",
            "repeats": True,
            "answerOption": [_option("cough"), _option("fever"), _option("none", exclusive=True)],
            "extension": [
                _ext("questionnaire-maxOccurs", valueInteger=2),
            ],
        },
        {
            "linkId": "contacts",
            "type": "string",
            "repeats": True,
            "extension": [
                _ext("questionnaire-minOccurs", valueInteger=2),
                _ext("questionnaire-maxOccurs", valueInteger=3),
            ],
        },
        {
            "linkId": "pregnant",
            "type": "boolean",
            "extension": [
                {
                    "url": SDC + "sdc-questionnaire-enableWhenExpression",
                    "valueExpression": _fhirpath("%age.exists() and %age >= 12"),
                }
            ],
        },
        {
            "linkId": "visit",
            "type": "group",
            "repeats": True,
            "extension": [
                _ext("questionnaire-minOccurs", valueInteger=2),
                _ext("questionnaire-maxOccurs", valueInteger=2),
                {"url": CORE + "variable", "valueExpression": _fhirpath("30", name="longest")},
            ],
            "item": [
                {"linkId": "admitted", "type": "boolean"},
                {
                    "linkId": "ward",
                    "type": "string",
                    "required": True,
                    "enableWhen": [
                        {"question": "admitted", "operator": "=", "answerBoolean": True}
                    ],
                },
                {
                    "linkId": "days",
                    "type": "integer",
                    "extension": [
                        {
                            "url": SDC + "sdc-questionnaire-enableWhenExpression",
                            "valueExpression": _fhirpath(
                                "%context.item.where(linkId = 'admitted').answer.value"
                            ),
                        },
                        _constraint(
                            "short-stay",
                            "warning",
                            "answer.value <= %longest",
                            location="answer[0].value",
                        ),
                    ],
                },
            ],
        },
    ],
}


def _ward(ward: str) -> dict[str, Any]:
    return {"linkId": "ward", "answer": [{"valueString": ward}]}


def _visit(admitted: bool, ward: str | None = None, days: int | None = None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"linkId": "admitted", "answer": [{"valueBoolean": admitted}]}]
    if ward is not None:
        items.append(_ward(ward))
    if days is not None:
        items.append({"linkId": "days", "answer": [{"valueInteger": days}]})
    return {"linkId": "visit", "item": items}


RESPONSE: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://example.org/Questionnaire/rules",
    "status": "completed",
    "item": [
        {"linkId": "age", "answer": [{"valueInteger": 40}]},
        {"linkId": "code", "answer": [{"valueString": "AB123"}]},
        {"linkId": "dose", "answer": [{"valueDecimal": 2.5}]},
        {"linkId": "symptoms", "answer": [_option("cough"), _option("fever")]},
        {"linkId": "contacts", "answer": [{"valueString": "a"}, {"valueString": "b"}]},
        {"linkId": "pregnant", "answer": [{"valueBoolean": False}]},
        _visit(True, "B2", 3),
        _visit(False),
    ],
}


@cache
def _rules() -> CompiledQuestionnaire:
    return compile_questionnaire(copy.deepcopy(QUESTIONNAIRE))


def _found(response: dict[str, Any], cq: CompiledQuestionnaire | None = None) -> Expected:
    issues = validate_response(cq or _rules(), response).issues
    return [(i.severity.value, i.rule or "", i.expression) for i in issues]


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        node: Any = response
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _item(index: int, *answers: dict[str, Any]) -> Mutation:
    return _set("item", index, "answer", value=list(answers))


def _drop(index: int) -> Mutation:
    return lambda response: response["item"].pop(index)


def _visits(*visits: dict[str, Any]) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        response["item"][6:] = list(visits)

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(response: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(response)

    return mutate


CODE = f"{QR}.item[1].answer[0].value"
DOSE = f"{QR}.item[2].answer[0].value"
VISIT = f"{QR}.item[6]"

CASES: list[tuple[str, Mutation, Expected]] = [
    ("valid", lambda r: None, []),
    # regex (full match)
    ("regex mismatch", _item(1, {"valueString": "ab123"}), [(E, "qr-answer-regex", CODE)]),
    ("regex partial match", _item(1, {"valueString": "AB1234"}), [(E, "qr-answer-regex", CODE)]),
    # maxDecimalPlaces
    (
        "too many decimals",
        _item(2, {"valueDecimal": 2.55}),
        [(E, "qr-answer-decimal-places", DOSE)],
    ),
    ("integer-valued decimal", _item(2, {"valueDecimal": 3}), []),
    # optionExclusive
    (
        "exclusive option with another",
        _item(3, _option("cough"), _option("none")),
        [(E, "qr-answer-exclusive", f"{QR}.item[3].answer[1].value")],
    ),
    ("exclusive option alone", _item(3, _option("none")), []),
    # maxOccurs / minOccurs on a repeating question
    (
        "more answers than maxOccurs",
        _item(4, *({"valueString": c} for c in "abcd")),
        [(E, "qr-occurs-max", f"{QR}.item[4].answer[3]")],
    ),
    (
        "fewer answers than minOccurs",
        _item(4, {"valueString": "a"}),
        [(E, "qr-occurs-min", f"{QR}.item[4]")],
    ),
    (
        "fewer answers than minOccurs, in progress",
        _both(_item(4, {"valueString": "a"}), _set("status", value="in-progress")),
        [(W, "qr-occurs-min", f"{QR}.item[4]")],
    ),
    (
        "fewer answers than minOccurs, stopped",
        _both(_item(4, {"valueString": "a"}), _set("status", value="stopped")),
        [],
    ),
    # questionnaire-minOccurs counts an item left out as none (both reference validators)
    (
        "not answered at all: zero answers, fewer than minOccurs",
        _drop(4),
        [(E, "qr-occurs-min", QR)],
    ),
    # maxOccurs / minOccurs on a repeating group
    (
        "more group repetitions than maxOccurs",
        _visits(_visit(False), _visit(False), _visit(False)),
        [(E, "qr-occurs-max", f"{QR}.item[8]")],
    ),
    ("fewer group repetitions than minOccurs", _visits(_visit(False)), [(E, "qr-occurs-min", QR)]),
    # enableWhen per repetition of a repeating group
    (
        "ward answered in a repetition where it is disabled",
        _visits(_visit(True, "B2"), _visit(False, "C3")),
        [(E, "qr-answer-on-disabled", f"{QR}.item[7].item[1].answer")],
    ),
    (
        "ward required in the admitted repetition only",
        _visits(_visit(False), _visit(True)),
        [(E, "qr-required-missing", f"{QR}.item[7]")],
    ),
    (
        "ward answered in a repetition without admitted: another's admitted does not count",
        _visits(_visit(True, "B2"), {"linkId": "visit", "item": [_ward("C3")]}),
        [(E, "qr-answer-on-disabled", f"{QR}.item[7].item[0].answer")],
    ),
    (
        "ward not required in a repetition without admitted",
        _visits(_visit(True, "B2"), {"linkId": "visit"}),
        [],
    ),
    # enableWhenExpression with %context (per repetition)
    (
        "days answered in a repetition whose %context disables it",
        _visits(_visit(True, "B2", 3), _visit(False, days=2)),
        [(E, "qr-answer-on-disabled", f"{QR}.item[7].item[1].answer")],
    ),
    # enableWhenExpression with a variable
    (
        "pregnant answered though %age disables it",
        _item(0, {"valueInteger": 8}),
        [(E, "qr-answer-on-disabled", f"{QR}.item[5].answer"), (E, "qr-constraint", QR)],
    ),
    (
        "pregnant answered with no age: empty disables",
        _drop(0),
        [(E, "qr-answer-on-disabled", f"{QR}.item[4].answer")],
    ),
    # targetConstraint: on the Questionnaire (error, variables) and on an item (warning, location)
    (
        "root constraint false",
        _both(_item(0, {"valueInteger": 16}), _drop(5)),
        [(E, "qr-constraint", QR)],
    ),
    (
        "item constraint false, per repetition, at its location",
        _visits(_visit(True, "B2", 3), _visit(True, "C3", 40)),
        [(W, "qr-constraint", f"{QR}.item[7].item[2].answer[0].value")],
    ),
    (
        "item constraint not evaluated on a disabled item",
        _visits(_visit(False, days=40), _visit(False)),
        [(E, "qr-answer-on-disabled", f"{QR}.item[6].item[1].answer")],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=n) for n, m, e in CASES])
def test_rule(mutate: Mutation, expected: Expected) -> None:
    response = copy.deepcopy(RESPONSE)
    mutate(response)
    assert _found(response) == expected


def _questionnaire(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "url": "urn:q",
        "status": "active",
        "item": list(items),
        **extra,
    }


def _response(*items: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:q",
        "status": status,
        "item": list(items),
    }


def _when(expression: str) -> dict[str, Any]:
    return {
        "url": SDC + "sdc-questionnaire-enableWhenExpression",
        "valueExpression": _fhirpath(expression),
    }


def test_min_occurs_is_not_demanded_of_a_disabled_item() -> None:
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "on", "type": "boolean"},
            {
                "linkId": "names",
                "type": "string",
                "repeats": True,
                "enableWhen": [{"question": "on", "operator": "=", "answerBoolean": True}],
                "extension": [_ext("questionnaire-minOccurs", valueInteger=2)],
            },
        )
    )
    names = {"linkId": "names", "answer": [{"valueString": "x"}]}
    off = _response({"linkId": "on", "answer": [{"valueBoolean": False}]}, names)
    assert [i.rule for i in validate_response(cq, off).issues] == ["qr-answer-on-disabled"]
    on = _response({"linkId": "on", "answer": [{"valueBoolean": True}]}, names)
    assert [i.rule for i in validate_response(cq, on).issues] == ["qr-occurs-min"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("true", []),
        ("%resource.item.where(linkId = 'zz').answer.value = 1", ["qr-answer-on-disabled"]),
        ("1 + 1", ["qr-expression-failed"]),  # not a boolean: counts as enabled
        ("true | false", ["qr-expression-failed"]),
        ("(1 | 2) + 1", ["qr-expression-failed"]),
    ],
)
def test_enable_when_expression_results(expression: str, expected: list[str]) -> None:
    cq = compile_questionnaire(
        _questionnaire({"linkId": "a", "type": "string", "extension": [_when(expression)]})
    )
    response = _response({"linkId": "a", "answer": [{"valueString": "x"}]})
    assert [i.rule for i in validate_response(cq, response).issues] == expected


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (_constraint("c", "error", "answer.value = 'x'"), []),
        (_constraint("c", "error", "answer.value"), [("qr-expression-failed", f"{QR}.item[0]")]),
        (
            _constraint("c", "warning", "false", location="QuestionnaireResponse.item[0]"),
            [("qr-constraint", f"{QR}.item[0]")],
        ),
        (
            {
                "url": CORE + "questionnaire-constraint",
                "extension": [
                    {"url": "key", "valueId": "old"},
                    {"url": "severity", "valueCode": "error"},
                    {"url": "human", "valueString": "must be y"},
                    {"url": "expression", "valueString": "answer.value = 'y'"},
                ],
            },
            [("qr-constraint", f"{QR}.item[0]")],
        ),
    ],
)
def test_constraint_forms(constraint: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    cq = compile_questionnaire(
        _questionnaire({"linkId": "a", "type": "string", "extension": [constraint]})
    )
    response = _response({"linkId": "a", "answer": [{"valueString": "x"}]})
    issues = validate_response(cq, response).issues
    assert [(i.rule, i.expression) for i in issues] == expected


def test_a_constraint_says_what_it_requires() -> None:
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "a", "type": "string"},
            extension=[_constraint("k1", "error", "item.exists().not()")],
        )
    )
    (issue,) = validate_response(
        cq, _response({"linkId": "a", "answer": [{"valueString": "x"}]})
    ).issues
    assert (issue.text, issue.code.value, issue.location) == (
        "rule k1 (constraint k1)",
        "invariant",
        None,
    )


def test_an_expression_on_a_group_disables_its_items() -> None:
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "on", "type": "boolean"},
            {
                "linkId": "g",
                "type": "group",
                "extension": [_when("%resource.item.where(linkId = 'on').answer.value")],
                "item": [{"linkId": "c", "type": "string", "required": True}],
            },
        )
    )
    group = {"linkId": "g", "item": [{"linkId": "c", "answer": [{"valueString": "x"}]}]}
    on = _response({"linkId": "on", "answer": [{"valueBoolean": True}]}, group)
    assert validate_response(cq, on).issues == []
    off = _response({"linkId": "on", "answer": [{"valueBoolean": False}]}, group)
    assert [i.expression for i in validate_response(cq, off).issues] == [
        f"{QR}.item[1].item[0].answer"
    ]


def test_an_empty_constraint_result_passes() -> None:
    constraint = _constraint("c", "error", "answer.where(value = 'zz').value = 'zz'")
    cq = compile_questionnaire(
        _questionnaire({"linkId": "a", "type": "string", "extension": [constraint]})
    )
    response = _response({"linkId": "a", "answer": [{"valueString": "x"}]})
    assert validate_response(cq, response).issues == []


def test_a_failing_variable_is_reported() -> None:
    variable = {"url": CORE + "variable", "valueExpression": _fhirpath("1 + 'a'", name="v")}
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "a", "type": "string", "extension": [variable, _when("%v.exists()")]}
        )
    )
    response = _response({"linkId": "a", "answer": [{"valueString": "x"}]})
    assert [i.rule for i in validate_response(cq, response).issues] == ["qr-expression-failed"]


LONG = "x" * 2_000
#: Just past what matching x*x*x* may cost: RE2's program size times the length.
TOO_LONG = "x" * (MAX_STEPS // compile_pattern("x*x*x*").size + 1)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("x+", LONG, []),
        ("x*x*x*", LONG, []),
        ("x*x*x*", TOO_LONG, ["qr-answer-regex-unchecked"]),
        ("x*x*x*", "xxx", []),
        ("(?:ab|cd)y", "cdy", []),
        ("(x+x+)+y", LONG, ["qr-answer-regex"]),
        ("(a?){30}a{30}", "a" * 30, []),
        ("(a?){30}a{30}", "a" * 29, ["qr-answer-regex"]),
        ("ab?", "a", []),
    ],
)
def test_regex_cost_bound(pattern: str, value: str, expected: list[str]) -> None:
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "t", "type": "text", "extension": [_ext("regex", valueString=pattern)]}
        )
    )
    response = _response({"linkId": "t", "answer": [{"valueString": value}]})
    assert [i.rule for i in validate_response(cq, response).issues] == expected


def test_regex_work_is_bounded_per_response() -> None:
    """Each answer within MAX_STEPS, together past MAX_RESPONSE_STEPS: the rest unchecked."""
    pattern = compile_pattern("x*x*x*")
    value = "x" * (MAX_STEPS // pattern.size - 1)
    fit = MAX_RESPONSE_STEPS // pattern.cost(len(value))
    cq = compile_questionnaire(
        _questionnaire(
            {"linkId": "t", "type": "text", "repeats": True,
             "extension": [_ext("regex", valueString="x*x*x*")]}
        )
    )  # fmt: skip
    answers = [{"valueString": value} for _ in range(fit + 2)]
    started = time.perf_counter()
    issues = validate_response(cq, _response({"linkId": "t", "answer": answers})).issues
    assert time.perf_counter() - started < 2.0
    assert [i.rule for i in issues] == ["qr-answer-regex-unchecked"] * 2


@pytest.mark.parametrize("pattern", ["[", "a" * (MAX_PATTERN + 1), "a{1001}", r"\p{IsBasicLatin}"])
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(UnsafePattern, match=r"valid|longer"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["(?=a+)b", "(?!a)b", "(?<=a)b", "(?<!a)b", r"(a)\1", r"(?<n>a)\k<n>", "a++", "a{2}+", "(?>a)",
     "[a-z-[aeiou]]", "(?(1)a|b)"],
)  # fmt: skip
def test_patterns_re2_cannot_run_are_not_supported(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern, match="not supported"):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", ["(a+)+b", "(ab|cd)*", "(?:a{2}){2,}", r"[\[(?=]", r"a\\1"])
def test_patterns_that_python_backtracks_on_compile(pattern: str) -> None:
    assert compile_pattern(pattern).size > 0


def test_pattern_cost_is_program_size_times_length() -> None:
    pattern = compile_pattern("[0-9]{3}-[a-z]+(?:x|yz)")
    assert pattern.cost(10) == pattern.size * 11


def test_javascript_unicode_escapes_are_translated() -> None:
    assert compile_pattern("\\u00e9+").matches("\u00e9\u00e9") is True


def _content_rules(item: dict[str, Any], **extra: Any) -> list[str | None]:
    with pytest.raises(UnprocessableContent) as raised:
        compile_questionnaire(_questionnaire({"linkId": "a", **item}, **extra))
    return [issue.rule for issue in raised.value.issues]


@pytest.mark.parametrize(
    ("item", "rules"),
    [
        ({"type": "string", "extension": [_ext("regex", valueString="(a)\\1")]}, ["q-regex"]),
        ({"type": "string", "extension": [_ext("regex", valueString="(?=a)")]}, ["q-regex"]),
        ({"type": "string", "extension": [_ext("regex", valueString="(")]}, ["q-regex"]),
        ({"type": "string", "extension": [_ext("regex", valueInteger=1)]}, ["q-regex"]),
        (
            {"type": "decimal", "extension": [_ext("maxDecimalPlaces", valueInteger=-1)]},
            ["q-invalid"],
        ),
        (
            {
                "type": "string",
                "repeats": True,
                "extension": [
                    _ext("questionnaire-minOccurs", valueInteger=3),
                    _ext("questionnaire-maxOccurs", valueInteger=2),
                ],
            },
            ["q-invalid"],
        ),
        (
            {"type": "string", "extension": [_ext("questionnaire-maxOccurs", valueInteger=0)]},
            ["q-invalid"],
        ),
        (
            {
                "type": "string",
                "enableWhen": [{"question": "a", "operator": "exists", "answerBoolean": True}],
                "extension": [_when("true")],
            },
            ["q-enablewhen-invalid"],
        ),
        ({"type": "string", "extension": [_when("%nope")]}, ["q-variable-undefined"]),
        ({"type": "string", "extension": [_when("(")]}, ["q-expression"]),
        (
            {"type": "string", "extension": [{"url": CORE + "targetConstraint"}]},
            ["q-constraint"],
        ),
        (
            {"type": "string", "extension": [_constraint("k", "fatal", "true")]},
            ["q-constraint"],
        ),
        (
            {"type": "string", "extension": [_constraint("k", "error", "%nope")]},
            ["q-variable-undefined"],
        ),
        (
            {"type": "string", "extension": [_constraint("k", "error", "(")]},
            ["q-expression"],
        ),
        (
            {
                "type": "string",
                "extension": [
                    {
                        "url": CORE + "targetConstraint",
                        "extension": [
                            {"url": "key", "valueId": "k"},
                            {"url": "severity", "valueCode": "error"},
                            {"url": "human", "valueString": "h"},
                            {"url": "expression", "valueString": "("},
                        ],
                    }
                ],
            },
            ["q-expression"],
        ),
        (
            {
                "type": "string",
                "extension": [
                    {
                        "url": CORE + "targetConstraint",
                        "extension": [
                            {"url": "key", "valueId": "k"},
                            {"url": "severity", "valueCode": "error"},
                            {"url": "human", "valueString": "h"},
                            {"url": "location", "valueString": "answer"},
                            7,
                        ],
                    }
                ],
            },
            ["q-constraint"],
        ),
    ],
)
def test_content_errors(item: dict[str, Any], rules: list[str]) -> None:
    assert _content_rules(item) == rules


MAX, MIN = "qr-answer-max-value", "qr-answer-min-value"


@pytest.mark.parametrize(
    ("kind", "limit", "bound", "answer", "expected"),
    [
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2025-06-01T00:00:00Z", [MAX]),
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2023-12-31T23:00:00-02:00", [MAX]),
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+02:00", []),
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", []),
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2025", [MAX]),
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2024", []),  # unknown at a year
        ("dateTime", "maxValue", "2024-01-01", "2024-01-02T00:30:00+02:00", [MAX]),
        ("dateTime", "maxValue", "2024-01-01", "2024-01-01T10:00:00Z", []),
        ("date", "maxValue", "2024-01-01", "2025", [MAX]),
        ("date", "maxValue", "2024-01-01", "2025-06", [MAX]),
        ("date", "maxValue", "2024-01-01", "2024-01", []),
        ("date", "maxValue", "2024-01-01", "2023-12-31", []),
        ("date", "minValue", "2024-06-01", "2024", []),
        ("date", "minValue", "2024-06-01", "2023", [MIN]),
        ("time", "maxValue", "12:00:00", "13:00:00.5", [MAX]),
        ("time", "maxValue", "12:00:00", "12:00:00.5", [MAX]),
        ("time", "maxValue", "12:00:00", "12:00:00", []),
        ("time", "minValue", "08:30:00", "08:29:59.5", [MIN]),
        ("time", "maxValue", "2024-01-01", "13:00:00", []),  # a time never compares with a date
        ("dateTime", "maxValue", "2024-01-01T00:00:00Z", "2025-02-31T10:00:00Z", []),  # no such day
        ("date", "maxValue", "2024-1-1", "2025", []),  # a malformed bound is not used
    ],
)
def test_date_and_time_limits(
    kind: str, limit: str, bound: str, answer: str, expected: list[str]
) -> None:
    """minValue / maxValue as FHIRPath compares: by precision, instants across zones."""
    value = "valueDateTime" if "T" in bound else "valueTime" if ":" in bound else "valueDate"
    key = {"date": "valueDate", "dateTime": "valueDateTime", "time": "valueTime"}[kind]
    cq = compile_questionnaire(
        _questionnaire({"linkId": "d", "type": kind, "extension": [_ext(limit, **{value: bound})]})
    )
    response = _response({"linkId": "d", "answer": [{key: answer}]})
    assert [i.rule for i in validate_response(cq, response).issues] == expected


def _group_variables() -> dict[str, Any]:
    """Variables on repeating groups, used by an enableWhenExpression and a constraint below."""
    cap = _fhirpath("item.where(linkId = 'cap').answer.value", name="cap")
    on = _fhirpath("item.where(linkId = 'q1').answer.value", name="on")
    return _questionnaire(
        {
            "linkId": "g",
            "type": "group",
            "repeats": True,
            "extension": [{"url": CORE + "variable", "valueExpression": on}],
            "item": [
                {"linkId": "q1", "type": "boolean"},
                {"linkId": "q2", "type": "string", "extension": [_when("%on = true")]},
                {
                    "linkId": "h",
                    "type": "group",
                    "repeats": True,
                    "extension": [{"url": CORE + "variable", "valueExpression": cap}],
                    "item": [
                        {"linkId": "cap", "type": "integer"},
                        {
                            "linkId": "text",
                            "type": "string",
                            "extension": [
                                _when("%on"),
                                _constraint("cap", "error", "answer.value.length() <= %cap"),
                            ],
                        },
                    ],
                },
            ],
        }
    )


@pytest.mark.parametrize("interpret", [False, True])
def test_item_variables_are_evaluated_in_the_enclosing_repetition(interpret: bool) -> None:
    """SDC: a variable on an item has %context (and focus) that item's instance."""

    def h(cap: int, text: str) -> dict[str, Any]:
        answers = [_item_of("cap", {"valueInteger": cap}), _item_of("text", {"valueString": text})]
        return {"linkId": "h", "item": answers}

    def g(on: bool, *more: dict[str, Any]) -> dict[str, Any]:
        return {"linkId": "g", "item": [_item_of("q1", {"valueBoolean": on}), *more]}

    cq = compile_questionnaire(_group_variables(), interpret=interpret)
    q2 = _item_of("q2", {"valueString": "x"})
    response = _response(
        g(True, q2, h(3, "abcd"), h(10, "abcd")),
        g(False, q2),
        g(True, h(4, "abcd")),
    )
    issues = validate_response(cq, response).issues
    assert [(i.rule, i.expression) for i in issues] == [
        ("qr-answer-on-disabled", f"{QR}.item[1].item[1].answer"),
        ("qr-constraint", f"{QR}.item[0].item[2].item[1]"),
    ]


def _item_of(link: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link, "answer": [value]}


def test_a_value_set_resolves_in_the_questionnaire_first_then_beside_it() -> None:
    """`#id`: the Questionnaire's own contained ValueSet, else the one contained beside it."""

    def value_set(id: str, code: str) -> dict[str, Any]:
        contains = [{"system": "urn:s", "code": code}]
        return {"resourceType": "ValueSet", "id": id, "expansion": {"contains": contains}}

    items = [
        {"linkId": "own", "type": "choice", "answerValueSet": "#vs"},
        {"linkId": "beside", "type": "choice", "answerValueSet": "#other"},
    ]
    cq = compile_questionnaire(
        _questionnaire(*items, contained=[value_set("vs", "a")]),
        siblings=[{"resourceType": "ValueSet"}, value_set("vs", "b"), value_set("other", "b")],
    )
    response = _response(
        _item_of("own", {"valueCoding": {"system": "urn:s", "code": "b"}}),
        _item_of("beside", {"valueCoding": {"system": "urn:s", "code": "b"}}),
    )
    issues = validate_response(cq, response).issues
    assert [(i.rule, i.location) for i in issues] == [("qr-answer-not-in-valueset", "own")]
