"""GET/POST /tenants/{tenantId}/machine-clients, POST .../{clientId}/rotate, DELETE .../{clientId}.

Route scopes `admin` or `platform.admin`; here the caller must be the admin of `{tenantId}` or a
platform operator. The tenant and client ids come from `pathParameters`, which API Gateway hands
over decoded (the raw path could hide `%2F` or a differently spelled tenant).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

from machine_clients import logic
from shared.api import create_app, current_identity, empty_response, json_response
from shared.machine_clients import machine_client_records
from shared.revocation import revocation_store
from shared.validation import read_json_object

logger = Logger()
app = create_app(logger)
# A secret is in the body of create and rotate answers: no cache may keep it.
NO_STORE = {"Cache-Control": "no-store"}


@functools.cache
def machine_clients() -> logic.MachineClients:
    return logic.MachineClients(
        cognito=boto3.client("cognito-idp"),
        user_pool_id=os.environ["USER_POOL_ID"],
        records=machine_client_records(),
        revocations=revocation_store(),
        resource_server=os.environ["RESOURCE_SERVER_IDENTIFIER"],
        access_token_minutes=int(os.environ["MACHINE_ACCESS_TOKEN_MINUTES"]),
    )


def _path(name: str) -> Any:
    return (app.current_event.raw_event.get("pathParameters") or {}).get(name)


def _authorized_tenant() -> str:
    """The decoded `{tenantId}`, after checking the caller may manage its machine clients."""
    identity = current_identity(app)
    tenant = logic.require_tenant(_path("tenantId"))
    logic.require_manager(identity, tenant)
    return tenant


@app.get("/tenants/<tenant_id>/machine-clients")
def list_clients(tenant_id: str) -> Response[str]:
    tenant = _authorized_tenant()
    return json_response(200, {"tenant": tenant, "machine_clients": machine_clients().list(tenant)})


@app.post("/tenants/<tenant_id>/machine-clients")
def create_client(tenant_id: str) -> Response[str]:
    tenant = _authorized_tenant()
    body = read_json_object(app.current_event.raw_event)
    created = machine_clients().create(current_identity(app), tenant, body)
    logger.info("machine client created", extra={"tenant": tenant, "client_id": created["client_id"]})
    location = f"/tenants/{tenant}/machine-clients/{created['client_id']}"
    return json_response(201, created, headers={**NO_STORE, "Location": location})


@app.post("/tenants/<tenant_id>/machine-clients/<client_id>/rotate")
def rotate_client(tenant_id: str, client_id: str) -> Response[str]:
    tenant = _authorized_tenant()
    rotated = machine_clients().rotate(tenant, logic.require_client_id(_path("clientId")))
    logger.info("machine client secret rotated", extra={"tenant": tenant, "client_id": rotated["client_id"]})
    return json_response(200, rotated, headers=NO_STORE)


@app.delete("/tenants/<tenant_id>/machine-clients/<client_id>")
def delete_client(tenant_id: str, client_id: str) -> Response[str]:
    tenant = _authorized_tenant()
    client = logic.require_client_id(_path("clientId"))
    machine_clients().delete(tenant, client)
    logger.info("machine client deleted", extra={"tenant": tenant, "client_id": client})
    return empty_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
