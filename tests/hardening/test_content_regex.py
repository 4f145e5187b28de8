"""Content regexes RE2 cannot run are refused when content is checked: site writes answer
422 not-supported with the pattern's path, and the content checker names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from service import create_app
from service.config import load_settings
from tests.builders.catalog import mini, write
from tests.catalog.test_cli import _run

CT = {"Content-Type": "application/fhir+json"}
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
ENABLE_WHEN = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)


def _with_regex(pattern: str) -> dict[str, Any]:
    found = mini()
    found.update({"id": "rx", "url": "https://example.org/site/rx"})
    found["item"].append(
        {"linkId": "rx", "type": "string", "extension": [{"url": REGEX, "valueString": pattern}]}
    )
    return found


def _with_matches(pattern: str) -> dict[str, Any]:
    found = mini()
    found.update({"id": "rx", "url": "https://example.org/site/rx"})
    literal = pattern.replace("\\", "\\\\")  # as a FHIRPath string literal
    expression = f"%resource.item.where(linkId='1').answer.value.toString().matches('{literal}')"
    when = {"url": ENABLE_WHEN, "valueExpression": {"language": "text/fhirpath",
                                                    "expression": expression}}  # fmt: skip
    found["item"].append({"linkId": "rx", "type": "string", "extension": [when]})
    return found


@pytest.fixture
def site_client(redis_url: str, redis_client: redis.Redis) -> Iterator[FlaskClient]:
    with create_app(load_settings({"redis_url": redis_url}, environ={})).test_client() as client:
        yield client


@pytest.mark.parametrize(
    ("make", "where"),
    [
        pytest.param(_with_regex, ".extension[0].valueString", id="regex-extension"),
        pytest.param(_with_matches, ".extension[0].valueExpression", id="matches"),
    ],
)
@pytest.mark.parametrize("pattern", ["(?=a)a", "(a)\\1", "a*+"])
def test_a_site_write_with_a_regex_re2_cannot_run_is_not_supported(
    site_client: FlaskClient, make: Any, where: str, pattern: str
) -> None:
    body = make(pattern)
    response = site_client.put("/fhir/Questionnaire/rx", data=json.dumps(body), headers=CT)
    assert response.status_code == 422, response.data[:400]
    issues = response.get_json()["issue"]
    index = len(body["item"]) - 1
    found = [i for i in issues if i["code"] == "not-supported"]
    assert found, issues
    assert found[0]["expression"] == [f"Questionnaire.item[{index}]{where}"]
    assert "not supported" in found[0]["details"]["text"]


def test_the_content_checker_names_a_regex_re2_cannot_run(tmp_path: Path) -> None:
    file = write(tmp_path / "site", "rx.json", _with_regex("(?<=a)b"))
    result = _run("lint", file)
    assert result.returncode == 1
    assert ": q-regex: regex: lookbehind ((?<=) are not supported" in result.stdout
