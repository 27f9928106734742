"""Verifies a Cognito access token: configured once with every check it must make.

RS256 only (the `alg` header is never trusted to pick anything), a key from the pool's JWKS by
`kid`, the signature, `iss` equal to the pool's issuer, `exp` (and `iat` not in the future),
`token_use` = `access`, `client_id` one of the allowed clients, and a bounded token size.
Access tokens carry no `aud`: the client is checked through `client_id`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from tenant_authorizer.jwks import JwksCache

ALGORITHM = "RS256"
MAX_TOKEN_LENGTH = 8 * 1024
KID_PATTERN = re.compile(r"[A-Za-z0-9_=+/.-]{1,128}")
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
    def __init__(self, settings: VerifierSettings, jwks: JwksCache) -> None:
        self.settings = settings
        self.jwks = jwks

    def verify(self, token: Any) -> dict[str, Any]:
        """The token's claims, if it is a valid access token of an allowed client; else TokenError."""
        # A compact JWS is ASCII; anything else (a lone surrogate, say) would fail inside PyJWT
        # with an error of its own instead of a TokenError.
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_LENGTH
            or not token.isascii()
            or token.count(".") != 2
        ):
            raise TokenError("not a bounded compact JWS")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed header") from None
        if header.get("alg") != ALGORITHM:
            raise TokenError("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
            raise TokenError("missing or malformed kid")
        try:
            key = self.jwks.key(kid)
        except Exception as error:
            raise TokenError("no signing key") from error
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self.settings.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise TokenError(type(error).__name__) from None
        if claims.get("token_use") != "access":
            raise TokenError("not an access token")
        client_id = claims.get("client_id")
        # A list or object here would make the set lookup raise TypeError instead of a TokenError.
        if not isinstance(client_id, str) or not client_id:
            raise TokenError("client not allowed")
        if not self.settings.clients_checked_by_caller and client_id not in self.settings.client_ids:
            raise TokenError("client not allowed")
        return claims
