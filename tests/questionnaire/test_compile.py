"""Compiling Questionnaires: what is indexed, and every content rule with its expression."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import UnprocessableContent
from service.fhir.outcome import IssueType
from service.questionnaire import Limits, compile_questionnaire
from tests.builders.instruments import compiled, questionnaires
from tests.builders.toy import toy, toy_questionnaire

CALC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
BAND = "https://rapport-fhir.github.io/fhir/StructureDefinition/score-band"
EXTRACT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract"
WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"


def _q(*items: Any, **root: Any) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "status": "active", "item": list(items), **root}


def _calc(expression: Any, language: str = "text/fhirpath") -> dict[str, Any]:
    return {"url": CALC, "valueExpression": {"language": language, "expression": expression}}


def _var(name: Any, expression: str) -> dict[str, Any]:
    value = {"name": name, "language": "text/fhirpath", "expression": expression}
    return {"url": VARIABLE, "valueExpression": value}


def _score(*extensions: Any, kind: str = "decimal", **more: Any) -> dict[str, Any]:
    return {"linkId": "s", "type": kind, "extension": list(extensions), **more}


def _band(*parts: Any) -> dict[str, Any]:
    return {"url": BAND, "extension": list(parts)}


LOW = {"url": "low", "valueDecimal": 5}
HIGH = {"url": "high", "valueDecimal": 1}
CODING = {"url": "interpretation", "valueCoding": {"system": "urn:b", "code": "x"}}
Q = "Questionnaire"
ONE = {"linkId": "1", "type": "integer"}


def _rules(questionnaire: Any, **kw: Any) -> list[tuple[str | None, str | None]]:
    with pytest.raises(UnprocessableContent) as caught:
        compile_questionnaire(questionnaire, **kw)
    return [(issue.rule, issue.expression) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("questionnaire", "expected"),
    [
        pytest.param([], [("q-not-questionnaire", Q)], id="not an object"),
        pytest.param({"resourceType": "Patient"}, [("q-not-questionnaire", Q)], id="not a Q"),
        pytest.param(_q(item={}), [("q-invalid", f"{Q}.item")], id="item not an array"),
        pytest.param(_q({"type": "string"}), [("q-linkid", f"{Q}.item[0]")], id="no linkId"),
        pytest.param(_q(ONE, ONE), [("q-linkid", f"{Q}.item[1].linkId")], id="linkId twice"),
        pytest.param(
            _q({"linkId": "1", "type": "question"}),
            [("q-invalid", f"{Q}.item[0].type")],
            id="unknown type",
        ),
        pytest.param(
            _q({"linkId": "1", "type": "display", "required": True}),
            [("q-invalid", f"{Q}.item[0]")],
            id="display required (que-6)",
        ),
        pytest.param(
            _q({"linkId": "1", "type": "choice", "answerOption": {}}),
            [("q-invalid", f"{Q}.item[0].answerOption")],
            id="answerOption not an array",
        ),
        pytest.param(
            _q({"linkId": "1", "type": "choice", "answerOption": [{}, 3, {"valueCoding": "x"}]}),
            [
                ("q-invalid", f"{Q}.item[0].answerOption[0]"),
                ("q-invalid", f"{Q}.item[0].answerOption[1]"),
                ("q-invalid", f"{Q}.item[0].answerOption[2]"),
            ],
            id="answerOption without a value",
        ),
        pytest.param(
            _q(
                {
                    "linkId": "1",
                    "type": "choice",
                    "answerOption": [
                        {
                            "valueCoding": {"code": "a"},
                            "extension": [{"url": WEIGHT, "valueDecimal": "1"}],
                        }
                    ],
                }
            ),
            [("q-invalid", f"{Q}.item[0].answerOption[0].extension[0]")],
            id="itemWeight not a number",
        ),
        pytest.param(
            _q({"linkId": "1", "type": "string", "enableWhen": {}}),
            [("q-invalid", f"{Q}.item[0].enableWhen")],
            id="enableWhen not an array",
        ),
        pytest.param(
            _q(
                {
                    "linkId": "1",
                    "type": "string",
                    "enableWhen": [
                        {"question": "1", "operator": "~", "answerString": "x"},
                        {"question": "1", "operator": "="},
                        {"question": "1", "operator": "=", "answerCoding": "x"},
                        5,
                    ],
                }
            ),
            [(("q-enablewhen-invalid", f"{Q}.item[0].enableWhen[{n}]")) for n in range(4)],
            id="enableWhen malformed",
        ),
        pytest.param(
            _q(
                {
                    "linkId": "1",
                    "type": "string",
                    "enableWhen": [{"question": "9", "operator": "exists", "answerBoolean": True}],
                }
            ),
            [("q-enablewhen-invalid", f"{Q}.item[0].enableWhen[0].question")],
            id="enableWhen on an unknown item",
        ),
        pytest.param(
            _q(_score({"url": CALC})),
            [("q-expression", f"{Q}.item[0].extension[0]")],
            id="no valueExpression",
        ),
        pytest.param(
            _q(_score(_calc(7))),
            [("q-expression", f"{Q}.item[0].extension[0]")],
            id="expression not a string",
        ),
        pytest.param(
            _q(_score(_calc("1 +"))),
            [("q-expression", f"{Q}.item[0].extension[0]")],
            id="syntax error",
        ),
        pytest.param(
            _q(_score(_calc("x", "text/cql"))),
            [("q-expression-language", f"{Q}.item[0].extension[0]")],
            id="language",
        ),
        pytest.param(
            _q(extension=[_var("not a name", "1")]),
            [("q-variable", f"{Q}.extension[0]")],
            id="variable without a name",
        ),
        pytest.param(
            _q(extension=[_var("a", "1 +")]),
            [("q-expression", f"{Q}.extension[0]")],
            id="variable does not parse",
        ),
        pytest.param(
            _q(extension=[_var("a", "1"), _var("a", "2")]),
            [("q-variable", f"{Q}.extension[1]")],
            id="variable declared twice",
        ),
        pytest.param(
            _q(_score(_calc("%nope + 1"))),
            [("q-variable-undefined", f"{Q}.item[0].extension[0]")],
            id="undefined variable",
        ),
        pytest.param(
            _q(
                {"linkId": "a", "type": "group", "item": [ONE], "extension": [_var("v", "1")]},
                _score(_calc("%v")),
            ),
            [("q-variable-undefined", f"{Q}.item[1].extension[0]")],
            id="variable out of scope",
        ),
        pytest.param(
            _q(_score(_calc("'x'"), kind="string")),
            [("q-calculated-type", f"{Q}.item[0].extension[0]")],
            id="calculated string",
        ),
        pytest.param(
            _q(_score(_calc("1"), {"url": EXTRACT, "valueBoolean": True})),
            [("q-extract-needs-code", f"{Q}.item[0].code")],
            id="extract without code",
        ),
        pytest.param(
            _q(_score(_calc("1"), _band(LOW, HIGH, CODING))),
            [("q-score-band", f"{Q}.item[0].extension[1]")],
            id="band low above high",
        ),
        pytest.param(
            _q(_score(_calc("1"), _band(LOW), {"url": BAND, "extension": {}})),
            [
                ("q-score-band", f"{Q}.item[0].extension[1]"),
                ("q-score-band", f"{Q}.item[0].extension[2]"),
            ],
            id="band without interpretation",
        ),
        pytest.param(
            _q(_score(_calc("1"), _band({"url": "low", "valueDecimal": "5"}, CODING))),
            [("q-score-band", f"{Q}.item[0].extension[1]")],
            id="band bound not a number",
        ),
        pytest.param(
            _q(_score(_calc("true"), _band(CODING), kind="boolean")),
            [("q-score-band", f"{Q}.item[0].extension[1]")],
            id="band on a flag",
        ),
    ],
)
def test_content_rule(questionnaire: Any, expected: list[tuple[str, str]]) -> None:
    assert _rules(questionnaire) == expected


@pytest.mark.parametrize(
    ("questionnaire", "expected"),
    [
        pytest.param(
            _q({"linkId": "1", "type": ["string"]}),
            [("q-invalid", f"{Q}.item[0].type")],
            id="type an array",
        ),
        pytest.param(
            _q({"linkId": "1", "type": {"code": "string"}}),
            [("q-invalid", f"{Q}.item[0].type")],
            id="type an object",
        ),
        pytest.param(
            _q(
                ONE,
                {
                    **ONE,
                    "linkId": "2",
                    "enableWhen": [{"question": "1", "operator": ["="], "answerInteger": 1}],
                },
            ),
            [("q-enablewhen-invalid", f"{Q}.item[1].enableWhen[0]")],
            id="operator an array",
        ),
    ],
)
def test_json_of_the_wrong_type_is_a_content_error(
    questionnaire: Any, expected: list[tuple[str, str]]
) -> None:
    """Arrays and objects where a string belongs are reported, never hashed (a 500)."""
    assert _rules(questionnaire) == expected


def test_json_of_the_wrong_type_elsewhere_compiles() -> None:
    """Option keys are hashable whatever JSON the value is, and a band part whose url is not
    a string is no part: the catalogue checks report both."""
    option = [{"valueCoding": {"system": ["urn:a"], "code": "a"}}, {"valueString": {"s": 1}}]
    band = _band({"url": ["low"], "valueDecimal": 1}, CODING)
    cq = compile_questionnaire(
        _q({"linkId": "1", "type": "choice", "answerOption": option}, _score(_calc("1"), band))
    )
    assert len(cq.items["1"].options) == 2
    assert cq.scores[0].bands[0].low is None


@pytest.mark.parametrize(
    ("questionnaire", "limits", "where"),
    [
        pytest.param(
            _q(ONE, {"linkId": "2", "type": "string"}),
            Limits(max_items=1),
            f"{Q}.item[1]",
            id="items",
        ),
        pytest.param(
            _q({"linkId": "g", "type": "group", "item": [ONE]}),
            Limits(max_depth=1),
            f"{Q}.item[0]",
            id="depth",
        ),
        pytest.param(
            _q(_score(_calc("1")), extension=[_var("a", "1")]),
            Limits(max_expressions=1),
            Q,
            id="expressions",
        ),
        pytest.param(
            _q(_score(_calc("1 + 2")), extension=[_var("a", "1")]),
            Limits(max_expression_chars=4),
            Q,
            id="expression characters",
        ),
        pytest.param(
            _q(_score(_calc("1")), extension=[_var("a", "1")]),
            Limits(max_compile_seconds=-1.0),
            Q,
            id="compile time",
        ),
    ],
)
def test_limits(questionnaire: Any, limits: Limits, where: str) -> None:
    with pytest.raises(UnprocessableContent) as caught:
        compile_questionnaire(questionnaire, limits=limits)
    (issue,) = caught.value.issues
    assert (issue.rule, issue.expression, issue.code) == (
        "q-too-large",
        where,
        IssueType.TOO_COSTLY,
    )


def test_expression_length_is_bounded() -> None:
    long = " + ".join(["1"] * 40)
    assert _rules(_q(_score(_calc(long))), limits=Limits(max_expression_length=50)) == [
        ("q-expression", f"{Q}.item[0].extension[0]")
    ]


def test_items_are_indexed_in_document_order() -> None:
    cq = toy()
    assert list(cq.items)[:5] == ["intro", "smoker", "packs", "grp", "mood"]
    assert cq.root_children[:4] == ("intro", "smoker", "packs", "grp")
    grp, packs, mood = cq.items["grp"], cq.items["packs"], cq.items["mood"]
    assert grp.children[0] == "mood"
    assert mood.parent == "grp"
    assert mood.position == 0
    assert (packs.min_value, packs.max_value, packs.required) == (0, 10, True)
    assert packs.enable_when[0].question == "smoker"
    assert cq.items["heavy"].enable_all
    assert cq.items["note"].max_length == 5
    assert cq.items["note"].min_length == 2
    assert cq.items["family"].repeats
    assert cq.items["score"].read_only
    assert cq.items["score"].hidden
    assert [o.weight for o in mood.options.values()] == [0, 2, None]
    assert (cq.url, cq.version, cq.id) == ("https://example.org/Questionnaire/toy", "2.0.0", "toy")


def test_scores_are_indexed() -> None:
    cq = compiled("qids-sr-16")
    total = cq.score("total")
    assert total is not None
    assert cq.score("nope") is None
    assert total.uses == frozenset(str(n) for n in range(1, 17))
    assert next(b.interpretation["code"] for b in total.bands) == "qids-sr-16-none"
    assert total.extract
    assert total.type == "decimal"
    flag = cq.score("item-12-flag")
    assert flag is not None
    assert flag.type == "boolean"
    assert flag.uses == {"12"}


def test_shipped_expressions_all_compile_to_closures() -> None:
    for name in questionnaires():
        cq = compiled(name)
        assert all(score.expression.compiled for score in cq.scores), name


def test_interpret_uses_fhirpathpy() -> None:
    cq = compile_questionnaire(questionnaires()["wai-sr"], interpret=True)
    assert not any(score.expression.compiled for score in cq.scores)


def test_inner_variable_may_shadow_an_outer_one() -> None:
    questionnaire = _q(_score(_var("a", "2"), _calc("%a")), extension=[_var("a", "1")])
    assert compile_questionnaire(questionnaire).scope.children[0].variables[0].name == "a"


def test_malformed_contained_terminology_is_ignored() -> None:
    questionnaire = toy_questionnaire()
    questionnaire["contained"] += [
        5,
        {"resourceType": "ValueSet"},
        {"resourceType": "ValueSet", "id": "empty", "compose": {"include": [5, {"concept": [5]}]}},
        {"resourceType": "ValueSet", "id": "odd", "expansion": {"contains": [5, {"system": "s"}]}},
        {"resourceType": "CodeSystem", "id": "cs", "concept": [5, {"code": "x", "property": [5]}]},
        {"resourceType": "Patient", "id": "p"},
        {"resourceType": "ValueSet", "id": "lists", "compose": {"include": [
            {"system": ["s"], "concept": [{"code": ["c"]}]}]}},
        {"resourceType": "ValueSet", "id": "nested", "expansion": {"contains": [
            {"system": {"s": 1}, "code": "c"}]}},
        {"resourceType": "CodeSystem", "id": "bad-url", "url": ["u"], "concept": [
            {"code": "c", "property": [{"code": "itemWeight", "valueDecimal": 1}]}]},
        {"resourceType": "CodeSystem", "id": "bad-code", "url": "u", "concept": [
            {"code": ["c"], "property": [{"code": "itemWeight", "valueDecimal": 1}]}]},
    ]  # fmt: skip
    terminology = compile_questionnaire(questionnaire).terminology
    assert terminology.value_sets["#empty"] == frozenset()
    assert terminology.value_sets["#odd"] == frozenset()
    assert len(terminology.value_sets["#lists"]) == len(terminology.value_sets["#nested"]) == 1
    assert set(terminology.weights) == {("urn:colours", "red"), ("urn:colours", "blue")}
    questionnaire["contained"] = {}
    assert compile_questionnaire(questionnaire).terminology.value_sets == {}


def test_a_limit_without_a_value_is_ignored() -> None:
    minimum = {"url": "http://hl7.org/fhir/StructureDefinition/minValue"}
    cq = compile_questionnaire(_q({**ONE, "extension": [minimum, 5]}))
    assert cq.items["1"].min_value is None


def test_repeated_scores_are_those_under_a_repeating_item() -> None:
    """A score per repetition: under a repeating group or question, however deep; not under
    non-repeating ones nor at the top level."""
    questionnaire = _q(
        {"linkId": "top", "type": "decimal", "extension": [_calc("1")]},
        {
            "linkId": "once",
            "type": "group",
            "item": [{"linkId": "in-once", "type": "decimal", "extension": [_calc("1")]}],
        },
        {
            "linkId": "many",
            "type": "group",
            "repeats": True,
            "item": [
                {
                    "linkId": "inner",
                    "type": "group",
                    "item": [{"linkId": "deep", "type": "decimal", "extension": [_calc("1")]}],
                }
            ],
        },
        {
            "linkId": "q",
            "type": "string",
            "repeats": True,
            "item": [{"linkId": "under-answer", "type": "decimal", "extension": [_calc("1")]}],
        },
    )
    cq = compile_questionnaire(questionnaire)
    assert cq.calculated == {"top", "in-once", "deep", "under-answer"}
    assert cq.repeated_scores == {"deep", "under-answer"}
