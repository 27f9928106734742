"""POST /tenants/{tenantId}/events: a tenant's machine clients (client-credentials tokens, events.write,
`tenant_id` = the path's tenant) record events. The tenant is the decoded `pathParameters` value."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from shared.api import create_app, current_identity, json_response, path_tenant
from shared.items_table import items_table
from shared.validation import read_json_object
from tenant_events import logic

logger = Logger()
app = create_app(logger)


@app.post("/tenants/<tenant_id>/events")
def post_event(tenant_id: str) -> Response[str]:
    # `tenant_id` is the router's match on the raw path; the decoded parameter is what counts.
    identity = current_identity(app)
    logic.require_machine(identity)
    tenant = logic.require_tenant(path_tenant(app))
    logic.require_own_tenant(identity, tenant)  # before the body is read
    event = logic.record_event(identity, items_table(), tenant, read_json_object(app.current_event.raw_event))
    logger.info("event recorded", extra={"event_id": event["id"], "tenant": tenant, "client_id": event["client_id"]})
    return json_response(202, event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
