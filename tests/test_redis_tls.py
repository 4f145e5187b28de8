"""`rediss://` with a password: the site catalogue and the rate limits over TLS.

A private redis-server listens on TLS only, with a self-signed certificate made by the
`openssl` command for this test and `requirepass`; the URL names the CA file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.processes import free_port, log_tail, stop
from service import create_app
from service.config import load_settings
from tests.builders.catalog import mini

PASSWORD = "s3cret-for-tests"


def _certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not on PATH: apt-get install -y openssl (.ci/run does)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A TLS-only, password-protected private Redis: its `rediss://` URL."""
    folder = tmp_path_factory.mktemp("redis-tls")
    cert, key = _certificate(folder)
    port = free_port()
    log = folder / "redis.log"
    command = ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    command += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    command += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    command += ["--requirepass", PASSWORD, "--save", "", "--appendonly", "no"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    try:
        _wait(url, process, log)
        yield url
    finally:
        stop(process)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server (TLS) exited: {log_tail(log)}")
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
        except redis.RedisError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"redis-server (TLS) did not answer: {log_tail(log)}")


def test_site_catalogue_and_rate_limits_work_over_tls_with_a_password(tls_url: str) -> None:
    client = create_app(
        load_settings({"redis_url": tls_url, "rate_limit": "50/minute"}, environ={})
    ).test_client()
    body = {**mini(), "id": "tls", "url": "https://example.org/site/tls"}
    written = client.put(
        "/fhir/Questionnaire/tls", data=json.dumps(body), content_type="application/fhir+json"
    )
    assert written.status_code == 201
    assert client.get("/fhir/Questionnaire/tls").status_code == 200
    assert client.get("/readyz").status_code == 200
    keys = redis.Redis.from_url(tls_url, decode_responses=True).keys("rapport:*")
    assert "rapport:questionnaire:current" in keys
    assert any(key.startswith("rapport:limits:") for key in keys)


def test_a_wrong_password_is_unready_not_fatal(tls_url: str) -> None:
    wrong = tls_url.replace(PASSWORD, "wrong")
    client = create_app(load_settings({"redis_url": wrong}, environ={})).test_client()
    assert client.get("/readyz").status_code == 503
    assert client.get("/fhir/Questionnaire/gad-7").status_code == 200
