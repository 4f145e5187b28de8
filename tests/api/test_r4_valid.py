"""Everything the service returns is valid FHIR R4, by HL7's JSON Schema (not our own models)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.fhir_schema import validate_r4

PATHS = [
    "/fhir/metadata",
    "/fhir/OperationDefinition/QuestionnaireResponse-validate",
    "/fhir/OperationDefinition/QuestionnaireResponse-score",
    "/fhir/OperationDefinition/QuestionnaireResponse-extract",
    "/fhir/CodeSystem/rapport-scores",
    "/fhir/CodeSystem/rapport-bands",
    "/fhir/CodeSystem/rapport-answers",
    "/fhir/CodeSystem/rapport-rules",
    "/fhir/Questionnaire",
    "/fhir/Questionnaire?_summary=count",
    "/fhir/Questionnaire?_summary=true&_count=2&_offset=2",
    "/fhir/Questionnaire?_elements=title,code&colour=blue",
    "/fhir/Questionnaire/nope",
    "/fhir/nowhere",
    "/healthz",
    "/readyz",
] + [
    f"/fhir/Questionnaire/{q_id}"
    for q_id in ("wai-sr", "arm-5", "ebi", "meq-30", "qids-sr-16", "phq-9", "gad-7")
]


@pytest.mark.parametrize("path", PATHS)
def test_served_resources_are_valid_r4(client: FlaskClient, path: str) -> None:
    body = client.get(path).get_json()
    assert validate_r4(body) == []
