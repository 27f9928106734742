"""GET /tenants/{tenantId}/summary, behind the tenant-path Lambda authorizer: counts of a tenant's data."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

import auth_contract
from shared.api import Forbidden, NotFound, create_app, current_identity, json_response, path_tenant
from shared.claims import Identity, is_tenant_id
from shared.items_table import EVENT_PREFIX, ITEM_PREFIX, ItemsTable, items_table

logger = Logger()
app = create_app(logger)


def summary(identity: Identity, table: ItemsTable, tenant: str | None) -> dict[str, Any]:
    """The authorizer already applied the tenant-in-path rule; it is checked again here: a member
    of the tenant (any role, the tenant admin included) or a platform operator."""
    if not identity.is_access_token or identity.is_machine:
        raise Forbidden("Forbidden")
    if not (identity.is_operator or identity.has_scope(auth_contract.ITEMS_READ)):
        raise Forbidden("Forbidden")
    if not is_tenant_id(tenant):
        raise NotFound("Not found")
    if not identity.may_act_on_tenant(tenant):
        raise Forbidden("Forbidden")
    return {"tenant": tenant, "items": table.count(tenant, ITEM_PREFIX), "events": table.count(tenant, EVENT_PREFIX)}


@app.get("/tenants/<tenant_id>/summary")
def get_summary(tenant_id: str) -> Response[str]:
    # `tenant_id` is the router's match on the raw path; the decoded parameter is what counts.
    return json_response(200, summary(current_identity(app), items_table(), path_tenant(app)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
