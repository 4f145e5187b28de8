"""What is generated from the registry: the rapport-rules CodeSystem and docs/rules.md.

`python -m service rules` says which of the two is stale; `--write` rewrites them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import RULES, Rule

__all__ = ["CODE_SYSTEM", "DOCS", "code_system", "rules_markdown", "stale", "write"]

#: Where the generated files go, from the repository root.
CODE_SYSTEM = Path("questionnaires/CodeSystem-rapport-rules.json")
DOCS = Path("docs/rules.md")

_HEADER: dict[str, Any] = {
    "resourceType": "CodeSystem",
    "id": "rapport-rules",
    "url": "https://rapport-fhir.github.io/fhir/CodeSystem/rapport-rules",
    "version": "1.0.0",
    "name": "RapportRules",
    "title": "Rapport rule codes",
    "status": "active",
    "experimental": False,
    "date": "2026-11-25",
    "publisher": "Rapport",
    "description": (
        "Codes for the rules behind the issues Rapport reports, as "
        "OperationOutcome.issue.details.coding and in the rule column of `python -m service "
        "lint`: qr-* check a QuestionnaireResponse ($validate, and before $score and $extract), "
        "score-* are about scoring, q-* a Questionnaire as it is compiled, que-* and csd-1 the "
        "FHIR R4 invariants, and the others the catalogue's checks at start-up, in lint and on "
        "site writes. search-param-ignored warns about a search parameter left out."
    ),
    "caseSensitive": True,
    "content": "complete",
}

_INTRO = """\
# Validation rules

<!-- Generated from service/rules/ by `python -m service rules --write`; do not edit. -->

`$validate` reports every issue with `details.coding` from
`https://rapport-fhir.github.io/fhir/CodeSystem/rapport-rules` (served at
`/fhir/CodeSystem/rapport-rules`, every code defined), an `expression`
into the response and the linkId as `location`. Tests are in `tests/response/`:
`V` is `test_validate.py::test_rule[...]`, `R` is `test_validate_rules.py::test_rule[...]`,
`C` is `test_validate_complex.py::test_rule[...]`, `D` is
`test_validate_datatypes.py::test_case[...]` (cases in `datatype_cases.json`, whose
`valid` response sets every R4 element, primitive extensions included), `K` is
`test_conformance.py::test_verdict[file/case]` (the conformance corpus in `conformance/`,
see [conformance.md](conformance.md));
each rule's passing case is the `valid` case of the same test unless named.
How the checks decide (enableWhen in repeating groups, regex, quantities, dates) is in
[validation.md](validation.md).

## QuestionnaireResponse rules

| rule code | severity | issue code | what it checks | test |
|---|---|---|---|---|
"""

_OTHERS = """
## Scoring, content and catalogue rules

Scoring's rules (`score-*`), the content rules of a Questionnaire as it is compiled (`q-*`,
a 422 when a Questionnaire is loaded or given inline), R4's invariants (`que-*`, `csd-1`)
and the catalogue's checks (at start-up, in `python -m service lint` and on site writes).

| rule code | severity | issue code | what it means |
|---|---|---|---|
"""


def code_system() -> dict[str, Any]:
    """The rapport-rules CodeSystem: one concept per registry entry, in registry order."""
    concepts = [
        {"code": entry.code, "display": entry.display, "definition": entry.definition}
        for entry in RULES
    ]
    return {**_HEADER, "count": len(concepts), "concept": concepts}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |\n"


def _response_rule(entry: Rule) -> bool:
    return entry.code.startswith("qr-")


def rules_markdown() -> str:
    """docs/rules.md: the rules table with the tests that prove each rule."""
    rows = [
        _row(entry.code, entry.severity, entry.issue, entry.checks, entry.tests)
        for entry in RULES
        if _response_rule(entry)
    ]
    others = [
        _row(entry.code, entry.severity, entry.issue, f"{entry.display}: {entry.definition}")
        for entry in RULES
        if not _response_rule(entry)
    ]
    return _INTRO + "".join(rows) + _OTHERS + "".join(others)


def _generated() -> dict[Path, str]:
    text = json.dumps(code_system(), indent=2, ensure_ascii=False) + "\n"
    return {CODE_SYSTEM: text, DOCS: rules_markdown()}


def stale(root: Path) -> list[Path]:
    """The generated files under `root` that differ from what the registry makes."""
    found = []
    for path, text in _generated().items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def write(root: Path) -> list[Path]:
    """Rewrite the generated files under `root` that are stale; the paths rewritten."""
    written = stale(root)
    generated = _generated()
    for path in written:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(generated[path], encoding="utf-8")
    return written
