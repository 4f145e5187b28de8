"""The test helpers themselves: private Redis, the gunicorn runner, and the R4 schema check."""

from __future__ import annotations

import copy
import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.gunicorn import REPO_ROOT, GunicornFailed, LiveServer, run_gunicorn
from harness.processes import free_port
from tests.support.fhir_schema import REQUIRED_PRIMITIVES, resource_types, validate_r4
from tests.support.redis import RedisServer, RedisUnavailable, run_redis

HELLO = "tests.support.hello_app:app"
SHIPPED = sorted(
    path
    for path in (REPO_ROOT / "questionnaires").glob("*.json")
    if not path.name.endswith(".vectors.json")
)


def get(server: LiveServer, path: str) -> tuple[int, str]:
    """GET a path from a live server: status and body text."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def load(path: Path) -> dict[str, Any]:
    """A JSON resource from disk."""
    resource: dict[str, Any] = json.loads(path.read_text())
    return resource


# --- Redis -----------------------------------------------------------------------------------


def test_redis_url_is_private(redis_url: str, redis_server: RedisServer) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.port != 6379


def test_redis_client_talks_to_the_private_server(
    redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    assert redis_client.ping()
    assert redis_client.set("greeting", "hello")
    assert redis_client.get("greeting") == "hello"
    assert redis_client.connection_pool.connection_kwargs["port"] == redis_server.port


def test_redis_client_starts_empty(redis_client: redis.Redis) -> None:
    # The previous test left a key; the fixture flushed it.
    assert redis_client.dbsize() == 0


def test_run_redis_stops_the_server(tmp_path: Path) -> None:
    with run_redis(tmp_path) as server:
        assert server.process.poll() is None
    assert server.process.returncode is not None
    assert "Ready to accept connections" in server.log.read_text()


def test_run_redis_without_the_binary_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with (
        pytest.raises(RedisUnavailable, match="apt-get install -y redis-server"),
        run_redis(tmp_path),
    ):
        pass  # pragma: no cover


# --- gunicorn --------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_gunicorn_serves_and_stops(tmp_path: Path) -> None:
    env = {"HELLO_GREETING": "bonjour"}
    with run_gunicorn(env, app=HELLO, config=None, workers=2, log_dir=tmp_path) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert get(server, "/healthz") == (200, "ok")
        assert get(server, "/env/HELLO_GREETING") == (200, "bonjour")
        assert get(server, "/env/RAPPORT_BIND") == (200, f"127.0.0.1:{server.port}")
        assert get(server, "/nowhere")[0] == 404
    assert server.process.returncode == 0  # SIGTERM: a graceful exit
    assert "Booting worker" in server.read_log()


@pytest.mark.slow
def test_run_gunicorn_keeps_developer_settings_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 7")
    with run_gunicorn({}, app=HELLO, config=None, log_dir=tmp_path) as server:
        assert get(server, "/env/RAPPORT_REDIS_URL")[0] == 404
        assert get(server, "/env/GUNICORN_CMD_ARGS")[0] == 404


@pytest.mark.slow
def test_run_gunicorn_uses_the_config_and_rapport_bind(tmp_path: Path) -> None:
    config = tmp_path / "bind.conf.py"
    config.write_text('import os\nbind = [os.environ["RAPPORT_BIND"]]\n')
    with run_gunicorn({}, app=HELLO, config=str(config), log_dir=tmp_path) as server:
        assert get(server, "/healthz") == (200, "ok")


@pytest.mark.slow
def test_run_gunicorn_shows_the_log_when_the_app_cannot_load(tmp_path: Path) -> None:
    with (
        pytest.raises(GunicornFailed, match=r"(?s)exited with \d+.*no_such_module"),
        run_gunicorn({}, app="tests.support.no_such_module:app", config=None, log_dir=tmp_path),
    ):
        pass  # pragma: no cover


@pytest.mark.slow
def test_run_gunicorn_gives_up_when_healthz_never_answers(tmp_path: Path) -> None:
    # A port nothing listens on: gunicorn binds elsewhere, /healthz there never answers.
    config = tmp_path / "elsewhere.conf.py"
    config.write_text(f'bind = ["127.0.0.1:{free_port()}"]\n')
    started = time.monotonic()
    with (
        pytest.raises(GunicornFailed, match=r"(?s)did not answer 200 within 2.*Listening at"),
        run_gunicorn({}, app=HELLO, config=str(config), log_dir=tmp_path, timeout=2),
    ):
        pass  # pragma: no cover
    assert time.monotonic() - started < 15


# --- FHIR R4 schema --------------------------------------------------------------------------


def test_the_schema_is_r4() -> None:
    types = resource_types()
    assert {"Questionnaire", "QuestionnaireResponse", "Observation", "CodeSystem"} <= types
    assert "MedicinalProduct" in types  # R4 only: R4B and R5 split it up
    assert "Citation" not in types  # R4B and later
    assert {name.split("_")[0] for name in REQUIRED_PRIMITIVES} - types == {"Extension"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_content_is_valid_r4(path: Path) -> None:
    resource = load(path)
    if resource.get("resourceType") not in {"Questionnaire", "CodeSystem"}:
        pytest.skip(f"{path.name} is a {resource.get('resourceType')}")
    assert validate_r4(resource) == []


def test_a_minimal_questionnaire_and_response_are_valid() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {
                "linkId": "1",
                "type": "choice",
                "answerOption": [{"valueCoding": {"code": "a"}}],
            }
        ],
    }
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "#q",
        "contained": [{**questionnaire, "id": "q"}],
        "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "a"}}]}],
    }
    assert validate_r4(questionnaire) == []
    assert validate_r4(response) == []


OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "survey",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
    "effectiveDateTime": "2024-05-01T10:00:00Z",
    "valueQuantity": {"value": 12, "system": "http://unitsofmeasure.org", "code": "{score}"},
}


def broken(resource: dict[str, Any], *path: str | int, value: object = None) -> dict[str, Any]:
    """A deep copy of `resource` with the element at `path` set to `value` (None: removed)."""
    copied = copy.deepcopy(resource)
    parent: Any = copied
    for step in path[:-1]:
        parent = parent[step]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param(
            {"resourceType": "Questionnaire", "status": "bogus"},
            "Questionnaire.status: 'bogus' is not one of",
            id="bad-code",
        ),
        pytest.param(
            broken(OBSERVATION, "status"), "Observation: required element 'status'", id="no-status"
        ),
        pytest.param(
            broken(OBSERVATION, "code"), "Observation: 'code' is a required property", id="no-code"
        ),
        pytest.param(
            broken(OBSERVATION, "valueScore", value=3),
            "Observation: Additional properties are not allowed ('valueScore' was unexpected)",
            id="unknown-property",
        ),
        pytest.param(
            broken(OBSERVATION, "valueQuantity", "value", value="12"),
            "Observation.valueQuantity.value: '12' is not of type 'number'",
            id="wrong-type",
        ),
        pytest.param(
            broken(OBSERVATION, "effectiveDateTime", value="1 May 2024"),
            "Observation.effectiveDateTime: '1 May 2024' does not match",
            id="bad-dateTime",
        ),
        pytest.param(
            broken(OBSERVATION, "category", value={"text": "survey"}),
            "Observation.category: {'text': 'survey'} is not of type 'array'",
            id="not-an-array",
        ),
        pytest.param(
            {"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "1"}]},
            "Questionnaire.item[0]: required element 'type' is missing",
            id="item-without-type",
        ),
        pytest.param(
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "contained": [{"resourceType": "Questionnaire", "id": "q", "status": "nope"}],
            },
            "QuestionnaireResponse.contained[0].status: 'nope' is not one of",
            id="bad-contained",
        ),
        pytest.param({"resourceType": "Questionaire"}, "is not an R4 resource type", id="typo"),
        pytest.param({"status": "final"}, "resourceType is missing", id="no-resourceType"),
        pytest.param([OBSERVATION], "a resource is a JSON object, not list", id="not-an-object"),
    ],
)
def test_invalid_resources_are_rejected(resource: object, expected: str) -> None:
    errors = validate_r4(resource)
    assert any(expected in error for error in errors), errors


def test_observation_with_status_only_as_extension_is_valid() -> None:
    # R4 lets `_status` carry the value's extensions (e.g. data-absent-reason) in its place.
    absent = {"extension": [{"url": "http://example.org/why", "valueString": "unknown"}]}
    observation = broken(broken(OBSERVATION, "status"), "_status", value=absent)
    assert validate_r4(OBSERVATION) == []
    assert validate_r4(observation) == []


def test_validation_is_fast() -> None:
    questionnaire = load(REPO_ROOT / "questionnaires" / "phq-9.json")
    validate_r4(questionnaire)  # compiles and caches the validator
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        validate_r4(questionnaire)
    per_resource = (time.perf_counter() - started) / runs
    assert per_resource < 0.05, f"{per_resource * 1000:.1f} ms per Questionnaire"
