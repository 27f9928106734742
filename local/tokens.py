"""The local issuer's tokens: Cognito's claim sets, its own RS256 keys per pool, the JWKS that publishes them.

Claim sets follow the Cognito developer guide ("Understanding user pool JSON web tokens"):
an access token has `client_id` and no `aud`, a `scope` string, `username`, `origin_jti`, `jti`,
`event_id` and `version: 2`; an ID token has `aud`, `cognito:username`, the user's readable
attributes (`email_verified` a boolean) and `origin_jti`/`jti`. Access and ID tokens of a pool
are signed with different keys, as Cognito does.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
SDK_SCOPE = "aws.cognito.signin.user.admin"
# Claims Cognito sets itself and a pre-token-generation trigger cannot change or remove.
RESERVED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "auth_time",
        "azp",
        "c_hash",
        "exp",
        "iat",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
        "aud",
        "client_id",
        "scope",
        "username",
        "event_id",
        "version",
        "cognito:username",
        "identities",
    }
)
BOOLEAN_ATTRIBUTES = frozenset({"email_verified", "phone_number_verified"})
NUMBER_ATTRIBUTES = frozenset({"updated_at"})


class Clock:
    """Seconds since the epoch, shared by the issuer and the gateway; tests may move it forward."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset = 0.0

    def time(self) -> float:
        return self._now() + self.offset

    def seconds(self) -> int:
        return int(self.time())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Cognito's key ids look like this: base64 of a SHA-256 digest.
        kid = base64.b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).decode()
        return cls(kid=kid, private_key=key)

    def jwk(self) -> dict[str, str]:
        public = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"alg": ALGORITHM, "e": public["e"], "kid": self.kid, "kty": "RSA", "n": public["n"], "use": "sig"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


@dataclass(frozen=True)
class PoolKeys:
    id_key: SigningKey
    access_key: SigningKey

    @classmethod
    def generate(cls) -> PoolKeys:
        return cls(id_key=SigningKey.generate(), access_key=SigningKey.generate())

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.id_key.jwk(), self.access_key.jwk()]}

    def key_for(self, kid: str) -> SigningKey | None:
        return next((key for key in (self.id_key, self.access_key) if key.kid == kid), None)


def attribute_claims(attributes: Mapping[str, str], readable: Sequence[str] | None) -> dict[str, Any]:
    """The user's attributes as ID token claims: only those the client may read, typed as Cognito types them."""
    claims: dict[str, Any] = {}
    for name, value in attributes.items():
        if name == "sub" or name.startswith("cognito:"):
            continue
        if readable and name not in readable:
            continue
        if name in BOOLEAN_ATTRIBUTES:
            claims[name] = value.lower() == "true"
        elif name in NUMBER_ATTRIBUTES and value.isdigit():
            claims[name] = int(value)
        else:
            claims[name] = value
    return claims


@dataclass(frozen=True)
class UserSession:
    """What every token of one sign-in shares (refreshes keep it)."""

    issuer: str
    client_id: str
    sub: str
    username: str
    origin_jti: str
    auth_time: int


def id_token_claims(
    session: UserSession, *, attributes: Mapping[str, Any], groups: Sequence[str], now: int, lifetime: int
) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": session.sub}
    if groups:
        claims["cognito:groups"] = list(groups)
    claims.update(attributes)
    claims.update(
        {
            "iss": session.issuer,
            "cognito:username": session.username,
            "origin_jti": session.origin_jti,
            "aud": session.client_id,
            "event_id": str(uuid.uuid4()),
            "token_use": "id",
            "auth_time": session.auth_time,
            "exp": now + lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
    )
    return claims


def access_token_claims(
    session: UserSession, *, scopes: Sequence[str], groups: Sequence[str], now: int, lifetime: int
) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": session.sub}
    if groups:
        claims["cognito:groups"] = list(groups)
    claims.update(
        {
            "iss": session.issuer,
            "version": 2,
            "client_id": session.client_id,
            "origin_jti": session.origin_jti,
            "event_id": str(uuid.uuid4()),
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": session.auth_time,
            "exp": now + lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "username": session.username,
        }
    )
    return claims


def machine_access_token_claims(
    *, issuer: str, client_id: str, scopes: Sequence[str], now: int, lifetime: int
) -> dict[str, Any]:
    """A client-credentials token: the client speaks for itself (`sub` is the client id)."""
    return {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iss": issuer,
        "exp": now + lifetime,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }


def apply_claim_overrides(claims: dict[str, Any], details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A trigger's `claimsToAddOrOverride` / `claimsToSuppress` applied, Cognito's own claims left alone."""
    if not details:
        return claims
    for name in details.get("claimsToSuppress") or []:
        if name not in RESERVED_CLAIMS:
            claims.pop(name, None)
    for name, value in (details.get("claimsToAddOrOverride") or {}).items():
        if name not in RESERVED_CLAIMS and not name.startswith("cognito:"):
            claims[name] = value
    return claims


def apply_scope_overrides(scopes: Sequence[str], details: Mapping[str, Any] | None) -> list[str]:
    if not details:
        return list(scopes)
    suppressed = set(details.get("scopesToSuppress") or [])
    result = [scope for scope in scopes if scope not in suppressed]
    for scope in details.get("scopesToAdd") or []:
        if scope not in result:
            result.append(scope)
    return result


def refresh_token() -> str:
    """An opaque refresh token shaped like Cognito's (five base64url segments of a JWE)."""
    header = base64.urlsafe_b64encode(b'{"cty":"JWT","enc":"A256GCM","alg":"RSA-OAEP"}').rstrip(b"=").decode()
    parts = [secrets.token_urlsafe(size) for size in (256, 12, 1024, 16)]
    return ".".join([header, *parts])
