"""The rule registry (service/rules/) is the one list of rule codes an issue can carry.

The service's source is read (with `ast`, not run): no rule code is written as a string
outside the registry, and every entry is used. The rapport-rules CodeSystem and
docs/rules.md are generated from the registry and must be current.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from flask.testing import FlaskClient

from service import rules
from service.fhir.outcome import RULES_SYSTEM
from service.rules import publish

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "service"
REGISTRY = SOURCE / "rules"
CODE_SYSTEM = ROOT / "questionnaires" / "CodeSystem-rapport-rules.json"

RULE_SHAPE = re.compile(r"(qr|q|que|csd|sdc|score|search|enableWhen)-[A-Za-z0-9-]*[A-Za-z0-9]")
#: The fixed start of an f-string that builds a code (`f"qr-answer-on-{kind}"`).
RULE_START = re.compile(r"(qr|q|que|csd|sdc|score|search|enableWhen)-[A-Za-z0-9-]*")
#: Strings of that shape that are not rule codes.
NOT_RULES = frozenset({"search-type"})  # a CapabilityStatement interaction code


def _sources() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(SOURCE.rglob("*.py")):
        if REGISTRY not in path.parents:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            found.add(id(body[0].value))
    return found


def rule_strings() -> list[str]:
    """Every string (or f-string start) outside the registry shaped like a code (`qr-...`).

    Codes of no such shape (`json`, `r4`, ...) cannot be passed as strings either: an issue
    takes a `Rule`, which mypy --strict holds them to.
    """
    found = []
    for path, tree in _sources():
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and node.values:
                start = node.values[0]
                text = start.value if isinstance(start, ast.Constant) else ""
                shaped = isinstance(text, str) and RULE_START.fullmatch(text)
            elif isinstance(node, ast.Constant) and id(node) not in docstrings:
                text = node.value
                shaped = isinstance(text, str) and RULE_SHAPE.fullmatch(text)
            else:
                continue
            if shaped and text not in NOT_RULES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    return found


def used_entries() -> set[str]:
    """The registry entries the service's source names (`rules.QR_NOT_OBJECT`)."""
    names = {
        node.attr
        for _, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "rules"
    }
    return {
        getattr(rules, name).code
        for name in names
        if isinstance(getattr(rules, name, None), rules.Rule)
    }


def concepts() -> dict[str, dict[str, str]]:
    code_system = json.loads(CODE_SYSTEM.read_text(encoding="utf-8"))
    assert code_system["url"] == RULES_SYSTEM
    assert code_system["count"] == len(code_system["concept"])
    return {concept["code"]: concept for concept in code_system["concept"]}


def test_the_scan_finds_rules_of_every_kind() -> None:
    found = used_entries()
    expected = {"qr-required-missing", "qr-answer-on-group", "q-linkid", "que-12", "r4", "json"}
    assert expected | {"score-withheld", "sdc-weight", "search-param-ignored"} <= found
    assert not found & NOT_RULES


def test_no_rule_code_is_written_outside_the_registry() -> None:
    assert rule_strings() == []


def test_every_rule_the_service_emits_is_in_the_code_system_and_no_other() -> None:
    defined = concepts()
    emitted = used_entries()
    assert sorted(emitted - set(defined)) == []  # emitted but undefined
    assert sorted(set(defined) - emitted) == []  # defined but never emitted
    assert [entry.code for entry in rules.RULES] == list(defined)


def test_every_rule_is_explained() -> None:
    for code, concept in concepts().items():
        assert concept["display"].strip(), code
        assert len(concept["definition"].split()) >= 4, code
    for entry in rules.RULES:
        assert entry.severity, entry.code
        assert entry.issue, entry.code
        if entry.code.startswith("qr-"):  # the response rules' table names what proves each
            assert entry.checks, entry.code
            assert entry.tests, entry.code


def test_the_generated_files_are_current() -> None:
    assert publish.stale(ROOT) == [], "run: python -m service rules --write"


def test_the_rules_command_reports_a_stale_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rules.md").write_text("old\n", encoding="utf-8")
    assert publish.stale(tmp_path) == [publish.CODE_SYSTEM, publish.DOCS]
    assert publish.write(tmp_path) == [publish.CODE_SYSTEM, publish.DOCS]
    assert publish.stale(tmp_path) == []
    command = [sys.executable, "-m", "service", "rules"]
    checked = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert (checked.returncode, checked.stdout) == (0, "ok: generated rule files are current\n")


def test_an_entry_is_its_code() -> None:
    entry = rules.QR_NOT_OBJECT
    assert entry == "qr-not-object"
    assert entry.code == "qr-not-object"
    assert rules.rule("qr-not-object") is entry
    assert type(entry.code) is str


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
