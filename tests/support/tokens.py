"""A throwaway authorisation server: real RSA and EC keys, a JWKS file, and signed JWTs.

Keys are made per test session with `cryptography`; nothing is a mock of PyJWT or of ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["AUDIENCE", "ISSUER", "Issuer", "hmac_token"]

ISSUER = "https://auth.example.org/realms/rapport"
AUDIENCE = "https://rapport.example.org/fhir"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Issuer:
    """Signing keys by kid (RS256/RS384 share the RSA key; ES256 on P-256, ES384 on P-384)."""

    keys: dict[str, Any] = field(
        default_factory=lambda: {
            "rsa-1": _rsa(),
            "ec-256": ec.generate_private_key(ec.SECP256R1()),
            "ec-384": ec.generate_private_key(ec.SECP384R1()),
        }
    )

    def jwks(self, kids: list[str] | None = None) -> dict[str, Any]:
        """The public JWKS of these kids (all by default)."""
        listed = []
        for kid in kids or list(self.keys):
            listed.append({**_jwk_of(self.keys[kid].public_key()), "kid": kid, "use": "sig"})
        return {"keys": listed}

    def write_jwks(self, path: Path, kids: list[str] | None = None) -> Path:
        """Write the JWKS to `path` and return it."""
        path.write_text(json.dumps(self.jwks(kids)), encoding="utf-8")
        return path

    def public_pem(self, kid: str) -> bytes:
        """The public key as PEM text (what an HMAC confusion attack signs with)."""
        return bytes(
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def token(
        self,
        scope: str = "system/*.*",
        *,
        kid: str = "rsa-1",
        alg: str | None = None,
        key: Any = None,
        **claims: Any,
    ) -> str:
        """A JWT signed by `kid`'s key (or `key`), valid now unless `claims` say otherwise."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "ehr-client-1",
            "iat": now,
            "exp": now + 300,
            "scope": scope,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        algorithm = alg or ("RS256" if kid.startswith("rsa") else f"ES{kid[-3:]}")
        signing = key if key is not None else self.keys[kid]
        return jwt.encode(body, signing, algorithm=algorithm, headers={"kid": kid})


def _to_jwk(public: Any) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return jwt.algorithms.RSAAlgorithm.to_jwk(public)
    return jwt.algorithms.ECAlgorithm.to_jwk(public)


def _jwk_of(public: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_to_jwk(public))
    return data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hmac_token(secret: bytes, claims: dict[str, Any], kid: str = "rsa-1") -> str:
    """An HS256 token keyed with `secret`, built by hand: PyJWT rightly refuses to make one."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"
