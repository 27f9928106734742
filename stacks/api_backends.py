"""The API's Lambda functions: one per job, each with its own role and only the table actions it uses.

| function          | routes                                   | table actions                          |
|-------------------|------------------------------------------|----------------------------------------|
| me                | GET /health, GET /me                     | none                                   |
| items_read        | GET /items, GET /items/{id}              | Query, GetItem                         |
| items_write       | POST /items, PUT/DELETE /items/{id}      | GetItem, PutItem, UpdateItem, DeleteItem |
| tenant_events     | POST /tenants/{tenantId}/events          | PutItem                                |
| tenant_summary    | GET /tenants/{tenantId}/summary          | Query                                  |
| machine_clients   | GET/POST /tenants/{tenantId}/machine-clients, POST .../{clientId}/rotate, DELETE .../{clientId} | tenants table: GetItem, Query, UpdateItem, PutItem, DeleteItem; revocation table: PutItem; user pool: MACHINE_CLIENT_POOL_ACTIONS |
| tenant_authorizer | (Lambda authorizer of the tenant routes) | none                                   |
| machine_authorizer | (Lambda authorizer of POST /tenants/{tenantId}/events) | tenants table: GetItem |
| tenant_admin      | /tenants, /tenants/{tenantId}/suspend, /reinstate, /members[/{userId}] | tenants table: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan; revocation table: PutItem; Cognito admin actions on this pool (TENANT_ADMIN_COGNITO_ACTIONS) |
| sign_out          | POST /me/sign-out, POST /me/sign-out-everywhere | none (revocation store: PutItem; Cognito: AdminUserGlobalSignOut on this pool) |

Every function behind an authorizer, and the authorizer, also reads the revocation store
(`grant_revocation_check`: BatchGetItem on that table only, `REVOCATION_TABLE` and
`REVOCATION_TTL_SECONDS`); ApiStack applies it to every function of its route table.

Every runtime setting is an environment variable (docs/api.md lists them), so the functions
run unchanged behind the local gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import EnvConfig
from stacks.policies import data_removal_policy, log_retention
from stacks.python_function import DependenciesLayer, PythonFunction

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
EVENT_ACTIONS = ("dynamodb:PutItem",)
SUMMARY_ACTIONS = ("dynamodb:Query",)
# lambdas/shared/machine_clients.py: GetItem/Query to read, PutItem/DeleteItem inside
# TransactWriteItems (which IAM authorizes per item action), UpdateItem for rotated_at.
MACHINE_CLIENT_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
# lambdas/tenant_authorizer/machine.py: is the client still registered for the tenant?
MACHINE_AUTHORIZER_TABLE_ACTIONS = ("dynamodb:GetItem",)
# lambdas/machine_clients/logic.py: exactly the Cognito operations it calls.
MACHINE_CLIENT_POOL_ACTIONS = (
    "cognito-idp:CreateUserPoolClient",
    "cognito-idp:DeleteUserPoolClient",
    "cognito-idp:ListUserPoolClientSecrets",
    "cognito-idp:AddUserPoolClientSecret",
    "cognito-idp:DeleteUserPoolClientSecret",
)
# The tenant lifecycle (lambdas/tenant_admin): each action is one call its code makes. Members are
# written with TransactWriteItems, which needs PutItem/DeleteItem on the table, no action of its
# own (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
TENANT_ADMIN_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
TENANT_ADMIN_COGNITO_ACTIONS = (
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:AdminRemoveUserFromGroup",
)
# The revocation store: readers make one BatchGetItem per check; writers put one item per revocation.
REVOCATION_READ_ACTIONS = ("dynamodb:BatchGetItem",)
REVOCATION_WRITE_ACTIONS = ("dynamodb:PutItem",)
SIGN_OUT_COGNITO_ACTIONS = ("cognito-idp:AdminUserGlobalSignOut",)
REVOCATION_TABLE_ENV = "REVOCATION_TABLE"
REVOCATION_TTL_ENV = "REVOCATION_TTL_SECONDS"


def revocation_environment(table: dynamodb.ITable, ttl_seconds: int) -> dict[str, str]:
    """What a function that reads or writes the revocation store needs (lambdas/shared/revocation.py)."""
    return {REVOCATION_TABLE_ENV: table.table_name, REVOCATION_TTL_ENV: str(ttl_seconds)}


def grant_revocation_check(function: lambda_.Function, table: dynamodb.ITable, ttl_seconds: int) -> None:
    """Lets `function` check tokens against the revocation store: the table's name and exactly
    BatchGetItem on it."""
    for name, value in revocation_environment(table, ttl_seconds).items():
        function.add_environment(name, value)
    table.grant(function, *REVOCATION_READ_ACTIONS)


class ApiBackends(Construct):
    """The functions behind the HTTP API and its tenant-path Lambda authorizer."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvConfig,
        table: dynamodb.ITable,
        tenants_table: dynamodb.ITable,
        revocation_table: dynamodb.ITable,
        revocation_ttl_seconds: int,
        user_pool: cognito.IUserPool,
        issuer: str,
        jwks_url: str,
        authorizer_client_ids: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        self.layer = DependenciesLayer(self, "Dependencies").layer
        resource_server = {"RESOURCE_SERVER_IDENTIFIER": config.identity.resource_server_identifier}
        with_table = {**resource_server, "TABLE_NAME": table.table_name}

        def function(
            id_: str, source: str, description: str, environment: dict[str, str], **kwargs: Any
        ) -> lambda_.Function:
            built = PythonFunction(
                self,
                id_,
                source=source,
                description=description,
                log_retention=log_retention(config),
                # Logs outlive a deleted prod stack (RETAIN where the environment keeps data).
                removal_policy=data_removal_policy(config),
                environment=environment,
                layers=[self.layer],
                **kwargs,
            )
            return built.function

        self.me = function("Me", "me", "GET /health and GET /me: the caller as the backend sees them", resource_server)
        self.items_read = function("ItemsRead", "items_read", "GET /items, GET /items/{id}", with_table)
        self.items_write = function("ItemsWrite", "items_write", "POST /items, PUT and DELETE /items/{id}", with_table)
        self.tenant_events = function(
            "TenantEvents", "tenant_events", "POST /tenants/{tenantId}/events (machine clients)", with_table
        )
        self.tenant_summary = function(
            "TenantSummary",
            "tenant_summary",
            "GET /tenants/{tenantId}/summary (behind the tenant-path authorizer)",
            with_table,
        )
        self.machine_clients = function(
            "MachineClients",
            "machine_clients",
            "A tenant's machine clients: create, list, rotate, delete (tenant admin or platform operator)",
            {
                **resource_server,
                "USER_POOL_ID": user_pool.user_pool_id,
                "TENANTS_TABLE": tenants_table.table_name,
                **revocation_environment(revocation_table, revocation_ttl_seconds),
                "MACHINE_ACCESS_TOKEN_MINUTES": str(config.identity.access_token_minutes),
            },
        )
        self.tenant_authorizer = function(
            "TenantAuthorizer",
            "tenant_authorizer",
            "Lambda authorizer: verifies the access token and the tenant-in-path rule",
            {
                **resource_server,
                "ISSUER": issuer,
                "JWKS_URL": jwks_url,
                "ALLOWED_CLIENT_IDS": ",".join(authorizer_client_ids),
            },
            timeout_seconds=5,
        )
        # Tenants' machine clients are made at run time: the JWT authorizer's fixed audience cannot
        # list them, so the events route has a Lambda authorizer of its own (same code package).
        self.machine_authorizer = function(
            "MachineAuthorizer",
            "tenant_authorizer",
            "Lambda authorizer of POST /tenants/{tenantId}/events: a registered machine client of that tenant",
            {
                **resource_server,
                "ISSUER": issuer,
                "JWKS_URL": jwks_url,
                "TENANTS_TABLE": tenants_table.table_name,
            },
            timeout_seconds=5,
            module="machine",
        )

        self.tenant_admin = function(
            "TenantAdmin",
            "tenant_admin",
            "Tenant lifecycle: operators create, list, suspend tenants; tenant admins invite and manage members",
            {
                **resource_server,
                "USER_POOL_ID": user_pool.user_pool_id,
                "TENANTS_TABLE": tenants_table.table_name,
                **revocation_environment(revocation_table, revocation_ttl_seconds),
            },
        )

        self.sign_out = function(
            "SignOut",
            "sign_out",
            "POST /me/sign-out and /me/sign-out-everywhere: revokes the caller's session or every session",
            {
                **resource_server,
                **revocation_environment(revocation_table, revocation_ttl_seconds),
                "USER_POOL_ID": user_pool.user_pool_id,
            },
        )

        table.grant(self.items_read, *READ_ACTIONS)
        table.grant(self.items_write, *WRITE_ACTIONS)
        table.grant(self.tenant_events, *EVENT_ACTIONS)
        table.grant(self.tenant_summary, *SUMMARY_ACTIONS)
        tenants_table.grant(self.machine_clients, *MACHINE_CLIENT_TABLE_ACTIONS)
        revocation_table.grant(self.machine_clients, *REVOCATION_WRITE_ACTIONS)
        user_pool.grant(self.machine_clients, *MACHINE_CLIENT_POOL_ACTIONS)
        tenants_table.grant(self.machine_authorizer, *MACHINE_AUTHORIZER_TABLE_ACTIONS)
        tenants_table.grant(self.tenant_admin, *TENANT_ADMIN_TABLE_ACTIONS)
        revocation_table.grant(self.tenant_admin, *REVOCATION_WRITE_ACTIONS)
        self.tenant_admin.add_to_role_policy(
            iam.PolicyStatement(actions=list(TENANT_ADMIN_COGNITO_ACTIONS), resources=[user_pool.user_pool_arn])
        )
        revocation_table.grant(self.sign_out, *REVOCATION_WRITE_ACTIONS)
        user_pool.grant(self.sign_out, *SIGN_OUT_COGNITO_ACTIONS)
