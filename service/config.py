"""Settings: read once from `RAPPORT_*` environment variables and validated with marshmallow.

Every setting is documented in the README's settings table; `SETTINGS_DOC` is that
table's source, and a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
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
    "redact_url",
    "unknown_variables",
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
    "TIMEOUT": ("30", "seconds a worker may go without a heartbeat before it is restarted"),
    "GRACEFUL_TIMEOUT": ("20", "seconds in-flight requests get to finish on SIGTERM"),
    "THREADS": ("8", "request threads per worker (1 to 256); slow clients hold none"),
    "READ_TIMEOUT": ("10", "seconds a request (head and body) may take to arrive (408 beyond)"),
    "QUESTIONNAIRE_DIRS": ("", "extra folders of site content, separated by ':'"),
    "INSTRUMENTS_DISABLED": ("", "Questionnaire ids not to serve, separated by ','"),
    "MAX_BODY_BYTES": ("5242880", "largest request body accepted (413 beyond)"),
    "WORKER_BODY_BYTES": (
        "10485760",
        "bodies over 64 KiB a worker holds at once, in bytes (more wait, then 503)",
    ),
    "MAX_ITEMS": ("2000", "most items plus answers in one QuestionnaireResponse"),
    "INLINE_CACHE_BYTES": (
        "33554432",
        "memory per worker for compiled inline and contained Questionnaires (0: none)",
    ),
    "PAGE_SIZE": ("20", "search results per page when `_count` is absent"),
    "MAX_PAGE_SIZE": ("100", "largest `_count` honoured"),
    "BATCH_MAX_ENTRIES": ("100", "most entries in one batch Bundle"),
    "BASE_URL": (
        "",
        "public base of the FHIR API for links (default: from the request; set it in production)",
    ),
    "REDIS_URL": ("", "Redis for the shared site catalogue and rate limits (optional)"),
    "RATE_LIMIT": (
        "",
        "requests per client under /fhir and to portal forms, e.g. `600/minute` (empty: off)",
    ),
    "LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
    "AUTH_JWKS": ("", "JWKS file path or https URL: when set, FHIR requests need a bearer JWT"),
    "AUTH_ISSUER": ("", "the `iss` tokens must carry (required with AUTH_JWKS)"),
    "AUTH_AUDIENCE": ("", "the `aud` tokens must carry (required with AUTH_JWKS)"),
    "AUTH_TOKEN_URL": ("", "the authorisation server's https token endpoint, for SMART discovery"),
    "TRUSTED_PROXIES": (
        "",
        "proxy addresses or networks whose X-Forwarded-For/-Proto to trust, separated by ','"
        " (empty: ignore those headers)",
    ),
    "CORS_ORIGINS": (
        "",
        "browser origins allowed to call the API, separated by ','; empty: none; unset: "
        "http://localhost:* and http://127.0.0.1:* while BIND is a loopback address",
    ),
    "US_CORE": ("on", "`off`: $extract Observations claim no US Core profile (non-US sites)"),
    "SAFETY_FLAGS": ("on", "`off`: no Flag in $extract, no safety warning in $score"),
    "PORTAL": ("auto", "the web pages at `/` and `/docs`: on, off, or auto (on unless AUTH_JWKS)"),
    "METRICS_BIND": ("", "host:port serving /metrics alone, which BIND then does not serve"),
    "METRICS_TOKEN": ("", "bearer token /metrics requires (16+ characters; empty: none)"),
}


#: Settings whose empty value means "off" (the rest fall back to their default when empty).
_MAY_BE_EMPTY = frozenset(
    {
        "base_url",
        "redis_url",
        "rate_limit",
        "auth_jwks",
        "auth_issuer",
        "auth_audience",
        "auth_token_url",
        "metrics_bind",
        "metrics_token",
        "cors_origins",  # set but empty: no origin, not even the loopback default
    }
)
#: Hosts of a loopback bind: only this machine can connect (RFC 6890 127/8, ::1).
_LOOPBACK_HOSTS = re.compile(r"127(?:\.\d{1,3}){3}|localhost|\[?::1\]?")


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
    threads: int = 8
    read_timeout: int = 10
    questionnaire_dirs: tuple[Path, ...] = ()
    instruments_disabled: tuple[str, ...] = ()
    max_body_bytes: int = 5 * 1024 * 1024
    worker_body_bytes: int = 10 * 1024 * 1024
    max_items: int = 2000
    inline_cache_bytes: int = 32 * 1024 * 1024
    page_size: int = 20
    max_page_size: int = 100
    batch_max_entries: int = 100
    base_url: str = ""
    redis_url: str = ""
    rate_limit: str = ""
    log_level: str = "INFO"
    auth_jwks: str = ""
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_token_url: str = ""
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] | None = None  # None: unset
    us_core: bool = True
    safety_flags: bool = True
    portal: str = "auto"
    metrics_bind: str = ""
    metrics_token: str = ""

    @property
    def portal_enabled(self) -> bool:
        """Whether to serve the portal: `auto` serves it only while authentication is off."""
        return self.portal == "on" or (self.portal == "auto" and not self.auth_jwks)

    @property
    def local_cors(self) -> bool:
        """Whether browsers on this machine may call the API: CORS for `http://localhost:*`
        and `http://127.0.0.1:*`, the embedded default while bound to loopback only."""
        host = self.bind.rpartition(":")[0]
        return self.cors_origins is None and _LOOPBACK_HOSTS.fullmatch(host) is not None

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


class _Networks(_Words):
    """IP addresses or networks, normalised (`10.0.0.1` → `10.0.0.1/32`); `0` is none."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kw: Any) -> tuple[str, ...]:
        words = super()._deserialize(value, attr, data, **kw)
        if words in {("0",), ()}:  # 0 was "no proxies" when this was a hop count
            return ()
        if any(word.isdigit() for word in words):
            raise ValidationError(
                "must list the proxies' addresses or networks, e.g. 10.0.0.0/8,127.0.0.1: a "
                "hop count is no longer accepted (it trusted whoever reached the port directly)"
            )
        found = []
        for word in words:
            try:
                found.append(str(ipaddress.ip_network(word, strict=False)))
            except ValueError:
                raise ValidationError(f"'{word}' is not an IP address or network") from None
        return tuple(found)


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


def _jwks(value: str) -> None:
    # An https URL (the authorisation server's jwks_uri) or a file; never plain http, where
    # anyone on the path could swap the keys.
    if not value or value.startswith("https://"):
        _url({"https"})(value)
    elif "://" in value:
        raise ValidationError("must be an https URL or a file path")
    elif not Path(value).is_file():
        raise ValidationError("is not a file")


def _origins(value: tuple[str, ...]) -> None:
    # Exact origins (RFC 6454 serialisation: scheme://host[:port]), compared byte for byte.
    check = validate.URL(schemes={"http", "https"}, require_tld=False)
    for origin in value:
        scheme, _, rest = origin.partition("://")
        check(origin)
        if "/" in rest or origin != f"{scheme.lower()}://{rest.lower()}":
            raise ValidationError(f"'{origin[:80]}' is not an origin like https://app.example.org")


def _rate(value: str) -> None:
    from limits import parse_many  # noqa: PLC0415 - the rate limiter's own grammar

    try:
        if value:
            parse_many(value)
    except ValueError:
        raise ValidationError("must be a rate such as 600/minute or 10/second") from None


class SettingsSchema(Schema):
    """Validates settings given as environment strings or Python values."""

    bind = mf.String(validate=_bind)
    workers = mf.Integer(strict=False, validate=validate.Range(1, 64))
    timeout = mf.Integer(validate=validate.Range(1, 3600))
    graceful_timeout = mf.Integer(validate=validate.Range(0, 3600))
    threads = mf.Integer(strict=False, validate=validate.Range(1, 256))
    read_timeout = mf.Integer(strict=False, validate=validate.Range(1, 300))
    questionnaire_dirs = _PathList()
    instruments_disabled = _Words()
    max_body_bytes = mf.Integer(validate=validate.Range(1024, 100 * 1024 * 1024))
    worker_body_bytes = mf.Integer(strict=False, validate=validate.Range(1024, 4 * 1024**3))
    max_items = mf.Integer(validate=validate.Range(10, 100_000))
    inline_cache_bytes = mf.Integer(strict=False, validate=validate.Range(0, 4 * 1024**3))
    page_size = mf.Integer(validate=validate.Range(1, 1000))
    max_page_size = mf.Integer(validate=validate.Range(1, 1000))
    batch_max_entries = mf.Integer(validate=validate.Range(1, 10_000))
    base_url = mf.String(validate=_url({"http", "https"}))
    redis_url = mf.String(validate=_url({"redis", "rediss", "unix"}))
    rate_limit = mf.String(validate=_rate)
    log_level = mf.String(validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))
    auth_jwks = mf.String(validate=_jwks)
    auth_issuer = mf.String()
    auth_audience = mf.String()
    auth_token_url = mf.String(validate=_url({"https"}))
    trusted_proxies = _Networks()
    cors_origins = _Words(validate=_origins)
    us_core = mf.Boolean(truthy={"on", "true", "1"}, falsy={"off", "false", "0"})
    safety_flags = mf.Boolean(truthy={"on", "true", "1"}, falsy={"off", "false", "0"})
    portal = mf.String(validate=validate.OneOf(["auto", "on", "off"]))
    metrics_bind = mf.String(validate=_bind)
    metrics_token = mf.String(validate=validate.Length(min=16, max=512))

    @validates_schema
    def _pages(self, data: dict[str, Any], **kw: Any) -> None:
        page, most = data.get("page_size", 20), data.get("max_page_size", 100)
        if page > most:
            raise ValidationError(f"must not exceed MAX_PAGE_SIZE ({most})", "page_size")

    @validates_schema
    def _metrics(self, data: dict[str, Any], **kw: Any) -> None:
        metrics, bind = data.get("metrics_bind"), data.get("bind", "127.0.0.1:8080")
        if metrics and metrics.rpartition(":")[2] == bind.rpartition(":")[2]:
            raise ValidationError("must use another port than RAPPORT_BIND", "metrics_bind")

    @validates_schema
    def _auth(self, data: dict[str, Any], **kw: Any) -> None:
        if not data.get("auth_jwks"):
            return
        for name in ("auth_issuer", "auth_audience"):
            if not data.get(name):
                raise ValidationError("is required when RAPPORT_AUTH_JWKS is set", name)


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
        elif value is not None and name in _MAY_BE_EMPTY:
            raw[name] = ""
    unknown = sorted(set(overrides or ()) - names)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    raw.update(overrides or {})
    if "log_level" in raw and isinstance(raw["log_level"], str):
        raw["log_level"] = raw["log_level"].upper()
    if "portal" in raw and isinstance(raw["portal"], str):
        raw["portal"] = raw["portal"].lower()
    try:
        data = SettingsSchema().load(raw)
    except ValidationError as exc:
        messages: dict[str, Any] = exc.normalized_messages()  # type: ignore[no-untyped-call]
        name = sorted(messages)[0]
        detail = messages[name]
        text = detail[0] if isinstance(detail, list) else str(detail)
        shown = redact_url(str(raw.get(name, "")))  # before clipping, which could cut the '@'
        raise ConfigError(f"{PREFIX}{name.upper()}={shown[:80]!r}: {text}") from None
    return Settings(**data)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The `RAPPORT_*` variables that name no setting (typos, most likely), sorted."""
    environ = os.environ if environ is None else environ
    known = {PREFIX + f.name.upper() for f in fields(Settings)}
    return sorted(name for name in environ if name.startswith(PREFIX) and name not in known)


#: Query parameters that carry secrets, by name: redis-py takes `?password=`, others a token.
_SECRET_PARAMS = re.compile(
    r"([?&;][^=&#;\s]*(?:pass|pwd|token|secret|key|auth|credential)[^=&#;\s]*=)[^&#;\s]*",
    re.IGNORECASE,
)
_USER = re.compile(r"[\w.~%-]+")


def redact_url(url: str) -> str:
    """`url` fit for an error or a log line: its password and secret query values as `***`."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if sep and at:
        user, colon, _ = credentials.partition(":")
        # Without a colon the userinfo may be a bare token; show a user name only beside one.
        shown = f"{user}:***" if colon and _USER.fullmatch(user) else "***"
        rest = f"{shown}@{host}"
    return _SECRET_PARAMS.sub(r"\1***", f"{scheme}{sep}{rest}")
