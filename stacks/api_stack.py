"""API stack: HTTP API with the native JWT authorizer, a Lambda authorizer, Lambda backends, items table.

Composes three units — `ItemsTable` (stateful, logical ID guarded), `ApiBackends` (the
functions and their grants) and `TenantHttpApi` (authorizers, routes, CORS, throttling,
access logs) — and declares the route table: who may call what, with which scopes.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

import auth_contract
from stacks.api_backends import ApiBackends, grant_revocation_check
from stacks.api_http import Auth, RouteSpec, TenantHttpApi
from stacks.api_table import ItemsTable
from stacks.config import EnvConfig
from stacks.identity_stack import IdentityStack
from stacks.policies import data_removal_policy, log_retention, revocation_ttl_seconds

GET, POST, PUT, DELETE = apigw.HttpMethod.GET, apigw.HttpMethod.POST, apigw.HttpMethod.PUT, apigw.HttpMethod.DELETE


class ApiStack(cdk.Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: EnvConfig, identity: IdentityStack, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config

        self.items_table = ItemsTable(self, "ItemsTable", config=config).table
        self.revocation_table = identity.revocation_table
        # Users call through the SPA/CLI client or the ALB (token relay). Tenants' machine clients are
        # made at run time and have their own authorizer; the platform's MachineClient has no route.
        audience = [client.user_pool_client_id for client in identity.user_clients]
        self.backends = ApiBackends(
            self,
            "Backends",
            config=config,
            table=self.items_table,
            tenants_table=identity.tenants_table,
            revocation_table=identity.revocation_table,
            revocation_ttl_seconds=revocation_ttl_seconds(config),
            user_pool=identity.user_pool,
            issuer=identity.issuer_url,
            jwks_url=identity.jwks_url,
            # The tenant routes act for a user: machine tokens carry no tenant.
            authorizer_client_ids=[client.user_pool_client_id for client in identity.user_clients],
        )

        def scopes(*names: str) -> tuple[str, ...]:
            return tuple(config.qualified_scope(name) for name in names)

        b = self.backends
        operator = scopes(auth_contract.PLATFORM_SCOPE)
        manage_tenant = scopes(auth_contract.ADMIN_SCOPE, auth_contract.PLATFORM_SCOPE)
        self.route_specs = (
            RouteSpec(GET, "/health", b.me, Auth.NONE),
            RouteSpec(GET, "/me", b.me, Auth.JWT, scopes(*auth_contract.USER_SCOPES)),
            RouteSpec(GET, "/items", b.items_read, Auth.JWT, scopes(auth_contract.ITEMS_READ)),
            RouteSpec(GET, "/items/{id}", b.items_read, Auth.JWT, scopes(auth_contract.ITEMS_READ)),
            RouteSpec(POST, "/items", b.items_write, Auth.JWT, scopes(auth_contract.ITEMS_WRITE)),
            RouteSpec(PUT, "/items/{id}", b.items_write, Auth.JWT, scopes(auth_contract.ITEMS_WRITE)),
            RouteSpec(DELETE, "/items/{id}", b.items_write, Auth.JWT, scopes(auth_contract.ITEMS_WRITE)),
            # A tenant's machine clients only (made at run time, so not in the JWT authorizer's audience).
            RouteSpec(POST, "/tenants/{tenantId}/events", b.tenant_events, Auth.MACHINE_TENANT),
            RouteSpec(GET, "/tenants/{tenantId}/summary", b.tenant_summary, Auth.TENANT_PATH),
            # A tenant's machine clients: its admin (the handler checks the tenant) or a platform operator.
            *(
                RouteSpec(method, path, b.machine_clients, Auth.JWT, manage_tenant)
                for method, path in (
                    (GET, "/tenants/{tenantId}/machine-clients"),
                    (POST, "/tenants/{tenantId}/machine-clients"),
                    (POST, "/tenants/{tenantId}/machine-clients/{clientId}/rotate"),
                    (DELETE, "/tenants/{tenantId}/machine-clients/{clientId}"),
                )
            ),
            # The tenant lifecycle: operators only for tenants; a tenant's admin (their own tenant,
            # checked in the handler) or an operator for its members.
            RouteSpec(POST, "/tenants", b.tenant_admin, Auth.JWT, operator),
            RouteSpec(GET, "/tenants", b.tenant_admin, Auth.JWT, operator),
            RouteSpec(POST, "/tenants/{tenantId}/suspend", b.tenant_admin, Auth.JWT, operator),
            RouteSpec(POST, "/tenants/{tenantId}/reinstate", b.tenant_admin, Auth.JWT, operator),
            RouteSpec(GET, "/tenants/{tenantId}/members", b.tenant_admin, Auth.JWT, manage_tenant),
            RouteSpec(POST, "/tenants/{tenantId}/members", b.tenant_admin, Auth.JWT, manage_tenant),
            RouteSpec(PUT, "/tenants/{tenantId}/members/{userId}", b.tenant_admin, Auth.JWT, manage_tenant),
            RouteSpec(DELETE, "/tenants/{tenantId}/members/{userId}", b.tenant_admin, Auth.JWT, manage_tenant),
            RouteSpec(POST, "/me/sign-out", b.sign_out, Auth.JWT, scopes(*auth_contract.USER_SCOPES)),
            RouteSpec(POST, "/me/sign-out-everywhere", b.sign_out, Auth.JWT, scopes(*auth_contract.USER_SCOPES)),
        )
        # Instant revocation: every function a caller reaches through an authorizer, and the
        # Lambda authorizer itself, checks the caller's token against the revocation store.
        self.revocation_readers: list[lambda_.Function] = []
        for function in [spec.function for spec in self.route_specs if spec.auth is not Auth.NONE] + [
            b.tenant_authorizer,
            b.machine_authorizer,
        ]:
            if function not in self.revocation_readers:
                self.revocation_readers.append(function)
                grant_revocation_check(function, identity.revocation_table, revocation_ttl_seconds(config))
        self.http_api = TenantHttpApi(
            self,
            "HttpApi",
            config=config.api,
            issuer=identity.issuer_url,
            audience=audience,
            tenant_authorizer=b.tenant_authorizer,
            machine_authorizer=b.machine_authorizer,
            routes=self.route_specs,
            log_retention=log_retention(config),
            log_removal_policy=data_removal_policy(config),
        )

        cdk.CfnOutput(self, "ApiUrl", value=self.api_url, description="Base URL of the HTTP API ($default stage)")
        cdk.CfnOutput(self, "ItemsTableName", value=self.items_table.table_name, description="DynamoDB items table")

    @property
    def api_url(self) -> str:
        """`https://<api id>.execute-api.<region>.amazonaws.com/` (ends with '/')."""
        return self.http_api.url
