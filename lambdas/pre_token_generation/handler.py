"""Pre-token-generation trigger (V3_0 event): tenant and roles into both tokens, and the access
token's API scopes from the user's roles, limited to what the calling app client allows; a machine
client's tenant into its client-credentials tokens (machine.py).

Who gets what (docs/identity.md, "Tenancy"):

- a platform operator (the `platform_operator` group): no tenant, the role `platform_operator`,
  and `platform.admin`, nothing else;
- a member of a tenant (the immutable `custom:tenant_id` attribute an invitation sets, the tenant
  an enterprise OIDC provider is configured for, or a link in the tenants table): that tenant, their
  tenant roles, and the API scopes those roles grant AND the app client allows (issue #12.6: the
  ALB client allows only `items.read`). The tenant must exist and be active: a suspended or unknown
  tenant's users get no tokens at all (Cognito shows the message to the caller);
- anyone else (self sign-up, Google, Facebook, before an invitation): tokens with no tenant, no
  roles and no API scope, so the apps can say "waiting for an invitation" while every API route
  refuses them.

Sign-ins through SRP or the SDK never carry custom scopes on their own; this trigger adds the
granted ones and suppresses API scopes a client asked for beyond them.

The event is read, and the answer written, through Powertools' `PreTokenGenerationV2TriggerEvent`
(cognito_event.py).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from typing import Any, Protocol

import boto3

import auth_contract
from pre_token_generation import machine
from pre_token_generation.cognito_event import PreTokenGenerationV2TriggerEvent, optional, response_overrides
from shared.tenants import CLIENT_CONFIG, STATUS, tenants_table

logger = logging.getLogger()
logger.setLevel(logging.INFO)

CLIENT_SCOPES_CACHE_SECONDS = 300


class SignInRefused(Exception):
    """No token may be issued. Cognito returns the message to the caller inside its
    UserLambdaValidationException ("PreTokenGeneration failed with error <message>.")."""


class SuspendedTenantError(SignInRefused):
    pass


class UnknownTenantError(SignInRefused):
    pass


SUSPENDED_MESSAGE = "Sign-in refused: your tenant is suspended"
UNKNOWN_TENANT_MESSAGE = "Sign-in refused: your tenant does not exist"


class Directory(Protocol):
    """What the trigger looks up at sign-in: the tenants table and the calling client's scopes."""

    def tenant_status(self, tenant: str) -> str | None: ...

    def linked_tenant(self, sub: str) -> str | None: ...

    def client_scopes(self, pool_id: str, client_id: str) -> frozenset[str]: ...


class AwsDirectory:
    """The tenants table (dynamodb:GetItem) and DescribeUserPoolClient, cached per instance.

    An app client's allowed OAuth scopes only change with a deployment, so they are cached for
    CLIENT_SCOPES_CACHE_SECONDS: one DescribeUserPoolClient per client per warm instance, well
    inside Cognito's request-rate quotas for that operation. Reading them at run time (instead of
    passing the client ids in) keeps the trigger free of a CloudFormation cycle: pool → trigger
    → client ids → pool.
    """

    def __init__(self) -> None:
        self._cognito: Any = None
        self._scopes: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def tenant_status(self, tenant: str) -> str | None:
        profile = tenants_table().tenant(tenant)
        return profile.get(STATUS) if profile else None

    def linked_tenant(self, sub: str) -> str | None:
        return tenants_table().tenant_of_user(sub)

    def client_scopes(self, pool_id: str, client_id: str) -> frozenset[str]:
        key = (pool_id, client_id)
        now = time.monotonic()
        with self._lock:
            cached = self._scopes.get(key)
        if cached and cached[0] > now:
            return cached[1]
        if self._cognito is None:
            self._cognito = boto3.client("cognito-idp", config=CLIENT_CONFIG)
        # https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_DescribeUserPoolClient.html
        client = self._cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        scopes = frozenset(client.get("AllowedOAuthScopes") or ())
        with self._lock:
            self._scopes[key] = (now + CLIENT_SCOPES_CACHE_SECONDS, scopes)
        return scopes


@functools.cache
def aws_directory() -> AwsDirectory:
    """One per execution environment, so its client-scope cache lives across invocations."""
    return AwsDirectory()


def _attributes(event: PreTokenGenerationV2TriggerEvent) -> dict[str, Any]:
    return optional(lambda: event.request.user_attributes) or {}


def federated_provider(event: PreTokenGenerationV2TriggerEvent) -> str | None:
    """The identity provider of a federated user, from Cognito's own `identities` attribute (set
    by the service, not writable by any client), only when the user name agrees.

    Cognito names a federated user `<provider>_<id>` in lower case (`google_1234`, `okta_00u1ab`),
    whatever the provider name's case, so the prefix is compared without case, as the pool compares
    user names (case-insensitive pool: "Amazon Cognito treats any variation in case as the same
    user", https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UsernameConfigurationType.html;
    federated user names: https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-identity-federation.html).
    """
    identities = _attributes(event).get("identities")
    if not identities:
        return None
    try:
        linked = json.loads(identities)
    except (TypeError, ValueError):
        return None
    if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
        return None
    provider = linked[0].get("providerName")
    if not isinstance(provider, str) or not provider:
        return None
    if str(optional(lambda: event.user_name) or "").casefold().startswith(f"{provider}_".casefold()):
        return provider
    return None


def groups_of(event: PreTokenGenerationV2TriggerEvent) -> list[str]:
    groups = optional(lambda: event.request.group_configuration.groups_to_override) or []
    return [group for group in groups if isinstance(group, str)]


def tenant_roles_of(event: PreTokenGenerationV2TriggerEvent) -> list[str]:
    """The user's tenant roles: their groups that are tenant roles, in the contract's order."""
    groups = groups_of(event)
    return [role for role in auth_contract.TENANT_ROLES if role in groups]


def is_operator(event: PreTokenGenerationV2TriggerEvent) -> bool:
    return auth_contract.PLATFORM_OPERATOR in groups_of(event)


def tenant_of(
    event: PreTokenGenerationV2TriggerEvent, directory: Directory, federated_tenants: dict[str, str]
) -> str | None:
    """The user's tenant, or None while they wait for an invitation.

    The immutable attribute first (invited users), then the one tenant an enterprise OIDC provider
    is configured for, then a link a tenant admin made in the tenants table (social and
    self-sign-up users).
    """
    tenant = str(_attributes(event).get(auth_contract.TENANT_ATTRIBUTE_CLAIM) or "").strip()
    if tenant:
        return tenant
    provider = federated_provider(event)
    if provider and provider in federated_tenants:
        return federated_tenants[provider]
    sub = _attributes(event).get("sub")
    return directory.linked_tenant(sub) if isinstance(sub, str) and sub else None


def token_customization(
    event: PreTokenGenerationV2TriggerEvent,
    resource_server: str,
    directory: Directory,
    federated_tenants: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The `claimsAndScopeOverrideDetails` for this sign-in or refresh (SignInRefused: no tokens)."""
    if is_operator(event):
        tenant, roles = None, [auth_contract.PLATFORM_OPERATOR]
    else:
        tenant = tenant_of(event, directory, federated_tenants or {})
        roles = []
        if tenant is not None:
            status = directory.tenant_status(tenant)
            if status is None:
                raise UnknownTenantError(UNKNOWN_TENANT_MESSAGE)
            if status != auth_contract.TENANT_ACTIVE:
                raise SuspendedTenantError(SUSPENDED_MESSAGE)
            roles = tenant_roles_of(event)

    by_roles = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.scopes_for_roles(roles)}
    client_id = optional(lambda: event.caller_context.client_id) or ""
    pool_id = str(optional(lambda: event.user_pool_id) or "")
    allowed = directory.client_scopes(pool_id, client_id) if by_roles else frozenset()
    granted = by_roles & allowed
    every_api_scope = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.API_SCOPES}
    requested = set(optional(lambda: event.request.scopes) or [])
    claims: dict[str, Any] = {auth_contract.ROLES_CLAIM: roles}
    if tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = tenant
    return {
        "idTokenGeneration": {"claimsToAddOrOverride": claims},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": claims,
            "scopesToAdd": sorted(granted - requested),
            "scopesToSuppress": sorted((requested & every_api_scope) - granted),
        },
    }


def lambda_handler(event: dict[str, Any], context: Any, directory: Directory | None = None) -> dict[str, Any]:
    trigger = PreTokenGenerationV2TriggerEvent(event)
    trigger_source = optional(lambda: trigger.trigger_source)
    if trigger_source == machine.TRIGGER_SOURCE:  # V3_0: client-credentials tokens
        return machine.lambda_handler(event, context)
    resource_server = os.environ["RESOURCE_SERVER_IDENTIFIER"]
    federated_tenants = json.loads(os.environ.get("FEDERATED_TENANTS") or "{}")
    try:
        details = token_customization(trigger, resource_server, directory or aws_directory(), federated_tenants)
    except SignInRefused as refused:
        logger.info("no tokens", extra={"trigger_source": trigger_source, "reason": str(refused)})
        raise
    access = details["accessTokenGeneration"]
    logger.info(
        "token customized",
        extra={
            "trigger_source": trigger_source,
            "client_id": optional(lambda: trigger.caller_context.client_id),
            "tenant": access["claimsToAddOrOverride"].get(auth_contract.TENANT_CLAIM),
            "roles": access["claimsToAddOrOverride"][auth_contract.ROLES_CLAIM],
            "scopes_added": access["scopesToAdd"],
            "scopes_suppressed": access["scopesToSuppress"],
        },
    )
    overrides = response_overrides(trigger)
    overrides.id_token_generation = details["idTokenGeneration"]
    overrides.access_token_generation = access
    return trigger.raw_event
