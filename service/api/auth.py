"""Bearer tokens (SMART Backend Services): JWTs verified against the authorisation server's JWKS.

With `RAPPORT_AUTH_JWKS` every request except the `PUBLIC` endpoints (see `scopes`) needs
`Authorization: Bearer <JWT>`: signed with RS256, RS384, ES256 or ES384 (never `none`, never
HMAC) by a key of the JWKS (see `jwks`) named by the token's `kid`, or by its only key when
the token names none; `exp` required and, with `nbf` and `iat`, checked with 30 s of leeway;
`iss` and `aud` equal to the settings; `sub` present. A missing token is 401 `login`, a bad
one 401 `security`, a missing scope 403 `forbidden`.

Two hooks, with the rate limiter between them: `_identify` verifies the token and leaves its
`sub` on `flask.g` (refusing nothing yet), the limiter counts the request against that
subject or, for a request with no valid token, against the remote address, and `authorize`
then refuses what needs refusing. So a flood of bad tokens is throttled like any other.

`GET /fhir/.well-known/smart-configuration` tells clients where to get a token (SMART App
Launch 2.x discovery) when `RAPPORT_AUTH_TOKEN_URL` is set. Without `RAPPORT_AUTH_JWKS` the
API is open, and start-up logs a warning saying so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import Blueprint, Flask, Response, current_app, g, request

from service.api.http import state
from service.api.jwks import Key, KeySet
from service.api.limits import SUBJECT
from service.api.scopes import PUBLIC, granted, need, required_for, scopes_supported
from service.config import Settings
from service.errors import Forbidden, RapportError, ResourceNotFound, Unauthorized
from service.fhir import jsonio
from service.fhir.outcome import IssueType

__all__ = [
    "ALGORITHMS",
    "LEEWAY_SECONDS",
    "Authenticator",
    "authorize",
    "blueprint",
    "challenge",
    "init_app",
    "permits",
]

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

ALGORITHMS: Final = ("RS256", "RS384", "ES256", "ES384")
LEEWAY_SECONDS: Final = 30
_CURVES: Final = {"ES256": "secp256r1", "ES384": "secp384r1"}
REALM: Final = "rapport"
_EXTENSION: Final = "rapport.auth"
# Where `_identify` leaves its findings for `authorize` (the subject goes to limits.SUBJECT).
_CLAIMS: Final = "auth_claims"
_REFUSAL: Final = "auth_refusal"


def _bad(text: str) -> Unauthorized:
    return Unauthorized(f"The bearer token was refused: {text}", issue_type=IssueType.SECURITY)


def _fits(key: Key, alg: str) -> bool:
    """Whether the key may verify this algorithm (RFC 7518 §3.1): its declared alg, or its type."""
    if key.alg is not None:
        return key.alg == alg
    if alg.startswith("RS"):
        return isinstance(key.key, RSAPublicKey)
    return isinstance(key.key, EllipticCurvePublicKey) and key.key.curve.name == _CURVES[alg]


def _header_fault(token: str) -> str:
    # PyJWT read the header but refused it: a `kid` that is not a string, or a `crit` naming
    # an extension it does not implement (RFC 7515 §4.1.11: the token MUST then be rejected).
    header = json.loads(jwt.utils.base64url_decode(token.partition(".")[0]))
    if isinstance(header, dict) and "crit" in header:
        return "its 'crit' header names an extension this server does not implement"
    return "its 'kid' header must be a string"


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
        except jwt.DecodeError:
            raise _bad("it is not a JWT") from None
        except jwt.InvalidTokenError:
            raise _bad(_header_fault(token)) from None
        alg, kid = header.get("alg"), header.get("kid")  # PyJWT saw to it: kid is str or None
        if alg not in ALGORITHMS:
            raise _bad(f"its algorithm is not one of {', '.join(ALGORITHMS)}")
        key = self.keys.get(kid)
        if key is None and kid is None:
            raise _bad("it names no 'kid', and the authorisation server has several keys")
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


def _identify() -> None:
    # Refuses nothing: the rate limiter runs next, and must count refused requests too.
    authenticator: Authenticator = current_app.extensions[_EXTENSION]
    if request.method == "OPTIONS" or request.endpoint in PUBLIC:
        return
    try:
        claims = authenticator.verify(_bearer())
    except Unauthorized as refusal:
        setattr(g, _REFUSAL, refusal)
        return
    setattr(g, SUBJECT, claims["sub"])
    setattr(g, _CLAIMS, claims)


def authorize() -> None:
    """Refuse a request without a valid token (401) or without the scope it needs (403)."""
    refusal: Unauthorized | None = g.pop(_REFUSAL, None)
    if refusal is not None:
        raise refusal
    claims: dict[str, Any] | None = g.get(_CLAIMS)
    endpoint = request.endpoint
    if claims is None or endpoint is None:  # open, public or a preflight; or no such route,
        return  # which an authenticated client may be told (404 or 405)
    needed = required_for(endpoint, current_app.view_functions.get(endpoint))
    if needed is None:
        raise Forbidden("This endpoint declares no scope, so no token may use it")
    if not needed.allowed_by(granted(_scopes(claims))):
        raise Forbidden(f"The token's scopes do not allow this: it needs {needed.describe()}")


def permits(*grants: str) -> bool:
    """Whether this request's token grants one of `grants` (`Type.letter`); always True when
    authentication is off. For what a route decides inside, e.g. update versus create."""
    claims: dict[str, Any] | None = g.get(_CLAIMS)
    return claims is None or need(*grants).allowed_by(granted(_scopes(claims)))


def challenge(exc: RapportError) -> str:
    """The WWW-Authenticate value for a 401 or 403 (RFC 6750 §3)."""
    if isinstance(exc, Forbidden):
        return f'Bearer realm="{REALM}", error="insufficient_scope"'
    if exc.issue_type is IssueType.LOGIN:  # no credentials: no error code (RFC 6750 §3.1)
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token"'


@blueprint.get("/.well-known/smart-configuration")
def smart_configuration() -> Response:
    """SMART discovery (App Launch 2.x): the token endpoint and what this server accepts."""
    settings = state().settings
    if not settings.auth_jwks or not settings.auth_token_url:
        raise ResourceNotFound(
            "No SMART configuration: authentication is off or RAPPORT_AUTH_TOKEN_URL is unset"
        )
    needs = (
        required_for(rule.endpoint, current_app.view_functions.get(rule.endpoint))
        for rule in current_app.url_map.iter_rules()
    )
    body = {
        "token_endpoint": settings.auth_token_url,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": scopes_supported(need for need in needs if need is not None),
        "capabilities": ["client-confidential-asymmetric"],
    }
    # SMART: `application/json`, whatever the request's Accept header says.
    return Response(jsonio.dumps(body), content_type="application/json")


def init_app(app: Flask, settings: Settings) -> None:
    """Verify bearer tokens before each non-public request; without a JWKS, warn: it is open.

    Register `authorize` as a hook of its own, after the rate limiter's.
    """
    app.register_blueprint(blueprint, url_prefix="/fhir")
    if not settings.auth_jwks:
        log.warning(
            "authentication disabled: development mode (set RAPPORT_AUTH_JWKS, "
            "RAPPORT_AUTH_ISSUER and RAPPORT_AUTH_AUDIENCE before serving patient data)"
        )
        return
    keys = KeySet(settings.auth_jwks)
    app.extensions[_EXTENSION] = Authenticator(keys, settings.auth_issuer, settings.auth_audience)
    app.before_request(_identify)
    log.info(
        "authentication: bearer JWTs of %s for %s", settings.auth_issuer, settings.auth_audience
    )
