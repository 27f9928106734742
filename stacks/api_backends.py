"""The API's Lambda functions: one per job, each with its own role and only the table actions it uses.

| function          | routes                                   | table actions                          |
|-------------------|------------------------------------------|----------------------------------------|
| me                | GET /health, GET /me                     | none                                   |
| items_read        | GET /items, GET /items/{id}              | Query, GetItem                         |
| items_write       | POST /items, PUT/DELETE /items/{id}      | GetItem, PutItem, UpdateItem, DeleteItem |
| tenant_events     | POST /tenants/{tenantId}/events          | PutItem                                |
| tenant_summary    | GET /tenants/{tenantId}/summary          | Query                                  |
| tenant_authorizer | (Lambda authorizer of the tenant routes) | none                                   |
| tenant_admin      | /tenants, /tenants/{tenantId}/suspend, /reinstate, /members[/{userId}] | tenants table: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan; revocation table: PutItem; Cognito admin actions on this pool (TENANT_ADMIN_COGNITO_ACTIONS) |

Every runtime setting is an environment variable (docs/api.md lists them), so the functions
run unchanged behind the local gateway.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import EnvConfig
from stacks.policies import log_retention
from stacks.python_function import DependenciesLayer, PythonFunction

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
EVENT_ACTIONS = ("dynamodb:PutItem",)
SUMMARY_ACTIONS = ("dynamodb:Query",)
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
REVOCATION_WRITE_ACTIONS = ("dynamodb:PutItem",)
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


class ApiBackends(Construct):
    """The functions behind the HTTP API and its tenant-path Lambda authorizer."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvConfig,
        table: dynamodb.ITable,
        issuer: str,
        jwks_url: str,
        authorizer_client_ids: Sequence[str],
        user_pool: cognito.IUserPool,
        tenants_table: dynamodb.ITable,
        revocation_table: dynamodb.ITable,
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

        identity = config.identity
        self.tenant_admin = function(
            "TenantAdmin",
            "tenant_admin",
            "Tenant lifecycle: operators create, list, suspend tenants; tenant admins invite and manage members",
            {
                **resource_server,
                "USER_POOL_ID": user_pool.user_pool_id,
                "TENANTS_TABLE": tenants_table.table_name,
                "REVOCATION_TABLE": revocation_table.table_name,
                # A revocation outlives every token it can refuse: the longest token lifetime.
                "REVOCATION_TTL_SECONDS": str(60 * max(identity.access_token_minutes, identity.id_token_minutes)),
            },
        )

        table.grant(self.items_read, *READ_ACTIONS)
        table.grant(self.items_write, *WRITE_ACTIONS)
        table.grant(self.tenant_events, *EVENT_ACTIONS)
        table.grant(self.tenant_summary, *SUMMARY_ACTIONS)
        tenants_table.grant(self.tenant_admin, *TENANT_ADMIN_TABLE_ACTIONS)
        revocation_table.grant(self.tenant_admin, *REVOCATION_WRITE_ACTIONS)
        self.tenant_admin.add_to_role_policy(
            iam.PolicyStatement(actions=list(TENANT_ADMIN_COGNITO_ACTIONS), resources=[user_pool.user_pool_arn])
        )
