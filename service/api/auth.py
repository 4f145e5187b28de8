"""Bearer tokens (SMART Backend Services): JWTs verified against the authorisation server's JWKS.

With `RAPPORT_AUTH_JWKS` every request except the `PUBLIC` endpoints (see `scopes`) needs
`Authorization: Bearer <JWT>`: signed with RS256, RS384, ES256 or ES384 (never `none`, never
HMAC) by a key of the JWKS named by the token's `kid`; `exp` required and, with `nbf` and
`iat`, checked with 30 s of leeway; `iss` and `aud` equal to the settings; `sub` present.
A missing token is 401 `login`, a bad one 401 `security`, a missing scope 403 `forbidden`.

Without `RAPPORT_AUTH_JWKS` the API is open, and start-up logs a warning saying so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import Flask, current_app, g, request

from service.api.limits import SUBJECT
from service.api.scopes import PUBLIC, granted, required_for
from service.config import ConfigError, Settings
from service.errors import Forbidden, RapportError, Unauthorized
from service.fhir.outcome import IssueType

__all__ = ["ALGORITHMS", "LEEWAY_SECONDS", "Authenticator", "KeySet", "challenge", "init_app"]

log = logging.getLogger(__name__)

ALGORITHMS: Final = ("RS256", "RS384", "ES256", "ES384")
LEEWAY_SECONDS: Final = 30
#: An unknown `kid` re-reads the JWKS (key rotation), but at most this often.
REFRESH_SECONDS: Final = 60.0
_MAX_JWKS_BYTES: Final = 1024 * 1024
_FETCH_TIMEOUT: Final = 5.0
_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1"}
REALM: Final = "rapport"


class JWKSUnavailable(OSError):
    """The JWKS could not be read or holds no usable signing key."""


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any  # a cryptography public key
    alg: str | None  # the JWK's own `alg`, when it declares one


def _read(source: str) -> bytes:
    if source.startswith("https://"):
        # https only: the settings refuse any other scheme.
        with urllib.request.urlopen(source, timeout=_FETCH_TIMEOUT) as answer:
            data: bytes = answer.read(_MAX_JWKS_BYTES + 1)
    else:
        data = Path(source).read_bytes()
    if len(data) > _MAX_JWKS_BYTES:
        raise JWKSUnavailable("the JWKS is larger than 1 MiB")
    return data


def _parse(data: bytes) -> dict[str, _Key]:
    try:
        listed = json.loads(data)["keys"]
    except (ValueError, KeyError, TypeError):
        raise JWKSUnavailable("not a JWKS (a JSON object with 'keys')") from None
    keys: dict[str, _Key] = {}
    for jwk in listed if isinstance(listed, list) else ():
        usable = isinstance(jwk, dict) and isinstance(jwk.get("kid"), str)
        if not usable or jwk.get("use", "sig") != "sig" or jwk.get("kty") not in {"RSA", "EC"}:
            continue  # RFC 7517: skip what we cannot use; an encryption key never verifies
        try:
            parsed = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            continue
        alg = jwk.get("alg")
        keys[jwk["kid"]] = _Key(parsed.key, alg if isinstance(alg, str) else None)
    if not keys:
        raise JWKSUnavailable("the JWKS holds no RSA or EC signing key with a 'kid'")
    return keys


class KeySet:
    """The JWKS's signing keys by `kid`: read at start, re-read on an unknown `kid` (≤ 1/min)."""

    def __init__(self, source: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._keys = _parse(_read(source))
        except OSError as exc:
            raise ConfigError(f"RAPPORT_AUTH_JWKS={source[:80]!r}: cannot read: {exc}") from None
        self._loaded = clock()

    def get(self, kid: str) -> _Key | None:
        """The key with this id; an unknown id re-reads the JWKS if the last read is old enough."""
        found = self._keys.get(kid)
        if found is not None or self._clock() - self._loaded < REFRESH_SECONDS:
            return found
        if not self._lock.acquire(blocking=False):
            return None  # another thread is re-reading right now
        try:
            self._loaded = self._clock()
            self._keys = _parse(_read(self.source))
        except OSError as exc:
            log.warning("JWKS re-read failed, keeping the keys we had: %s", type(exc).__name__)
        finally:
            self._lock.release()
        return self._keys.get(kid)


def _bad(text: str) -> Unauthorized:
    return Unauthorized(f"The bearer token was refused: {text}", issue_type=IssueType.SECURITY)


def _fits(key: _Key, alg: str) -> bool:
    """Whether the key may verify this algorithm (RFC 7518 §3.1): its declared alg, or its type."""
    if key.alg is not None:
        return key.alg == alg
    if alg.startswith("RS"):
        return isinstance(key.key, RSAPublicKey)
    return isinstance(key.key, EllipticCurvePublicKey) and key.key.curve.name == _CURVES[alg]


_REFUSALS: Final[tuple[tuple[type[jwt.PyJWTError], str], ...]] = (
    (jwt.ExpiredSignatureError, "it has expired"),
    (jwt.ImmatureSignatureError, "it is not valid yet"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.MissingRequiredClaimError, "a required claim (exp, iss, aud, sub) is missing"),
    (jwt.InvalidSignatureError, "the signature does not verify"),
)


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Verifies bearer tokens for one app."""

    keys: KeySet
    issuer: str
    audience: str

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; Unauthorized (`security`) when anything about it is wrong."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _bad("it is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise _bad(f"its algorithm is not one of {', '.join(ALGORITHMS)}")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _bad("its 'kid' names no key of the authorisation server")
        if not _fits(key, alg):
            raise _bad("its algorithm does not fit the key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            text = next((text for cls, text in _REFUSALS if isinstance(exc, cls)), "it is invalid")
            raise _bad(text) from None
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise _bad("its 'sub' must be a non-empty string")
        return claims


def _scopes(claims: dict[str, Any]) -> list[str]:
    # RFC 9068 and SMART: `scope`, space-separated; some servers send a list in `scp`.
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return scope.split()
    return [s for s in scope if isinstance(s, str)] if isinstance(scope, list) else []


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required: Authorization: Bearer <JWT>")
    if not token.strip():
        raise _bad("the Authorization header holds no token")
    return token.strip()


def _authenticate() -> None:
    authenticator: Authenticator | None = current_app.extensions.get("rapport.auth")
    endpoint = request.endpoint
    if authenticator is None or request.method == "OPTIONS" or endpoint in PUBLIC:
        return
    claims = authenticator.verify(_bearer())
    setattr(g, SUBJECT, claims["sub"])
    if endpoint is None:  # no such route: authenticated, so the 404 or 405 may be told
        return
    needed = required_for(endpoint, current_app.view_functions.get(endpoint))
    if needed is None:
        raise Forbidden("This endpoint declares no scope, so no token may use it")
    if not needed.allowed_by(granted(_scopes(claims))):
        raise Forbidden(f"The token's scopes do not allow this: it needs {needed.describe()}")


def challenge(exc: RapportError) -> str:
    """The WWW-Authenticate value for a 401 or 403 (RFC 6750 §3)."""
    if isinstance(exc, Forbidden):
        return f'Bearer realm="{REALM}", error="insufficient_scope"'
    if exc.issue_type is IssueType.LOGIN:  # no credentials: no error code (RFC 6750 §3.1)
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token"'


def init_app(app: Flask, settings: Settings) -> None:
    """Check bearer tokens before each non-public request; without a JWKS, warn: it is open."""
    if not settings.auth_jwks:
        log.warning(
            "authentication disabled: development mode (set RAPPORT_AUTH_JWKS, "
            "RAPPORT_AUTH_ISSUER and RAPPORT_AUTH_AUDIENCE before serving patient data)"
        )
        return
    keys = KeySet(settings.auth_jwks)
    app.extensions["rapport.auth"] = Authenticator(
        keys, settings.auth_issuer, settings.auth_audience
    )
    app.before_request(_authenticate)
    log.info(
        "authentication: bearer JWTs of %s for %s", settings.auth_issuer, settings.auth_audience
    )
