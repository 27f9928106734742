"""Lambda authorizer (HTTP API, payload 2.0, simple responses) for the `/tenants/{tenantId}/...` routes.

Allows a request when its bearer token is a valid access token of an allowed client (see
verifier.py) and either carries the items.read scope and a tenant equal to `{tenantId}` in the
path (every tenant role, the tenant `admin` included, reaches its own tenant only), or is a
platform operator's (role `platform_operator` and scope `platform.admin`), who may reach any
tenant. Any other outcome, including every error, is `{"isAuthorized": false}` (API Gateway
answers 403): this function never raises.

Before allowing, the token is checked against the revocation store (shared/revocation.py): a
revoked token, or a store that does not answer (fail closed), is a denial. API Gateway caches
the answer per identity source (the Authorization header and `$context.path`) for
`authorizer_cache_seconds`, so an allow for one tenant's path is never reused for another's, and
an allow given before a revocation outlives it there: the handlers behind this authorizer check
the store again on every request (shared/api.py), from the context this function returns.

The context is what the backend's claims module reads: `tenant`, `roles` and `scopes`
(space-separated), `sub`, `client_id`, `username`, `token_use`, and for the revocation check
`origin_jti`, `iat`, `exp`.

The event is read through Powertools' `APIGatewayAuthorizerEventV2` and the answer written with
its `APIGatewayAuthorizerResponseV2` (Event Source Data Classes, "API Gateway Authorizer V2":
https://docs.powertools.aws.dev/lambda/python/latest/utilities/data_classes/). The data class
trusts the event's shape (its `headers` wraps `event["headers"]` whatever it holds), so the shape
is checked first, and a malformed event is a denial like any other.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

import auth_contract
from jwtcheck.jwks import JwksCache
from jwtcheck.rules import scope_list
from shared import revocation
from shared.claims import RESOURCE_SERVER_ENV, ClaimsError, is_tenant_id, parse_identity, parse_list, short_scope
from tenant_authorizer.verifier import AccessTokenVerifier, ConfigurationError, TokenError, VerifierSettings

logger = Logger()

TENANT_PATH_PARAMETER = auth_contract.TENANT_PATH_PARAMETER
REQUIRED_SCOPE = auth_contract.ITEMS_READ


class Refused(Exception):
    """The request is not authorized; the message is a reason for the logs."""


EXPLAINED = (Refused, TokenError, ConfigurationError, ClaimsError, revocation.Revoked, revocation.StoreUnavailable)


@functools.cache
def verifier() -> AccessTokenVerifier:
    """Built once per execution environment, so the JWKS cache lives across invocations."""
    settings = VerifierSettings.from_env()
    return AccessTokenVerifier(settings, JwksCache(settings.jwks_url))


def authorizer_event(event: Any) -> APIGatewayAuthorizerEventV2:
    """`event` as a payload 2.0 Lambda authorizer event; Refused when it is not even an object."""
    if not isinstance(event, dict):
        raise Refused("event is not an object")
    return APIGatewayAuthorizerEventV2(event)


def bearer_token(event: APIGatewayAuthorizerEventV2) -> str:
    # Powertools' `headers` is `CaseInsensitiveDict(event["headers"])`: a KeyError when the key is
    # absent, and a string or a list fails inside it, so the raw value's shape is checked first.
    # API Gateway sends payload 2.0 header names in lower case; the lookup ignores case anyway.
    if not isinstance(event.raw_event.get("headers"), dict):
        raise Refused("no authorization header")
    value = event.headers.get("authorization")
    if not isinstance(value, str):
        raise Refused("no authorization header")
    scheme, _, token = value.strip().partition(" ")
    if token and scheme.lower() == "bearer":
        return token.strip()
    if not token:
        return scheme  # a bare token, as the JWT authorizer also accepts
    raise Refused("not a bearer token")


def path_tenant(event: APIGatewayAuthorizerEventV2) -> Any:
    """The raw `{tenantId}` path parameter (None when there is none), for the caller to judge."""
    parameters = event.path_parameters  # Powertools: absent or null reads as {}
    return parameters.get(TENANT_PATH_PARAMETER) if isinstance(parameters, dict) else None


def decide(event: APIGatewayAuthorizerEventV2, claims: dict[str, Any], resource_server: str | None) -> dict[str, Any]:
    """The simple response for verified `claims` on this request's path.

    The tenant-path rule: a tenant's member (items.read and a tenant claim) may reach their own
    tenant's path only, whatever their role (a tenant admin administers their own tenant only); a
    platform operator (the role AND the platform.admin scope) may reach any tenant's path.
    """
    roles = [role for role in parse_list(claims.get(auth_contract.ROLES_CLAIM), "roles") if role in auth_contract.ROLES]
    scopes = scope_list(claims.get("scope"))
    granted = {short_scope(scope, resource_server) for scope in scopes}
    tenant_in_path = path_tenant(event)
    if not is_tenant_id(tenant_in_path):
        raise Refused("no usable tenant in the path")
    tenant = claims.get(auth_contract.TENANT_CLAIM)
    if auth_contract.PLATFORM_OPERATOR in roles and auth_contract.PLATFORM_SCOPE in granted:
        tenant = None  # operators have no tenant of their own: the path names the one they act on
    else:
        if not is_tenant_id(tenant):
            raise Refused("token has no usable tenant")
        if REQUIRED_SCOPE not in granted:
            raise Refused("token lacks the required scope")
        if tenant_in_path != tenant:
            raise Refused("tenant in path is not the token's tenant")
    username = claims.get("username")
    origin_jti = claims.get("origin_jti")
    context = {
        "tenant": tenant or "",
        "roles": " ".join(roles),
        "scopes": " ".join(scopes),
        "sub": claims["sub"],
        "client_id": claims["client_id"],
        "username": username if isinstance(username, str) else "",
        "token_use": claims["token_use"],
        "origin_jti": origin_jti if isinstance(origin_jti, str) else "",
        "iat": claims["iat"],
        "exp": claims["exp"],
    }
    return APIGatewayAuthorizerResponseV2(authorize=True, context=context).asdict()


def check_not_revoked(response: dict[str, Any], resource_server: str | None) -> None:
    """The caller of an allow, read back from its context as the handler behind will read it, checked."""
    identity = parse_identity({"requestContext": {"authorizer": {"lambda": response["context"]}}}, resource_server)
    revocation.check_identity(identity)


def denial(error: Exception, log: Logger) -> dict[str, Any]:
    """The answer to a request `error` stopped, logged by kind. Reasons of our own making never
    contain the token or a claim value; anything else is named by its type only."""
    reason = f"{type(error).__name__}: {error}" if isinstance(error, EXPLAINED) else type(error).__name__
    if isinstance(error, ConfigurationError):
        log.error("denied: the authorizer is misconfigured", extra={"reason": reason})
    elif isinstance(error, revocation.StoreUnavailable):
        # Fail closed, and say so where the alarm looks (stacks/monitoring_stack.py).
        log.error(
            "denied: the revocation store did not answer",
            extra={"reason": reason, revocation.UNAVAILABLE_LOG_FIELD: revocation.UNAVAILABLE_LOG_VALUE},
        )
    else:
        log.info("denied", extra={"reason": reason})
    return APIGatewayAuthorizerResponseV2(authorize=False).asdict()


def authorize(event: Any) -> dict[str, Any]:
    """The authorizer's answer for `event`; never raises."""
    try:
        request = authorizer_event(event)
        claims = verifier().verify(bearer_token(request))
        resource_server = os.environ.get(RESOURCE_SERVER_ENV) or None
        response = decide(request, claims, resource_server)
        check_not_revoked(response, resource_server)
    except Exception as error:  # noqa: BLE001 (every failure, expected or not, is a denial, never a 500)
        return denial(error, logger)
    logger.info("allowed", extra={"tenant": response["context"]["tenant"], "sub": response["context"]["sub"]})
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
