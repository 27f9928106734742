"""Pre-token-generation trigger (event version 2): tenant and roles into both tokens, and the
access token's API scopes from the user's groups.

Sign-ins through SRP or the SDK never carry custom scopes on their own; this trigger makes every
access token carry exactly the API scopes its user's roles grant: missing ones are added, and ones
a client asked for but the roles do not grant (say, a viewer requesting items.write on the hosted
UI) are suppressed. A user without a tenant gets no tokens at all.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import auth_contract

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class MissingTenantError(Exception):
    """The user has no tenant, so no token may be issued. Cognito shows the message to the caller."""


def tenant_of(user_attributes: dict[str, str]) -> str:
    """The user's tenant: the immutable attribute, or for federated users the one their IdP maps."""
    tenant = user_attributes.get(auth_contract.TENANT_ATTRIBUTE_CLAIM) or user_attributes.get(
        f"custom:{auth_contract.FEDERATED_TENANT_ATTRIBUTE}"
    )
    if not tenant or not tenant.strip():
        raise MissingTenantError("Sign-in refused: the user is not assigned to a tenant")
    return tenant.strip()


def roles_of(event: dict[str, Any]) -> list[str]:
    """The user's roles: their groups that are roles, in the contract's order."""
    groups = ((event.get("request") or {}).get("groupConfiguration") or {}).get("groupsToOverride") or []
    return [role for role in auth_contract.ROLES if role in groups]


def token_customization(event: dict[str, Any], resource_server: str) -> dict[str, Any]:
    """The `claimsAndScopeOverrideDetails` for this sign-in or refresh."""
    request = event.get("request") or {}
    tenant = tenant_of(request.get("userAttributes") or {})
    roles = roles_of(event)
    granted = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.scopes_for_roles(roles)}
    every_api_scope = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.API_SCOPES}
    requested = set(request.get("scopes") or [])
    claims = {auth_contract.TENANT_CLAIM: tenant, auth_contract.ROLES_CLAIM: roles}
    return {
        "idTokenGeneration": {"claimsToAddOrOverride": claims},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": claims,
            "scopesToAdd": sorted(granted - requested),
            "scopesToSuppress": sorted((requested & every_api_scope) - granted),
        },
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    resource_server = os.environ["RESOURCE_SERVER_IDENTIFIER"]
    details = token_customization(event, resource_server)
    access = details["accessTokenGeneration"]
    logger.info(
        "token customized",
        extra={
            "trigger_source": event.get("triggerSource"),
            "client_id": (event.get("callerContext") or {}).get("clientId"),
            "roles": access["claimsToAddOrOverride"][auth_contract.ROLES_CLAIM],
            "scopes_added": access["scopesToAdd"],
            "scopes_suppressed": access["scopesToSuppress"],
        },
    )
    event.setdefault("response", {})["claimsAndScopeOverrideDetails"] = details
    return event
