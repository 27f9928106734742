"""The tenant lifecycle routes (operator: tenants; tenant admin or operator: a tenant's members).

| route                                      | who                                   |
|--------------------------------------------|---------------------------------------|
| POST /tenants, GET /tenants                | platform operator                     |
| POST /tenants/{tenantId}/suspend, /reinstate | platform operator                   |
| GET, POST /tenants/{tenantId}/members      | that tenant's admin, or an operator   |
| PUT, DELETE /tenants/{tenantId}/members/{userId} | that tenant's admin, or an operator |

The JWT authorizer requires the routes' scopes (platform.admin; admin or platform.admin); the
rules are checked again here, before any store is opened, and in logic.py, with the tenant in
the path against the caller's.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths

import auth_contract
from shared.api import create_app, current_identity, empty_response, json_response, path_tenant
from shared.revocation import revocation_store
from shared.tenants import CLIENT_CONFIG, tenants_table
from shared.validation import query_integer, read_json_object
from tenant_admin import logic

USER_POOL_ENV = "USER_POOL_ID"

logger = Logger()
app = create_app(logger)


@functools.cache
def user_pool() -> logic.UserPool:
    return logic.UserPool(boto3.client("cognito-idp", config=CLIENT_CONFIG), os.environ[USER_POOL_ENV])


def _body() -> dict[str, Any]:
    return read_json_object(app.current_event.raw_event)


@app.post("/tenants")
def create_tenant() -> Response[str]:
    identity = current_identity(app)
    logic.require_operator(identity)
    tenant = logic.create_tenant(identity, tenants_table(), _body())
    logger.info("tenant created", extra={"tenant": tenant["tenant"], "by": identity.sub})
    return json_response(201, tenant, headers={"Location": f"/tenants/{tenant['tenant']}"})


@app.get("/tenants")
def list_tenants() -> Response[str]:
    identity = current_identity(app)
    logic.require_operator(identity)
    params = app.current_event.query_string_parameters
    limit = query_integer(params, "limit", default=50, low=1, high=100)
    after = (params or {}).get("after")
    return json_response(200, logic.list_tenants(identity, tenants_table(), limit=limit, after=after))


def _decoded_parameter(name: str) -> str:
    """A path parameter as API Gateway decoded it (what the authorizer judged); never the router's
    match on the raw, possibly percent-encoded path. Validated by the logic that uses it."""
    value = (app.current_event.path_parameters or {}).get(name)
    return value if isinstance(value, str) else ""


def _decoded_tenant() -> str:
    return path_tenant(app) or ""


@app.post("/tenants/<raw_tenant_id>/suspend")
def suspend_tenant(raw_tenant_id: str) -> Response[str]:
    tenant_id = _decoded_tenant()
    identity = current_identity(app)
    logic.require_operator(identity)  # before any store is opened
    profile = logic.set_tenant_status(
        identity, tenants_table(), revocation_store(), tenant_id, auth_contract.TENANT_SUSPENDED
    )
    logger.info("tenant suspended", extra={"tenant": tenant_id, "by": identity.sub})
    return json_response(200, profile)


@app.post("/tenants/<raw_tenant_id>/reinstate")
def reinstate_tenant(raw_tenant_id: str) -> Response[str]:
    tenant_id = _decoded_tenant()
    identity = current_identity(app)
    logic.require_operator(identity)
    profile = logic.set_tenant_status(
        identity, tenants_table(), revocation_store(), tenant_id, auth_contract.TENANT_ACTIVE
    )
    logger.info("tenant reinstated", extra={"tenant": tenant_id, "by": identity.sub})
    return json_response(200, profile)


@app.get("/tenants/<raw_tenant_id>/members")
def list_members(raw_tenant_id: str) -> Response[str]:
    tenant_id = _decoded_tenant()
    identity = current_identity(app)
    logic.require_tenant_admin(identity, tenant_id)
    return json_response(200, logic.list_members(identity, tenants_table(), tenant_id))


@app.post("/tenants/<raw_tenant_id>/members")
def add_member(raw_tenant_id: str) -> Response[str]:
    tenant_id = _decoded_tenant()
    identity = current_identity(app)
    logic.require_tenant_admin(identity, tenant_id)  # refuse before reading the body
    status, member = logic.add_member(identity, tenants_table(), user_pool(), tenant_id, _body())
    logger.info(
        "member added", extra={"tenant": tenant_id, "member": member["sub"], "role": member["role"], "by": identity.sub}
    )
    return json_response(status, member, headers={"Location": f"/tenants/{tenant_id}/members/{member['sub']}"})


@app.put("/tenants/<raw_tenant_id>/members/<raw_user_id>")
def change_member(raw_tenant_id: str, raw_user_id: str) -> Response[str]:
    tenant_id, user_id = _decoded_tenant(), _decoded_parameter("userId")
    identity = current_identity(app)
    logic.require_tenant_admin(identity, tenant_id)
    member = logic.change_member(
        identity, tenants_table(), user_pool(), revocation_store(), tenant_id, user_id, _body()
    )
    logger.info(
        "member changed",
        extra={"tenant": tenant_id, "member": user_id, "role": member["role"], "enabled": member.get("enabled")},
    )
    return json_response(200, member)


@app.delete("/tenants/<raw_tenant_id>/members/<raw_user_id>")
def remove_member(raw_tenant_id: str, raw_user_id: str) -> Response[str]:
    tenant_id, user_id = _decoded_tenant(), _decoded_parameter("userId")
    identity = current_identity(app)
    logic.require_tenant_admin(identity, tenant_id)
    logic.remove_member(identity, tenants_table(), user_pool(), revocation_store(), tenant_id, user_id)
    logger.info("member removed", extra={"tenant": tenant_id, "member": user_id, "by": identity.sub})
    return empty_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
