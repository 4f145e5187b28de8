"""The rapport-rules CodeSystem names every rule code the service can put in an issue.

There is no registry of rules: each module passes its own string. So the code base is read
(with `ast`, not run) for every rule it can emit, in the three ways rules are written:
a `rule=` argument, the rule of a catalogue `Problem(source, rule, ...)`, and any string
constant shaped like a rule code (`qr-...`, `q-...`, `que-N`, `score-...`, ...), which
catches rules handed on through variables, tuples and default arguments.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

from flask.testing import FlaskClient

from service.fhir.outcome import RULES_SYSTEM

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "service"
CODE_SYSTEM = ROOT / "questionnaires" / "CodeSystem-rapport-rules.json"

RULE_SHAPE = re.compile(r"(qr|q|que|csd|sdc|score|search|enableWhen)-[A-Za-z0-9-]*[A-Za-z0-9]")
#: Strings of that shape that are not rule codes.
NOT_RULES = frozenset({"search-type"})  # a CapabilityStatement interaction code
#: Rules built with an f-string, by their fixed start: every code the string can become.
DYNAMIC = {"qr-answer-on-": frozenset({"qr-answer-on-group", "qr-answer-on-display"})}


def _strings(node: ast.AST) -> Iterator[str | ast.JoinedStr]:
    """Every string constant and f-string in `node`."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr):
            yield sub
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _rule_arguments(tree: ast.AST) -> Iterator[ast.AST]:
    """Each expression passed as a rule: `rule=`, and Problem's second argument."""
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        yield from (keyword.value for keyword in call.keywords if keyword.arg == "rule")
        if _called(call) == "Problem" and len(call.args) > 1:
            yield call.args[1]


def _prefix(node: ast.JoinedStr) -> str:
    start = node.values[0] if node.values else None
    return start.value if isinstance(start, ast.Constant) and isinstance(start.value, str) else ""


def _expand(node: ast.JoinedStr, where: Path) -> frozenset[str]:
    """The codes an f-string rule can become."""
    prefix = _prefix(node)
    assert prefix in DYNAMIC, f"{where}:{node.lineno}: add {ast.unparse(node)} to DYNAMIC"
    return DYNAMIC[prefix]


def emitted_rules() -> set[str]:
    """Every rule code in the service's source."""
    found: set[str] = set()
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for argument in _rule_arguments(tree):
            for text in _strings(argument):
                found |= {text} if isinstance(text, str) else _expand(text, path)
        for text in _strings(tree):
            if isinstance(text, str) and RULE_SHAPE.fullmatch(text):
                found.add(text)
            elif isinstance(text, ast.JoinedStr) and RULE_SHAPE.match(_prefix(text)):
                found |= _expand(text, path)
    return found - NOT_RULES


def concepts() -> dict[str, dict[str, str]]:
    code_system = json.loads(CODE_SYSTEM.read_text(encoding="utf-8"))
    assert code_system["url"] == RULES_SYSTEM
    assert code_system["count"] == len(code_system["concept"])
    return {concept["code"]: concept for concept in code_system["concept"]}


def test_the_scan_finds_rules_of_every_kind() -> None:
    found = emitted_rules()
    expected = {"qr-required-missing", "qr-answer-on-group", "q-linkid", "que-12", "r4", "json"}
    assert expected | {"score-withheld", "sdc-weight", "search-param-ignored"} <= found
    assert not found & NOT_RULES


def test_every_rule_the_service_emits_is_in_the_code_system_and_no_other() -> None:
    defined = concepts()
    emitted = emitted_rules()
    assert sorted(emitted - set(defined)) == []  # emitted but undefined
    assert sorted(set(defined) - emitted) == []  # defined but never emitted


def test_every_rule_is_explained() -> None:
    for code, concept in concepts().items():
        assert concept["display"].strip(), code
        assert len(concept["definition"].split()) >= 4, code


def test_the_code_system_is_served_where_issues_point(client: FlaskClient) -> None:
    read = client.get("/fhir/CodeSystem/rapport-rules")
    assert read.status_code == 200
    served = read.get_json()
    assert (served["url"], served["content"]) == (RULES_SYSTEM, "complete")
    searched = client.get("/fhir/Questionnaire?colour=blue").get_json()
    outcome = next(e for e in searched["entry"] if e["search"]["mode"] == "outcome")
    coding = outcome["resource"]["issue"][0]["details"]["coding"][0]
    assert coding["system"] == served["url"]
    assert coding["code"] in {concept["code"] for concept in served["concept"]}
