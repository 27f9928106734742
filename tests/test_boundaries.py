"""Privilege and tenant boundaries, as a specification of what no caller can do.

- No user can change their tenant, groups or any other rights-bearing attribute through any app
  client: every client of every environment's template either limits `WriteAttributes` to the
  contract's harmless ones or issues no user tokens at all, the tenant attribute is immutable, no
  function may call Cognito's admin APIs, and `make local`'s issuer refuses such writes as
  Cognito does (sign-up included).
- No user can read, list, change or delete another tenant's items through any route of the
  synthesized Api template: each route's own handler (from the template) runs on a moto table
  holding both tenants' data, and the other tenant's data comes out unread and unchanged.
- A machine token cannot act as a user, on any route a user may use, even with user scopes.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

import auth_contract
from local.stack import LocalStack
from tests.api_events import (
    LambdaContext,
    User,
    access_claims,
    http_event,
    jwt_authorizer,
    lambda_authorizer,
    machine_claims,
    mocked_items_table,
    response_json,
    table_contents,
)
from tests.synth import ENVIRONMENTS, Synthesized, synthesize

ACME, GLOBEX = "acme", "globex"
ACME_USERS = [User(f"acme-{role}", ACME, (role,)) for role in auth_contract.TENANT_ROLES]
GLOBEX_OWNER = User("gus", GLOBEX, (auth_contract.EDITOR,))
GLOBEX_ITEM = "itm_" + "b" * 32
ACME_ITEM = "itm_" + "a" * 32
# Attributes that grant something: every custom attribute (the tenant lives in one), whether an
# address counts as verified, and the user's id.
RIGHTS_BEARING = (auth_contract.TENANT_ATTRIBUTE_CLAIM, "email_verified", "phone_number_verified", "sub")
USER_FLOWS = {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_USER_AUTH"}
ADMIN_ACTIONS = (
    "cognito-idp:*",
    "cognito-idp:AdminUpdateUserAttributes",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminInitiateAuth",
    "cognito-idp:UpdateUserAttributes",
    "cognito-idp:CreateGroup",
    "cognito-idp:UpdateUserPoolClient",
)


# --------------------------------------------------------------------------- the templates


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_client_may_write_a_rights_bearing_attribute(env):
    clients = _resources(synthesize(env).templates["Identity"], "AWS::Cognito::UserPoolClient")
    assert clients
    for name, client in clients.items():
        writable = client.get("WriteAttributes") or []
        issues_user_tokens = bool(USER_FLOWS & set(client.get("ExplicitAuthFlows") or [])) or bool(
            {"code", "implicit"} & set(client.get("AllowedOAuthFlows") or [])
        )
        if issues_user_tokens:
            # An empty or missing list would let the client write every standard attribute.
            assert writable, f"{name}: no WriteAttributes, so Cognito's default (all standard attributes)"
        assert set(writable) <= set(auth_contract.WRITABLE_ATTRIBUTES), f"{name}: {writable}"
        assert not set(writable) & set(RIGHTS_BEARING), name
        assert not [attribute for attribute in writable if attribute.startswith("custom:")], name
        if not writable:
            assert not issues_user_tokens, f"{name}: issues user tokens and writes every standard attribute"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_tenant_attribute_is_immutable(env):
    [pool] = _resources(synthesize(env).templates["Identity"], "AWS::Cognito::UserPool").values()
    schema = {attribute["Name"]: attribute for attribute in pool["Schema"]}
    assert schema[auth_contract.TENANT_ATTRIBUTE]["Mutable"] is False


# The one function that changes users and groups: the tenant lifecycle (invitations, role changes,
# removal), with exactly these actions. It never sets passwords, attributes of existing users,
# signs anyone in, or touches clients and groups themselves.
LIFECYCLE_ACTIONS = {
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
}


def _function_roles(template: dict[str, Any], handler: str) -> set[str]:
    return {
        props["Role"]["Fn::GetAtt"][0]
        for props in _resources(template, "AWS::Lambda::Function").values()
        if props.get("Handler") == handler
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_function_or_role_may_change_users_groups_or_clients(env):
    for stack, template in synthesize(env).templates.items():
        lifecycle_roles = _function_roles(template, "tenant_admin.handler.lambda_handler")
        for name, policy in _resources(template, "AWS::IAM::Policy").items():
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                granted = [action for action in actions if action in ADMIN_ACTIONS or action == "*"]
                if granted and statement["Effect"] == "Allow":
                    roles = {role["Ref"] for role in policy["Roles"]}
                    assert roles <= lifecycle_roles and lifecycle_roles, f"{stack}/{name}: {granted}"
                    assert set(granted) <= LIFECYCLE_ACTIONS, f"{stack}/{name}: {granted}"
                    assert "Fn::GetStackOutput" in json.dumps(statement["Resource"]) or "UserPool" in json.dumps(
                        statement["Resource"]
                    ), f"{stack}/{name}: not scoped to the user pool"
        for name, role in _resources(template, "AWS::IAM::Role").items():
            managed = json.dumps(role.get("ManagedPolicyArns", []))
            assert "AmazonCognitoPowerUser" not in managed and "AdministratorAccess" not in managed, f"{stack}/{name}"


# --------------------------------------------------------------------------- make local's issuer


@pytest.fixture(scope="module")
def local_issuer(dev_env: Synthesized):
    assembly = dev_env.assembly(only=("Identity",))
    stack = LocalStack(assembly).start()
    try:
        yield stack
    finally:
        stack.stop()


def _cognito(stack: LocalStack) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=stack.issuer_base_url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_no_user_can_rewrite_a_rights_bearing_attribute_through_the_local_issuer(local_issuer: LocalStack):
    outputs = {key: value for values in local_issuer.outputs().values() for key, value in values.items()}
    idp = _cognito(local_issuer)
    user = next(u for u in local_issuer.users if u.tenant == ACME and u.role == auth_contract.ADMIN)
    tokens = idp.initiate_auth(
        ClientId=outputs["SpaClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
    )["AuthenticationResult"]
    before = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]}
    for name, value in [
        (auth_contract.TENANT_ATTRIBUTE_CLAIM, GLOBEX),
        ("custom:idp_tenant_id", GLOBEX),
        ("email_verified", "true"),
        ("cognito:groups", auth_contract.ADMIN),
        ("custom:roles", auth_contract.ADMIN),
    ]:
        with pytest.raises(ClientError) as refused:
            idp.update_user_attributes(
                AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": name, "Value": value}]
            )
        assert refused.value.response["Error"]["Code"] in ("NotAuthorizedException", "InvalidParameterException")
    after = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]}
    assert after == before
    refreshed = idp.initiate_auth(
        ClientId=outputs["SpaClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    claims = jwt.decode(refreshed["AccessToken"], options={"verify_signature": False})
    assert claims[auth_contract.TENANT_CLAIM] == ACME


def test_no_one_can_sign_up_into_a_tenant_through_the_local_issuer(local_issuer: LocalStack):
    outputs = {key: value for values in local_issuer.outputs().values() for key, value in values.items()}
    idp = _cognito(local_issuer)
    with pytest.raises(ClientError) as refused:
        idp.sign_up(
            ClientId=outputs["SpaClientId"],
            Username="mallory@example.com",
            Password="Correct-Horse-Battery-9",
            UserAttributes=[
                {"Name": "email", "Value": "mallory@example.com"},
                {"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": ACME},
            ],
        )
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"


# --------------------------------------------------------------------------- every route, two tenants


def _routes(api: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, route path, handler module) for every route of the Api template."""
    functions = {name: props["Handler"] for name, props in _resources(api, "AWS::Lambda::Function").items()}
    integrations = {
        name: functions[props["IntegrationUri"]["Fn::GetAtt"][0]]
        for name, props in _resources(api, "AWS::ApiGatewayV2::Integration").items()
    }
    routes = []
    for props in _resources(api, "AWS::ApiGatewayV2::Route").values():
        method, path = props["RouteKey"].split(" ", 1)
        integration = props["Target"]["Fn::Join"][1][1]["Ref"]
        routes.append((method, path, integrations[integration].rsplit(".", 1)[0], props.get("AuthorizationType")))
    return routes


@pytest.fixture
def two_tenants(monkeypatch):
    for table in mocked_items_table(monkeypatch):
        # The user pool the sign-out function signs users out of (their names are not in it:
        # Cognito's UserNotFoundException leaves only the revocation to record).
        pool_id = boto3.client("cognito-idp").create_user_pool(PoolName="boundaries")["UserPool"]["Id"]
        monkeypatch.setenv("USER_POOL_ID", pool_id)
        for tenant, item_id in ((ACME, ACME_ITEM), (GLOBEX, GLOBEX_ITEM)):
            table.put_item(
                Item={
                    "tenant": tenant,
                    "id": item_id,
                    "name": f"{tenant} item",
                    "description": "secret of " + tenant,
                    "tags": [],
                    "owner": GLOBEX_OWNER.sub if tenant == GLOBEX else ACME_USERS[0].sub,
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "updated_at": "2026-01-01T00:00:00+00:00",
                }
            )
        yield table


def _call(route: tuple[str, str, str, str], claims: dict[str, str], raw_tenant: str = GLOBEX) -> dict[str, Any]:
    """The route's handler, aimed at globex: its tenant in the path, its item as the id.

    `raw_tenant` is how the raw path spells the tenant; `pathParameters` always holds the decoded
    `globex`, as API Gateway passes it.
    """
    method, path, module, authorization = route
    actual = path.replace("{tenantId}", raw_tenant).replace("{id}", GLOBEX_ITEM)
    parameters = {"tenantId": GLOBEX} if "{tenantId}" in path else {"id": GLOBEX_ITEM} if "{id}" in path else None
    if authorization == "CUSTOM":
        # What the tenant authorizer would pass on, had it let the request through.
        authorizer = lambda_authorizer(
            {
                "tenant": claims.get(auth_contract.TENANT_CLAIM, ""),
                "roles": claims.get(auth_contract.ROLES_CLAIM, "").strip("[]"),
                "scopes": claims.get("scope", ""),
                "sub": claims["sub"],
                "client_id": claims["client_id"],
                "username": claims.get("username", ""),
                "token_use": claims["token_use"],
                "origin_jti": claims.get("origin_jti", ""),
                "iat": claims["iat"],
                "exp": claims["exp"],
            }
        )
    else:
        authorizer = jwt_authorizer(claims)
    body = {"name": "planted", "tenant": GLOBEX, "type": "note"} if method in ("POST", "PUT") else None
    event = http_event(method, path, actual, authorizer=authorizer, path_parameters=parameters, body=body)
    return importlib.import_module(module).lambda_handler(event, LambdaContext())


def _globex_records(table: Any) -> list[dict[str, Any]]:
    return [record for record in table_contents(table) if record["tenant"] == GLOBEX]


def _leaks_globex(response: dict[str, Any]) -> bool:
    body = response.get("body") or ""
    return GLOBEX_ITEM in body or "secret of globex" in body


def _api_routes(dev_env: Synthesized) -> list[tuple[str, str, str, str]]:
    """Every route but the public one; the sign-out routes last, since they revoke the caller's tokens."""
    routes = [route for route in _routes(dev_env.templates["Api"]) if route[1] != "/health"]
    return sorted(routes, key=lambda route: route[1].startswith("/me/sign-out"))


@pytest.mark.parametrize("user", ACME_USERS, ids=[user.name for user in ACME_USERS])
def test_no_user_reaches_another_tenants_items_through_any_route(dev_env, two_tenants, user):
    before = _globex_records(two_tenants)
    routes = _api_routes(dev_env)
    assert {route[:2] for route in routes} >= {("GET", "/items"), ("GET", "/items/{id}"), ("DELETE", "/items/{id}")}
    for route in routes:
        response = _call(route, access_claims(user))
        assert response["statusCode"] < 500, (route, response)
        assert not _leaks_globex(response), (route, response["statusCode"], response.get("body"))
        if route[1].startswith("/tenants"):
            # Another tenant's path, or an operator's route: no tenant role, not even its admin.
            assert response["statusCode"] in (401, 403), route
        assert _globex_records(two_tenants) == before, route


def test_only_a_platform_operator_sees_another_tenants_summary_and_only_its_counts(dev_env, two_tenants):
    [summary] = [route for route in _api_routes(dev_env) if route[1] == "/tenants/{tenantId}/summary"]
    for user in ACME_USERS:
        assert _call(summary, access_claims(user))["statusCode"] == 403
    operator = User("olga", None, (auth_contract.PLATFORM_OPERATOR,))
    response = _call(summary, access_claims(operator))
    assert response["statusCode"] == 200
    assert set(response_json(response)) == {"tenant", "items", "events"}


@pytest.mark.parametrize("scopes", ["machine scopes", "every scope"])
def test_a_machine_token_cannot_act_as_a_user_on_any_user_route(dev_env, two_tenants, scopes):
    granted = auth_contract.MACHINE_SCOPES if scopes == "machine scopes" else tuple(auth_contract.API_SCOPES)
    claims = machine_claims(scopes=granted)
    before = table_contents(two_tenants)
    for route in _api_routes(dev_env):
        if route[1] == "/tenants/{tenantId}/events":
            continue  # the one machine route
        response = _call(route, claims)
        if route[1] == "/me" and response["statusCode"] == 200:
            # "Who am I" may answer a client with its own identity: no user, no tenant, no role.
            me = response_json(response)
            assert (me["username"], me["tenant"], me["roles"]) == (None, None, [])
            continue
        assert response["statusCode"] in (401, 403), (route, response)
        assert not _leaks_globex(response)
    assert table_contents(two_tenants) == before


def test_users_cannot_use_the_machine_route(dev_env, two_tenants):
    [events] = [route for route in _api_routes(dev_env) if route[1] == "/tenants/{tenantId}/events"]
    for user in ACME_USERS:
        claims = access_claims(user, scopes=tuple(auth_contract.API_SCOPES))
        assert _call(events, claims)["statusCode"] in (401, 403)
    assert _globex_records(two_tenants)[0]["id"] == GLOBEX_ITEM
    assert len(table_contents(two_tenants)) == 2


def test_every_tenant_route_acts_on_the_decoded_tenant_never_on_the_raw_path(dev_env, two_tenants):
    # API Gateway and the tenant authorizer judge the decoded `{tenantId}`: a percent-encoded
    # spelling in the raw path must reach the same tenant's data, never a partition of its own.
    # The items routes are here; the lifecycle and machine-client functions, which hold no items,
    # are held to the same rule in test_lambda_tenant_admin.py and test_lambda_machine_clients.py.
    routes = {route[1]: route for route in _api_routes(dev_env) if "{tenantId}" in route[1]}
    items_routes = {"/tenants/{tenantId}/summary", "/tenants/{tenantId}/events"}
    lifecycle = {
        path for path, route in routes.items() if route[2].split(".")[0] in ("tenant_admin", "machine_clients")
    }
    assert set(routes) == items_routes | lifecycle
    operator = access_claims(
        User("olga", None, (auth_contract.PLATFORM_OPERATOR,)), scopes=(auth_contract.PLATFORM_SCOPE,)
    )
    summary = _call(routes["/tenants/{tenantId}/summary"], operator, raw_tenant="glob%65x")
    assert (summary["statusCode"], response_json(summary)) == (200, {"tenant": GLOBEX, "items": 1, "events": 0})
    method, path, module, _ = routes["/tenants/{tenantId}/events"]
    event = http_event(
        method,
        path,
        "/tenants/glob%65x/events",
        authorizer=jwt_authorizer(machine_claims(tenant=GLOBEX)),
        path_parameters={"tenantId": GLOBEX},
        body={"type": "invoice.paid"},
    )
    posted = importlib.import_module(module).lambda_handler(event, LambdaContext())
    assert (posted["statusCode"], response_json(posted)["tenant"]) == (202, GLOBEX)
    assert {record["tenant"] for record in table_contents(two_tenants)} == {ACME, GLOBEX}
