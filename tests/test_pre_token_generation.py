"""Pre-token-generation trigger (V2): tenant and roles in both tokens, API scopes from roles."""

from __future__ import annotations

import copy

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


@pytest.fixture(autouse=True)
def resource_server(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", RESOURCE_SERVER)


def details(e):
    return handler.lambda_handler(e, None)["response"]["claimsAndScopeOverrideDetails"]


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


@pytest.mark.parametrize("role", auth_contract.ROLES)
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
    access = details(event(groups=list(auth_contract.ROLES)))["accessTokenGeneration"]
    assert q(auth_contract.EVENTS_WRITE) not in access["scopesToAdd"]
    requested = details(event(groups=["admin"], scopes=[q(auth_contract.EVENTS_WRITE)]))["accessTokenGeneration"]
    assert requested["scopesToSuppress"] == [q(auth_contract.EVENTS_WRITE)]


def test_refresh_gets_the_same_customization():
    assert details(event(groups=["editor"], trigger="TokenGeneration_RefreshTokens")) == details(
        event(groups=["editor"])
    )


@pytest.mark.parametrize(
    "attributes",
    [
        {"sub": "x", "email": "nobody@example.com"},
        {"sub": "x", "custom:tenant_id": ""},
        {"sub": "x", "custom:tenant_id": "   "},
    ],
    ids=["absent", "empty", "blank"],
)
def test_user_without_a_tenant_gets_no_tokens(attributes):
    with pytest.raises(handler.MissingTenantError, match="not assigned to a tenant"):
        handler.lambda_handler(event(groups=["admin"], attributes=attributes), None)


FEDERATED_TENANTS = '{"Google": "google-users", "Okta": "okta-tenant"}'


def federated_event(provider="Okta", user_name="Okta_00u1abcd", attributes=None):
    e = event(groups=["viewer"])
    e["userName"] = user_name
    e["request"]["userAttributes"] = {
        "sub": "6a1b2c3d-0000-4000-8000-000000000001",
        "email": "grace@okta.example",
        "identities": (
            f'[{{"userId":"00u1abcd","providerName":"{provider}","providerType":"OIDC",'
            '"issuer":null,"primary":true,"dateCreated":1764370000000}]'
        ),
        **(attributes or {}),
    }
    return e


def test_federated_user_gets_the_tenant_its_identity_provider_is_configured_for(monkeypatch):
    monkeypatch.setenv("FEDERATED_TENANTS", FEDERATED_TENANTS)
    result = details(federated_event())
    assert result["accessTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "okta-tenant"
    assert result["idTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "okta-tenant"


@pytest.mark.parametrize(
    ("provider", "user_name"),
    [("Facebook", "Facebook_123"), ("Okta", "Google_123"), ("Okta", "okta_00u1abcd")],
    ids=["provider-without-tenant", "name-of-another-provider", "name-not-matching-case"],
)
def test_federated_user_of_an_unconfigured_or_inconsistent_provider_gets_no_tokens(monkeypatch, provider, user_name):
    monkeypatch.setenv("FEDERATED_TENANTS", FEDERATED_TENANTS)
    with pytest.raises(handler.MissingTenantError):
        handler.lambda_handler(federated_event(provider, user_name), None)


@pytest.mark.parametrize("identities", ["not json", "{}", "[]", '[{"providerName":"Okta"},{"providerName":"Google"}]'])
def test_malformed_identities_never_grant_a_tenant(monkeypatch, identities):
    monkeypatch.setenv("FEDERATED_TENANTS", FEDERATED_TENANTS)
    e = federated_event()
    e["request"]["userAttributes"]["identities"] = identities
    with pytest.raises(handler.MissingTenantError):
        handler.lambda_handler(e, None)


def test_a_native_users_immutable_tenant_wins_over_any_provider(monkeypatch):
    monkeypatch.setenv("FEDERATED_TENANTS", FEDERATED_TENANTS)
    e = federated_event(attributes={"custom:tenant_id": "tenant-a"})
    assert details(e)["idTokenGeneration"]["claimsToAddOrOverride"]["tenant_id"] == "tenant-a"


def test_no_federated_tenants_configured_means_federated_users_get_no_tokens(monkeypatch):
    monkeypatch.delenv("FEDERATED_TENANTS", raising=False)
    with pytest.raises(handler.MissingTenantError):
        handler.lambda_handler(federated_event(), None)


def test_the_event_is_returned_with_only_the_response_filled_in():
    e = event(groups=["viewer"])
    result = handler.lambda_handler(copy.deepcopy(e), None)
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in e.items() if k != "response"}
    assert set(result["response"]["claimsAndScopeOverrideDetails"]) == {"idTokenGeneration", "accessTokenGeneration"}
