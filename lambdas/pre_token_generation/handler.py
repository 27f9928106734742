"""Pre-token-generation trigger (V3_0 event; users' tokens use what V2 had): tenant and roles into both tokens, and the
access token's API scopes from the user's groups.

Sign-ins through SRP or the SDK never carry custom scopes on their own; this trigger makes every
access token carry exactly the API scopes its user's roles grant: missing ones are added, and ones
a client asked for but the roles do not grant (say, a viewer requesting items.write on the hosted
UI) are suppressed. A user without a tenant gets no tokens at all.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import auth_contract
from pre_token_generation import machine

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class MissingTenantError(Exception):
    """The user has no tenant, so no token may be issued. Cognito shows the message to the caller."""


def _federated_provider(event: dict[str, Any]) -> str | None:
    """The identity provider of a federated user, from Cognito's own `identities` attribute, only
    when the user name agrees (Cognito names federated users `<provider>_<id>`)."""
    identities = ((event.get("request") or {}).get("userAttributes") or {}).get("identities")
    if not identities:
        return None
    try:
        linked = json.loads(identities)
    except ValueError:
        return None
    if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
        return None
    provider = linked[0].get("providerName")
    if isinstance(provider, str) and str(event.get("userName", "")).startswith(f"{provider}_"):
        return provider
    return None


def tenant_of(event: dict[str, Any], federated_tenants: dict[str, str]) -> str:
    """The user's tenant: their immutable attribute, or their identity provider's configured tenant."""
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    tenant = (attributes.get(auth_contract.TENANT_ATTRIBUTE_CLAIM) or "").strip()
    if not tenant:
        provider = _federated_provider(event)
        tenant = federated_tenants.get(provider, "") if provider else ""
    if not tenant:
        raise MissingTenantError("Sign-in refused: the user is not assigned to a tenant")
    return tenant


def roles_of(event: dict[str, Any]) -> list[str]:
    """The user's roles: their groups that are roles, in the contract's order."""
    groups = ((event.get("request") or {}).get("groupConfiguration") or {}).get("groupsToOverride") or []
    return [role for role in auth_contract.ROLES if role in groups]


def token_customization(
    event: dict[str, Any], resource_server: str, federated_tenants: dict[str, str] | None = None
) -> dict[str, Any]:
    """The `claimsAndScopeOverrideDetails` for this sign-in or refresh."""
    request = event.get("request") or {}
    tenant = tenant_of(event, federated_tenants or {})
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
    if event.get("triggerSource") == machine.TRIGGER_SOURCE:  # V3_0: client-credentials tokens
        return machine.lambda_handler(event, context)
    resource_server = os.environ["RESOURCE_SERVER_IDENTIFIER"]
    federated_tenants = json.loads(os.environ.get("FEDERATED_TENANTS") or "{}")
    details = token_customization(event, resource_server, federated_tenants)
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
