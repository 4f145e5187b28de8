"""Settings: environment parsing, validation, the one-line error, and the documented table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.config import (
    SETTINGS_DOC,
    ConfigError,
    Settings,
    load_settings,
    redact_url,
    unknown_variables,
)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_environment() -> None:
    settings = load_settings(environ={})
    assert settings.bind == "127.0.0.1:8080"
    assert settings.max_body_bytes == 5 * 1024 * 1024
    assert settings.redis_url == ""
    assert settings.catalog_dirs[0].name == "questionnaires"


def test_environment_values_are_parsed(tmp_path: Path) -> None:
    other = tmp_path / "site"
    other.mkdir()
    settings = load_settings(
        environ={
            "RAPPORT_WORKERS": "3",
            "RAPPORT_QUESTIONNAIRE_DIRS": f"{tmp_path}:{other}",
            "RAPPORT_INSTRUMENTS_DISABLED": "arm-5, ebi",
            "RAPPORT_LOG_LEVEL": "debug",
            "RAPPORT_REDIS_URL": "redis://127.0.0.1:6390/0",
        }
    )
    assert settings.workers == 3
    assert settings.questionnaire_dirs == (tmp_path, other)
    assert settings.instruments_disabled == ("arm-5", "ebi")
    assert settings.log_level == "DEBUG"
    assert settings.redis_url == "redis://127.0.0.1:6390/0"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("RAPPORT_WORKERS", "many", "RAPPORT_WORKERS='many': Not a valid integer."),
        ("RAPPORT_WORKERS", "0", "RAPPORT_WORKERS='0'"),
        ("RAPPORT_BIND", "8080", "RAPPORT_BIND='8080': must be host:port"),
        ("RAPPORT_BIND", "host:99999", "RAPPORT_BIND='host:99999': must be host:port"),
        ("RAPPORT_MAX_BODY_BYTES", "-1", "RAPPORT_MAX_BODY_BYTES='-1'"),
        ("RAPPORT_WORKER_BODY_BYTES", "0", "RAPPORT_WORKER_BODY_BYTES='0'"),
        ("RAPPORT_QUESTIONNAIRE_DIRS", "/no/such/dir", "'/no/such/dir' is not a folder"),
        ("RAPPORT_REDIS_URL", "http://x", "RAPPORT_REDIS_URL='http://x': must be a URL"),
        ("RAPPORT_LOG_LEVEL", "LOUD", "RAPPORT_LOG_LEVEL='LOUD'"),
        ("RAPPORT_PAGE_SIZE", "500", "RAPPORT_PAGE_SIZE='500': must not exceed MAX_PAGE_SIZE"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: value})
    message = str(caught.value)
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "secrets"),
    [
        ("RAPPORT_REDIS_URL", "redis://:hunter2@redis host:6379/0", ["hunter2"]),
        ("RAPPORT_REDIS_URL", "redis://u:hunter2@h:6379/x y?password=PW1", ["hunter2", "PW1"]),
        ("RAPPORT_REDIS_URL", f"redis://:{'p' * 90}@h h/0", ["ppp"]),  # longer than the clip
        ("RAPPORT_BASE_URL", "ftp://u:hunter2@example.org/fhir", ["hunter2"]),
        ("RAPPORT_AUTH_JWKS", "http://idp.example/jwks?access_token=T0KEN", ["T0KEN"]),
    ],
)
def test_bad_url_is_named_without_its_secrets(name: str, value: str, secrets: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: value})
    assert str(caught.value).startswith(f"{name}=")
    assert "***" in str(caught.value)
    assert not [secret for secret in secrets if secret in str(caught.value)]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("redis://:pw@h:6379/0", "redis://***@h:6379/0"),
        ("rediss://u:pw@h/1", "rediss://u:***@h/1"),
        ("redis://token@h/1", "redis://***@h/1"),
        ("redis://h/0?password=pw&db=2", "redis://h/0?password=***&db=2"),
        ("https://h/jwks?x=1&Access_Token=t#k", "https://h/jwks?x=1&Access_Token=***#k"),
        ("/etc/rapport/jwks.json", "/etc/rapport/jwks.json"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_unknown_variables_are_listed() -> None:
    environ = {"RAPPORT_WORKRES": "2", "RAPPORT_WORKERS": "2", "RAPPORTS": "x", "HOME": "/"}
    assert unknown_variables(environ) == ["RAPPORT_WORKRES"]
    assert load_settings(environ=environ).workers == 2  # not fatal


def test_overrides_are_validated_like_the_environment() -> None:
    assert load_settings({"page_size": 5}, environ={}).page_size == 5
    with pytest.raises(ConfigError, match="RAPPORT_PAGE_SIZE"):
        load_settings({"page_size": 0}, environ={})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({"colour": "blue"}, environ={})


def test_every_setting_is_documented_in_the_configuration_docs() -> None:
    readme = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `RAPPORT_([A-Z_]+)` \| [^|]* \| ([^|]+) \|$", readme, re.M))
    fields = {name.upper() for name in Settings.__dataclass_fields__}
    assert set(rows) == set(SETTINGS_DOC) == fields
    for name, (_, text) in SETTINGS_DOC.items():
        assert rows[name].strip() == text
