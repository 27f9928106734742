"""Lambda authorizer (HTTP API, payload 2.0, simple responses) for `POST /tenants/{tenantId}/events`.

Tenants' machine clients are made at run time, so the native JWT authorizer, whose audience is a
fixed list of client ids, cannot accept their tokens. This authorizer does instead: the token is
verified like any access token (verifier.py: RS256, the pool's key, `iss`, `exp`, `token_use`),
and then must be a client-credentials token (`sub` = `client_id`, no user) with `events.write`,
whose `tenant_id` equals `{tenantId}` and whose client is still registered for that tenant in the
tenants table (`CLIENT#<client id>` / `TENANT`): a deleted client is refused here even before its
tokens expire. Anything else, including every error, is `{"isAuthorized": false}` (403); this
function never raises. Answers are cached per token and path (see TENANT_AUTHORIZER_IDENTITY_SOURCE
in stacks/api_http.py), so for up to the configured cache time a deleted client's cached allow
stands; the handler's own checks and the revocation store close that gap.

The context is what lambdas/shared/claims.py reads from a Lambda authorizer: `tenant`, `scopes`,
`sub`, `client_id`, `token_use`, and empty `username` and `roles`. The event is read, and the answer
written, with Powertools' payload 2.0 authorizer data classes, as in handler.py.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
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
from shared.claims import RESOURCE_SERVER_ENV, is_tenant_id, short_scope
from shared.machine_clients import machine_client_records
from tenant_authorizer.handler import (
    Refused,
    authorizer_event,
    bearer_token,
    check_not_revoked,
    denial,
    path_tenant,
)
from tenant_authorizer.verifier import (
    ISSUER_ENV,
    JWKS_URL_ENV,
    AccessTokenVerifier,
    VerifierSettings,
)

logger = Logger()

REQUIRED_SCOPE = auth_contract.EVENTS_WRITE


@functools.cache
def verifier() -> AccessTokenVerifier:
    issuer = os.environ.get(ISSUER_ENV, "").strip().rstrip("/")
    settings = VerifierSettings(
        issuer=issuer,
        client_ids=frozenset(),
        jwks_url=os.environ.get(JWKS_URL_ENV, "").strip() or f"{issuer}/.well-known/jwks.json",
        clients_checked_by_caller=True,  # by the tenants table, below
    )
    return AccessTokenVerifier(settings, JwksCache(settings.jwks_url))


def decide(
    event: APIGatewayAuthorizerEventV2,
    claims: dict[str, Any],
    resource_server: str | None,
    tenant_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """The simple response for verified `claims`; `tenant_of(client_id)` is the registered tenant or None."""
    client_id = claims["client_id"]
    if claims.get("sub") != client_id or "username" in claims:
        raise Refused("not a client-credentials token")
    scopes = scope_list(claims.get("scope"))
    if REQUIRED_SCOPE not in {short_scope(scope, resource_server) for scope in scopes}:
        raise Refused("token lacks the required scope")
    tenant = claims.get(auth_contract.TENANT_CLAIM)
    if not is_tenant_id(tenant):
        raise Refused("token has no usable tenant")
    if path_tenant(event) != tenant:
        raise Refused("tenant in path is not the token's tenant")
    if tenant_of(client_id) != tenant:
        raise Refused("client is not registered for this tenant")
    context = {
        "tenant": tenant,
        "roles": "",
        "scopes": " ".join(scopes),
        "sub": claims["sub"],
        "client_id": client_id,
        "username": "",
        "token_use": claims["token_use"],
        # For the revocation check of the handler behind (API Gateway caches this answer).
        "origin_jti": "",
        "iat": claims["iat"],
        "exp": claims["exp"],
    }
    return APIGatewayAuthorizerResponseV2(authorize=True, context=context).asdict()


def authorize(event: Any) -> dict[str, Any]:
    """The authorizer's answer for `event`; never raises."""
    try:
        request = authorizer_event(event)
        claims = verifier().verify(bearer_token(request))
        resource_server = os.environ.get(RESOURCE_SERVER_ENV) or None
        response = decide(request, claims, resource_server, machine_client_records().tenant_of)
        check_not_revoked(response, resource_server)
    except Exception as error:  # noqa: BLE001 (every failure, expected or not, is a denial, never a 500)
        return denial(error, logger)
    context = response["context"]
    logger.info("allowed", extra={"tenant": context["tenant"], "client_id": context["client_id"]})
    return response


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
