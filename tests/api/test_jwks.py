"""The JWKS key set: rotation, revocation, failed reads, https with Cache-Control, one re-reader.

The clock is injected so "ten minutes later" takes no time; the keys, files and the https
server are real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.api.auth import Authenticator
from service.api.jwks import MAX_AGE_SECONDS, KeySet
from service.config import ConfigError, load_settings
from service.errors import Unauthorized
from tests.support.jwks_server import JWKSServer, self_signed, serve_jwks
from tests.support.tokens import AUDIENCE, ISSUER, Issuer


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(issuer: Issuer, certificate: tuple[Path, Path]) -> Iterator[JWKSServer]:
    with serve_jwks(*certificate) as server:
        server.body = json.dumps(issuer.jwks()).encode()
        yield server


def test_unknown_kid_rereads_the_jwks_at_most_once_a_minute(
    issuer: Issuer, tmp_path: Path, clock: Clock
) -> None:
    path = issuer.write_jwks(tmp_path / "jwks.json", ["rsa-1"])
    keys = KeySet(str(path), clock=clock)
    issuer.write_jwks(path, ["rsa-1", "ec-256"])  # the authorisation server rotates
    assert keys.get("ec-256") is None  # read a moment ago: not again yet
    clock.now += 61
    assert keys.get("ec-256") is not None  # re-read
    issuer.write_jwks(path, ["rsa-1", "ec-256", "ec-384"])
    assert keys.get("ec-384") is None  # the next unknown kid waits a minute
    path.write_text("not json", encoding="utf-8")
    clock.now += 61
    assert keys.get("ec-384") is None
    assert keys.get("rsa-1") is not None  # a failed re-read keeps the keys it had


def test_a_revoked_key_stops_verifying_once_the_keys_are_old(
    issuer: Issuer, tmp_path: Path, clock: Clock
) -> None:
    path = issuer.write_jwks(tmp_path / "jwks.json")
    authenticator = Authenticator(KeySet(str(path), max_age=300, clock=clock), ISSUER, AUDIENCE)
    revoked, kept = issuer.token(kid="ec-256"), issuer.token(kid="rsa-1")
    assert authenticator.verify(revoked)["sub"] == "ehr-client-1"
    issuer.write_jwks(path, ["rsa-1", "ec-384"])  # the authorisation server drops ec-256
    clock.now += 299
    assert authenticator.verify(revoked)  # still within max_age
    clock.now += 2
    with pytest.raises(Unauthorized, match="'kid' names no key"):
        authenticator.verify(revoked)
    assert authenticator.verify(kept)


def test_keys_are_reread_every_ten_minutes_by_default(
    issuer: Issuer, tmp_path: Path, clock: Clock
) -> None:
    assert MAX_AGE_SECONDS == 600
    path = issuer.write_jwks(tmp_path / "jwks.json")
    keys = KeySet(str(path), clock=clock)
    issuer.write_jwks(path, ["rsa-1"])
    clock.now += 599
    assert keys.get("ec-256") is not None
    clock.now += 2
    assert keys.get("ec-256") is None


def test_a_failed_reread_keeps_the_last_good_keys_and_retries_a_minute_later(
    issuer: Issuer, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    path = issuer.write_jwks(tmp_path / "jwks.json")
    keys = KeySet(str(path), max_age=300, clock=clock)
    path.unlink()
    clock.now += 301
    with caplog.at_level("WARNING", logger="service.api.jwks"):
        assert keys.get("ec-256") is not None
    assert "JWKS re-read failed, keeping the keys we had" in caplog.text
    issuer.write_jwks(path, ["rsa-1"])
    clock.now += 59
    assert keys.get("ec-256") is not None  # not retried yet
    clock.now += 2
    assert keys.get("ec-256") is None  # retried, and read


def test_a_single_key_without_kid_serves_tokens_without_kid(issuer: Issuer, tmp_path: Path) -> None:
    jwks = issuer.jwks(["rsa-1"])
    del jwks["keys"][0]["kid"]  # RFC 7517 §4.5: kid is optional
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks), encoding="utf-8")
    keys = KeySet(str(path))
    assert keys.get(None) is not None
    assert keys.get("rsa-1") is None


def test_several_keys_serve_no_token_without_kid(issuer: Issuer, tmp_path: Path) -> None:
    jwks = issuer.jwks(["rsa-1", "ec-256"])
    del jwks["keys"][0]["kid"]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks), encoding="utf-8")
    keys = KeySet(str(path))
    assert keys.get(None) is None
    assert keys.get("rsa-1") is None  # a key without kid among several is unreachable
    assert keys.get("ec-256") is not None


# -- over https -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        ("max-age=120", 120),
        ("public, max-age=5", 60),  # at least a minute
        ("max-age=86400", 3600),  # at most an hour
        ("no-cache", 60),
        (None, 600),  # no header: the default ten minutes
    ],
)
def test_https_jwks_lives_as_long_as_its_cache_control_says(
    server: JWKSServer, issuer: Issuer, clock: Clock, cache_control: str | None, lifetime: int
) -> None:
    server.cache_control = cache_control
    keys = KeySet(server.url, clock=clock, context=server.context())
    server.body = json.dumps(issuer.jwks(["rsa-1"])).encode()
    start = clock.now
    clock.now = start + lifetime - 1
    assert keys.get("ec-256") is not None
    clock.now = start + lifetime + 1
    assert keys.get("ec-256") is None
    assert server.reads == 2


def test_only_one_thread_waits_for_a_reread(
    server: JWKSServer, issuer: Issuer, clock: Clock
) -> None:
    keys = KeySet(server.url, max_age=300, clock=clock, context=server.context())
    server.gate.clear()  # hold the next answer back
    server.arrived.clear()
    clock.now += 301
    found: list[object] = []
    rereader = threading.Thread(target=lambda: found.append(keys.get("rsa-1")))
    rereader.start()
    assert server.arrived.wait(timeout=5)
    started = time.monotonic()
    assert keys.get("rsa-1") is not None  # the old keys, at once
    assert time.monotonic() - started < 1
    server.gate.set()
    rereader.join(timeout=10)
    assert found != []
    assert found[0] is not None
    assert server.reads == 2


def test_untrusted_certificate_stops_start_up(server: JWKSServer) -> None:
    with pytest.raises(ConfigError, match=r"cannot read.*CERTIFICATE_VERIFY_FAILED"):
        KeySet(server.url)


def test_app_reads_an_https_jwks_trusted_through_ssl_cert_file(
    server: JWKSServer, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # how an operator adds a private CA
    settings = {"auth_jwks": server.url, "auth_issuer": ISSUER, "auth_audience": AUDIENCE}
    client: FlaskClient = create_app(load_settings(settings, environ={})).test_client()
    token = issuer.token("system/Questionnaire.read")
    answer = client.get("/fhir/Questionnaire/gad-7", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
