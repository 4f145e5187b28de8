"""Settings: read once from `RAPPORT_*` environment variables and validated with marshmallow.

Every setting is documented in the README's settings table; `SETTINGS_DOC` is that
table's source, and a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, validate, validates_schema
from marshmallow import fields as mf

__all__ = [
    "HOME",
    "PREFIX",
    "SETTINGS_DOC",
    "ConfigError",
    "Settings",
    "SettingsSchema",
    "load_settings",
]

PREFIX = "RAPPORT_"


def _home() -> Path:
    # A source checkout holds questionnaires/ beside service/; an installed wheel (the
    # container) runs from a folder that holds it instead.
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "questionnaires").is_dir() else Path.cwd()


HOME = _home()
SHIPPED = HOME / "questionnaires"

#: name → (default as written in the environment, what it does); the README table mirrors this.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "BIND": ("127.0.0.1:8080", "host:port gunicorn listens on"),
    "WORKERS": ("CPU count", "gunicorn worker processes (1 to 64)"),
    "TIMEOUT": ("30", "seconds a worker may spend on one request before it is restarted"),
    "GRACEFUL_TIMEOUT": ("20", "seconds in-flight requests get to finish on SIGTERM"),
    "QUESTIONNAIRE_DIRS": ("", "extra folders of site content, separated by ':'"),
    "INSTRUMENTS_DISABLED": ("", "Questionnaire ids not to serve, separated by ','"),
    "MAX_BODY_BYTES": ("5242880", "largest request body accepted (413 beyond)"),
    "MAX_ITEMS": ("2000", "most items plus answers in one QuestionnaireResponse"),
    "PAGE_SIZE": ("20", "search results per page when `_count` is absent"),
    "MAX_PAGE_SIZE": ("100", "largest `_count` honoured"),
    "BATCH_MAX_ENTRIES": ("100", "most entries in one batch Bundle"),
    "BASE_URL": ("", "public base of the FHIR API for links (default: from the request)"),
    "REDIS_URL": ("", "Redis for the shared site catalogue and rate limits (optional)"),
    "LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
}


class ConfigError(ValueError):
    """A setting has a bad value; the message names the variable."""


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _split(sep: str) -> Any:
    return lambda value: tuple(part.strip() for part in value.split(sep) if part.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated settings of one app."""

    bind: str = "127.0.0.1:8080"
    workers: int = field(default_factory=_cpu_count)
    timeout: int = 30
    graceful_timeout: int = 20
    questionnaire_dirs: tuple[Path, ...] = ()
    instruments_disabled: tuple[str, ...] = ()
    max_body_bytes: int = 5 * 1024 * 1024
    max_items: int = 2000
    page_size: int = 20
    max_page_size: int = 100
    batch_max_entries: int = 100
    base_url: str = ""
    redis_url: str = ""
    log_level: str = "INFO"

    @property
    def catalog_dirs(self) -> tuple[Path, ...]:
        """The shipped folder first, then the site's."""
        return (SHIPPED, *self.questionnaire_dirs)


class _PathList(mf.Field[tuple[Path, ...]]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> tuple[Path, ...]:
        if isinstance(value, list | tuple):
            parts = tuple(str(part) for part in value)
        elif isinstance(value, str):
            parts = _split(":")(value)
        else:
            raise ValidationError("must be a list of folders separated by ':'")
        paths = tuple(Path(part) for part in parts)
        for path in paths:
            if not path.is_dir():
                raise ValidationError(f"'{path}' is not a folder")
        return paths


class _Words(mf.Field[tuple[str, ...]]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> tuple[str, ...]:
        if isinstance(value, list | tuple):
            return tuple(str(part) for part in value)
        if isinstance(value, str):
            return tuple(_split(",")(value))
        raise ValidationError("must be a list separated by ','")


def _bind(value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationError("must be host:port, e.g. 127.0.0.1:8080")


def _url(schemes: set[str]) -> Any:
    listed = ", ".join(sorted(schemes))
    check = validate.URL(schemes=schemes, require_tld=False, error=f"must be a URL ({listed})")

    def optional_url(value: str) -> None:
        if value:
            check(value)

    return optional_url


class SettingsSchema(Schema):
    """Validates settings given as environment strings or Python values."""

    bind = mf.String(validate=_bind)
    workers = mf.Integer(strict=False, validate=validate.Range(1, 64))
    timeout = mf.Integer(validate=validate.Range(1, 3600))
    graceful_timeout = mf.Integer(validate=validate.Range(0, 3600))
    questionnaire_dirs = _PathList()
    instruments_disabled = _Words()
    max_body_bytes = mf.Integer(validate=validate.Range(1024, 100 * 1024 * 1024))
    max_items = mf.Integer(validate=validate.Range(10, 100_000))
    page_size = mf.Integer(validate=validate.Range(1, 1000))
    max_page_size = mf.Integer(validate=validate.Range(1, 1000))
    batch_max_entries = mf.Integer(validate=validate.Range(1, 10_000))
    base_url = mf.String(validate=_url({"http", "https"}))
    redis_url = mf.String(validate=_url({"redis", "rediss", "unix"}))
    log_level = mf.String(validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))

    @validates_schema
    def _pages(self, data: dict[str, Any], **kw: Any) -> None:
        page, most = data.get("page_size", 20), data.get("max_page_size", 100)
        if page > most:
            raise ValidationError(f"must not exceed MAX_PAGE_SIZE ({most})", "page_size")


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from `RAPPORT_*` variables, then `overrides` (by field name); ConfigError if bad."""
    environ = os.environ if environ is None else environ
    names = {f.name for f in fields(Settings)}
    raw: dict[str, Any] = {}
    for name in names:
        value = environ.get(PREFIX + name.upper())
        if value is not None and value.strip() != "":
            raw[name] = value.strip()
        elif value is not None and name in {"base_url", "redis_url"}:
            raw[name] = ""
    unknown = sorted(set(overrides or ()) - names)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    raw.update(overrides or {})
    if "log_level" in raw and isinstance(raw["log_level"], str):
        raw["log_level"] = raw["log_level"].upper()
    try:
        data = SettingsSchema().load(raw)
    except ValidationError as exc:
        messages: dict[str, Any] = exc.normalized_messages()  # type: ignore[no-untyped-call]
        name = sorted(messages)[0]
        detail = messages[name]
        text = detail[0] if isinstance(detail, list) else str(detail)
        shown = raw.get(name, "")
        raise ConfigError(f"{PREFIX}{name.upper()}={str(shown)[:80]!r}: {text}") from None
    return Settings(**data)
