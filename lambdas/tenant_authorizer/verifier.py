"""Verifies a Cognito access token: configured once with every check it must make.

RS256 only (the `alg` header is never trusted to pick anything), a key of at least 2048 bits from
the pool's JWKS by `kid` (jwtcheck/jwks.py), the signature, `iss` equal to the pool's issuer, `exp`
after now and `iat` not in the future (JSON numbers only), `token_use` = `access`, the audience as
API Gateway checks it (`aud` when present, else `client_id`, one of the allowed clients), and a
bounded token size. The claim rules are jwtcheck/rules.py's, shared with every other verifier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from jwtcheck.jwks import JwksCache, KeyUnavailable
from jwtcheck.jws import CompactJws, HeaderCache
from jwtcheck.rules import ClaimRuleError, check_audience, check_times

ALGORITHM = "RS256"
MAX_TOKEN_LENGTH = 8 * 1024
REQUIRED_CLAIMS = ("exp", "iat", "iss", "sub", "token_use", "client_id")

ISSUER_ENV = "ISSUER"
ALLOWED_CLIENT_IDS_ENV = "ALLOWED_CLIENT_IDS"
JWKS_URL_ENV = "JWKS_URL"


class TokenError(Exception):
    """The token is not an acceptable access token. The message is for logs, never for the caller."""


class ConfigurationError(Exception):
    """The verifier lacks a setting it needs: it refuses to run rather than skip a check."""


@dataclass(frozen=True)
class VerifierSettings:
    issuer: str
    client_ids: frozenset[str]
    jwks_url: str
    # Clients made at run time (tenants' machine clients) cannot be listed here: a verifier built
    # with this set leaves the client to its caller, which must check it (tenant_authorizer/machine.py).
    clients_checked_by_caller: bool = False

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ConfigurationError(f"{ISSUER_ENV}: required")
        if self.clients_checked_by_caller:
            if self.client_ids:
                raise ConfigurationError("client ids are checked by the caller: list none")
        elif not self.client_ids or not all(self.client_ids):
            raise ConfigurationError(f"{ALLOWED_CLIENT_IDS_ENV}: required, comma-separated client ids")
        if not self.jwks_url:
            raise ConfigurationError(f"{JWKS_URL_ENV}: required")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> VerifierSettings:
        """`ISSUER`, `ALLOWED_CLIENT_IDS` (comma-separated), `JWKS_URL` (default: the issuer's well-known URL)."""
        issuer = environ.get(ISSUER_ENV, "").strip().rstrip("/")
        clients = frozenset(part.strip() for part in environ.get(ALLOWED_CLIENT_IDS_ENV, "").split(",") if part.strip())
        jwks_url = environ.get(JWKS_URL_ENV, "").strip() or (f"{issuer}/.well-known/jwks.json" if issuer else "")
        return cls(issuer=issuer, client_ids=clients, jwks_url=jwks_url)


class AccessTokenVerifier:
    def __init__(self, settings: VerifierSettings, jwks: JwksCache, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.jwks = jwks
        self.clock = clock
        # The parsed headers of verified tokens (one per signing key, in practice): jwtcheck/jws.py.
        self.headers = HeaderCache()

    def verify(self, token: Any) -> dict[str, Any]:
        """The token's claims, if it is a valid access token of an allowed client; else TokenError."""
        # A compact JWS is ASCII; anything else (a lone surrogate, say) is no token.
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_LENGTH
            or not token.isascii()
            or token.count(".") != 2
        ):
            raise TokenError("not a bounded compact JWS")
        try:
            token_jws = CompactJws(token, self.headers)
        except jwt.PyJWTError:
            raise TokenError("malformed header") from None
        header = token_jws.header
        if header.get("alg") != ALGORITHM:
            raise TokenError("algorithm not allowed")
        try:
            key = self.jwks.key(header.get("kid"), ALGORITHM)
        except KeyUnavailable as error:
            raise TokenError(f"no signing key: {error}") from None
        try:
            # The signature, then the payload: a JSON object with every required claim, `iss` the
            # pool's issuer (jwtcheck/jws.py). Dates are checked below by the shared rule (JSON
            # numbers only).
            claims = token_jws.verified_claims(key, ALGORITHM, require=REQUIRED_CLAIMS, issuer=self.settings.issuer)
        except jwt.PyJWTError as error:
            raise TokenError(type(error).__name__) from None
        try:
            check_times(claims, self.clock(), required=("exp", "iat"))
            if self.settings.clients_checked_by_caller:
                # The caller checks client_id against its own registry. Cognito's access tokens
                # carry no aud, so one that does is not a token this verifier was made for.
                if "aud" in claims:
                    raise ClaimRuleError("aud: not expected on an access token")
            else:
                check_audience(claims, self.settings.client_ids)
        except ClaimRuleError as error:
            raise TokenError(str(error)) from None
        if claims.get("token_use") != "access":
            raise TokenError("not an access token")
        # The context names the client: a list, an object or an empty string here is no client.
        if not isinstance(claims.get("client_id"), str) or not claims["client_id"]:
            raise TokenError("client_id is not a string")
        return claims
