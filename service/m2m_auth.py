"""Verifies the machine clients' access tokens on the `/m2m/` paths.

The ALB's JWT validation action has already checked the token's signature, issuer and expiry
before forwarding; the app checks again, and more (token use, audience, scope), because it never
relies on what sits in front of it: the same code must be safe if a rule is ever misconfigured.
Keys come from the shared JWKS cache and the claim rules are the shared ones (jwtcheck/), the
same as the tenant-path Lambda authorizer's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import jwt

from jwtcheck.jwks import FETCH_DEADLINE_SECONDS, JwksCache
from jwtcheck.jws import CompactJws, HeaderCache
from jwtcheck.rules import ClaimRuleError, check_audience, check_times, scope_list

ALGORITHM = "RS256"
MAX_TOKEN_BYTES = 8 * 1024
DEFAULT_FETCH_TIMEOUT_SECONDS = FETCH_DEADLINE_SECONDS
REQUIRED_CLAIMS = ("exp", "iat", "iss", "client_id", "token_use")


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
        jwks: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not jwks_url or not client_ids or not all(client_ids) or not required_scope:
            raise ValueError("issuer, jwks_url, client_ids and required_scope are all required")
        self.issuer = issuer
        self.client_ids = frozenset(client_ids)
        self.required_scope = required_scope
        self.jwks = jwks or JwksCache(jwks_url, algorithms=(ALGORITHM,), deadline=fetch_timeout)
        self.clock = clock
        self.headers = HeaderCache()  # parsed headers of verified tokens (jwtcheck/jws.py)

    def verify(self, authorization: str | None) -> MachineIdentity:
        token = bearer_token(authorization)
        try:
            token_jws = CompactJws(token, self.headers)
            if token_jws.header.get("alg") != ALGORITHM:
                raise MachineAuthError("algorithm not allowed")
            key = self.jwks.key(token_jws.header.get("kid"), ALGORITHM)
            # The signature, then the payload: a JSON object with the required claims and `iss` the
            # issuer (jwtcheck/jws.py). Dates: the shared rule below (JSON numbers only).
            claims = token_jws.verified_claims(key, ALGORITHM, require=REQUIRED_CLAIMS, issuer=self.issuer)
            check_times(claims, self.clock(), required=("exp", "iat"))
            check_audience(claims, self.client_ids)
        except MachineAuthError:
            raise
        except (jwt.PyJWTError, ClaimRuleError) as error:
            raise MachineAuthError(f"token rejected: {type(error).__name__}: {error}") from None
        except Exception as error:  # noqa: BLE001 (no key right now, or anything else: a refusal, never a 500)
            raise MachineAuthError(f"token rejected: {type(error).__name__}") from None
        if claims.get("token_use") != "access":
            raise MachineAuthError("not an access token")
        client_id = claims.get("client_id")
        # A list or object here is no client (and would make a set lookup raise TypeError, a 500).
        if not isinstance(client_id, str) or client_id not in self.client_ids:
            raise MachineAuthError("client not allowed")
        scopes = scope_list(claims.get("scope"))
        if self.required_scope not in scopes:
            raise MachineAuthError("scope missing")
        return MachineIdentity(client_id=client_id, scopes=scopes)


def bearer_token(authorization: str | None) -> str:
    if not authorization or len(authorization) > MAX_TOKEN_BYTES:
        raise MachineAuthError("no bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or token.count(".") != 2:
        raise MachineAuthError("no bearer token")
    return token
