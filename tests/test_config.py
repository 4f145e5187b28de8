"""Settings: environment parsing, validation, the one-line error, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.config import SETTINGS_DOC, ConfigError, Settings, load_settings

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


def test_overrides_are_validated_like_the_environment() -> None:
    assert load_settings({"page_size": 5}, environ={}).page_size == 5
    with pytest.raises(ConfigError, match="RAPPORT_PAGE_SIZE"):
        load_settings({"page_size": 0}, environ={})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({"colour": "blue"}, environ={})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `RAPPORT_([A-Z_]+)` \| [^|]* \| ([^|]+) \|$", readme, re.M))
    fields = {name.upper() for name in Settings.__dataclass_fields__}
    assert set(rows) == set(SETTINGS_DOC) == fields
    for name, (_, text) in SETTINGS_DOC.items():
        assert rows[name].strip() == text
