"""The HTTP API's native JWT authorizer, checking exactly what API Gateway checks.

From "Controlling access to HTTP APIs with JWT authorizers": the token comes from the identity
source, bare or as `Bearer <jwt>`; its `kid` must be in the issuer's JWKS (found through the
issuer's OpenID discovery document); only RSA algorithms; `iss` equal to the configured issuer;
`aud`, or `client_id` when `aud` is absent, one of the configured audiences; `exp` after now,
`nbf` and `iat` before now; then the route's scopes, any one of them, in `scope` or `scp`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from jwtcheck.fetch import fetch_json
from jwtcheck.jwks import FETCH_DEADLINE_SECONDS, PENALTY_SECONDS, KeyUnavailable
from jwtcheck.jwks import JwksCache as KeySetCache
from jwtcheck.jws import CompactJws, HeaderCache
from jwtcheck.rules import ClaimRuleError, check_audience, check_times, scope_list
from local.tokens import Clock

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
JWKS_TIMEOUT_SECONDS = FETCH_DEADLINE_SECONDS
UNKNOWN_KID_REFETCH_SECONDS = PENALTY_SECONDS
MAX_TOKEN_BYTES = 8192


class TokenRejected(Exception):
    """401: the token is missing, malformed, not signed by the issuer, or its claims fail."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class JwksCache:
    """Each issuer's keys, from `{issuer}/.well-known/openid-configuration` → `jwks_uri`.

    One shared JWKS cache (jwtcheck/jwks.py) per issuer, on the gateway's clock (so that moving
    the clock forward in tests moves the cache's windows too).
    """

    def __init__(self, clock: Clock, fetch: Callable[[str, float], Any] = fetch_json) -> None:
        self.clock = clock
        self.fetch = fetch
        self._caches: dict[str, KeySetCache] = {}
        self._lock = threading.Lock()

    def for_issuer(self, issuer: str) -> KeySetCache:
        with self._lock:
            cache = self._caches.get(issuer)
            if cache is None:
                cache = KeySetCache(
                    f"{issuer.rstrip('/')}/.well-known/openid-configuration",
                    discovery=True,
                    algorithms=RSA_ALGORITHMS,
                    deadline=JWKS_TIMEOUT_SECONDS,
                    fetch=lambda url, seconds: self.fetch(url, seconds),
                    clock=self.clock.time,
                )
                self._caches[issuer] = cache
            return cache

    def key(self, issuer: str, kid: Any, algorithm: str) -> Any:
        """The issuer's public key for this `kid` and `alg`; KeyUnavailable if there is none now."""
        return self.for_issuer(issuer).key(kid, algorithm)


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
            return list(scope_list(value))  # single spaces only (RFC 6749 section 3.3)
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
    # Parsed headers of verified tokens (jwtcheck/jws.py).
    headers: HeaderCache = field(default_factory=HeaderCache, compare=False, repr=False)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenRejected with a short reason."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected("the token is too large")
        if not token.isascii():  # a compact JWS is ASCII (a lone surrogate is no token)
            raise TokenRejected("the token is malformed")
        try:
            token_jws = CompactJws(token, self.headers)
        except jwt.PyJWTError:
            raise TokenRejected("the token is malformed") from None
        algorithm = token_jws.header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise TokenRejected("the signing method is not supported")
        try:
            public_key = self.jwks.key(self.issuer, token_jws.header.get("kid"), algorithm)
        except KeyUnavailable:
            raise TokenRejected("the signing key was not found") from None
        try:
            # The signature, then the payload (a JSON object): jwtcheck/jws.py. Issuer, audience
            # and dates: _check_claims, with API Gateway's wording.
            claims = token_jws.verified_claims(public_key, algorithm)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRejected("the signature is invalid") from None
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        now = self.jwks.clock.time()
        if claims.get("iss") != self.issuer:
            raise TokenRejected("the issuer is invalid")
        try:
            check_audience(claims, self.audience)
        except ClaimRuleError:
            raise TokenRejected("the audience is invalid") from None
        try:
            check_times(claims, now, required=("exp",))
        except ClaimRuleError as error:
            raise TokenRejected(_date_description(str(error))) from None


def _date_description(reason: str) -> str:
    """API Gateway's wording for a date the shared rule refused (`exp: expired`, `nbf: in the future`)."""
    name, _, problem = reason.partition(": ")
    if name == "exp" and problem in ("expired", "missing"):
        return "the token has expired"
    if problem == "in the future":
        return f"the token is not valid yet ({name})"
    return f"the token's {name} claim is invalid"


def scopes_allowed(route_scopes: Sequence[str], claims: Mapping[str, Any]) -> bool:
    """Any one of the route's scopes in the token; a route without scopes allows every valid token."""
    if not route_scopes:
        return True
    granted = set(token_scopes(claims))
    return any(scope in granted for scope in route_scopes)
