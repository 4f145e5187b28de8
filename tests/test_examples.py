"""The example files the README's tour posts: one valid response per instrument, answering as
one of its test vectors (so its scores are the vector's hand-worked ones), and the PHQ-9
`$score` and `$extract` answers, all as `python -m service examples` writes them now."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.__main__ import example_files, example_vector
from tests.builders.instruments import FOLDER, questionnaires

EXAMPLES = FOLDER / "examples"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_examples_are_what_the_command_writes_now() -> None:
    # Other examples may sit beside these (results' follow-ups): only the command's are checked.
    expected = example_files()
    on_disk = {name: _load(EXAMPLES / name) for name in expected if (EXAMPLES / name).is_file()}
    stale = sorted(name for name in expected if expected[name] != on_disk.get(name))
    assert stale == [], "run `make examples` and commit questionnaires/examples/"


@pytest.mark.parametrize("name", sorted(questionnaires()))
def test_each_instrument_has_a_valid_example_scoring_as_its_vector(
    client: FlaskClient, name: str
) -> None:
    response = _load(EXAMPLES / f"{name}.response.json")
    outcome = client.post("/fhir/QuestionnaireResponse/$validate", json=response).get_json()
    assert [issue["code"] for issue in outcome["issue"]] == ["informational"], outcome
    vector = example_vector(_load(FOLDER / f"{name}.vectors.json")["vectors"])
    scored = client.post("/fhir/QuestionnaireResponse/$score", json=response).get_json()
    values = {}
    for item in _walk(scored["parameter"][0]["resource"].get("item", [])):
        if item["linkId"] in vector["expected"] and item.get("answer"):
            answer = item["answer"][0]
            values[item["linkId"]] = answer.get("valueDecimal", answer.get("valueBoolean"))
    for link_id, worked in vector["expected"].items():  # the vector's hand-worked values
        if isinstance(worked, bool) or worked is None:
            assert values.get(link_id) is worked, link_id
        else:
            assert math.isclose(values[link_id], worked, abs_tol=1e-9), link_id


def _walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found.extend(_walk(item.get("item", [])))
        for answer in item.get("answer", []):
            found.extend(_walk(answer.get("item", [])))
    return found
