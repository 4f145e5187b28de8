"""$validate in its Parameters form: `mode` and `profile` are accepted and ignored, said so."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.test_operations import call
from tests.builders.instruments import build_response, full_answers

IGNORED = "Parameters.parameter.where(name = '{}')"


def _parameters(*extra: dict[str, Any]) -> dict[str, Any]:
    response = build_response("phq-9", full_answers("phq-9", 1))
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": response}, *extra],
    }


def test_mode_and_profile_are_ignored_with_information(client: FlaskClient) -> None:
    body = _parameters(
        {"name": "mode", "valueCode": "create"},
        {"name": "profile", "valueCanonical": "http://example.org/StructureDefinition/x"},
    )
    status, result = call(client, "$validate", body)
    assert status == 200
    assert [(i["severity"], i.get("expression")) for i in result["issue"]] == [
        ("information", None),
        ("information", [IGNORED.format("mode")]),
        ("information", [IGNORED.format("profile")]),
    ]


@pytest.mark.parametrize("operation", ["$score", "$extract"])
def test_mode_is_refused_by_other_operations(client: FlaskClient, operation: str) -> None:
    status, _ = call(client, operation, _parameters({"name": "mode", "valueCode": "create"}))
    assert status == 400


def test_a_mode_without_a_code_is_refused(client: FlaskClient) -> None:
    status, _ = call(client, "$validate", _parameters({"name": "mode", "valueString": "x"}))
    assert status == 400
