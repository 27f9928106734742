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

# route key -> (authorization type, scopes (short names), handler of the function behind it)
EXPECTED_ROUTES = {
    "GET /health": (NONE, (), "me.handler.lambda_handler"),
    "GET /me": (JWT, auth_contract.USER_SCOPES, "me.handler.lambda_handler"),
    "GET /items": (JWT, (auth_contract.ITEMS_READ,), "items_read.handler.lambda_handler"),
    "GET /items/{id}": (JWT, (auth_contract.ITEMS_READ,), "items_read.handler.lambda_handler"),
    "POST /items": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "PUT /items/{id}": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "DELETE /items/{id}": (JWT, (auth_contract.ITEMS_WRITE,), "items_write.handler.lambda_handler"),
    "POST /tenants/{tenantId}/events": (JWT, auth_contract.MACHINE_SCOPES, "tenant_events.handler.lambda_handler"),
    "GET /tenants/{tenantId}/summary": (LAMBDA, (), "tenant_summary.handler.lambda_handler"),
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
    "sign_out.handler.lambda_handler": set(),
}
# handler -> its actions on the revocation store (identity stack): every function behind an
# authorizer, and the authorizer, reads it; only the sign-out function writes.
EXPECTED_REVOCATION_ACTIONS = {
    **{handler: {"dynamodb:BatchGetItem"} for handler in EXPECTED_TABLE_ACTIONS},
    "sign_out.handler.lambda_handler": {"dynamodb:BatchGetItem", "dynamodb:PutItem"},
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
    return synthesize("test").stage.config


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
    expected = [{"Ref": identity_logical_id("test", client)} for client in identity.clients]
    assert sorted(audience, key=str) == sorted(expected, key=str)
    assert len(expected) == 3  # SPA, ALB (the test env has a web stack), machine


def test_audience_without_web_config_has_no_alb_client():
    template = synthesize("dev").templates["Api"]
    _, authorizer = only(template, AUTHORIZER, AuthorizerType="JWT")
    assert len(authorizer["Properties"]["JwtConfiguration"]["Audience"]) == 2


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
    _, route = only(api, ROUTE, RouteKey="POST /tenants/{tenantId}/events")
    assert route["Properties"]["AuthorizationScopes"] == [config.qualified_scope(auth_contract.EVENTS_WRITE)]
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


def test_tenant_authorizer_is_a_simple_response_lambda_authorizer(api, config):
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST")
    properties = authorizer["Properties"]
    assert properties["EnableSimpleResponses"] is True
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    assert properties["AuthorizerResultTtlInSeconds"] == config.api.authorizer_cache_seconds
    uri = json.dumps(properties["AuthorizerUri"])
    (function_id,) = [key for key in resources(api, FUNCTION) if key in uri]
    assert api["Resources"][function_id]["Properties"]["Handler"] == "tenant_authorizer.handler.lambda_handler"


def test_tenant_authorizer_cache_key_includes_the_token_and_the_concrete_path(api):
    """The cached answer depends on the token and on {tenantId}: both must be in the cache key.
    `$context.routeKey` would not do (it is the same template for every tenant)."""
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST")
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization", "$context.path"]


def test_only_api_gateway_may_invoke_the_authorizer_through_this_authorizer(api):
    _, authorizer = only(api, AUTHORIZER, AuthorizerType="REQUEST")
    authorizer_id = next(key for key, value in api["Resources"].items() if value is authorizer)
    (permission,) = [
        p["Properties"]
        for p in resources(api, "AWS::Lambda::Permission").values()
        if "/authorizers/" in json.dumps(p["Properties"]["SourceArn"])
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
    assert (
        stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] == synthesized.stage.config.api.throttle_rate
    )
    assert (
        stage["Properties"]["DefaultRouteSettings"]["ThrottlingBurstLimit"]
        == synthesized.stage.config.api.throttle_burst
    )


def test_access_logs_are_json_with_the_fields_an_incident_needs(api, config):
    _, stage = only(api, STAGE, StageName="$default")
    settings = stage["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["status"] == "$context.status"
    assert fields["sub"] == "$context.authorizer.claims.sub"
    assert fields["authorizerError"] == "$context.authorizer.error"
    log_group_id = settings["DestinationArn"]["Fn::GetAtt"][0]
    log_group = api["Resources"][log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days


def test_access_logs_are_retained_in_prod():
    template = synthesize("prod").templates["Api"]
    _, stage = only(template, STAGE, StageName="$default")
    log_group = template["Resources"][stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]]
    assert log_group["DeletionPolicy"] == "Retain"
    assert log_group["Properties"]["RetentionInDays"] == synthesize("prod").stage.config.log_retention_days


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
        else:
            # Anything else must be exactly the revocation store's ARN, nothing wider.
            assert identity_value("test", statement["Resource"]) == revocation_arn
            revocation_actions.update(data_actions)
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
    assert revocation_ttl_seconds(synthesize("dev").stage.config) == 3600


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
            assert cognito == [], handler
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
