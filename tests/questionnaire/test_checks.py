"""The catalogue's other rules: each failing fixture names the file, the item and the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.catalog import CatalogError, describe, load_catalog
from tests.builders.catalog import CALCULATED, EXAMPLE_CS, VARIABLE, issues_of, mini, write


def _code_system(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": "mini-codes",
        "url": EXAMPLE_CS,
        "version": "1.0.0",
        "name": "MiniCodes",
        "status": "active",
        "content": "complete",
        "count": 4,
        "concept": [
            {"code": "q1", "display": "Question one", "definition": "The first question."},
            {"code": "a", "display": "A", "definition": "Option A."},
            {"code": "b", "display": "B", "definition": "Option B."},
            {"code": "total", "display": "Total score", "definition": "The score."},
        ],
    }
    resource.update(changes)
    return resource


def _one(tmp_path: Path, resource: Any, name: str = "mini.json") -> tuple[set[str], str, Path]:
    file = write(tmp_path, name, resource)
    problems, message = issues_of(tmp_path)
    return {p.rule for p in problems}, message, file


def test_not_json(tmp_path: Path) -> None:
    rules, message, file = _one(tmp_path, '{"resourceType": "Questionnaire",')
    assert rules == {"json"}
    assert message.splitlines()[1].startswith(f"{file}: (file): json: Body is not valid JSON")


def test_duplicate_json_property(tmp_path: Path) -> None:
    rules, message, _ = _one(tmp_path, '{"resourceType": "Questionnaire", "id": "a", "id": "b"}')
    assert rules == {"json"}
    assert "Duplicate JSON property 'id'" in message


def test_null_and_empty_arrays(tmp_path: Path) -> None:
    q = mini()
    q["item"][1]["text"] = None
    q["item"][2]["code"] = []
    rules, message, file = _one(tmp_path, q)
    assert rules == {"json"}
    assert f"{file}: linkId '2' (Questionnaire.item[1].text): json: null" in message
    assert f"{file}: linkId 'g' (Questionnaire.item[2].code): json: empty" in message


def test_other_resource_types_are_errors(tmp_path: Path) -> None:
    rules, message, file = _one(tmp_path, {"resourceType": "Patient", "id": "p"})
    assert rules == {"resource-type"}
    assert f"{file}: resourceType: resource-type: resourceType 'Patient'" in message


@pytest.mark.parametrize("rid", ["bad id!", "x" * 65, "", ".", ".."])  # dots: URL dot-segments
def test_id_pattern(tmp_path: Path, rid: str) -> None:
    q = mini()
    q["id"] = rid
    rules, message, file = _one(tmp_path, q)
    assert "id" in rules
    assert rules <= {"id", "r4"}  # the model checks the pattern too
    assert f"{file}: Questionnaire.id: id: id {rid!r} must match" in message


def test_id_is_required(tmp_path: Path) -> None:
    q = mini()
    del q["id"]
    rules, _, _ = _one(tmp_path, q)
    assert rules == {"id"}


def test_r4_model_errors_name_the_item(tmp_path: Path) -> None:
    q = mini()
    q["item"][0]["answerOption"][1]["valueCoding"]["code"] = 2
    q["item"][2]["item"][0]["linkId"] = 3
    rules, message, file = _one(tmp_path, q)
    assert rules == {"r4"}
    assert (
        f"{file}: linkId '1' (Questionnaire.item[0].answerOption[1].valueCoding.code): r4: "
        in message
    )
    assert f"{file}: Questionnaire.item[2].item[0].linkId: r4: " in message


def test_r4_required_elements(tmp_path: Path) -> None:
    # fhir.resources checks cardinality only once the types are right (pydantic's stages).
    q = mini()
    del q["status"]
    del q["item"][2]["item"][0]["type"]
    rules, message, file = _one(tmp_path, q)
    assert rules == {"r4"}
    assert f"{file}: Questionnaire.status: r4: Value for the field 'status' is required" in message
    assert f"{file}: linkId '3' (Questionnaire.item[2].item[0].type): r4: " in message


def test_unknown_element(tmp_path: Path) -> None:
    q = mini()
    q["item"][1]["colour"] = "red"
    rules, message, file = _one(tmp_path, q)
    assert rules == {"r4"}
    assert f"{file}: linkId '2' (Questionnaire.item[1].colour): r4: " in message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "final"}, "Questionnaire.status"),
        ({"type": "question"}, "linkId '2' (Questionnaire.item[1].type)"),
        ({"enableBehavior": "some"}, "linkId '2' (Questionnaire.item[1].enableBehavior)"),
    ],
)
def test_required_bindings(tmp_path: Path, change: dict[str, str], where: str) -> None:
    q = mini()
    if "status" in change:
        q.update(change)
    else:
        q["item"][1].update(change)
    rules, message, file = _one(tmp_path, q)
    assert rules == {"binding"}
    assert f"{file}: {where}: binding: " in message


def _typed(kind: Any) -> Callable[[dict[str, Any]], None]:
    """Item '2' of type `kind`, and item '3' enabled by it."""

    def change(q: dict[str, Any]) -> None:
        q["item"][1]["type"] = kind
        q["item"][2]["item"][0]["enableWhen"] = [
            {"question": "2", "operator": "=", "answerInteger": 1}
        ]

    return change


def _weighed_option_url(url: Any) -> Callable[[dict[str, Any]], None]:
    """Item '1' scored, and its first option's extension with this url."""

    def change(q: dict[str, Any]) -> None:
        expression = "%resource.item.where(linkId = '1').answer.value.weight()"
        q["extension"][0]["valueExpression"]["expression"] = expression
        q["item"][0]["answerOption"][0]["extension"] = [{"url": url, "valueDecimal": 1}]

    return change


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(q: dict[str, Any]) -> None:
        node = q
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_typed(["integer"]), "Questionnaire.item[1].type"),
        (_typed({"code": "integer"}), "Questionnaire.item[1].type"),
        (_set(("item", 1, "enableWhen"), [{"question": "1", "operator": ["="],
                                           "answerBoolean": True}]),
         "Questionnaire.item[1].enableWhen[0].operator"),
        (_set(("contained",), [{"resourceType": "NoSuchResource", "id": "x"}]),
         "Questionnaire.contained[0]"),
        (_set(("contained",), [{"resourceType": ["CodeSystem"], "id": "x"}]),
         "Questionnaire.contained[0]"),
        (_set(("item", 4, "extension", 0, "url"), ["x"]), "Questionnaire.item[4].extension[0].url"),
        (_weighed_option_url(["x"]), "Questionnaire.item[0].answerOption[0].extension[0].url"),
    ],
)  # fmt: skip
def test_json_of_the_wrong_type_is_a_problem(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], where: str
) -> None:
    """An array or object where a string belongs is reported (R4 model), never hashed."""
    q = mini()
    change(q)
    rules, message, _ = _one(tmp_path, q)
    assert "r4" in rules
    assert f"{where}): r4: " in message or f"{where}: r4: " in message


def test_enable_when_operator_binding(tmp_path: Path) -> None:
    q = mini()
    q["item"][1]["enableWhen"] = [{"question": "1", "operator": "~", "answerBoolean": True}]
    rules, message, file = _one(tmp_path, q)
    assert "binding" in rules
    assert f"{file}: linkId '2' (Questionnaire.item[1].enableWhen[0].operator): binding" in message


@pytest.mark.parametrize(
    ("when", "rule", "text"),
    [
        ({"question": "nope", "operator": "exists", "answerBoolean": True},
         "enableWhen-question", "'nope' is not a linkId"),
        ({"question": "g", "operator": "exists", "answerBoolean": True},
         "enableWhen-question", "group item, which has no answers"),
        ({"question": "2", "operator": "=", "answerString": "3"},
         "enableWhen-answer", "answerString cannot match integer item '2'"),
        ({"question": "1", "operator": "=", "answerCoding": {"system": EXAMPLE_CS, "code": "z"}},
         "enableWhen-answer", "|z is not an answerOption of item '1'"),
        ({"question": "1", "operator": ">", "answerCoding": {"system": EXAMPLE_CS, "code": "a"}},
         "enableWhen-operator", "operator '>' needs an ordered answer"),
    ],
)  # fmt: skip
def test_enable_when(tmp_path: Path, when: dict[str, Any], rule: str, text: str) -> None:
    q = mini()
    q["item"][2]["item"][0]["enableWhen"] = [when]
    rules, message, file = _one(tmp_path, q)
    assert rules == {rule}
    assert f"{file}: linkId '3' (Questionnaire.item[2].item[0].enableWhen[0]): {rule}: " in message
    assert text in message


def test_enable_when_accepts_matching_answers(tmp_path: Path) -> None:
    q = mini()
    q["item"][2]["enableBehavior"] = "all"
    q["item"][2]["enableWhen"] = [
        {"question": "1", "operator": "=", "answerCoding": {"system": EXAMPLE_CS, "code": "b"}},
        {"question": "2", "operator": ">=", "answerInteger": 3},
    ]
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_fhirpath_must_parse(tmp_path: Path) -> None:
    q = mini()
    q["item"][4]["extension"][0]["valueExpression"]["expression"] = "%two +"
    rules, message, file = _one(tmp_path, q)
    assert rules == {"fhirpath"}
    assert (
        f"{file}: linkId 'total' (Questionnaire.item[4].extension[0].valueExpression): "
        "fhirpath: calculatedExpression does not parse" in message
    )


@pytest.mark.parametrize(
    "name",
    [
        "enableWhenExpression",
        "initialExpression",
        "answerExpression",
        "candidateExpression",
        "contextExpression",
    ],
)
def test_every_sdc_expression_is_parsed(tmp_path: Path, name: str) -> None:
    q = mini()
    url = f"http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-{name}"
    expression = {"language": "text/fhirpath", "expression": "item.where("}
    q["item"][1]["extension"] = [{"url": url, "valueExpression": expression}]
    rules, message, _ = _one(tmp_path, q)
    assert rules == {"fhirpath"}
    assert f"linkId '2' (Questionnaire.item[1].extension[0].valueExpression): fhirpath: {name}" in (
        message
    )


def test_root_variable_must_parse_and_have_a_name(tmp_path: Path) -> None:
    q = mini()
    q["extension"][0]["valueExpression"] = {"language": "text/fhirpath", "expression": "(("}
    rules, message, file = _one(tmp_path, q)
    assert rules == {"fhirpath", "sdc-variable"}
    assert f"{file}: Questionnaire.extension[0].valueExpression: sdc-variable: " in message


def test_expression_language(tmp_path: Path) -> None:
    q = mini()
    q["item"][4]["extension"][0]["valueExpression"]["language"] = "text/cql"
    rules, message, _ = _one(tmp_path, q)
    assert rules == {"sdc-expression"}
    assert "calculatedExpression language must be 'text/fhirpath', not 'text/cql'" in message


def test_fhir_query_is_allowed_where_the_client_runs_it(tmp_path: Path) -> None:
    q = mini()
    url = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression"
    query = {"language": "application/x-fhir-query", "expression": "Practitioner?active=true"}
    q["item"][0]["extension"] = [{"url": url, "valueExpression": query}]
    del q["item"][0]["answerOption"]
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_expression_extension_needs_a_value_expression(tmp_path: Path) -> None:
    q = mini()
    q["item"][4]["extension"][0] = {"url": CALCULATED, "valueString": "%two"}
    rules, _, _ = _one(tmp_path, q)
    assert rules == {"sdc-expression"}


def test_variable_on_an_item(tmp_path: Path) -> None:
    q = mini()
    expression = {"name": "x", "language": "text/fhirpath", "expression": "1 +"}
    q["item"][2]["extension"] = [{"url": VARIABLE, "valueExpression": expression}]
    _, message, _ = _one(tmp_path, q)
    assert "linkId 'g' (Questionnaire.item[2].extension[0].valueExpression): fhirpath: " in message


def test_code_system_codes_are_unique(tmp_path: Path) -> None:
    concepts = _code_system()["concept"]
    concepts[1]["concept"] = [{"code": "b", "display": "B again", "definition": "Nested."}]
    cs = _code_system(concept=concepts, count=5)
    rules, message, file = _one(tmp_path, cs, "cs.json")
    assert rules == {"csd-1"}
    assert f"{file}: CodeSystem.concept[2].code: csd-1: " in message
    assert "also at CodeSystem.concept[1].concept[0]" in message


def test_code_system_count(tmp_path: Path) -> None:
    rules, message, _ = _one(tmp_path, _code_system(count=2), "cs.json")
    assert rules == {"codesystem-count"}
    assert "count is 2 but the CodeSystem defines 4 concepts" in message


def test_code_system_content_binding(tmp_path: Path) -> None:
    rules, _, _ = _one(tmp_path, _code_system(content="everything"), "cs.json")
    assert rules == {"binding"}


def test_codings_must_exist_in_a_loaded_code_system(tmp_path: Path) -> None:
    write(tmp_path, "cs.json", _code_system())
    q = mini()
    q["item"][0]["answerOption"][1]["valueCoding"]["code"] = "c"
    q["item"][0]["answerOption"][0]["valueCoding"]["display"] = "a"
    file = write(tmp_path, "mini.json", q)
    problems, message = issues_of(tmp_path)
    assert {p.rule for p in problems} == {"coding-unknown", "coding-display"}
    assert (
        f"{file}: linkId '1' (Questionnaire.item[0].answerOption[1].valueCoding): "
        f"coding-unknown: {EXAMPLE_CS} has no code 'c'" in message
    )
    assert "display 'a' of 'a' differs from the CodeSystem's 'A'" in message


def test_codes_check_passes_against_the_code_system(tmp_path: Path) -> None:
    write(tmp_path, "cs.json", _code_system())
    write(tmp_path, "mini.json", mini())
    catalog = load_catalog([tmp_path])
    assert [e.id for e in catalog.code_systems()] == ["mini-codes"]


def test_duplicate_canonical_across_folders(tmp_path: Path) -> None:
    write(tmp_path / "shipped", "mini.json", mini())
    other = mini()
    other["id"] = "mini-copy"
    file = write(tmp_path / "site", "copy.json", other)
    problems, message = issues_of(tmp_path / "shipped", tmp_path / "site")
    assert [p.rule for p in problems] == ["duplicate-canonical"]
    assert (
        f"{file}: Questionnaire.url: duplicate-canonical: "
        f"https://example.org/fhir/Questionnaire/mini|1.0.0 is also defined in "
        f"{tmp_path / 'shipped' / 'mini.json'}" in message
    )


def test_same_url_other_version_is_fine(tmp_path: Path) -> None:
    write(tmp_path / "shipped", "mini.json", mini())
    other = mini()
    other["id"], other["version"] = "mini-2", "2.0.0"
    write(tmp_path / "site", "mini-2.json", other)
    catalog = load_catalog([tmp_path / "shipped", tmp_path / "site"])
    assert len(catalog.questionnaires()) == 2


def test_duplicate_id_across_folders(tmp_path: Path) -> None:
    write(tmp_path / "shipped", "mini.json", mini())
    other = mini()
    other["url"] = "https://example.org/fhir/Questionnaire/other"
    file = write(tmp_path / "site", "mini.json", other)
    problems, message = issues_of(tmp_path / "shipped", tmp_path / "site")
    assert [p.rule for p in problems] == ["duplicate-id"]
    assert f"{file}: Questionnaire.id: duplicate-id: Questionnaire id 'mini' is also" in message


def test_same_id_in_another_resource_type_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "mini.json", mini())
    write(tmp_path, "cs.json", _code_system(id="mini"))
    assert len(load_catalog([tmp_path])) == 2


def test_missing_folder(tmp_path: Path) -> None:
    problems, message = issues_of(tmp_path / "nowhere")
    assert [p.rule for p in problems] == ["path"]
    assert f"{tmp_path / 'nowhere'}: (file): path: no such file or folder" in message


def test_vectors_files_are_not_loaded(tmp_path: Path) -> None:
    write(tmp_path, "mini.json", mini())
    write(tmp_path, "mini.vectors.json", {"questionnaire": "x", "vectors": []})
    write(tmp_path, "notes.txt", "not json")
    assert len(load_catalog([tmp_path])) == 1


def test_problems_of_every_file_are_listed_together(tmp_path: Path) -> None:
    first, second = mini(), mini()
    first["item"][3]["readOnly"] = True
    first["item"][3]["required"] = True
    second["id"], second["url"] = "mini-b", "https://example.org/fhir/Questionnaire/b"
    second["item"][1]["maxLength"] = 3  # fine on integer
    second["item"][2]["initial"] = [{"valueString": "x"}]
    write(tmp_path, "a.json", first)
    write(tmp_path, "b.json", second)
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    found, message = info.value.found, str(info.value)
    assert [(Path(f).name, p.rule) for f, issues in found.items() for p in issues] == [
        ("a.json", "que-6"),
        ("a.json", "que-9"),
        ("b.json", "que-8"),
    ]
    assert message.startswith("3 catalogue problems:\n")


class _Unscorable(ValueError):
    def __init__(self, message: str, link_id: str) -> None:
        super().__init__(message)
        self.link_id = link_id


def test_compiler_errors_are_content_errors(tmp_path: Path) -> None:
    def compiler(resource: dict[str, Any]) -> object:
        raise _Unscorable("score item has no code", "total")

    file = write(tmp_path, "mini.json", mini())
    problems, message = issues_of(tmp_path, compiler=compiler)
    assert [p.rule for p in problems] == ["compile"]
    assert f"{file}: linkId 'total' (Questionnaire): compile: score item has no code" in message


def test_compiler_result_is_kept_and_not_run_on_broken_content(tmp_path: Path) -> None:
    seen: list[str] = []

    def compiler(resource: dict[str, Any]) -> object:
        seen.append(resource["id"])
        return ("compiled", resource["id"])

    write(tmp_path, "mini.json", mini())
    catalog = load_catalog([tmp_path], compiler=compiler)
    entry = catalog.get("Questionnaire", "mini")
    assert entry is not None
    assert entry.compiled == ("compiled", "mini")
    broken = mini()
    broken["id"], broken["url"] = "broken", "https://example.org/fhir/Questionnaire/broken"
    broken["item"][3]["readOnly"] = True
    write(tmp_path, "broken.json", broken)
    with pytest.raises(CatalogError):
        load_catalog([tmp_path], compiler=compiler)
    assert seen == ["mini", "mini"]


def test_catalog_error_is_a_value_error_with_issues(tmp_path: Path) -> None:
    q = mini()
    q["item"][3]["readOnly"] = True
    write(tmp_path, "mini.json", q)
    with pytest.raises(ValueError, match="que-9") as info:
        load_catalog([tmp_path])
    assert isinstance(info.value, CatalogError)
    issue = info.value.issues[0].to_json()
    assert issue["code"] == "invariant"
    assert issue["expression"] == ["Questionnaire.item[3]"]
    assert issue["details"]["coding"][0]["code"] == "que-9"


def test_missing_choice_elements_are_reported_once(tmp_path: Path) -> None:
    q = mini()
    q["item"][1]["enableWhen"] = [{"question": "1", "operator": "exists"}]
    q["item"][0]["answerOption"][0] = {"extension": [{"url": "http://x.org", "valueCode": "y"}]}
    write(tmp_path, "m.json", q)
    problems, message = issues_of(tmp_path)
    assert [(p.rule, p.expression) for p in problems] == [
        ("r4", "Questionnaire.item[0].answerOption[0]"),
        ("r4", "Questionnaire.item[1].enableWhen[0]"),
    ]
    assert "Value for the field 'answer[x]' is required." in message


def _score_on_item_one(q: dict[str, Any]) -> None:
    expression = "%resource.item.where(linkId = '1').answer.value.weight().sum()"
    q["item"][4]["extension"][0]["valueExpression"]["expression"] = expression


def test_scored_choice_options_need_weights(tmp_path: Path) -> None:
    q = mini()
    _score_on_item_one(q)
    rules, message, file = _one(tmp_path, q)
    assert rules == {"sdc-weight"}
    for index in (0, 1):
        assert f"{file}: linkId '1' (Questionnaire.item[0].answerOption[{index}]): sdc-weight" in (
            message
        )


@pytest.mark.parametrize("name", ["itemWeight", "ordinalValue"])
def test_weights_by_either_name(tmp_path: Path, name: str) -> None:
    q = mini()
    _score_on_item_one(q)
    for weight, option in enumerate(q["item"][0]["answerOption"]):
        url = f"http://hl7.org/fhir/StructureDefinition/{name}"
        option["extension"] = [{"url": url, "valueDecimal": weight}]
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path]).get("Questionnaire", "mini") is not None


def test_expressions_name_existing_link_ids(tmp_path: Path) -> None:
    q = mini()
    expression = "%resource.item.where(linkId in ('2' | '99')).answer.value.sum()"
    q["item"][4]["extension"][0]["valueExpression"]["expression"] = expression
    rules, message, file = _one(tmp_path, q)
    assert rules == {"sdc-linkid"}
    assert (
        f"{file}: linkId 'total' (Questionnaire.item[4].extension[0]): sdc-linkid: "
        "expression refers to linkId '99', which no item has" in message
    )


def test_score_items_need_a_code(tmp_path: Path) -> None:
    q = mini()
    del q["item"][4]["code"]
    rules, message, file = _one(tmp_path, q)
    assert rules == {"sdc-score-code"}
    assert f"{file}: linkId 'total' (Questionnaire.item[4]): sdc-score-code: " in message


def test_the_scoring_compiler_issues_become_problems(tmp_path: Path) -> None:
    from service.questionnaire import compile_questionnaire

    q = mini()
    q["item"][4]["extension"][0]["valueExpression"]["expression"] = "%nope + 1"
    file = write(tmp_path, "mini.json", q)
    problems, message = issues_of(tmp_path, compiler=compile_questionnaire)
    assert [p.rule for p in problems] == ["q-variable-undefined"]
    assert (
        f"{file}: linkId 'total' (Questionnaire.item[4].extension[0]): q-variable-undefined: "
        in message
    )
    write(tmp_path, "mini.json", mini())
    entry = load_catalog([tmp_path], compiler=compile_questionnaire).get("Questionnaire", "mini")
    assert entry is not None
    assert type(entry.compiled).__name__ == "CompiledQuestionnaire"


def test_misplaced_answer_extensions_are_refused_by_the_catalogue(tmp_path: Path) -> None:
    from service.questionnaire import compile_questionnaire

    q = mini()
    mime = {"url": "http://hl7.org/fhir/StructureDefinition/mimeType", "valueCode": "image/png"}
    q["item"][1]["extension"] = [mime]  # an integer item takes no attachment
    file = write(tmp_path, "mini.json", q)
    problems, message = issues_of(tmp_path, compiler=compile_questionnaire)
    assert [p.rule for p in problems] == ["q-invalid"]
    assert f"{file}: linkId '2' (Questionnaire.item[1].extension[0]): q-invalid: " in message
    q["item"][1] = {"linkId": "2", "type": "attachment", "text": "Two", "extension": [mime]}
    write(tmp_path, "mini.json", q)
    assert load_catalog([tmp_path], compiler=compile_questionnaire).get("Questionnaire", "mini")


def test_cross_file_rules_apply_to_files_with_their_own_problems(tmp_path: Path) -> None:
    write(tmp_path, "cs.json", _code_system())
    q = mini()
    q["item"][3]["readOnly"] = True
    q["item"][0]["answerOption"][0]["valueCoding"]["display"] = "Option A"
    q["version"] = ["not", "a", "string"]
    write(tmp_path, "mini.json", q)
    problems, _ = issues_of(tmp_path)
    assert [p.rule for p in problems] == ["r4", "que-9", "coding-display"]


def test_a_content_issue_names_its_item_for_people_not_on_the_wire(tmp_path: Path) -> None:
    q = mini()
    q["item"][3]["readOnly"] = True
    file = write(tmp_path, "mini.json", q)
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    (issue,) = info.value.found[str(file)]
    assert (issue.rule, issue.link_id) == ("que-9", "info")
    assert "location" not in issue.to_json()  # a refused write's outcome names the element
    assert describe(str(file), issue) in str(info.value).splitlines()
