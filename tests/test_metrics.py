"""`/metrics`: Prometheus text from one process, and summed over gunicorn's workers."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from harness.gunicorn import run_gunicorn
from service import create_app
from service.config import ConfigError, load_settings
from tests.builders.instruments import build_response, full_answers

CT = "application/fhir+json"
QR = "/fhir/QuestionnaireResponse"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def app() -> Flask:
    """A fresh app per test: its own registry, so counts start at zero."""
    return create_app(load_settings(environ={}))


def post(client: FlaskClient, path: str, body: Any) -> int:
    return client.post(path, data=json.dumps(body), content_type=CT).status_code


def test_requests_by_route_template_and_status(client: FlaskClient) -> None:
    for qid in ("gad-7", "phq-9", "nope"):
        client.get(f"/fhir/Questionnaire/{qid}")
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    found = samples(answer.get_data(as_text=True))
    route = ("route", "/fhir/Questionnaire/<path:resource_id>")
    assert (
        found[("rapport_http_requests_total", (("method", "GET"), route, ("status", "200")))] == 2
    )
    assert (
        found[("rapport_http_requests_total", (("method", "GET"), route, ("status", "404")))] == 1
    )
    count = ("rapport_http_request_duration_seconds_count", (("method", "GET"), route))
    assert found[count] == 3
    assert "nope" not in answer.get_data(as_text=True)


def test_every_request_series_has_a_real_status(client: FlaskClient) -> None:
    for path in ("/fhir/metadata", "/fhir/Questionnaire/gad-7", "/healthz"):
        client.get(path)
    text = client.get("/metrics").get_data(as_text=True)
    statuses = {
        dict(labels)["status"]
        for (name, labels) in samples(text)
        if name == "rapport_http_requests_total"
    }
    assert statuses == {"200"}
    assert 'status="0"' not in text


def test_scores_per_instrument_and_validation_failures_per_rule(client: FlaskClient) -> None:
    good = build_response("gad-7", full_answers("gad-7"), subject={"reference": "Patient/p1"})
    assert post(client, f"{QR}/$score", good) == 200
    assert post(client, f"{QR}/$extract", good) == 200
    assert post(client, f"{QR}/$score", build_response("phq-9", full_answers("phq-9"))) == 200
    contained = {
        "resourceType": "QuestionnaireResponse",
        "contained": [
            {
                "resourceType": "Questionnaire",
                "id": "private-name",
                "status": "active",
                "item": [{"linkId": "a", "type": "string"}],
            }
        ],
        "questionnaire": "#private-name",
        "status": "completed",
    }
    assert post(client, f"{QR}/$score", contained) == 200
    bad = build_response("gad-7", {}, "completed")  # required answers missing
    assert post(client, f"{QR}/$validate", bad) == 200
    text = client.get("/metrics").get_data(as_text=True)
    found = samples(text)
    assert found[("rapport_scores_total", (("questionnaire", "gad-7"),))] == 2
    assert found[("rapport_scores_total", (("questionnaire", "phq-9"),))] == 1
    assert found[("rapport_scores_total", (("questionnaire", "inline"),))] == 1
    assert "private-name" not in text
    failures = {
        labels[0][1]: value
        for (name, labels), value in found.items()
        if name == "rapport_validation_failures_total"
    }
    assert failures.get("qr-required-missing", 0) >= 1, failures


def test_catalogue_size_and_version(client: FlaskClient) -> None:
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("rapport_catalogue_questionnaires", ())] == 7
    (info,) = [labels for name, labels in found if name == "rapport_catalogue_info"]
    assert dict(info)["mode"] == "embedded"
    assert len(dict(info)["version"]) == 12
    assert not any(name == "rapport_redis_up" for name, _ in found)


def test_redis_health_is_reported(redis_url: str) -> None:
    app = create_app(load_settings({"redis_url": redis_url}, environ={}))
    found = samples(app.test_client().get("/metrics").get_data(as_text=True))
    assert found[("rapport_redis_up", ())] == 1


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


def _score(url: str) -> int:
    body = json.dumps(build_response("gad-7", full_answers("gad-7"))).encode()
    request = urllib.request.Request(f"{url}{QR}/$score", data=body, method="POST")
    request.add_header("Content-Type", CT)
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()
        return int(answer.status)


@pytest.mark.slow
def test_counts_are_summed_over_gunicorn_workers(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    # One thread a worker, both booted: a gthread worker accepts only while a thread is free,
    # so eight clients at once reach both (with 8 threads one worker could take them all).
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "RAPPORT_THREADS": "1"}
    with run_gunicorn(env, workers=2) as server:
        deadline = time.monotonic() + 20
        while server.read_log().count("Booting worker") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(_score, [server.url] * 40)) == {200}
        scrapes = [samples(_get(f"{server.url}/metrics")) for _ in range(6)]
        server_log = server.read_log()
    # Each worker wrote its own files; whichever worker answered the scrape summed them all.
    pids = {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}
    assert len(pids) == 2, server_log[-2000:]
    route = ("route", "/fhir/QuestionnaireResponse/$score")
    key = ("rapport_http_requests_total", (("method", "POST"), route, ("status", "200")))
    assert [scrape[key] for scrape in scrapes] == [40] * 6
    assert all(
        scrape[("rapport_scores_total", (("questionnaire", "gad-7"),))] == 40 for scrape in scrapes
    )
    latency = ("rapport_http_request_duration_seconds_count", (("method", "POST"), route))
    assert scrapes[0][latency] == 40
    assert scrapes[0][("rapport_catalogue_questionnaires", ())] == 7


def test_a_metrics_token_keeps_the_metrics_private() -> None:
    token = "scrape-token-0123456789"
    client = create_app(load_settings({"metrics_token": token}, environ={})).test_client()
    for header in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": token},
    ):
        refused = client.get("/metrics", headers=header)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"rapport_" not in refused.data
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200
    assert b"rapport_" in allowed.data


def test_the_metrics_port_is_another_port() -> None:
    with pytest.raises(ConfigError, match="RAPPORT_METRICS_BIND"):
        load_settings(
            environ={"RAPPORT_BIND": "0.0.0.0:8080", "RAPPORT_METRICS_BIND": "127.0.0.1:8080"}
        )
    with pytest.raises(ConfigError, match="RAPPORT_METRICS_TOKEN"):
        load_settings(environ={"RAPPORT_METRICS_TOKEN": "short"})
    settings = load_settings(environ={"RAPPORT_METRICS_BIND": "0.0.0.0:9090"})
    assert settings.metrics_bind == "0.0.0.0:9090"
