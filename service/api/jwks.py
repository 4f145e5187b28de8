"""The authorisation server's signing keys: a JWKS file or https URL, cached and refreshed.

The keys are read at start-up (an unreadable JWKS stops it), then again every `max_age`
seconds (10 minutes; for an https JWKS its Cache-Control `max-age`, kept within 1 minute and
1 hour) so a revoked key stops verifying, and on a token whose `kid` is unknown (at most once
a minute) so a new key starts verifying. One request thread re-reads; the others go on with
the keys they have. A failed re-read keeps the last good keys, is logged, and is retried a
minute later.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header

from service.config import ConfigError

__all__ = ["MAX_AGE_SECONDS", "REREAD_SECONDS", "JWKSUnavailable", "Key", "KeySet"]

log = logging.getLogger(__name__)

#: How long a read JWKS is trusted when nothing says otherwise.
MAX_AGE_SECONDS: Final = 600.0
#: The least time between two reads: an unknown `kid`'s re-read, a failed read's retry, and
#: the floor of an https answer's max-age.
REREAD_SECONDS: Final = 60.0
#: The ceiling of an https answer's max-age: a revoked key is dropped within the hour.
_LONGEST_SECONDS: Final = 3600.0
_MAX_JWKS_BYTES: Final = 1024 * 1024
_FETCH_TIMEOUT: Final = 5.0


class JWKSUnavailable(OSError):
    """The JWKS could not be read or holds no usable signing key."""


@dataclass(frozen=True, slots=True)
class Key:
    """One public signing key of the JWKS."""

    key: Any  # a cryptography public key
    alg: str | None  # the JWK's own `alg`, when it declares one


@dataclass(frozen=True, slots=True)
class _Keys:
    # Swapped whole on a re-read, so a request never sees half of an old and a new set.
    by_kid: dict[str, Key]
    only: Key | None  # the one usable key, when there is exactly one

    def find(self, kid: str | None) -> Key | None:
        # RFC 7515 §4.1.4: `kid` is optional; without it only an unambiguous key will do.
        return self.only if kid is None else self.by_kid.get(kid)


def _parse(data: bytes) -> _Keys:
    try:
        listed = json.loads(data)["keys"]
    except (ValueError, KeyError, TypeError):
        raise JWKSUnavailable("not a JWKS (a JSON object with 'keys')") from None
    usable: list[tuple[Any, Key]] = []
    for jwk in listed if isinstance(listed, list) else ():
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue  # RFC 7517: skip what we cannot use; an encryption key never verifies
        if jwk.get("kty") not in {"RSA", "EC"}:
            continue
        try:
            parsed = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            continue
        alg = jwk.get("alg")
        usable.append((jwk.get("kid"), Key(parsed.key, alg if isinstance(alg, str) else None)))
    by_kid = {kid: key for kid, key in usable if isinstance(kid, str)}
    only = usable[0][1] if len(usable) == 1 else None
    if not by_kid and only is None:
        raise JWKSUnavailable("the JWKS holds no RSA or EC signing key a token could name")
    return _Keys(by_kid, only)


def _lifetime(cache_control: str | None, default: float) -> float:
    """How long an https answer may be kept: its max-age within [1 min, 1 h], else `default`."""
    parsed = parse_cache_control_header(cache_control, cls=ResponseCacheControl)
    if parsed.no_store or parsed.no_cache:
        return REREAD_SECONDS
    if parsed.max_age is None:
        return default
    return min(max(float(parsed.max_age), REREAD_SECONDS), _LONGEST_SECONDS)


def _read(source: str, default: float, context: ssl.SSLContext | None) -> tuple[bytes, float]:
    """The JWKS's bytes and how long they may be trusted."""
    if source.startswith("https://"):
        # https only: the settings refuse any other scheme.
        try:
            with urllib.request.urlopen(source, timeout=_FETCH_TIMEOUT, context=context) as answer:
                data: bytes = answer.read(_MAX_JWKS_BYTES + 1)
                lifetime = _lifetime(answer.headers.get("Cache-Control"), default)
        except http.client.HTTPException as exc:  # a garbled answer is no OSError
            raise JWKSUnavailable(f"bad HTTP answer: {type(exc).__name__}") from None
    else:
        data, lifetime = Path(source).read_bytes(), default
    if len(data) > _MAX_JWKS_BYTES:
        raise JWKSUnavailable("the JWKS is larger than 1 MiB")
    return data, lifetime


class KeySet:
    """The JWKS's signing keys by `kid`, re-read when they grow old or a `kid` is unknown."""

    def __init__(
        self,
        source: str,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.source = source
        self._max_age = max_age
        self._clock = clock
        self._context = context  # None: the system's CAs (or SSL_CERT_FILE's)
        self._lock = threading.Lock()
        try:
            data, lifetime = _read(source, max_age, context)
            self._keys = _parse(data)
        except OSError as exc:
            raise ConfigError(f"RAPPORT_AUTH_JWKS={source[:80]!r}: cannot read: {exc}") from None
        self._read_at = clock()
        self._stale_at = self._read_at + lifetime

    def get(self, kid: str | None) -> Key | None:
        """The key this `kid` names (without one: the only key); None if there is none."""
        now = self._clock()
        if now >= self._stale_at:
            self._reread(now)
        found = self._keys.find(kid)
        if found is None and kid is not None and now - self._read_at >= REREAD_SECONDS:
            self._reread(now)  # perhaps a new key (rotation)
            found = self._keys.find(kid)
        return found

    def _reread(self, now: float) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is re-reading: this one goes on with the keys we have
        try:
            self._read_at = now
            try:
                data, lifetime = _read(self.source, self._max_age, self._context)
                self._keys = _parse(data)
            except OSError as exc:
                log.warning("JWKS re-read failed, keeping the keys we had: %s", exc)
                self._stale_at = now + min(REREAD_SECONDS, self._max_age)
            else:
                self._stale_at = now + lifetime
        finally:
            self._lock.release()
