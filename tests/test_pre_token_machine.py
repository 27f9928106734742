"""Pre-token-generation trigger, client-credentials path (V3_0): a machine token carries its tenant or is refused."""

from __future__ import annotations

import copy

import pytest
from moto import mock_aws
from pre_token_generation import handler, machine

import auth_contract
from shared import machine_clients, tenants
from tests.api_events import (
    REGION,
    RESOURCE_SERVER,
    TENANTS_TABLE_NAME,
    create_tenants_table,
    put_tenant_profile,
    qualified,
)

CLIENT_ID = "7tenantclient000000000000a"

# The shape Cognito sends for a V3_0 event on a client-credentials grant (Cognito developer guide,
# "Pre token generation Lambda trigger"): no user, the client in callerContext, the scopes asked for.
V3_CLIENT_CREDENTIALS_EVENT = {
    "version": "3",
    "triggerSource": "TokenGeneration_ClientCredentials",
    "region": REGION,
    "userPoolId": f"{REGION}_TestPool1",
    "userName": None,
    "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": CLIENT_ID},
    "request": {
        "userAttributes": {},
        "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None},
        "scopes": qualified(auth_contract.EVENTS_WRITE),
    },
    "response": {"claimsAndScopeOverrideDetails": None},
}


def event(client_id: str = CLIENT_ID, scopes=None) -> dict:
    e = copy.deepcopy(V3_CLIENT_CREDENTIALS_EVENT)
    e["callerContext"]["clientId"] = client_id
    if scopes is not None:
        e["request"]["scopes"] = list(scopes)
    return e


@pytest.fixture
def table(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        machine_clients.TABLE_ENV: TENANTS_TABLE_NAME,
        "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
    }.items():
        monkeypatch.setenv(name, value)
    # The trigger's clients are made once per process: make them here, inside moto, not reuse one
    # an earlier test (a local stack in this process) made for another endpoint.
    caches = (machine_clients.machine_client_records, handler.aws_directory, tenants.tenants_table)
    for cache in caches:
        cache.cache_clear()
    with mock_aws():
        created = create_tenants_table()
        put_tenant_profile(created, "acme")
        machine_clients.MachineClientRecords(created).add(
            "acme", CLIENT_ID, name="billing", created_by="alice", created_at="2026-12-03T08:00:00+00:00"
        )
        yield created
    for cache in caches:
        cache.cache_clear()


def access_details(e: dict) -> dict:
    return handler.lambda_handler(e, None)["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]


def test_a_tenants_client_gets_the_tenant_claim(table):
    details = access_details(event())
    assert details["claimsToAddOrOverride"] == {auth_contract.TENANT_CLAIM: "acme"}
    assert details["scopesToSuppress"] == []


def test_the_answer_has_no_id_token_part_and_no_roles(table):
    answer = handler.lambda_handler(event(), None)["response"]["claimsAndScopeOverrideDetails"]
    assert set(answer) == {"accessTokenGeneration"}
    assert auth_contract.ROLES_CLAIM not in answer["accessTokenGeneration"]["claimsToAddOrOverride"]


def test_scopes_beyond_the_machine_scopes_are_suppressed(table):
    asked = qualified(auth_contract.EVENTS_WRITE, auth_contract.ADMIN_SCOPE, auth_contract.PLATFORM_MACHINE_SCOPE)
    details = access_details(event(scopes=asked))
    assert details["scopesToSuppress"] == sorted(
        qualified(auth_contract.ADMIN_SCOPE, auth_contract.PLATFORM_MACHINE_SCOPE)
    )


def test_an_unknown_client_gets_no_token(table):
    with pytest.raises(machine.MachineTokenRefused):
        handler.lambda_handler(event(client_id="8unknownclient00000000000"), None)


@pytest.mark.parametrize("status", [auth_contract.TENANT_SUSPENDED, "deleted", None])
def test_a_client_of_a_tenant_that_is_not_active_gets_no_token(table, status):
    if status is None:
        table.delete_item(Key={"pk": "TENANT#acme", "sk": auth_contract.TENANT_PROFILE_SORT_KEY})
    else:
        put_tenant_profile(table, "acme", status)
    with pytest.raises(machine.MachineTokenRefused):
        handler.lambda_handler(event(), None)


def test_a_removed_client_gets_no_token(table):
    machine_clients.MachineClientRecords(table).remove("acme", CLIENT_ID)
    with pytest.raises(machine.MachineTokenRefused):
        handler.lambda_handler(event(), None)


def test_the_platform_client_gets_a_token_without_tenant_for_platform_scopes_only(table):
    platform = "9platformclient0000000000"
    details = access_details(event(client_id=platform, scopes=qualified(auth_contract.PLATFORM_MACHINE_SCOPE)))
    assert "claimsToAddOrOverride" not in details
    assert details["claimsToSuppress"] == [auth_contract.TENANT_CLAIM]


@pytest.mark.parametrize(
    "scopes",
    [
        [],
        qualified(auth_contract.EVENTS_WRITE),
        qualified(auth_contract.PLATFORM_MACHINE_SCOPE, auth_contract.EVENTS_WRITE),
        [auth_contract.PLATFORM_MACHINE_SCOPE],  # unqualified: not this resource server's scope
    ],
)
def test_a_client_of_no_tenant_asking_for_a_tenant_scope_gets_no_token(table, scopes):
    with pytest.raises(machine.MachineTokenRefused):
        handler.lambda_handler(event(client_id="9platformclient0000000000", scopes=scopes), None)


@pytest.mark.parametrize("caller", [{}, {"clientId": ""}, {"clientId": None}])
def test_an_event_without_a_client_gets_no_token(table, caller):
    e = event()
    e["callerContext"] = caller
    with pytest.raises(machine.MachineTokenRefused):
        handler.lambda_handler(e, None)


def test_user_events_never_take_the_machine_path(table, monkeypatch):
    monkeypatch.setattr(machine, "lambda_handler", lambda *_: pytest.fail("machine path taken"))
    user_event = event()
    user_event["triggerSource"] = "TokenGeneration_Authentication"
    user_event["userName"] = "ada"
    user_event["request"]["userAttributes"] = {"sub": "s-1", auth_contract.TENANT_ATTRIBUTE_CLAIM: "acme"}
    answer = handler.lambda_handler(user_event, None)["response"]["claimsAndScopeOverrideDetails"]
    assert answer["accessTokenGeneration"]["claimsToAddOrOverride"][auth_contract.TENANT_CLAIM] == "acme"


@pytest.mark.parametrize("value", ["absent", None])
@pytest.mark.parametrize("field", ["request", "response", "userPoolId"])
def test_a_missing_or_null_field_reads_as_empty(table, field, value):
    """`request` absent or null: no scope asked for, so nothing to suppress; `response`: made."""
    e = event()
    if value == "absent":
        del e[field]
    else:
        e[field] = value
    details = access_details(e)
    assert details["claimsToAddOrOverride"] == {auth_contract.TENANT_CLAIM: "acme"}
    assert details["scopesToSuppress"] == []


def test_the_client_credentials_scopes_are_read_from_the_request(table):
    """Powertools' V2 event lists only user trigger sources, yet its `request.scopes` reads them here."""
    asked = qualified(auth_contract.EVENTS_WRITE, auth_contract.ITEMS_READ)
    assert access_details(event(scopes=asked))["scopesToSuppress"] == qualified(auth_contract.ITEMS_READ)
