"""The API stack's template: authorizers, routes and scopes, CORS, throttling, access logs, table
protection, and least-privilege roles. Fine-grained: each test pins one security property."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

import auth_contract
from shared.items_table import PARTITION_KEY, SORT_KEY
from tests.synth import synthesize

TABLE = "AWS::DynamoDB::Table"
ROUTE = "AWS::ApiGatewayV2::Route"
AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
INTEGRATION = "AWS::ApiGatewayV2::Integration"
STAGE = "AWS::ApiGatewayV2::Stage"
FUNCTION = "AWS::Lambda::Function"
POLICY = "AWS::IAM::Policy"

JWT, LAMBDA, NONE = "JWT", "CUSTOM", "NONE"

TENANT_ADMIN = "tenant_admin.handler.lambda_handler"
OPERATOR = (auth_contract.PLATFORM_SCOPE,)
MEMBER_ADMINS = (auth_contract.ADMIN_SCOPE, auth_contract.PLATFORM_SCOPE)

# route key -> (authorization type, scopes (short names), handler of the function behind it)
EXPECTED_ROUTES = {
    "GET /health": (NONE, (), "me.handler.lambda_handler"),
    "GET /me": (JWT, auth_contract.USER_SCOPES, "me.handler.lambda_handler"),
    "GET /items": (JWT, (auth_contract.ITEMS_READ,), "items_read.handler.lambda_handler"),
    "GET /items/{id}": (JWT, (auth_contract.ITEMS_READ,), "items_read.handler.lambda_handler"),
    "POST /items": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "PUT /items/{id}": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "DELETE /items/{id}": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "POST /tenants/{tenantId}/events": (LAMBDA, (), "tenant_events.handler.lambda_handler"),
    "GET /tenants/{tenantId}/summary": (LAMBDA, (), "tenant_summary.handler.lambda_handler"),
    **dict.fromkeys(
        (
            "GET /tenants/{tenantId}/machine-clients",
            "POST /tenants/{tenantId}/machine-clients",
            "POST /tenants/{tenantId}/machine-clients/{clientId}/rotate",
            "DELETE /tenants/{tenantId}/machine-clients/{clientId}",
        ),
        (JWT, (auth_contract.ADMIN_SCOPE, auth_contract.PLATFORM_SCOPE), "machine_clients.handler.lambda_handler"),
    ),
    # The tenant lifecycle: operator-only routes, and member routes for a tenant admin or an operator.
    "POST /tenants": (JWT, OPERATOR, TENANT_ADMIN),
    "GET /tenants": (JWT, OPERATOR, TENANT_ADMIN),
    "POST /tenants/{tenantId}/suspend": (JWT, OPERATOR, TENANT_ADMIN),
    "POST /tenants/{tenantId}/reinstate": (JWT, OPERATOR, TENANT_ADMIN),
    "GET /tenants/{tenantId}/members": (JWT, MEMBER_ADMINS, TENANT_ADMIN),
    "POST /tenants/{tenantId}/members": (JWT, MEMBER_ADMINS, TENANT_ADMIN),
    "PUT /tenants/{tenantId}/members/{userId}": (JWT, MEMBER_ADMINS, TENANT_ADMIN),
    "DELETE /tenants/{tenantId}/members/{userId}": (JWT, MEMBER_ADMINS, TENANT_ADMIN),
    "POST /me/sign-out": (JWT, auth_contract.USER_SCOPES, "sign_out.handler.lambda_handler"),
    "POST /me/sign-out-everywhere": (JWT, auth_contract.USER_SCOPES, "sign_out.handler.lambda_handler"),
}

# handler -> the DynamoDB actions its role may use (and nothing else on data)
EXPECTED_TABLE_ACTIONS = {
    "me.handler.lambda_handler": set(),
    "items_read.handler.lambda_handler": {"dynamodb:GetItem", "dynamodb:Query"},
    "items_write.handler.lambda_handler": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "tenant_events.handler.lambda_handler": {"dynamodb:PutItem"},
    "tenant_summary.handler.lambda_handler": {"dynamodb:Query"},
    "tenant_authorizer.handler.lambda_handler": set(),
    "machine_clients.handler.lambda_handler": set(),
    "tenant_authorizer.machine.lambda_handler": set(),
    TENANT_ADMIN: set(),  # the tenancy tables only (test_the_tenant_admin_function_may_...)
    "sign_out.handler.lambda_handler": set(),
}

# handler -> identity-stack resource (the revocation store apart) (by its output's logical id) -> the exact actions on it
EXPECTED_IDENTITY_GRANTS = {
    "machine_clients.handler.lambda_handler": {
        "TenantsTable": {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
        "UserPool6BA7E5F2": {
            "cognito-idp:CreateUserPoolClient",
            "cognito-idp:DeleteUserPoolClient",
            "cognito-idp:ListUserPoolClientSecrets",
            "cognito-idp:AddUserPoolClientSecret",
            "cognito-idp:DeleteUserPoolClientSecret",
        },
    },
    "tenant_authorizer.machine.lambda_handler": {"TenantsTable": {"dynamodb:GetItem"}},
    "sign_out.handler.lambda_handler": {"UserPool6BA7E5F2": {"cognito-idp:AdminUserGlobalSignOut"}},
    TENANT_ADMIN: {
        "TenantsTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        },
        "UserPool6BA7E5F2": {
            "cognito-idp:AdminAddUserToGroup",
            "cognito-idp:AdminCreateUser",
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminDisableUser",
            "cognito-idp:AdminEnableUser",
            "cognito-idp:AdminGetUser",
            "cognito-idp:AdminListGroupsForUser",
            "cognito-idp:AdminRemoveUserFromGroup",
        },
    },
}
# handler -> its actions on the revocation store (identity stack): every function behind an
# authorizer, and both authorizers, read it; the functions that revoke also write.
EXPECTED_REVOCATION_ACTIONS = {
    **{handler: {"dynamodb:BatchGetItem"} for handler in EXPECTED_TABLE_ACTIONS},
    **{
        handler: {"dynamodb:BatchGetItem", "dynamodb:PutItem"}
        for handler in ("sign_out.handler.lambda_handler", "machine_clients.handler.lambda_handler", TENANT_ADMIN)
    },
}


# --------------------------------------------------------------------------- helpers


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == type_}


def only(template: dict, type_: str, **properties: Any) -> tuple[str, dict]:
    found = [
        (key, value)
        for key, value in resources(template, type_).items()
        if all(value["Properties"].get(name) == expected for name, expected in properties.items())
    ]
    assert len(found) == 1, f"expected one {type_} with {properties}, found {len(found)}"
    return found[0]


def identity_value(env: str, reference: dict) -> Any:
    """The identity stack's value behind a cross-stack reference in the API template."""
    synthesized = synthesize(env)
    outputs = synthesized.templates["Identity"]["Outputs"]
    if "Fn::GetStackOutput" in reference:
        return outputs[reference["Fn::GetStackOutput"]["OutputName"]]["Value"]
    (name,) = reference.values()
    (value,) = [output["Value"] for output in outputs.values() if output.get("Export", {}).get("Name") == name]
    return value


def is_cross_stack(value: Any) -> bool:
    """A value another stack provides: an import of its export (or a weak stack-output read)."""
    return isinstance(value, dict) and ("Fn::ImportValue" in value or "Fn::GetStackOutput" in value)


def identity_logical_id(env: str, construct) -> str:
    stack = synthesize(env).stage.identity
    return stack.resolve(construct.node.default_child.logical_id)


def function_of_integration(template: dict, integration_ref: str) -> dict:
    integration = template["Resources"][integration_ref]["Properties"]
    function_id = integration["IntegrationUri"]["Fn::GetAtt"][0]
    return template["Resources"][function_id]


def handler_by_role(template: dict) -> dict[str, str]:
    return {
        function["Properties"]["Role"]["Fn::GetAtt"][0]: function["Properties"]["Handler"]
        for function in resources(template, FUNCTION).values()
    }


@pytest.fixture(scope="module")
def api(api_template: Template) -> dict:
    return api_template.to_json()


@pytest.fixture(scope="module")
def config():
    return synthesize("test").config


# --------------------------------------------------------------------------- JWT authorizer


def test_jwt_authorizer_trusts_the_user_pool_issuer(api):
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="JWT")
    properties = authorizer["Properties"]
    assert properties["IdentitySource"] == ["$request.header.Authorization"]
    issuer = identity_value("test", properties["JwtConfiguration"]["Issuer"])
    assert issuer == {"Fn::GetAtt": ["UserPool6BA7E5F2", "ProviderURL"]}


def test_jwt_authorizer_audience_is_exactly_the_pools_clients(api):
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="JWT")
    audience = [identity_value("test", ref) for ref in authorizer["Properties"]["JwtConfiguration"]["Audience"]]
    identity = synthesize("test").stage.identity
    # SPA and ALB (the test env has a web stack). Not the platform's MachineClient: no route takes its
    # scope. Not the tenants' machine clients: made at run time, they have their own authorizer.
    expected = [{"Ref": identity_logical_id("test", client)} for client in identity.user_clients]
    assert sorted(audience, key=str) == sorted(expected, key=str)
    assert len(expected) == 2


def test_audience_without_web_config_has_no_alb_client():
    template = synthesize("dev").templates["Api"]
    _, authorizer = only(template, AUTHORIZER, AuthorizerType="JWT")
    assert len(authorizer["Properties"]["JwtConfiguration"]["Audience"]) == 1


# --------------------------------------------------------------------------- routes


def test_routes_are_exactly_the_specified_ones(api):
    keys = {route["Properties"]["RouteKey"] for route in resources(api, ROUTE).values()}
    assert keys == set(EXPECTED_ROUTES)


@pytest.mark.parametrize("route_key", list(EXPECTED_ROUTES))
def test_route_authorization_and_scopes(api, config, route_key):
    auth_type, scopes, handler = EXPECTED_ROUTES[route_key]
    _, route = only(api, ROUTE, RouteKey=route_key)
    properties = route["Properties"]
    assert properties["AuthorizationType"] == auth_type
    if auth_type == JWT:
        assert sorted(properties["AuthorizationScopes"]) == sorted(config.qualified_scope(s) for s in scopes)
        authorizer = api["Resources"][properties["AuthorizerId"]["Ref"]]
        assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    elif auth_type == LAMBDA:
        assert "AuthorizationScopes" not in properties
        authorizer = api["Resources"][properties["AuthorizerId"]["Ref"]]
        assert authorizer["Properties"]["AuthorizerType"] == "REQUEST"
    else:
        assert "AuthorizerId" not in properties and "AuthorizationScopes" not in properties
    integration_ref = properties["Target"]["Fn::Join"][1][1]["Ref"]
    assert function_of_integration(api, integration_ref)["Properties"]["Handler"] == handler


def test_every_jwt_route_requires_scopes_so_id_tokens_never_pass(api):
    for route in resources(api, ROUTE).values():
        if route["Properties"]["AuthorizationType"] == JWT:
            assert route["Properties"].get("AuthorizationScopes"), route["Properties"]["RouteKey"]


def test_events_route_accepts_only_the_machine_scope_which_no_role_grants(api, config):
    """Its authorizer (tenant_authorizer/machine.py) requires events.write; API Gateway cannot check a
    Lambda-authorized route's scopes, so there are none on the route."""
    from tenant_authorizer import machine

    _, route = only(api, ROUTE, RouteKey="POST /tenants/{tenantId}/events")
    assert "AuthorizationScopes" not in route["Properties"]
    assert machine.REQUIRED_SCOPE == auth_contract.EVENTS_WRITE
    for role in auth_contract.ROLES:
        assert auth_contract.EVENTS_WRITE not in auth_contract.scopes_for_roles([role])


def test_integrations_use_payload_format_2(api):
    for integration in resources(api, INTEGRATION).values():
        assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
        assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def test_lambda_invoke_permissions_are_scoped_to_each_route(api):
    permissions = [
        p["Properties"]
        for p in resources(api, "AWS::Lambda::Permission").values()
        if "/authorizers/" not in json.dumps(p)
    ]
    scoped = {p["SourceArn"]["Fn::Join"][1][-1] for p in permissions}
    assert scoped == {f"/*/*{key.split(' ', 1)[1]}" for key in EXPECTED_ROUTES}


# --------------------------------------------------------------------------- Lambda authorizer


LAMBDA_AUTHORIZERS = {
    "TenantPathAuthorizer": "tenant_authorizer.handler.lambda_handler",
    "MachineTenantAuthorizer": "tenant_authorizer.machine.lambda_handler",
}
ROUTES_BY_AUTHORIZER = {
    "TenantPathAuthorizer": {"GET /tenants/{tenantId}/summary"},
    "MachineTenantAuthorizer": {"POST /tenants/{tenantId}/events"},
}


@pytest.mark.parametrize(("name", "handler"), list(LAMBDA_AUTHORIZERS.items()))
def test_lambda_authorizers_are_simple_response_authorizers_of_their_own_function(api, config, name, handler):
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST", Name=name)
    properties = authorizer["Properties"]
    assert properties["EnableSimpleResponses"] is True
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    assert properties["AuthorizerResultTtlInSeconds"] == config.api.authorizer_cache_seconds
    uri = json.dumps(properties["AuthorizerUri"])
    (function_id,) = [key for key in resources(api, FUNCTION) if key in uri]
    assert api["Resources"][function_id]["Properties"]["Handler"] == handler
    assert len(resources(api, AUTHORIZER)) == 1 + len(LAMBDA_AUTHORIZERS)


@pytest.mark.parametrize("name", list(LAMBDA_AUTHORIZERS))
def test_each_lambda_authorizer_guards_exactly_its_routes(api, name):
    authorizer_id, _ = only(api, AUTHORIZER, AuthorizerType="REQUEST", Name=name)
    guarded = {
        route["Properties"]["RouteKey"]
        for route in resources(api, ROUTE).values()
        if route["Properties"].get("AuthorizerId") == {"Ref": authorizer_id}
    }
    assert guarded == ROUTES_BY_AUTHORIZER[name]


@pytest.mark.parametrize("name", list(LAMBDA_AUTHORIZERS))
def test_lambda_authorizer_cache_key_includes_the_token_and_the_concrete_path(api, name):
    """The cached answer depends on the token and on {tenantId}: both must be in the cache key.
    `$context.routeKey` would not do (it is the same template for every tenant)."""
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST", Name=name)
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization", "$context.path"]


@pytest.mark.parametrize("name", list(LAMBDA_AUTHORIZERS))
def test_only_api_gateway_may_invoke_an_authorizer_function_through_its_authorizer(api, name):
    authorizer_id, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST", Name=name)
    uri = json.dumps(authorizer["Properties"]["AuthorizerUri"])
    (function_id,) = [key for key in resources(api, FUNCTION) if key in uri]
    (permission,) = [
        p["Properties"]
        for p in resources(api, "AWS::Lambda::Permission").values()
        if "/authorizers/" in json.dumps(p["Properties"]["SourceArn"])
        and function_id in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert {"Ref": authorizer_id} in permission["SourceArn"]["Fn::Join"][1]


def test_tenant_authorizer_configuration_comes_from_the_identity_stack(api, config):
    _, function = only(api, FUNCTION, Handler="tenant_authorizer.handler.lambda_handler")
    variables = function["Properties"]["Environment"]["Variables"]
    assert identity_value("test", variables["ISSUER"]) == {"Fn::GetAtt": ["UserPool6BA7E5F2", "ProviderURL"]}
    assert variables["JWKS_URL"]["Fn::Join"][1][1] == "/.well-known/jwks.json"
    assert variables["RESOURCE_SERVER_IDENTIFIER"] == config.identity.resource_server_identifier
    # Only the clients that act for users: machine tokens have no tenant.
    parts = [part for part in variables["ALLOWED_CLIENT_IDS"]["Fn::Join"][1] if part != ","]
    identity = synthesize("test").stage.identity
    expected = [{"Ref": identity_logical_id("test", client)} for client in identity.user_clients]
    assert [identity_value("test", part) for part in parts] == expected
    assert function["Properties"]["Timeout"] <= 5


def test_machine_authorizer_trusts_the_pools_issuer_and_lists_no_client(api, config):
    _, function = only(api, FUNCTION, Handler="tenant_authorizer.machine.lambda_handler")
    variables = function["Properties"]["Environment"]["Variables"]
    assert identity_value("test", variables["ISSUER"]) == {"Fn::GetAtt": ["UserPool6BA7E5F2", "ProviderURL"]}
    assert variables["JWKS_URL"]["Fn::Join"][1][1] == "/.well-known/jwks.json"
    assert variables["RESOURCE_SERVER_IDENTIFIER"] == config.identity.resource_server_identifier
    # Clients are made at run time: the tenants table says which are registered, for which tenant.
    assert "ALLOWED_CLIENT_IDS" not in variables
    assert identity_value("test", variables["TENANTS_TABLE"]) == {"Ref": "TenantsTableFFF4D8FE"}
    assert function["Properties"]["Timeout"] <= 5


# --------------------------------------------------------------------------- CORS, stage, logs


def test_cors_allows_exactly_the_configured_origins(api, config):
    (api_resource,) = resources(api, "AWS::ApiGatewayV2::Api").values()
    cors = api_resource["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == list(config.api.cors_origins)
    assert "*" not in cors["AllowOrigins"]
    assert cors["AllowCredentials"] is False
    assert set(cors["AllowHeaders"]) == {"authorization", "content-type"}
    assert set(cors["AllowMethods"]) == {"GET", "POST", "PUT", "DELETE"}


def test_preflight_is_answered_by_api_gateway_on_authorized_routes(api):
    """With CORS configured, API Gateway answers OPTIONS preflights itself unless a route
    matches OPTIONS; no route does (no OPTIONS, no ANY, no $default), so no authorizer ever
    sees a preflight."""
    (api_resource,) = resources(api, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" in api_resource["Properties"]
    for route in resources(api, ROUTE).values():
        key = route["Properties"]["RouteKey"]
        assert key != "$default"
        assert key.split(" ", 1)[0] not in ("OPTIONS", "ANY"), key


def test_default_stage_auto_deploys_with_configured_throttling(api, config):
    _, stage = only(api, STAGE, StageName="$default")
    assert stage["Properties"]["AutoDeploy"] is True
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": config.api.throttle_burst,
        "ThrottlingRateLimit": config.api.throttle_rate,
    }


def test_prod_throttling_follows_its_config():
    synthesized = synthesize("prod")
    _, stage = only(synthesized.templates["Api"], STAGE, StageName="$default")
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] == synthesized.config.api.throttle_rate
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingBurstLimit"] == synthesized.config.api.throttle_burst


def access_log_group_id(stage: dict) -> str:
    """The logical id of the log group a stage's access logs go to, from its destination ARN
    `arn:<partition>:logs:<region>:<account>:log-group:<name>`: built from the group's name, never
    `Fn::GetAtt [group, Arn]`, whose `:*` suffix API Gateway drops (permanent drift)."""
    separator, parts = stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::Join"]
    assert separator == ""
    assert isinstance(parts[-2], str) and parts[-2].endswith(":log-group:"), parts
    assert parts[0].startswith("arn:"), parts
    return parts[-1]["Ref"]


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
def test_access_log_destination_is_the_log_group_arn_without_the_stream_wildcard(env):
    template = synthesize(env).templates["Api"]
    _, stage = only(template, STAGE, StageName="$default")
    arn = stage["Properties"]["AccessLogSettings"]["DestinationArn"]
    assert "Fn::GetAtt" not in json.dumps(arn) and ":*" not in json.dumps(arn)
    assert template["Resources"][access_log_group_id(stage)]["Type"] == "AWS::Logs::LogGroup"


def test_access_logs_are_json_with_the_fields_an_incident_needs(api, config):
    _, stage = only(api, STAGE, StageName="$default")
    settings = stage["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["status"] == "$context.status"
    assert fields["sub"] == "$context.authorizer.claims.sub"
    assert fields["authorizerError"] == "$context.authorizer.error"
    log_group = api["Resources"][access_log_group_id(stage)]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days


def test_access_logs_are_retained_in_prod():
    template = synthesize("prod").templates["Api"]
    _, stage = only(template, STAGE, StageName="$default")
    log_group = template["Resources"][access_log_group_id(stage)]
    assert log_group["DeletionPolicy"] == "Retain"
    assert log_group["Properties"]["RetentionInDays"] == synthesize("prod").config.log_retention_days


# --------------------------------------------------------------------------- table


def test_items_table_keys_match_the_lambda_code(api):
    _, table = only(api, TABLE)
    assert table["Properties"]["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert PARTITION_KEY == "tenant"


def test_items_table_is_on_demand_encrypted_with_point_in_time_recovery(api_template: Template):
    api_template.has_resource_properties(
        TABLE,
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "KMSMasterKeyId": Match.absent()},
        },
    )


@pytest.mark.parametrize(
    ("env", "policy", "protected"), [("test", "Delete", False), ("dev", "Delete", False), ("prod", "Retain", True)]
)
def test_items_table_protection_follows_the_environment(env, policy, protected):
    template = synthesize(env).templates["Api"]
    _, table = only(template, TABLE)
    assert table["DeletionPolicy"] == policy
    assert table["UpdateReplacePolicy"] == policy
    assert table["Properties"]["DeletionProtectionEnabled"] is protected


def test_outputs_api_url_and_table_name(api):
    outputs = api["Outputs"]
    (table_id,) = resources(api, TABLE)
    assert outputs["ItemsTableName"]["Value"] == {"Ref": table_id}
    (api_id,) = resources(api, "AWS::ApiGatewayV2::Api")
    assert {"Ref": api_id} in outputs["ApiUrl"]["Value"]["Fn::Join"][1]


# --------------------------------------------------------------------------- functions and roles


def test_every_function_is_arm64_python_with_its_own_role_and_log_group(api):
    functions = resources(api, FUNCTION)
    roles = [function["Properties"]["Role"]["Fn::GetAtt"][0] for function in functions.values()]
    log_groups = [function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for function in functions.values()]
    assert len(set(roles)) == len(functions) == len(EXPECTED_TABLE_ACTIONS)
    assert len(set(log_groups)) == len(functions)
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.14"
        assert properties["Architectures"] == ["arm64"]
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert len(properties["Layers"]) == 1


def role_statements(api: dict, handler: str) -> list[dict]:
    (role_id,) = [role for role, name in handler_by_role(api).items() if name == handler]
    return [
        statement
        for policy in resources(api, POLICY).values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def tenants_table_arn(env: str) -> dict:
    stack = synthesize(env).stage.identity
    return {"Fn::GetAtt": [stack.resolve(stack.tenants_table.node.default_child.logical_id), "Arn"]}


def revocation_table_arn(env: str) -> dict:
    stack = synthesize(env).stage.identity
    return {"Fn::GetAtt": [stack.resolve(stack.revocation_table.node.default_child.logical_id), "Arn"]}


@pytest.mark.parametrize("handler", list(EXPECTED_TABLE_ACTIONS))
def test_each_role_gets_only_the_table_actions_its_function_uses(api, handler):
    (table_id,) = resources(api, TABLE)
    revocation_arn = revocation_table_arn("test")
    actions: set[str] = set()
    revocation_actions: set[str] = set()
    for statement in role_statements(api, handler):
        statement_actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        data_actions = [action for action in statement_actions if action.startswith("dynamodb:")]
        if not data_actions:
            continue
        if statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}:
            actions.update(data_actions)
        elif identity_value("test", statement["Resource"]) == revocation_arn:
            revocation_actions.update(data_actions)
        else:
            # Anything else must be exactly the tenants table, whose grants are checked exactly below.
            assert identity_value("test", statement["Resource"]) == tenants_table_arn("test")
            assert EXPECTED_IDENTITY_GRANTS[handler]["TenantsTable"] == set(data_actions)
    assert actions == EXPECTED_TABLE_ACTIONS[handler]
    assert revocation_actions == EXPECTED_REVOCATION_ACTIONS[handler]


def test_every_function_behind_an_authorizer_reads_the_revocation_store_from_its_environment(api, config):
    from stacks.policies import revocation_ttl_seconds

    for function in resources(api, FUNCTION).values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert identity_value("test", variables["REVOCATION_TABLE"]) == {
            "Ref": revocation_table_arn("test")["Fn::GetAtt"][0]
        }
        assert variables["REVOCATION_TTL_SECONDS"] == str(revocation_ttl_seconds(config))


def test_revocation_ttl_is_the_longest_access_or_id_token_lifetime(config):
    from stacks.policies import revocation_ttl_seconds

    identity = config.identity
    assert revocation_ttl_seconds(config) == 60 * max(identity.access_token_minutes, identity.id_token_minutes)
    assert revocation_ttl_seconds(synthesize("dev").config) == 3600


def test_only_the_sign_out_function_may_sign_users_out_and_only_in_this_pool(api):
    pool = synthesize("test").stage.identity
    pool_arn = {"Fn::GetAtt": [pool.resolve(pool.user_pool.node.default_child.logical_id), "Arn"]}
    for handler in EXPECTED_TABLE_ACTIONS:
        cognito = [
            statement
            for statement in role_statements(api, handler)
            if any(action.startswith("cognito-idp:") for action in actions_of(statement))
        ]
        if handler != "sign_out.handler.lambda_handler":
            # Functions with other Cognito grants have them checked exactly (EXPECTED_IDENTITY_GRANTS).
            assert all("cognito-idp:AdminUserGlobalSignOut" not in actions_of(st) for st in cognito), handler
            assert cognito == [] or handler in EXPECTED_IDENTITY_GRANTS, handler
            continue
        (statement,) = cognito
        assert statement["Action"] == "cognito-idp:AdminUserGlobalSignOut"
        assert identity_value("test", statement["Resource"]) == pool_arn


def test_sign_out_function_knows_the_pool(api):
    _, function = only(api, FUNCTION, Handler="sign_out.handler.lambda_handler")
    variables = function["Properties"]["Environment"]["Variables"]
    pool = synthesize("test").stage.identity
    assert identity_value("test", variables["USER_POOL_ID"]) == {
        "Ref": pool.resolve(pool.user_pool.node.default_child.logical_id)
    }


def identity_grants(api: dict, handler: str) -> dict[str, set[str]]:
    """What a function's role may do on identity-stack resources, by the resource's logical-id prefix."""
    (role_id,) = [role for role, name in handler_by_role(api).items() if name == handler]
    grants: dict[str, set[str]] = {}
    for policy in resources(api, POLICY).values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resource = statement["Resource"]
            if not is_cross_stack(resource):
                continue
            (logical_id, attribute) = identity_value("test", resource)["Fn::GetAtt"]
            name = next(
                prefix
                for prefix in ("TenantsTable", "RevocationTable", "UserPool6BA7E5F2")
                if logical_id.startswith(prefix)
            )
            assert attribute == "Arn"
            if name == "RevocationTable":
                continue  # every reader's and writer's actions: EXPECTED_REVOCATION_ACTIONS
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow" and name not in grants
            grants[name] = set(actions)
    return grants


@pytest.mark.parametrize("handler", list(EXPECTED_TABLE_ACTIONS))
def test_grants_on_the_identity_stacks_tables_and_pool_are_exact(api, handler):
    assert identity_grants(api, handler) == EXPECTED_IDENTITY_GRANTS.get(handler, {})


def test_no_policy_uses_wildcards_on_actions_or_data_resources(api):
    for policy_id, policy in resources(api, POLICY).items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in action for action in actions), policy_id
            assert statement["Resource"] != "*", policy_id
            assert statement["Effect"] == "Allow"


@pytest.mark.parametrize(
    "handler",
    [
        "items_read.handler.lambda_handler",
        "items_write.handler.lambda_handler",
        "tenant_events.handler.lambda_handler",
        "tenant_summary.handler.lambda_handler",
    ],
)
def test_data_functions_get_the_table_name_and_resource_server_from_the_environment(api, config, handler):
    _, function = only(api, FUNCTION, Handler=handler)
    variables = function["Properties"]["Environment"]["Variables"]
    (table_id,) = resources(api, TABLE)
    assert variables["TABLE_NAME"] == {"Ref": table_id}
    assert variables["RESOURCE_SERVER_IDENTIFIER"] == config.identity.resource_server_identifier


def test_the_machine_clients_function_gets_its_pool_tables_and_token_lifetime_from_the_environment(api, config):
    _, function = only(api, FUNCTION, Handler="machine_clients.handler.lambda_handler")
    variables = function["Properties"]["Environment"]["Variables"]
    values = {
        name: identity_value("test", variables[name]) for name in ("USER_POOL_ID", "TENANTS_TABLE", "REVOCATION_TABLE")
    }
    assert values == {
        "USER_POOL_ID": {"Ref": "UserPool6BA7E5F2"},
        "TENANTS_TABLE": {"Ref": "TenantsTableFFF4D8FE"},
        "REVOCATION_TABLE": {"Ref": "RevocationTable878F264C"},
    }
    identity = config.identity
    assert variables["MACHINE_ACCESS_TOKEN_MINUTES"] == str(identity.access_token_minutes)
    assert variables["REVOCATION_TTL_SECONDS"] == str(
        60 * max(identity.access_token_minutes, identity.id_token_minutes)
    )
    assert variables["RESOURCE_SERVER_IDENTIFIER"] == identity.resource_server_identifier


# --------------------------------------------------------------------------- the tenant lifecycle function


def tenant_admin_statements(api: dict) -> list[dict]:
    (role_id,) = [role for role, name in handler_by_role(api).items() if name == TENANT_ADMIN]
    return [
        statement
        for policy in resources(api, POLICY).values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if not str(statement["Action"]).startswith("['logs:") and statement["Action"] != "logs:PutLogEvents"
    ]


def identity_arn(env: str, type_: str, logical_prefix: str) -> dict:
    """`Fn::GetAtt <identity resource>.Arn`, as the identity stack publishes it."""
    template = synthesize(env).templates["Identity"]
    (logical_id,) = [lid for lid in resources(template, type_) if lid.startswith(logical_prefix)]
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_the_tenant_admin_function_may_use_exactly_its_actions_on_this_pool_and_the_tenancy_tables(api):
    """Least privilege (issue #13.2): only this pool, only the cognito-idp actions the code calls;
    the tenants table with the item actions it uses; the revocation table for writes only."""
    by_resource: dict[str, list[str]] = {}
    for statement in tenant_admin_statements(api):
        key = json.dumps(identity_value("test", statement["Resource"]), sort_keys=True)
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        by_resource[key] = sorted({*by_resource.get(key, []), *actions})
    assert by_resource == {
        json.dumps(identity_arn("test", "AWS::Cognito::UserPool", "UserPool"), sort_keys=True): [
            "cognito-idp:AdminAddUserToGroup",
            "cognito-idp:AdminCreateUser",
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminDisableUser",
            "cognito-idp:AdminEnableUser",
            "cognito-idp:AdminGetUser",
            "cognito-idp:AdminListGroupsForUser",
            "cognito-idp:AdminRemoveUserFromGroup",
        ],
        json.dumps(identity_arn("test", TABLE, "TenantsTable"), sort_keys=True): [
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:UpdateItem",
        ],
        # Writes its revocations; reads the store like every function behind an authorizer.
        json.dumps(identity_arn("test", TABLE, "RevocationTable"), sort_keys=True): [
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
        ],
    }
    assert all(statement["Effect"] == "Allow" for statement in tenant_admin_statements(api))


def test_no_other_api_function_reaches_cognito_or_the_tenancy_tables(api):
    # The functions with identity-stack grants have them checked exactly (EXPECTED_IDENTITY_GRANTS).
    granted = {role for role, name in handler_by_role(api).items() if name in EXPECTED_IDENTITY_GRANTS}
    for policy in resources(api, POLICY).values():
        if any({"Ref": role} in policy["Properties"]["Roles"] for role in granted):
            continue
        text = json.dumps(policy["Properties"]["PolicyDocument"])
        assert "cognito-idp:" not in text
        # The revocation store is read by every function behind an authorizer: its actions are
        # checked exactly in test_each_role_gets_only_the_table_actions_its_function_uses.
        assert "TenantsTable" not in text


def test_the_tenant_admin_function_gets_the_pool_tables_and_revocation_ttl_from_its_environment(api, config):
    _, function = only(api, FUNCTION, Handler=TENANT_ADMIN)
    variables = function["Properties"]["Environment"]["Variables"]
    stage = synthesize("test").stage
    identity = stage.identity

    def published(name: str, construct) -> Any:
        return identity_value("test", variables[name]) == {"Ref": identity.resolve(construct.logical_id)}

    assert published("USER_POOL_ID", identity.user_pool.node.default_child)
    assert published("TENANTS_TABLE", identity.tenants_table.node.default_child)
    assert published("REVOCATION_TABLE", identity.revocation_table.node.default_child)
    longest = max(config.identity.access_token_minutes, config.identity.id_token_minutes)
    assert variables["REVOCATION_TTL_SECONDS"] == str(60 * longest)
    assert variables["RESOURCE_SERVER_IDENTIFIER"] == config.identity.resource_server_identifier
