"""Pre-token-generation, client-credentials path (event version 3): a machine token carries its tenant.

With the trigger on `LambdaVersion.V3_0`, Cognito also invokes it for machine-to-machine
(client-credentials) access tokens, with `triggerSource` `TokenGeneration_ClientCredentials`, the
app client in `callerContext.clientId` and the requested scopes in `request.scopes`; the answer
goes in `response.claimsAndScopeOverrideDetails.accessTokenGeneration` (there is no ID token).
If the function raises, Cognito issues no token. V3_0 needs the Essentials or Plus feature plan
(Cognito developer guide, "Pre token generation Lambda trigger":
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html).

- A tenant's client (`CLIENT#<id>` / `TENANT` in the tenants table) gets `tenant_id`, and only the
  machine scopes: anything else a client might have been allowed is suppressed.
- Its tenant must be active: a suspended (or missing) tenant's clients get no token.
- The platform's own client is in no tenant: it gets a token without a tenant only when every
  scope it asks for is a platform machine scope, which no tenant route accepts.
- Any other client gets no token.

The event is read, and the answer written, through Powertools' `PreTokenGenerationV2TriggerEvent`
(cognito_event.py). Its docstring lists only the user trigger sources, but its `request.scopes`
reads `request["scopes"]` whatever the source, which is where the V3_0 client-credentials event
puts the scopes asked for.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import auth_contract
from pre_token_generation.cognito_event import PreTokenGenerationV2TriggerEvent, optional, response_overrides
from shared.machine_clients import MachineClientRecords, machine_client_records

TRIGGER_SOURCE = "TokenGeneration_ClientCredentials"

logger = logging.getLogger()
logger.setLevel(logging.INFO)


class MachineTokenRefused(Exception):
    """No token for this client. Cognito answers the token request with an error and no token."""


def client_id_of(event: PreTokenGenerationV2TriggerEvent) -> str:
    client_id = optional(lambda: event.caller_context.client_id)
    if not isinstance(client_id, str) or not client_id:
        raise MachineTokenRefused("Token refused: no client")
    return client_id


def machine_customization(
    event: PreTokenGenerationV2TriggerEvent, records: MachineClientRecords, resource_server: str
) -> tuple[str | None, dict[str, Any]]:
    """The client's tenant (None for the platform client) and the `claimsAndScopeOverrideDetails`."""
    client_id = client_id_of(event)
    requested = {scope for scope in optional(lambda: event.request.scopes) or [] if isinstance(scope, str)}
    tenant = records.tenant_of(client_id)
    if tenant is None:
        platform = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.PLATFORM_MACHINE_SCOPES}
        if requested and requested <= platform:
            return None, {"accessTokenGeneration": {"claimsToSuppress": [auth_contract.TENANT_CLAIM]}}
        raise MachineTokenRefused("Token refused: the client belongs to no tenant")
    if records.tenant_status(tenant) != auth_contract.TENANT_ACTIVE:
        raise MachineTokenRefused("Token refused: the client's tenant is not active")
    machine = {auth_contract.qualified_scope(resource_server, s) for s in auth_contract.MACHINE_SCOPES}
    return tenant, {
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {auth_contract.TENANT_CLAIM: tenant},
            "scopesToSuppress": sorted(requested - machine),
        }
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    trigger = PreTokenGenerationV2TriggerEvent(event)
    client_id = optional(lambda: trigger.caller_context.client_id)
    try:
        tenant, details = machine_customization(
            trigger, machine_client_records(), os.environ["RESOURCE_SERVER_IDENTIFIER"]
        )
    except MachineTokenRefused as refusal:
        logger.warning("machine token refused", extra={"client_id": client_id, "reason": str(refusal)})
        raise
    access = details["accessTokenGeneration"]
    logger.info(
        "machine token customized",
        extra={
            "trigger_source": optional(lambda: trigger.trigger_source),
            "client_id": client_id,
            "tenant": tenant,
            "scopes_suppressed": access.get("scopesToSuppress", []),
        },
    )
    response_overrides(trigger).access_token_generation = access
    return trigger.raw_event
