"""The bad-input catalogue: every entry is a request the service must refuse with a 4xx
OperationOutcome carrying `expect_code` (and `expect_expression` where it points at content).

An entry's body is one of `json` (a value sent as JSON), `raw` (bytes sent as they are) or
`make` (the name of a generator in MAKERS, for inputs too large to write out). `bug` marks
an entry the service gets wrong today: the test runs it as a strict xfail with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["CASES", "MAKERS", "TOLERATED"]

BASE = "https://rapport-fhir.github.io/fhir/Questionnaire"
PHQ9 = f"{BASE}/phq-9|1.0.0"
EBI = f"{BASE}/ebi|1.1.0"
SCORE = "/fhir/QuestionnaireResponse/$score"
VALIDATE = "/fhir/QuestionnaireResponse/$validate"
EXTRACT = "/fhir/QuestionnaireResponse/$extract"
ITEM_PATH = "QuestionnaireResponse.item[0]"
VALUE_PATH = "QuestionnaireResponse.item[0].answer[0].value"
EXPRESSION = "Questionnaire.item[1].extension[0].valueExpression"  # of `_contained`'s score
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
INITIAL = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"
ENABLE_WHEN = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)
#: Minutes of backtracking for Python's `re` on 40 characters; RE2 answers at once.
NESTED_REGEX = "^(a+)+$"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
MATCHED = "%resource.item.where(linkId='s').answer.value"
SCORE_BAND = "https://rapport-fhir.github.io/fhir/StructureDefinition/score-band"
STRING = {"linkId": "a", "type": "string"}
NOT_ZERO = {"system": "http://loinc.org", "code": "LA6568-5"}  # PHQ-9 "Not at all"
HUGE = 100_000
#: Ten a's, their empty string replaced by ten a's seven times: 1.8 million characters
#: (eight times: 20 million and 1.8 GB of memory), unless the length is checked first.
REPLACED_7 = "'aaaaaaaaaa'" + ".replace('', 'aaaaaaaaaa')" * 7
#: Within the element budget, but tenths of a second: twenty of them pass the time limit.
LONG_REPEAT = "(1).repeat(iif($this < 49999, $this + 1, {})).count()"


def _answered(link_id: str = "1", **value: Any) -> dict[str, Any]:
    return {"linkId": link_id, "answer": [value or {"valueCoding": NOT_ZERO}]}


def _qr(questionnaire: str = PHQ9, **extra: Any) -> dict[str, Any]:
    """A completed PHQ-9 response answering every item 'Not at all' (valid), plus `extra`."""
    items = [_answered(str(n)) for n in range(1, 10)]
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire,
        "status": "completed",
        "item": items,
        **extra,
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _spliced(extra: str) -> bytes:
    """A valid PHQ-9 response with `extra` (raw JSON text) spliced in as further members."""
    return _dumps(_qr())[:-1] + b"," + extra.encode() + b"}"


def _contained(expressions: list[str], score: str = "1") -> dict[str, Any]:
    """A response to a contained Questionnaire whose root variables and score are `expressions`."""
    variables = [
        {
            "url": VARIABLE,
            "valueExpression": {"name": f"v{n}", "language": "text/fhirpath", "expression": e},
        }
        for n, e in enumerate(expressions)
    ]
    score_item = {
        "linkId": "s",
        "type": "decimal",
        "code": [{"system": "https://example.org/scores", "code": "s"}],
        "readOnly": True,
        "extension": [
            {
                "url": CALCULATED,
                "valueExpression": {"language": "text/fhirpath", "expression": score},
            }
        ],
    }
    questionnaire = {
        "resourceType": "Questionnaire",
        "id": "q",
        "url": "https://example.org/Questionnaire/site",
        "status": "active",
        **({"extension": variables} if variables else {}),
        "item": [{"linkId": "a", "type": "integer"}, score_item],
    }
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "completed",
        "contained": [questionnaire],
        "item": [_answered("a", valueInteger=1)],
    }


def _doubling(first: str, step: str, times: int = 24, score: str = "1") -> dict[str, Any]:
    """`_contained` with variables %v0 = `first` and each next one `step` applied to the last
    (`{v}` in `step`): what doubles a string or a collection each time."""
    steps = [step.format(v=f"%v{n}") for n in range(times)]
    return _contained([first, *steps], score)


def _site(*items: dict[str, Any], **root: Any) -> dict[str, Any]:
    """A response to a contained Questionnaire of `items` and `root` elements (None drops one):
    what the catalogue refuses must be refused here too (422, its problems as issues)."""
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "active", **root}
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "#q",
        "status": "in-progress",
        "contained": [
            {k: v for k, v in questionnaire.items() if v is not None} | {"item": list(items)}
        ],
    }


def _enabled_by(expression: str, **answers: str) -> dict[str, Any]:
    """A response to a contained Questionnaire whose item 't' has this enableWhenExpression,
    answering its string items 's', 'p' and 't' as given."""
    when = {
        "url": ENABLE_WHEN,
        "valueExpression": {"language": "text/fhirpath", "expression": expression},
    }
    items = [{"linkId": "s", "type": "string"}, {"linkId": "p", "type": "string"},
             {"linkId": "t", "type": "string", "extension": [when]}]  # fmt: skip
    response = _site(*items)
    response["item"] = [_answered(k, valueString=v) for k, v in answers.items()]
    return response


def _regex_item(pattern: str, answer: str) -> dict[str, Any]:
    """A response to a contained Questionnaire whose string item 's' has this `regex`."""
    item = {"linkId": "s", "type": "string", "extension": [{"url": REGEX, "valueString": pattern}]}
    response = _site(item)
    response["item"] = [_answered("s", valueString=answer)]
    return response


def _banded(band: dict[str, Any]) -> dict[str, Any]:
    """`_contained([])` with `band` as a further extension of its score item."""
    response = _contained([])
    response["contained"][0]["item"][1]["extension"].append(band)
    return response


def _inline(questionnaire: dict[str, Any]) -> dict[str, Any]:
    """$validate's Parameters form with `questionnaire` given inline."""
    response = {"resourceType": "QuestionnaireResponse", "status": "in-progress"}
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "questionnaire-response", "resource": response},
            {"name": "questionnaire", "resource": questionnaire},
        ],
    }


def _initial_expressions(count: int, length: int) -> bytes:
    """`count` items whose initialExpression (parsed by the checks, not compiled) is `length`
    characters of arithmetic."""
    expression = " + ".join(["1"] * (length // 4))
    items = [
        {"linkId": f"i{n}", "type": "integer", "extension": [{"url": INITIAL, "valueExpression": {
            "language": "text/fhirpath", "expression": expression}}]}
        for n in range(count)
    ]  # fmt: skip
    return _dumps(_site(*items))


def _deep_items(depth: int) -> bytes:
    inner = b'{"linkId": "1"}'
    for _ in range(depth):
        inner = b'{"linkId": "1", "item": [' + inner + b"]}"
    return _dumps(_qr())[:-1] + b', "extension": [], "item": [' + inner + b"]}"


def _deep_arrays_in_extension(depth: int) -> bytes:
    return _spliced('"extension": ' + "[" * depth + "]" * depth)


def _deep_objects_in_meta(depth: int) -> bytes:
    return _spliced('"meta": ' + '{"tag": ' * depth + "1" + "}" * depth)


def _deep_objects_in_contained(depth: int) -> bytes:
    """Contained resources are checked for their type and id only: the writer bounds the rest."""
    deep = '{"x": ' * depth + "1" + "}" * depth
    return _spliced('"contained": [{"resourceType": "Basic", "id": "b", "code": ' + deep + "}]")


def _deep_extensions(depth: int) -> bytes:
    inner = '{"url": "urn:x", "valueString": "x"}'
    for _ in range(depth):
        inner = '{"url": "urn:x", "extension": [' + inner + "]}"
    return _spliced('"extension": [' + inner + "]")


def _many_items(count: int) -> bytes:
    # Bare items: 100k answered ones would pass MAX_BODY_BYTES and be refused as 413 first.
    return _dumps(_qr(item=[{"linkId": "1"}] * count))


def _batch(entries: int, resource: dict[str, Any]) -> bytes:
    entry = {"request": {"method": "POST", "url": "QuestionnaireResponse/$score"}}
    entries_json = [{**entry, "resource": resource}] * entries
    return _dumps({"resourceType": "Bundle", "type": "batch", "entry": entries_json})


#: Generators for inputs too large to write out, by the name the catalogue uses.
MAKERS: dict[str, Callable[[], bytes]] = {
    "deep-items-3000": lambda: _deep_items(3000),
    "deep-arrays-3000": lambda: _deep_arrays_in_extension(3000),
    "deep-objects-300": lambda: _deep_objects_in_meta(300),
    "deep-objects-300-contained": lambda: _deep_objects_in_contained(300),
    "deep-extensions-100": lambda: _deep_extensions(100),
    "items-100k": lambda: _many_items(HUGE),
    "items-5000": lambda: _many_items(5000),
    "linkid-100k": lambda: _dumps(_qr(item=[{"linkId": "x" * HUGE}])),
    "status-100k": lambda: _dumps(_qr(status="s" * HUGE)),
    "canonical-100k": lambda: _dumps(_qr(questionnaire="https://e.org/" + "q" * HUGE)),
    "element-100k": lambda: _dumps(_qr(**{"e" * HUGE: 1})),
    "code-100k": lambda: _dumps(
        _qr(item=[_answered(valueCoding={"system": "http://loinc.org", "code": "c" * HUGE})])
    ),
    "integer-10e400": lambda: (
        b'{"resourceType": "QuestionnaireResponse", "questionnaire": "' + EBI.encode() + b'", '
        b'"status": "completed", "item": [{"linkId": "1", "answer": [{"valueInteger": '
        + str(10**400).encode()
        + b"}]}]}"
    ),
    "integer-5000-digits": lambda: _spliced('"id": ' + "9" * 5000),
    "integer-2e63-in-extension": lambda: _spliced(
        '"extension": [{"url": "https://example.org/x", "valueInteger": ' + str(2**64) + "}]"
    ),
    "integer-10e30-in-batch": lambda: _batch(1, {**_qr(), "id": 10**30}),
    "batch-101": lambda: _batch(101, _qr()),
    "union-800": lambda: _dumps(_contained([], "(" + " | ".join(map(str, range(800))) + ")")),
    "long-expressions-8": lambda: _dumps(_contained([" + ".join(["1"] * 1000) for _ in range(8)])),
    "initial-expressions-20": lambda: _initial_expressions(20, 2000),
    "contained-600k": lambda: _dumps(_site(STRING, description="d" * 600_000)),
}


def _case(
    name: str,
    method: str,
    path: str,
    expect_status: int,
    expect_code: str,
    *,
    at: str | None = None,
    json_body: Any = None,
    raw: bytes | None = None,
    make: str | None = None,
    headers: dict[str, str] | None = None,
    bug: str | None = None,
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "name": name,
        "method": method,
        "path": path,
        "headers": headers or {},
        "expect_status": expect_status,
        "expect_code": expect_code,
        "expect_expression": at,
        "bug": bug,
    }
    if json_body is not None:
        case["json"] = json_body
    elif raw is not None:
        case["raw"] = raw
    elif make is not None:
        case["make"] = make
    return case


_QR_PATH = "QuestionnaireResponse.questionnaire"

#: The catalogue. Names are unique; the test ids are these names.
# fmt: off
CASES: tuple[dict[str, Any], ...] = (
    # --- JSON that does not parse (400 structure, nothing to point at) -------------------
    _case("truncated-mid-string", "POST", SCORE, 400, "structure", raw=_dumps(_qr())[:60]),
    _case("truncated-mid-number", "POST", SCORE, 400, "structure", raw=b'{"a": [1, 2, 3'),
    _case("single-quotes", "POST", SCORE, 400, "structure", raw=b"{'resourceType': 'x'}"),
    _case("js-comment", "POST", SCORE, 400, "structure", raw=b'{/* c */ "a": 1}'),
    _case("trailing-comma", "POST", SCORE, 400, "structure", raw=b'{"a": 1,}'),
    _case("raw-control-char", "POST", SCORE, 400, "structure", raw=b'{"id": "a\x01b"}'),
    _case("overlong-utf8", "POST", SCORE, 400, "structure", raw=b'{"id": "\xc0\xaf"}'),
    _case("utf16-body", "POST", SCORE, 400, "structure", raw='{"a": 1}'.encode("utf-16")),
    _case("bom-before-response", "POST", SCORE, 400, "structure",
          raw=b"\xef\xbb\xbf" + _dumps(_qr())),
    _case(
        "duplicate-keys-nested", "POST", SCORE, 400, "structure",
        raw=_spliced('"item": [{"linkId": "1", "linkId": "2"}]'),
    ),
    _case("nan-as-value", "POST", SCORE, 400, "structure", raw=_spliced('"x": NaN')),
    _case("infinity", "POST", SCORE, 400, "structure", raw=b'{"valueDecimal": Infinity}'),
    _case("minus-infinity", "POST", SCORE, 400, "structure", raw=b'{"valueDecimal": -Infinity}'),
    _case("decimal-minus-1e400", "POST", SCORE, 400, "structure", raw=b'{"valueDecimal": -1e400}'),
    _case("integer-5000-digits", "POST", SCORE, 400, "structure", make="integer-5000-digits"),
    _case(
        "integer-2e64-in-extension", "POST", SCORE, 400, "structure",
        make="integer-2e63-in-extension",
    ),
    _case(
        "integer-10e30-in-batch-entry", "POST", "/fhir", 400, "structure",
        make="integer-10e30-in-batch",
    ),
    _case(
        "lone-surrogate-linkid", "POST", SCORE, 400, "structure",
        raw=_spliced('"extension": []').replace(b'"linkId": "1"', b'"linkId": "\\ud800"'),
    ),
    _case(
        "lone-surrogate-canonical", "POST", SCORE, 400, "structure",
        raw=b'{"resourceType": "QuestionnaireResponse", "questionnaire": "\\udfff", '
        b'"status": "completed"}',
    ),
    # --- nesting and size ---------------------------------------------------------------
    _case("items-nested-3000-deep", "POST", SCORE, 400, "too-costly", make="deep-items-3000"),
    _case("arrays-nested-3000-deep", "POST", SCORE, 400, "too-costly", make="deep-arrays-3000"),
    _case(  # deeper than jsonio.MAX_DEPTH: refused when parsed, before any checks
        "objects-nested-300-deep-in-meta", "POST", SCORE, 400, "too-costly",
        make="deep-objects-300",
    ),
    _case(
        "objects-nested-300-deep-in-contained", "POST", SCORE, 400, "too-costly",
        make="deep-objects-300-contained",
    ),
    _case(
        "extensions-nested-100-deep", "POST", SCORE, 400, "too-costly",
        make="deep-extensions-100",
    ),
    _case(
        "items-100k", "POST", SCORE, 400, "too-costly", at="QuestionnaireResponse.item",
        make="items-100k",
    ),
    _case(
        "items-5000-over-max-items", "POST", SCORE, 400, "too-costly",
        make="items-5000",
    ),
    _case("linkid-100k-chars", "POST", SCORE, 422, "structure", at=ITEM_PATH, make="linkid-100k"),
    _case(
        "status-100k-chars", "POST", SCORE, 422, "value", at="QuestionnaireResponse.status",
        make="status-100k",
    ),
    _case("canonical-100k-chars", "POST", SCORE, 422, "not-found", at=_QR_PATH,
          make="canonical-100k"),
    _case("element-name-100k-chars", "POST", SCORE, 422, "structure", make="element-100k"),
    _case("code-100k-chars", "POST", SCORE, 422, "code-invalid", at=VALUE_PATH, make="code-100k"),
    # --- wrong JSON types ---------------------------------------------------------------
    _case(
        "status-as-object", "POST", SCORE, 422, "value", at="QuestionnaireResponse.status",
        json_body=_qr(status={"code": "completed"}),
    ),
    _case(
        "item-as-string", "POST", SCORE, 422, "structure", at="QuestionnaireResponse.item",
        json_body=_qr(item="1"),
    ),
    _case(
        "item-entry-as-array", "POST", SCORE, 422, "structure", at=ITEM_PATH,
        json_body=_qr(item=[["1"]]),
    ),
    _case(
        "answer-as-number", "POST", SCORE, 422, "structure", at=f"{ITEM_PATH}.answer",
        json_body=_qr(item=[{"linkId": "1", "answer": 0}]),
    ),
    _case(
        "answer-entry-as-string", "POST", SCORE, 422, "structure", at=f"{ITEM_PATH}.answer[0]",
        json_body=_qr(item=[{"linkId": "1", "answer": ["LA6568-5"]}]),
    ),
    _case(
        "linkid-as-integer", "POST", SCORE, 422, "required", at=ITEM_PATH,
        json_body=_qr(item=[{"linkId": 1, "answer": [{"valueCoding": NOT_ZERO}]}]),
    ),
    _case(
        "valuecoding-as-string", "POST", SCORE, 422, "value", at=VALUE_PATH,
        json_body=_qr(item=[_answered(valueCoding="LA6568-5")]),
    ),
    _case(
        "valueinteger-on-choice", "POST", SCORE, 422, "value", at=VALUE_PATH,
        json_body=_qr(item=[_answered(valueInteger=0)]),
    ),
    _case(
        "valueinteger-10e400", "POST", SCORE, 400, "structure", make="integer-10e400"
    ),
    _case(
        "contained-as-object", "POST", SCORE, 400, "structure",
        at="QuestionnaireResponse.contained", json_body=_qr(questionnaire="#q", contained={}),
    ),
    _case(
        "questionnaire-as-list", "POST", SCORE, 400, "structure", at=_QR_PATH,
        json_body=_qr(questionnaire=[PHQ9]),
    ),
    _case("resourcetype-as-number", "POST", SCORE, 400, "structure", at="resourceType",
          json_body={"resourceType": 5}),
    # --- content that breaks a rule -----------------------------------------------------
    _case(
        "unknown-element-root", "POST", SCORE, 422, "structure", at="QuestionnaireResponse.score",
        json_body=_qr(score=27),
    ),
    _case(
        "unknown-element-answer", "POST", SCORE, 422, "structure",
        at=f"{ITEM_PATH}.answer[0].weight",
        json_body=_qr(item=[_answered(valueCoding=NOT_ZERO, weight=3)]),
    ),
    _case(
        "two-value-x", "POST", SCORE, 422, "structure", at=f"{ITEM_PATH}.answer[0]",
        json_body=_qr(item=[_answered(valueCoding=NOT_ZERO, valueInteger=0)]),
    ),
    _case(
        "coding-without-code", "POST", SCORE, 422, "value", at=VALUE_PATH,
        json_body=_qr(item=[_answered(valueCoding={"system": "http://loinc.org"})]),
    ),
    _case(
        "answer-without-value", "POST", SCORE, 422, "required", at=f"{ITEM_PATH}.answer[0]",
        json_body=_qr(item=[{"linkId": "1", "answer": [{}]}]),
    ),
    _case(
        "status-missing", "POST", SCORE, 422, "required", at="QuestionnaireResponse.status",
        json_body={k: v for k, v in _qr().items() if k != "status"},
    ),
    # R4 structure of the response itself (service.response.datatypes)
    _case(
        "authored-not-a-datetime", "POST", SCORE, 422, "value",
        at="QuestionnaireResponse.authored", json_body=_qr(authored="yesterday"),
    ),
    _case(
        "subject-as-string", "POST", SCORE, 422, "structure",
        at="QuestionnaireResponse.subject", json_body=_qr(subject="Patient/1"),
    ),
    _case(
        "id-not-an-r4-id", "POST", SCORE, 422, "value", at="QuestionnaireResponse.id",
        json_body=_qr(id="a b$"),
    ),
    _case(
        "item-null", "POST", SCORE, 422, "structure", at="QuestionnaireResponse.item",
        json_body=_qr(item=None),
    ),
    _case(
        "modifier-extension", "POST", SCORE, 422, "not-supported",
        at="QuestionnaireResponse.modifierExtension[0]",
        json_body=_qr(modifierExtension=[{"url": "urn:x:negated", "valueBoolean": True}]),
    ),
    _case(
        "coding-display-as-number", "POST", SCORE, 422, "structure", at=f"{VALUE_PATH}.display",
        json_body=_qr(item=[_answered(valueCoding={**NOT_ZERO, "display": 5})]),
    ),
    _case(
        "extension-without-url", "POST", SCORE, 422, "required",
        at="QuestionnaireResponse.extension[0].url",
        json_body=_qr(extension=[{"valueString": "x"}]),
    ),
    _case("resourcetype-observation", "POST", SCORE, 400, "structure", at="resourceType",
          json_body={"resourceType": "Observation", "status": "final"}),
    _case("resourcetype-lowercase", "POST", VALIDATE, 400, "structure", at="resourceType",
          json_body={**_qr(), "resourceType": "questionnaireresponse"}),
    _case(
        "canonical-unicode", "POST", SCORE, 422, "not-found", at=_QR_PATH,
        json_body=_qr(questionnaire="https://例え.jp/Questionnaire/ü😀|1.0.0"),
    ),
    _case("canonical-garbled", "POST", SCORE, 422, "not-found", at=_QR_PATH,
          json_body=_qr(questionnaire="::|||%%00")),
    _case("canonical-nul-char", "POST", EXTRACT, 422, "not-found", at=_QR_PATH,
          json_body=_qr(questionnaire=f"{BASE}/phq-9\u0000")),
    _case("canonical-blank", "POST", SCORE, 400, "structure", at=_QR_PATH,
          json_body=_qr(questionnaire="   ")),
    _case("version-prefix-only", "POST", SCORE, 422, "not-found", at=_QR_PATH,
          json_body=_qr(questionnaire=f"{BASE}/phq-9|1.0")),
    _case("version-doubled", "POST", SCORE, 422, "not-found", at=_QR_PATH,
          json_body=_qr(questionnaire=f"{PHQ9}|1.0.0")),
    _case("relative-traversal", "POST", SCORE, 422, "not-found", at=_QR_PATH,
          json_body=_qr(questionnaire="Questionnaire/../phq-9")),
    # --- contained Questionnaires: invalid, or built to explode -------------------------
    _case(
        "contained-not-a-questionnaire", "POST", SCORE, 422, "not-found", at=_QR_PATH,
        json_body=_qr(questionnaire="#q", contained=[{"resourceType": "Patient", "id": "q"}]),
    ),
    _case(
        "contained-item-without-linkid", "POST", SCORE, 422, "invalid",
        at="Questionnaire.item[0].linkId",
        json_body={
            **_contained([]),
            "contained": [{"resourceType": "Questionnaire", "id": "q", "status": "active",
                           "item": [{"type": "string"}]}],
        },
    ),
    _case("contained-syntax-error", "POST", SCORE, 422, "invalid",
          at=EXPRESSION, json_body=_contained([], "1 +* 2")),
    _case("contained-undefined-variable", "POST", SCORE, 422, "invalid",
          at="Questionnaire.item[1].extension[0]", json_body=_contained([], "%nowhere")),
    _case("contained-parens-1500-deep", "POST", SCORE, 422, "invalid",
          at=EXPRESSION,
          json_body=_contained([], "(" * 1500 + "1" + ")" * 1500)),
    _case("contained-union-800", "POST", SCORE, 422, "invalid",
          at=EXPRESSION, make="union-800"),
    _case(
        "contained-cross-product", "POST", SCORE, 422, "too-costly",
        json_body=_contained(
            ["(1|2|3|4|5|6|7|8|9|10)"],
            "%v0.select(%v0.select(%v0.select(%v0.select(%v0.select(%v0))))).count()",
        ),
    ),
    _case("contained-endless-repeat", "POST", SCORE, 422, "too-costly",
          json_body=_contained([], "(1).repeat($this + 1).count()")),
    # Strings and collections that grow: charged to the budget, strings capped in length.
    _case("contained-replace-7-times", "POST", SCORE, 422, "too-costly",
          json_body=_contained([], f"({REPLACED_7}).length()")),
    _case("contained-plus-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("'" + "a" * 1000 + "'", "{v} + {v}")),
    _case("contained-ampersand-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("'" + "a" * 1000 + "'", "{v} & {v}")),
    _case("contained-join-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("'" + "a" * 1000 + "'", "({v} | {v} & 'b').join({v})")),
    _case("contained-tostring-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("%resource.toString()", "({v} & {v}).toString()")),
    _case("contained-combine-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("'a'", "{v}.combine({v})")),
    _case("contained-combine-doubling-interpreted", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("'a'", "{v}.combine({v}).skip(0)")),
    _case("contained-descendants-doubling", "POST", SCORE, 422, "too-costly",
          json_body=_doubling("%resource.descendants()", "{v}.combine({v})")),
    _case(  # 512 items compared with 512: 262,144 pairs
        "contained-exclude-pairs", "POST", SCORE, 422, "too-costly",
        json_body=_doubling("'a'", "{v}.combine({v})", 9, "%v9.exclude(%v9).count()"),
    ),
    _case(
        "contained-cross-product-interpreted", "POST", SCORE, 422, "too-costly",
        json_body=_contained(
            ["(1|2|3|4|5|6|7|8|9|10)"],
            "%v0.select(%v0.select(%v0.select(%v0.select(%v0.select(%v0))))).skip(0).count()",
        ),
    ),
    # Each variable keeps within the element budget; together they pass the time limit.
    _case("contained-slow-within-budget", "POST", SCORE, 422, "too-costly",
          json_body=_contained([LONG_REPEAT] * 20)),
    _case(
        # Inline content may hold 8,000 characters of expressions, 2,048 each: refused
        # before any parsing, so a request cannot buy seconds of parser time.
        "contained-long-expressions", "POST", SCORE, 422, "too-costly",
        make="long-expressions-8",
    ),
    # The catalogue's checks (catalog.check_resource) run on contained and inline content
    # before it is compiled: what a site write would refuse is refused here, as 422.
    _case("contained-status-missing", "POST", VALIDATE, 422, "invalid",
          at="Questionnaire.status", json_body=_site(STRING, status=None)),
    _case("contained-status-bogus", "POST", VALIDATE, 422, "invalid",
          at="Questionnaire.status", json_body=_site(STRING, status="bogus")),
    _case("contained-group-without-items", "POST", VALIDATE, 422, "invariant",
          at="Questionnaire.item[0]", json_body=_site({"linkId": "g", "type": "group"})),
    _case("contained-unknown-element", "POST", VALIDATE, 422, "invalid",
          at="Questionnaire.item[0].colour", json_body=_site({**STRING, "colour": "red"})),
    _case(
        "contained-initial-expression-syntax", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.item[0].extension[0].valueExpression",
        json_body=_site({**STRING, "extension": [{"url": INITIAL, "valueExpression": {
            "language": "text/fhirpath", "expression": "1 +* 2"}}]}),
    ),
    _case(
        "contained-enablewhen-boolean-on-integer", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.item[1].enableWhen[0]",
        json_body=_site({"linkId": "n", "type": "integer"}, {**STRING, "enableWhen": [
            {"question": "n", "operator": "=", "answerBoolean": True}]}),
    ),
    _case("contained-type-as-list", "POST", SCORE, 422, "invalid",
          at="Questionnaire.item[0].type", json_body=_site({"linkId": "a", "type": ["string"]})),
    _case("contained-type-as-object", "POST", VALIDATE, 422, "invalid",
          at="Questionnaire.item[0].type", json_body=_site({"linkId": "a", "type": {"s": 1}})),
    _case(
        "contained-option-system-as-list", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.item[0].answerOption[0].valueCoding.system",
        json_body=_site({"linkId": "c", "type": "choice", "answerOption": [
            {"valueCoding": {"system": ["urn:x"], "code": "a"}}]}),
    ),
    _case(
        "contained-operator-as-list", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.item[1].enableWhen[0].operator",
        json_body=_site(STRING, {"linkId": "b", "type": "string", "enableWhen": [
            {"question": "a", "operator": ["="], "answerString": "x"}]}),
    ),
    _case(
        "contained-codesystem-code-as-list", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.contained[0].concept[0].code",
        json_body=_site(STRING, contained=[{
            "resourceType": "CodeSystem", "id": "cs", "url": "urn:cs", "status": "active",
            "content": "complete", "concept": [{"code": ["a"], "property": [
                {"code": "itemWeight", "valueDecimal": 1}]}]}]),
    ),
    _case(
        "contained-unknown-resource-type", "POST", VALIDATE, 422, "invalid",
        at="Questionnaire.contained[0]",
        json_body=_site(STRING, contained=[{"resourceType": "NoSuchResource", "id": "x"}]),
    ),
    _case(
        "contained-score-band-url-as-list", "POST", SCORE, 422, "invalid",
        at="Questionnaire.item[1].extension[1].extension[0].url",
        json_body=_banded({"url": SCORE_BAND, "extension": [{"url": ["low"], "valueDecimal": 0}]}),
    ),
    _case(
        "inline-type-as-list", "POST", VALIDATE, 422, "invalid", at="Questionnaire.item[0].type",
        json_body=_inline({"resourceType": "Questionnaire", "id": "q", "status": "active",
                           "item": [{"linkId": "a", "type": ["string"]}]}),
    ),
    _case(
        # Expressions the compiler does not evaluate are parsed by the checks: bounded too.
        "contained-initial-expressions-40k", "POST", VALIDATE, 422, "too-costly",
        at="Questionnaire", make="initial-expressions-20",
    ),
    _case("contained-600k", "POST", VALIDATE, 422, "too-costly", at="Questionnaire",
          make="contained-600k"),
    _case(
        "contained-matches-backreference", "POST", VALIDATE, 422, "not-supported",
        at="Questionnaire.item[2].extension[0].valueExpression",
        json_body=_enabled_by(f"{MATCHED}.matches('(a)\\\\1')", s="a" * 39 + "!", t="x"),
    ),
    _case(
        "contained-replacematches-lookahead", "POST", SCORE, 422, "not-supported",
        at="Questionnaire.item[2].extension[0].valueExpression",
        json_body=_enabled_by(f"{MATCHED}.replaceMatches('a(?=a)', '') = ''", s="a" * 39 + "!"),
    ),
    _case(
        "contained-regex-extension-lookbehind", "POST", VALIDATE, 422, "not-supported",
        at="Questionnaire.item[0].extension[0].valueString",
        json_body=_regex_item("(?<=a)b", "ab"),
    ),
    # --- batch Bundles ------------------------------------------------------------------
    _case("batch-101-entries", "POST", "/fhir", 400, "too-costly", at="Bundle.entry",
          make="batch-101"),
    _case("batch-without-type", "POST", "/fhir", 400, "not-supported", at="Bundle.type",
          json_body={"resourceType": "Bundle", "entry": []}),
    _case("batch-type-collection", "POST", "/fhir", 400, "not-supported", at="Bundle.type",
          json_body={"resourceType": "Bundle", "type": "collection"}),
    _case("batch-entry-not-list", "POST", "/fhir", 400, "invalid", at="Bundle.entry",
          json_body={"resourceType": "Bundle", "type": "batch", "entry": {}}),
    _case("batch-of-a-response", "POST", "/fhir", 400, "structure", at="resourceType",
          json_body=_qr()),
    # --- search parameters and ids ------------------------------------------------------
    _case("count-negative", "GET", "/fhir/Questionnaire?_count=-1", 400, "value"),
    _case("count-not-number", "GET", "/fhir/Questionnaire?_count=ten", 400, "value"),
    _case("count-with-nul", "GET", "/fhir/Questionnaire?_count=1%00", 400, "value"),
    _case("offset-negative", "GET", "/fhir/Questionnaire?_offset=-5", 400, "value"),
    _case("summary-unknown", "GET", "/fhir/Questionnaire?_summary=most", 400, "value"),
    _case("elements-not-names", "GET", "/fhir/Questionnaire?_elements=a;b", 400, "value"),
    _case("modifier-unknown", "GET", "/fhir/Questionnaire?name:regex=.*", 400, "value"),
    _case("strict-unknown-param", "GET", "/fhir/Questionnaire?colour=red", 400, "value",
          headers={"Prefer": "handling=strict"}),
    _case("read-nul-id", "GET", "/fhir/Questionnaire/%00", 404, "not-found"),
    _case("read-traversal", "GET", "/fhir/Questionnaire/..%2F..%2Fetc%2Fpasswd", 404, "not-found"),
    _case("read-traversal-codesystem", "GET", "/fhir/CodeSystem/../../etc/passwd", 404,
          "not-found"),
    _case("read-invalid-utf8-id", "GET", "/fhir/Questionnaire/%FF%FE", 404, "not-found"),
    # --- media types and FHIR versions --------------------------------------------------
    _case("accept-xml", "GET", "/fhir/metadata", 406, "not-supported",
          headers={"Accept": "application/fhir+xml"}),
    _case("accept-html", "GET", "/fhir/Questionnaire", 406, "not-supported",
          headers={"Accept": "text/html"}),
    _case("accept-json-q0", "GET", "/fhir/metadata", 406, "not-supported",
          headers={"Accept": "application/fhir+json;q=0"}),
    _case("accept-fhir-3", "GET", "/fhir/Questionnaire/phq-9", 406, "not-supported",
          headers={"Accept": "application/fhir+json; fhirVersion=3.0"}),
    _case("accept-xml-on-score", "POST", SCORE, 406, "not-supported", json_body=_qr(),
          headers={"Accept": "application/xml"}),
    _case("format-xml", "GET", "/fhir/metadata?_format=xml", 406, "not-supported"),
    _case("content-type-form", "POST", SCORE, 415, "not-supported", raw=b"a=1",
          headers={"Content-Type": "application/x-www-form-urlencoded"}),
    _case("content-type-multipart", "POST", SCORE, 415, "not-supported", raw=b"--x--",
          headers={"Content-Type": "multipart/form-data; boundary=x"}),
    _case("content-type-fhir-3", "POST", VALIDATE, 415, "not-supported", json_body=_qr(),
          headers={"Content-Type": "application/fhir+json; fhirVersion=3.0"}),
    _case("content-type-utf16", "POST", SCORE, 415, "not-supported", json_body=_qr(),
          headers={"Content-Type": "application/json; charset=utf-16"}),
    _case("content-type-missing", "POST", SCORE, 415, "not-supported", json_body=_qr(),
          headers={"Content-Type": ""}),
    # --- methods ------------------------------------------------------------------------
    _case("put-score", "PUT", SCORE, 405, "not-supported", json_body=_qr()),
    _case("delete-validate", "DELETE", VALIDATE, 405, "not-supported"),
    _case("patch-extract", "PATCH", EXTRACT, 405, "not-supported", json_body=_qr()),
    _case("trace-score", "TRACE", SCORE, 405, "not-supported"),
    _case("post-metadata", "POST", "/fhir/metadata", 405, "not-supported", json_body={}),
    _case("get-batch", "GET", "/fhir", 405, "not-supported"),
    _case("post-unknown-operation", "POST", "/fhir/QuestionnaireResponse/$fold", 404,
          "not-found", json_body=_qr()),
    # Site catalogue writes need RAPPORT_REDIS_URL; without it every write is 405.
    _case("put-bad-id-no-redis", "PUT", "/fhir/Questionnaire/bad id!", 405, "not-supported",
          json_body={"resourceType": "Questionnaire", "id": "bad id!", "status": "draft"}),
    _case("put-id-mismatch-no-redis", "PUT", "/fhir/Questionnaire/phq-9", 405, "not-supported",
          json_body={"resourceType": "Questionnaire", "id": "gad-7", "status": "draft"}),
    _case("delete-questionnaire-no-redis", "DELETE", "/fhir/Questionnaire/phq-9", 405,
          "not-supported"),
    _case("post-questionnaire-no-redis", "POST", "/fhir/Questionnaire", 405, "not-supported",
          json_body={"resourceType": "Questionnaire", "status": "draft"}),
)

# fmt: on

#: Odd but legal requests: answered 2xx, bounded, never an error.
TOLERATED: tuple[dict[str, Any], ...] = (
    {"name": "count-huge-is-capped", "path": "/fhir/Questionnaire?_count=999999999"},
    {
        "name": "count-ten-digits-is-capped",
        "path": "/fhir/Questionnaire?_count=1000000000",
    },
    {"name": "name-nul-byte", "path": "/fhir/Questionnaire?name=%00"},
    {"name": "id-nul-byte", "path": "/fhir/Questionnaire?_id=%00"},
    {"name": "name-lone-surrogate-bytes", "path": "/fhir/Questionnaire?name=%ED%A0%80"},
    {"name": "url-traversal", "path": "/fhir/Questionnaire?url=../../etc/passwd"},
)
