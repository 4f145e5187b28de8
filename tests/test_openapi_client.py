"""A client generated from openapi.yaml by openapi-python-client (what many integrators do
first) reads every answer of a live server into its models: no `parsed=None`."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.gunicorn import REPO_ROOT, LiveServer, run_gunicorn

pytestmark = pytest.mark.slow

EXAMPLES = REPO_ROOT / "questionnaires" / "examples"
PACKAGE = "rapport_openapi_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported (generated once per session: it takes seconds)."""
    folder = tmp_path_factory.mktemp("openapi-client")
    config = folder / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run: not needed to import
    command = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert command is not None, "pip install -e '.[dev]' brings openapi-python-client"
    done = subprocess.run(
        [command, "generate", "--path", str(REPO_ROOT / "openapi.yaml"), "--meta", "none",
         "--output-path", str(folder / PACKAGE), "--config", str(config)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # Its one expected warning: GET /openapi.yaml answers YAML, which it cannot model. A
    # schema it cannot process is left out, and every answer using it parses to None.
    said = done.stdout + done.stderr
    assert "Unable to process schema" not in said, said
    assert said.count("response will be omitted") == 1, said
    assert "Unsupported content_type application/yaml" in said, said
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def api(name: str) -> Any:
    """A module of the generated package: `api.scoring.score_response`, `models`, ..."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def client_for(server: LiveServer) -> Any:
    return api("client").Client(base_url=server.url, raise_on_unexpected_status=True)


def parsed(answer: Any, model: str, status: int = 200) -> Any:
    """The answer's parsed model, which must be `model` (not None, not another)."""
    assert answer.status_code == status, answer.content[:300]
    assert type(answer.parsed).__name__ == model, (answer.parsed, answer.content[:300])
    return answer.parsed


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def test_every_read_and_operation_is_parsed(generated: ModuleType, live_server: LiveServer) -> None:
    with client_for(live_server) as client:  # closes its connections (no ResourceWarning)
        _every_read_and_operation(client, api("models"))


def _every_read_and_operation(client: Any, models: Any) -> None:
    metadata = api("api.conformance.capabilities").sync_detailed(client=client)
    assert parsed(metadata, "CapabilityStatement").fhir_version == "4.0.1"
    search = api("api.catalogue.search_questionnaires").sync_detailed(
        client=client, field_sort="-name", field_count=2
    )
    bundle = parsed(search, "SearchsetBundle")
    assert bundle.total == 7
    assert [entry.resource.id for entry in bundle.entry] == ["wai-sr", "qids-sr-16"]
    read = api("api.catalogue.read_questionnaire").sync_detailed("phq-9", client=client)
    assert parsed(read, "Questionnaire").id == "phq-9"
    scores = api("api.catalogue.read_code_system").sync_detailed("rapport-scores", client=client)
    assert parsed(scores, "CodeSystem").id == "rapport-scores"
    definition = api("api.conformance.read_operation_definition").sync_detailed(
        "QuestionnaireResponse-score", client=client
    )
    assert parsed(definition, "OperationDefinition").code == "score"

    response = models.QuestionnaireResponse.from_dict(example("phq-9.response.json"))
    validated = api("api.scoring.validate_response").sync_detailed(client=client, body=response)
    assert parsed(validated, "OperationOutcome").issue[0].code.value == "informational"
    scored = api("api.scoring.score_response").sync_detailed(client=client, body=response)
    assert parsed(scored, "ScoreResult").to_dict() == example("phq-9.score.json")
    extracted = api("api.scoring.extract_observations").sync_detailed(client=client, body=response)
    assert parsed(extracted, "TransactionBundle").to_dict() == example("phq-9.extract.json")
    batch = models.BatchBundle.from_dict(example("batch.json"))
    answered = api("api.batch.batch").sync_detailed(client=client, body=batch)
    statuses = [entry.response.status for entry in parsed(answered, "BatchResponseBundle").entry]
    assert statuses == ["200 OK", "200 OK"]
    refused = api("api.scoring.create_response").sync_detailed(client=client)
    assert (
        "$score" in parsed(refused, "OperationOutcome", 405).issue[0].to_dict()["details"]["text"]
    )


def test_site_writes_history_and_vread_are_parsed(
    generated: ModuleType, redis_url: str, redis_client: Any, tmp_path: Path
) -> None:
    models = api("models")
    with (
        run_gunicorn({"RAPPORT_REDIS_URL": redis_url}, log_dir=tmp_path) as server,
        client_for(server) as client,
    ):
        shipped = api("api.catalogue.read_questionnaire").sync_detailed("gad-7", client=client)
        site = {**shipped.parsed.to_dict(), "id": "site-gad", "title": "Site GAD-7"}
        site["url"] = "https://example.org/fhir/Questionnaire/site-gad"
        site.pop("meta", None)
        written = api("api.site.update_questionnaire").sync_detailed(
            "site-gad", client=client, body=models.Questionnaire.from_dict(site)
        )
        assert parsed(written, "Questionnaire", 201).title == "Site GAD-7"
        history = api("api.site.questionnaire_history").sync_detailed("site-gad", client=client)
        versions = parsed(history, "HistoryBundle").entry
        assert [entry.resource.title for entry in versions] == ["Site GAD-7"]
        vid = written.headers["ETag"].removeprefix('W/"').removesuffix('"')
        vread = api("api.site.read_questionnaire_version").sync_detailed(
            "site-gad", vid, client=client
        )
        assert parsed(vread, "Questionnaire").meta.version_id == vid
