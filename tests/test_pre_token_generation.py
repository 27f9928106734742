"""Pre-token-generation trigger (V2): tenant and roles in both tokens, API scopes from roles and the client,
no tokens for a suspended tenant, tenant-less tokens for users waiting for an invitation."""

from __future__ import annotations

import copy
import json

import pytest
from pre_token_generation import handler

import auth_contract

RESOURCE_SERVER = "https://api.jwt-auth.test"


def q(scope: str) -> str:
    return auth_contract.qualified_scope(RESOURCE_SERVER, scope)


# The shape Cognito sends for a V2 pre-token-generation event (SRP sign-in through the SDK).
V2_EVENT = {
    "version": "2",
    "triggerSource": "TokenGeneration_Authentication",
    "region": "eu-west-1",
    "userPoolId": "eu-west-1_AbCdEfGhI",
    "userName": "3f6b1c2e-0d6a-4a59-9a9f-2c4f1b7d9e10",
    "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "4tq1k2example9client7id"},
    "request": {
        "userAttributes": {
            "sub": "3f6b1c2e-0d6a-4a59-9a9f-2c4f1b7d9e10",
            "cognito:user_status": "CONFIRMED",
            "email_verified": "true",
            "email": "ada@tenant-a.example",
            "custom:tenant_id": "tenant-a",
        },
        "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None},
        "scopes": ["aws.cognito.signin.user.admin"],
    },
    "response": {"claimsAndScopeOverrideDetails": None},
}


def event(groups=(), scopes=None, attributes=None, trigger="TokenGeneration_Authentication"):
    e = copy.deepcopy(V2_EVENT)
    e["triggerSource"] = trigger
    e["request"]["groupConfiguration"]["groupsToOverride"] = list(groups)
    if scopes is not None:
        e["request"]["scopes"] = list(scopes)
    if attributes is not None:
        e["request"]["userAttributes"] = attributes
    return e


SPA_CLIENT = "4tq1k2example9client7id"
ALB_CLIENT = "alb0example0client0id000"
# The app clients' AllowedOAuthScopes, as the identity stack configures them.
CLIENT_SCOPES = {
    SPA_CLIENT: frozenset({"openid", "email", "profile", *(q(s) for s in auth_contract.USER_SCOPES)}),
    ALB_CLIENT: frozenset({"openid", "email", q(auth_contract.ITEMS_READ)}),
}


class FakeDirectory:
    """The tenants table and the clients' allowed scopes, in memory; counts what was looked up."""

    def __init__(self, tenants=None, links=None):
        self.tenants = {"tenant-a": auth_contract.TENANT_ACTIVE, **(tenants or {})}
        self.links = dict(links or {})
        self.client_lookups = []

    def tenant_status(self, tenant):
        return self.tenants.get(tenant)

    def linked_tenant(self, sub):
        return self.links.get(sub)

    def client_scopes(self, pool_id, client_id):
        self.client_lookups.append((pool_id, client_id))
        return CLIENT_SCOPES.get(client_id, frozenset())


@pytest.fixture(autouse=True)
def resource_server(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", RESOURCE_SERVER)
    monkeypatch.delenv("FEDERATED_TENANTS", raising=False)


@pytest.fixture
def directory():
    return FakeDirectory()


def details(e, directory=None):
    return handler.lambda_handler(e, None, directory or FakeDirectory())["response"]["claimsAndScopeOverrideDetails"]


@pytest.mark.parametrize(
    ("role", "scopes"),
    [
        (auth_contract.VIEWER, [auth_contract.ITEMS_READ]),
        (auth_contract.EDITOR, [auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE]),
        (auth_contract.ADMIN, [auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE, auth_contract.ADMIN_SCOPE]),
    ],
)
def test_each_role_gets_exactly_its_api_scopes_in_the_access_token(role, scopes):
    access = details(event(groups=[role]))["accessTokenGeneration"]
    assert access["scopesToAdd"] == sorted(q(s) for s in scopes)
    assert access["scopesToSuppress"] == []


@pytest.mark.parametrize("role", auth_contract.TENANT_ROLES)
def test_tenant_and_roles_go_into_both_tokens(role):
    result = details(event(groups=[role]))
    expected = {"tenant_id": "tenant-a", "roles": [role]}
    assert result["idTokenGeneration"]["claimsToAddOrOverride"] == expected
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"] == expected


def test_user_without_a_group_gets_no_api_scope_and_no_roles():
    result = details(event(groups=[]))
    assert result["accessTokenGeneration"]["scopesToAdd"] == []
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"]["roles"] == []


def test_several_groups_grant_the_union_of_their_scopes_and_unknown_groups_grant_nothing():
    result = details(event(groups=["viewer", "editor", "us-east-1_Google", "auditors"]))
    access = result["accessTokenGeneration"]
    assert access["claimsToAddOrOverride"]["roles"] == ["viewer", "editor"]
    assert access["scopesToAdd"] == sorted([q(auth_contract.ITEMS_READ), q(auth_contract.ITEMS_WRITE)])


def test_scopes_already_granted_by_the_oauth_flow_are_not_added_twice():
    e = event(
        groups=["editor"], scopes=["openid", "email", q(auth_contract.ITEMS_READ)], trigger="TokenGeneration_HostedAuth"
    )
    assert details(e)["accessTokenGeneration"]["scopesToAdd"] == [q(auth_contract.ITEMS_WRITE)]


def test_api_scopes_requested_beyond_the_users_roles_are_suppressed():
    requested = ["openid", q(auth_contract.ITEMS_READ), q(auth_contract.ITEMS_WRITE), q(auth_contract.ADMIN_SCOPE)]
    access = details(event(groups=["viewer"], scopes=requested, trigger="TokenGeneration_HostedAuth"))[
        "accessTokenGeneration"
    ]
    assert access["scopesToSuppress"] == sorted([q(auth_contract.ITEMS_WRITE), q(auth_contract.ADMIN_SCOPE)])
    assert access["scopesToAdd"] == []


def test_machine_scope_is_never_granted_to_a_user():
    access = details(event(groups=list(auth_contract.TENANT_ROLES)))["accessTokenGeneration"]
    assert q(auth_contract.EVENTS_WRITE) not in access["scopesToAdd"]
    requested = details(event(groups=["admin"], scopes=[q(auth_contract.EVENTS_WRITE)]))["accessTokenGeneration"]
    assert requested["scopesToSuppress"] == [q(auth_contract.EVENTS_WRITE)]


def test_refresh_gets_the_same_customization():
    assert details(event(groups=["editor"], trigger="TokenGeneration_RefreshTokens")) == details(
        event(groups=["editor"])
    )


# ---------------------------------------------------------------------- the calling client's scopes (#12.6)


def client_event(client_id, groups, scopes=None):
    e = event(groups=groups, scopes=scopes, trigger="TokenGeneration_HostedAuth")
    e["callerContext"]["clientId"] = client_id
    return e


@pytest.mark.parametrize(
    ("client_id", "role", "granted"),
    [
        (
            SPA_CLIENT,
            auth_contract.ADMIN,
            [auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE, auth_contract.ADMIN_SCOPE],
        ),
        (SPA_CLIENT, auth_contract.VIEWER, [auth_contract.ITEMS_READ]),
        (ALB_CLIENT, auth_contract.ADMIN, [auth_contract.ITEMS_READ]),
        (ALB_CLIENT, auth_contract.EDITOR, [auth_contract.ITEMS_READ]),
        (ALB_CLIENT, auth_contract.VIEWER, [auth_contract.ITEMS_READ]),
        ("unknown-client", auth_contract.ADMIN, []),
    ],
    ids=["spa-admin", "spa-viewer", "alb-admin", "alb-editor", "alb-viewer", "unknown-client"],
)
def test_a_token_gets_the_intersection_of_the_roles_scopes_and_the_clients(client_id, role, granted):
    access = details(client_event(client_id, [role], scopes=["openid", "email"]))["accessTokenGeneration"]
    assert access["scopesToAdd"] == sorted(q(s) for s in granted)


def test_the_alb_client_never_carries_write_or_admin_even_when_requested():
    requested = ["openid", q(auth_contract.ITEMS_READ), q(auth_contract.ITEMS_WRITE), q(auth_contract.ADMIN_SCOPE)]
    access = details(client_event(ALB_CLIENT, [auth_contract.ADMIN], scopes=requested))["accessTokenGeneration"]
    assert access["scopesToAdd"] == []
    assert access["scopesToSuppress"] == sorted([q(auth_contract.ITEMS_WRITE), q(auth_contract.ADMIN_SCOPE)])


def test_the_client_is_looked_up_in_the_events_pool(directory):
    details(client_event(ALB_CLIENT, [auth_contract.VIEWER]), directory)
    assert directory.client_lookups == [(V2_EVENT["userPoolId"], ALB_CLIENT)]


def test_a_user_with_no_scope_to_grant_needs_no_client_lookup(directory):
    details(event(groups=[]), directory)
    assert directory.client_lookups == []


# ---------------------------------------------------------------------- tenants: suspended, unknown, linked


def test_a_suspended_tenants_users_get_no_tokens():
    directory = FakeDirectory(tenants={"tenant-a": auth_contract.TENANT_SUSPENDED})
    with pytest.raises(handler.SuspendedTenantError, match="your tenant is suspended"):
        handler.lambda_handler(event(groups=["admin"]), None, directory)


@pytest.mark.parametrize("trigger", ["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens"])
def test_a_tenant_suspended_after_sign_in_gets_no_refreshed_tokens(trigger):
    directory = FakeDirectory(tenants={"tenant-a": auth_contract.TENANT_SUSPENDED})
    with pytest.raises(handler.SignInRefused):
        handler.lambda_handler(event(groups=["viewer"], trigger=trigger), None, directory)


def test_a_tenant_missing_from_the_tenants_table_gets_no_tokens():
    attributes = {**V2_EVENT["request"]["userAttributes"], "custom:tenant_id": "never-created"}
    with pytest.raises(handler.UnknownTenantError, match="does not exist"):
        handler.lambda_handler(event(groups=["admin"], attributes=attributes), None, FakeDirectory())


def test_a_user_linked_in_the_tenants_table_gets_that_tenant_and_their_roles():
    sub = "0c1d2e3f-0000-4000-8000-00000000aaaa"
    directory = FakeDirectory(links={sub: "tenant-a"})
    result = details(event(groups=["editor"], attributes={"sub": sub, "email": "s@example.com"}), directory)
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"] == {"tenant_id": "tenant-a", "roles": ["editor"]}


# ---------------------------------------------------------------------- waiting for an invitation (#12.7, #13.5)


@pytest.mark.parametrize(
    "attributes",
    [
        {"sub": "x", "email": "nobody@example.com"},
        {"sub": "x", "custom:tenant_id": ""},
        {"sub": "x", "custom:tenant_id": "   "},
    ],
    ids=["absent", "empty", "blank"],
)
def test_a_user_without_a_tenant_gets_tokens_with_no_tenant_no_role_and_no_api_scope(attributes):
    requested = ["openid", q(auth_contract.ITEMS_READ), q(auth_contract.ADMIN_SCOPE)]
    result = details(event(groups=["admin"], attributes=attributes, scopes=requested))
    for kind in ("idTokenGeneration", "accessTokenGeneration"):
        assert result[kind]["claimsToAddOrOverride"] == {"roles": []}
    access = result["accessTokenGeneration"]
    assert access["scopesToAdd"] == []
    assert access["scopesToSuppress"] == sorted([q(auth_contract.ITEMS_READ), q(auth_contract.ADMIN_SCOPE)])


# ---------------------------------------------------------------------- platform operators


def test_a_platform_operator_gets_the_platform_scope_and_no_tenant():
    result = details(event(groups=[auth_contract.PLATFORM_OPERATOR], attributes={"sub": "op", "email": "op@x.io"}))
    access = result["accessTokenGeneration"]
    assert access["claimsToAddOrOverride"] == {"roles": [auth_contract.PLATFORM_OPERATOR]}
    assert access["scopesToAdd"] == [q(auth_contract.PLATFORM_SCOPE)]


def test_an_operator_in_a_tenant_acts_only_as_operator():
    result = details(event(groups=[auth_contract.PLATFORM_OPERATOR, auth_contract.ADMIN]))
    access = result["accessTokenGeneration"]
    assert access["claimsToAddOrOverride"] == {"roles": [auth_contract.PLATFORM_OPERATOR]}
    assert access["scopesToAdd"] == [q(auth_contract.PLATFORM_SCOPE)]


def test_the_platform_scope_is_never_granted_to_a_tenant_role():
    requested = [q(auth_contract.PLATFORM_SCOPE)]
    access = details(event(groups=list(auth_contract.TENANT_ROLES), scopes=requested))["accessTokenGeneration"]
    assert q(auth_contract.PLATFORM_SCOPE) not in access["scopesToAdd"]
    assert access["scopesToSuppress"] == [q(auth_contract.PLATFORM_SCOPE)]


def test_the_alb_client_gives_an_operator_no_scope():
    access = details(client_event(ALB_CLIENT, [auth_contract.PLATFORM_OPERATOR]))["accessTokenGeneration"]
    assert access["scopesToAdd"] == []


# ---------------------------------------------------------------------- federated users (#12.4)

OIDC_TENANTS = json.dumps({"Okta": "okta-tenant"})


def federated_event(provider="Okta", user_name="okta_00u1abcd", attributes=None, groups=("viewer",)):
    e = event(groups=list(groups))
    e["userName"] = user_name
    e["request"]["userAttributes"] = {
        "sub": "6a1b2c3d-0000-4000-8000-000000000001",
        "email": "grace@okta.example",
        "identities": json.dumps(
            [
                {
                    "userId": "00u1abcd",
                    "providerName": provider,
                    "providerType": "OIDC" if provider == "Okta" else provider,
                    "issuer": None,
                    "primary": True,
                    "dateCreated": 1764370000000,
                }
            ]
        ),
        **(attributes or {}),
    }
    return e


def okta_directory():
    return FakeDirectory(tenants={"okta-tenant": auth_contract.TENANT_ACTIVE})


@pytest.mark.parametrize("user_name", ["okta_00u1abcd", "Okta_00u1abcd", "OKTA_00u1abcd"])
def test_an_enterprise_oidc_user_gets_the_one_tenant_its_provider_is_configured_for(monkeypatch, user_name):
    """Cognito stores federated user names in lower case (`okta_...`): the prefix is compared without case."""
    monkeypatch.setenv("FEDERATED_TENANTS", OIDC_TENANTS)
    result = details(federated_event(user_name=user_name), okta_directory())
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "okta-tenant"
    assert result["idTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "okta-tenant"


@pytest.mark.parametrize(
    ("provider", "user_name"),
    [("Google", "google_1234"), ("Facebook", "facebook_1234"), ("Okta", "google_00u1abcd"), ("Okta", "00u1abcd")],
    ids=["google", "facebook", "name-of-another-provider", "name-without-prefix"],
)
def test_a_social_or_inconsistent_federated_user_waits_for_an_invitation(monkeypatch, provider, user_name):
    monkeypatch.setenv("FEDERATED_TENANTS", OIDC_TENANTS)
    result = details(federated_event(provider, user_name), okta_directory())
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"] == {"roles": []}
    assert result["accessTokenGeneration"]["scopesToAdd"] == []


def test_a_linked_google_user_gets_the_tenant_a_tenant_admin_linked_them_to(monkeypatch):
    monkeypatch.setenv("FEDERATED_TENANTS", OIDC_TENANTS)
    e = federated_event("Google", "google_1234", groups=["editor"])
    directory = FakeDirectory(links={e["request"]["userAttributes"]["sub"]: "tenant-a"})
    result = details(e, directory)
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"] == {"tenant_id": "tenant-a", "roles": ["editor"]}


@pytest.mark.parametrize("identities", ["not json", "{}", "[]", '[{"providerName":"Okta"},{"providerName":"Google"}]'])
def test_malformed_identities_never_grant_a_tenant(monkeypatch, identities):
    monkeypatch.setenv("FEDERATED_TENANTS", OIDC_TENANTS)
    e = federated_event()
    e["request"]["userAttributes"]["identities"] = identities
    assert details(e, okta_directory())["accessTokenGeneration"]["claimsToAddOrOverride"] == {"roles": []}


def test_a_native_users_immutable_tenant_wins_over_any_provider(monkeypatch):
    monkeypatch.setenv("FEDERATED_TENANTS", OIDC_TENANTS)
    e = federated_event(attributes={"custom:tenant_id": "tenant-a"})
    assert details(e, okta_directory())["idTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "tenant-a"


def test_the_event_is_returned_with_only_the_response_filled_in():
    e = event(groups=["viewer"])
    result = handler.lambda_handler(copy.deepcopy(e), None, FakeDirectory())
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in e.items() if k != "response"}
    assert set(result["response"]["claimsAndScopeOverrideDetails"]) == {"idTokenGeneration", "accessTokenGeneration"}


# Each field the trigger reads (Powertools' data class indexes most of them directly), and the
# empty value a missing or null one must read as.
EMPTY_FIELDS = {
    "request": {},
    "request.userAttributes": {},
    "request.groupConfiguration": {},
    "request.groupConfiguration.groupsToOverride": [],
    "request.scopes": [],
    "callerContext": {},
    "callerContext.clientId": "",
    "userPoolId": "",
    "userName": "",
    "triggerSource": "",
    "response": {},
    "response.claimsAndScopeOverrideDetails": None,
}


def with_field(e, field, value):
    *parents, name = field.split(".")
    target = e
    for parent in parents:
        target = target[parent]
    if value == "absent":
        del target[name]
    else:
        target[name] = value
    return e


@pytest.mark.parametrize("value", ["absent", None])
@pytest.mark.parametrize("field", list(EMPTY_FIELDS))
def test_a_missing_or_null_field_reads_as_empty_and_raises_nothing(field, value):
    requested = ["openid", q(auth_contract.ITEMS_READ), q(auth_contract.ADMIN_SCOPE)]
    as_empty = details(with_field(event(groups=["editor"], scopes=requested), field, EMPTY_FIELDS[field]))
    assert details(with_field(event(groups=["editor"], scopes=requested), field, value)) == as_empty


@pytest.mark.parametrize("value", ["absent", None])
@pytest.mark.parametrize("field", ["callerContext", "request.groupConfiguration", "userPoolId", "response"])
def test_a_suspended_tenant_is_still_refused_whatever_field_is_missing(field, value):
    directory = FakeDirectory(tenants={"tenant-a": auth_contract.TENANT_SUSPENDED})
    with pytest.raises(handler.SuspendedTenantError, match="your tenant is suspended"):
        handler.lambda_handler(with_field(event(groups=["admin"]), field, value), None, directory)


def test_the_response_holds_only_the_answer_whatever_came_in():
    e = event(groups=["viewer"])
    e["response"]["claimsAndScopeOverrideDetails"] = {"groupOverrideDetails": {"groupsToOverride": ["admin"]}}
    assert set(details(e)) == {"idTokenGeneration", "accessTokenGeneration"}


# ---------------------------------------------------------------------- the real lookups, against moto


def test_the_aws_directory_reads_the_tenants_table_and_caches_the_clients_scopes(monkeypatch):
    import boto3
    from moto import mock_aws

    from shared import tenants

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="tenants",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv(tenants.TABLE_ENV, "tenants")
        tenants.tenants_table.cache_clear()
        table = tenants.tenants_table()
        table.create_tenant("tenant-a", "Tenant A")
        table.add_member("tenant-a", sub="linked-sub", username="google_1", email=None, role="viewer")
        cognito = boto3.client("cognito-idp")
        pool = cognito.create_user_pool(PoolName="pool")["UserPool"]["Id"]
        cognito.create_resource_server(
            UserPoolId=pool,
            Identifier=RESOURCE_SERVER,
            Name="api",
            Scopes=[{"ScopeName": "items.read", "ScopeDescription": "r"}],
        )
        client = cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName="alb",
            AllowedOAuthFlows=["code"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", q(auth_contract.ITEMS_READ)],
            CallbackURLs=["https://app.example/cb"],
        )["UserPoolClient"]["ClientId"]

        directory = handler.AwsDirectory()
        assert directory.tenant_status("tenant-a") == auth_contract.TENANT_ACTIVE
        assert directory.tenant_status("nope") is None
        assert directory.linked_tenant("linked-sub") == "tenant-a"
        assert directory.client_scopes(pool, client) == {"openid", q(auth_contract.ITEMS_READ)}
        cognito.update_user_pool_client(UserPoolId=pool, ClientId=client, AllowedOAuthScopes=["openid"])
        assert directory.client_scopes(pool, client) == {"openid", q(auth_contract.ITEMS_READ)}  # cached
        tenants.tenants_table.cache_clear()
