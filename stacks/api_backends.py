"""The API's Lambda functions: one per job, each with its own role and only the table actions it uses.

| function          | routes                                   | table actions                          |
|-------------------|------------------------------------------|----------------------------------------|
| me                | GET /health, GET /me                     | none                                   |
| items_read        | GET /items, GET /items/{id}              | Query, GetItem                         |
| items_write       | POST /items, PUT/DELETE /items/{id}      | GetItem, PutItem, UpdateItem, DeleteItem |
| tenant_events     | POST /tenants/{tenantId}/events          | PutItem                                |
| tenant_summary    | GET /tenants/{tenantId}/summary          | Query                                  |
| tenant_authorizer | (Lambda authorizer of the tenant routes) | none                                   |
| sign_out          | POST /me/sign-out, POST /me/sign-out-everywhere | none (revocation store: PutItem; Cognito: AdminUserGlobalSignOut on this pool) |

Every function behind an authorizer, and the authorizer, also reads the revocation store
(`grant_revocation_check`: BatchGetItem on that table only, `REVOCATION_TABLE` and
`REVOCATION_TTL_SECONDS`); ApiStack applies it to every function of its route table.

Every runtime setting is an environment variable (docs/api.md lists them), so the functions
run unchanged behind the local gateway.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import EnvConfig
from stacks.policies import log_retention
from stacks.python_function import DependenciesLayer, PythonFunction

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
EVENT_ACTIONS = ("dynamodb:PutItem",)
SUMMARY_ACTIONS = ("dynamodb:Query",)
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
            id_: str, source: str, description: str, environment: dict[str, str], **kwargs
        ) -> lambda_.Function:
            built = PythonFunction(
                self,
                id_,
                source=source,
                description=description,
                log_retention=log_retention(config),
                removal_policy=RemovalPolicy.DESTROY,
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
        revocation_table.grant(self.sign_out, *REVOCATION_WRITE_ACTIONS)
        user_pool.grant(self.sign_out, *SIGN_OUT_COGNITO_ACTIONS)
