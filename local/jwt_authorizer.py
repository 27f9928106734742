"""The HTTP API's native JWT authorizer, checking exactly what API Gateway checks.

From "Controlling access to HTTP APIs with JWT authorizers": the token comes from the identity
source, bare or as `Bearer <jwt>`; its `kid` must be in the issuer's JWKS (found through the
issuer's OpenID discovery document); only RSA algorithms; `iss` equal to the configured issuer;
`aud`, or `client_id` when `aud` is absent, one of the configured audiences; `exp` after now,
`nbf` and `iat` before now; then the route's scopes, any one of them, in `scope` or `scp`.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from local.tokens import Clock

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
JWKS_TTL_SECONDS = 7200
JWKS_TIMEOUT_SECONDS = 1.5
UNKNOWN_KID_REFETCH_SECONDS = 10
MAX_TOKEN_BYTES = 8192


class TokenRejected(Exception):
    """401: the token is missing, malformed, not signed by the issuer, or its claims fail."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _fetch_json(url: str, timeout: float) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError("not an http(s) URL")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        return json.loads(response.read(1_048_576))


class JwksCache:
    """Each issuer's keys, from `{issuer}/.well-known/openid-configuration` → `jwks_uri`, cached."""

    def __init__(self, clock: Clock, fetch: Callable[[str, float], Any] = _fetch_json) -> None:
        self.clock = clock
        self.fetch = fetch
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}
        self._last_refetch: dict[str, float] = {}
        self._lock = threading.Lock()

    def key(self, issuer: str, kid: str) -> dict[str, Any] | None:
        now = self.clock.time()
        with self._lock:
            cached = self._keys.get(issuer)
            if cached is None or cached[0] <= now:
                cached = self._load(issuer, now)
            elif kid not in cached[1] and now - self._last_refetch.get(issuer, 0) >= UNKNOWN_KID_REFETCH_SECONDS:
                self._last_refetch[issuer] = now
                cached = self._load(issuer, now)
        return cached[1].get(kid) if cached else None

    def _load(self, issuer: str, now: float) -> tuple[float, dict[str, Any]] | None:
        try:
            discovery = self.fetch(f"{issuer.rstrip('/')}/.well-known/openid-configuration", JWKS_TIMEOUT_SECONDS)
            jwks = self.fetch(str(discovery["jwks_uri"]), JWKS_TIMEOUT_SECONDS)
            keys = {str(key["kid"]): key for key in jwks.get("keys", []) if isinstance(key, dict) and "kid" in key}
        except Exception:  # noqa: BLE001 - a failed fetch keeps the keys already known, if any
            return self._keys.get(issuer)
        entry = (now + JWKS_TTL_SECONDS, keys)
        self._keys[issuer] = entry
        return entry


def token_from_identity(value: str | None) -> str:
    """The JWT in an Authorization header value: bare or after `Bearer `."""
    if not value:
        raise TokenRejected("no token")
    value = value.strip()
    if value[:7].lower() == "bearer " or value.lower() == "bearer":
        value = value[6:].strip()
    if not value:
        raise TokenRejected("no token")
    return value


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: the space-separated `scope` claim, or `scp` (a list or a string)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(item) for item in value]
    return []


@dataclass(frozen=True)
class JwtAuthorizer:
    """One `AWS::ApiGatewayV2::Authorizer` of type JWT."""

    authorizer_id: str
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str
    jwks: JwksCache

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenRejected with a short reason."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected("the token is too large")
        if not token.isascii():  # a lone surrogate would fail inside PyJWT with another error
            raise TokenRejected("the token is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the token is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise TokenRejected("the signing method is not supported")
        kid = header.get("kid")
        jwk = self.jwks.key(self.issuer, kid) if isinstance(kid, str) else None
        if jwk is None or jwk.get("kty") != "RSA":
            raise TokenRejected("the signing key was not found")
        try:
            public_key = RSAAlgorithm.from_jwk(jwk)
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRejected("the signature is invalid") from None
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        now = self.jwks.clock.time()
        if claims.get("iss") != self.issuer:
            raise TokenRejected("the issuer is invalid")
        audience = claims.get("aud") if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(value, str) and value in self.audience for value in audiences):
            raise TokenRejected("the audience is invalid")
        exp = _number(claims.get("exp"))
        if exp is None or exp <= now:
            raise TokenRejected("the token has expired")
        for name in ("nbf", "iat"):
            if name in claims:
                value = _number(claims[name])
                if value is None or value > now:
                    raise TokenRejected(f"the token is not valid yet ({name})")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def scopes_allowed(route_scopes: Sequence[str], claims: Mapping[str, Any]) -> bool:
    """Any one of the route's scopes in the token; a route without scopes allows every valid token."""
    if not route_scopes:
        return True
    granted = set(token_scopes(claims))
    return any(scope in granted for scope in route_scopes)
