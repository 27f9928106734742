"""Verifies the machine clients' access tokens on the `/m2m/` paths.

The ALB's JWT validation action has already checked the token's signature, issuer and expiry
before forwarding; the app checks again, and more (token use, client, scope), because it never
relies on what sits in front of it: the same code must be safe if a rule is ever misconfigured.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "RS256"
MAX_TOKEN_BYTES = 8 * 1024
DEFAULT_FETCH_TIMEOUT_SECONDS = 1.5
JWKS_LIFESPAN_SECONDS = 3600


class MachineAuthError(Exception):
    """The request carries no valid machine token. The message is for logs only."""


@dataclass(frozen=True)
class MachineIdentity:
    client_id: str
    scopes: tuple[str, ...]


class MachineTokenVerifier:
    """Client-credentials access tokens of one issuer, for a fixed set of clients and one scope."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        client_ids: Collection[str],
        required_scope: str,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        jwk_client: jwt.PyJWKClient | None = None,
    ) -> None:
        if not issuer or not jwks_url or not client_ids or not all(client_ids) or not required_scope:
            raise ValueError("issuer, jwks_url, client_ids and required_scope are all required")
        self.issuer = issuer
        self.client_ids = frozenset(client_ids)
        self.required_scope = required_scope
        self.jwk_client = jwk_client or jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_SECONDS, timeout=fetch_timeout
        )

    def verify(self, authorization: str | None) -> MachineIdentity:
        token = bearer_token(authorization)
        try:
            key = self.jwk_client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "client_id", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise MachineAuthError(f"token rejected: {type(error).__name__}") from None
        if claims.get("token_use") != "access":
            raise MachineAuthError("not an access token")
        client_id = claims.get("client_id")
        # A list or object here would make the set lookup raise TypeError (a 500) instead of a 401.
        if not isinstance(client_id, str) or client_id not in self.client_ids:
            raise MachineAuthError("client not allowed")
        scopes = tuple(str(claims.get("scope") or "").split())
        if self.required_scope not in scopes:
            raise MachineAuthError("scope missing")
        return MachineIdentity(client_id=claims["client_id"], scopes=scopes)


def bearer_token(authorization: str | None) -> str:
    if not authorization or len(authorization) > MAX_TOKEN_BYTES:
        raise MachineAuthError("no bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or token.count(".") != 2:
        raise MachineAuthError("no bearer token")
    return token
