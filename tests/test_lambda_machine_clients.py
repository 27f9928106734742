"""/tenants/{tenantId}/machine-clients: a tenant's admin (or a platform operator) creates, lists, rotates
and deletes the tenant's machine clients; nobody else, and never another tenant's."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from machine_clients import handler, logic
from moto import mock_aws

import auth_contract
from local.client_secrets import ClientSecrets
from local.directory import AppClient
from shared import machine_clients, revocation
from shared.claims import Identity
from tests.api_events import (
    REGION,
    RESOURCE_SERVER,
    TENANTS_TABLE_NAME,
    LambdaContext,
    User,
    access_claims,
    create_tenants_table,
    http_event,
    jwt_authorizer,
    machine_claims,
    put_tenant_profile,
    qualified,
    response_json,
)

COLLECTION = "/tenants/{tenantId}/machine-clients"
ONE = "/tenants/{tenantId}/machine-clients/{clientId}"
ROTATE = "/tenants/{tenantId}/machine-clients/{clientId}/rotate"
REVOCATION_TABLE = "jwt-auth-test-revocation"
TOKEN_MINUTES = 15
ACME_ADMIN = User("alice", "acme", (auth_contract.ADMIN,))
GLOBEX_ADMIN = User("gloria", "globex", (auth_contract.ADMIN,))


class CognitoWithSecrets:
    """moto's Cognito client plus the secret operations moto 5.2.5 lacks (as the local issuer answers them)."""

    def __init__(self, cognito) -> None:
        self._cognito = cognito
        self.secrets = ClientSecrets(time.time)

    def __getattr__(self, name):
        return getattr(self._cognito, name)

    def app_client(self, pool_id: str, client_id: str) -> AppClient:
        raw = self._cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        return AppClient(pool_id=pool_id, raw=raw)

    def add_user_pool_client_secret(self, *, UserPoolId, ClientId, ClientSecret=None):
        return {"ClientSecretDescriptor": self.secrets.add(self.app_client(UserPoolId, ClientId), ClientSecret)}

    def list_user_pool_client_secrets(self, *, UserPoolId, ClientId):
        return {"ClientSecrets": self.secrets.list(self.app_client(UserPoolId, ClientId))}

    def delete_user_pool_client_secret(self, *, UserPoolId, ClientId, ClientSecretId):
        self.secrets.delete(self.app_client(UserPoolId, ClientId), ClientSecretId)
        return {}

    def active_secrets(self, pool_id: str, client_id: str) -> list[str]:
        return self.secrets.active(self.app_client(pool_id, client_id))


@dataclasses.dataclass
class World:
    cognito: CognitoWithSecrets
    pool_id: str
    tenants: object
    revocations: object


@pytest.fixture
def world(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
        machine_clients.TABLE_ENV: TENANTS_TABLE_NAME,
        revocation.TABLE_ENV: REVOCATION_TABLE,
        revocation.TTL_ENV: str(TOKEN_MINUTES * 60),
    }.items():
        monkeypatch.setenv(name, value)
    machine_clients.machine_client_records.cache_clear()
    revocation.revocation_store.cache_clear()
    with mock_aws():
        cognito = CognitoWithSecrets(boto3.client("cognito-idp", region_name=REGION))
        pool_id = cognito.create_user_pool(PoolName="test")["UserPool"]["Id"]
        cognito.create_resource_server(
            UserPoolId=pool_id,
            Identifier=RESOURCE_SERVER,
            Name="api",
            Scopes=[{"ScopeName": name, "ScopeDescription": text} for name, text in auth_contract.API_SCOPES.items()],
        )
        tenants = create_tenants_table()
        for tenant in ("acme", "globex"):
            put_tenant_profile(tenants, tenant)
        revocations = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName=REVOCATION_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        operations = logic.MachineClients(
            cognito=cognito,
            user_pool_id=pool_id,
            records=machine_clients.machine_client_records(),
            revocations=revocation.revocation_store(),
            resource_server=RESOURCE_SERVER,
            access_token_minutes=TOKEN_MINUTES,
        )
        monkeypatch.setattr(handler, "machine_clients", lambda: operations)
        yield World(cognito=cognito, pool_id=pool_id, tenants=tenants, revocations=revocations)
    machine_clients.machine_client_records.cache_clear()
    revocation.revocation_store.cache_clear()


def call(method: str, route: str, claims: dict, tenant: str, client_id: str | None = None, body=None) -> dict:
    path = route.replace("{tenantId}", tenant).replace("{clientId}", client_id or "")
    parameters = {"tenantId": tenant, **({"clientId": client_id} if client_id else {})}
    event = http_event(method, route, path, authorizer=jwt_authorizer(claims), path_parameters=parameters, body=body)
    return handler.lambda_handler(event, LambdaContext())


def create(world: World, user: User = ACME_ADMIN, tenant: str = "acme", name: str = "billing") -> dict:
    return call("POST", COLLECTION, access_claims(user), tenant, body={"name": name})


# --------------------------------------------------------------------------- create


def test_tenant_admin_creates_a_client_credentials_only_client_and_gets_its_secret_once(world, caplog):
    caplog.set_level(logging.INFO)
    response = create(world)
    assert response["statusCode"] == 201
    assert response["headers"]["Cache-Control"] == "no-store"
    created = response_json(response)
    assert created["tenant"] == "acme" and created["name"] == "billing" and created["created_by"] == "alice"
    assert created["scopes"] == qualified(*auth_contract.MACHINE_SCOPES)
    assert response["headers"]["Location"] == f"/tenants/acme/machine-clients/{created['client_id']}"

    client = world.cognito.describe_user_pool_client(UserPoolId=world.pool_id, ClientId=created["client_id"])
    client = client["UserPoolClient"]
    assert client["ClientSecret"] == created["client_secret"]
    assert client["AllowedOAuthFlows"] == ["client_credentials"] and client["AllowedOAuthFlowsUserPoolClient"]
    assert client["AllowedOAuthScopes"] == qualified(*auth_contract.MACHINE_SCOPES)
    assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]  # no user sign-in flow
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["AccessTokenValidity"] == TOKEN_MINUTES
    assert client["TokenValidityUnits"]["AccessToken"] == "minutes"

    records = machine_clients.MachineClientRecords(world.tenants)
    assert records.tenant_of(created["client_id"]) == "acme"
    # The secret is returned, never stored or logged.
    stored = json.dumps(world.tenants.scan()["Items"], default=str)
    assert created["client_secret"] not in stored
    assert created["client_secret"] not in caplog.text


def test_list_shows_the_tenants_clients_without_secrets(world):
    first = response_json(create(world, name="billing"))
    second = response_json(create(world, name="crm"))
    response_json(create(world, GLOBEX_ADMIN, "globex", name="other"))
    listed = response_json(call("GET", COLLECTION, access_claims(ACME_ADMIN), "acme"))
    assert listed["tenant"] == "acme"
    assert sorted(c["client_id"] for c in listed["machine_clients"]) == sorted(
        [first["client_id"], second["client_id"]]
    )
    assert all("client_secret" not in c for c in listed["machine_clients"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name: required"),
        ({"name": ""}, "name: must be 1 to 64 characters long"),
        ({"name": "has spaces"}, "name: must match"),
        ({"name": "ok", "scopes": ["admin"]}, "scopes: unknown field"),
    ],
)
def test_a_bad_body_is_refused_with_400_and_nothing_created(world, body, message):
    response = call("POST", COLLECTION, access_claims(ACME_ADMIN), "acme", body=body)
    assert response["statusCode"] == 400 and message in response_json(response)["message"]
    assert world.cognito.list_user_pool_clients(UserPoolId=world.pool_id, MaxResults=60)["UserPoolClients"] == []


def test_no_client_for_a_tenant_that_does_not_exist_or_is_suspended(world):
    put_tenant_profile(world.tenants, "acme", auth_contract.TENANT_SUSPENDED)
    assert create(world)["statusCode"] == 404
    operator = Identity("op", "op", None, frozenset({auth_contract.PLATFORM_OPERATOR}), frozenset(), None, "access")
    with pytest.raises(logic.NotFound):
        handler.machine_clients().create(operator, "initech", {"name": "x"})
    assert world.cognito.list_user_pool_clients(UserPoolId=world.pool_id, MaxResults=60)["UserPoolClients"] == []


def test_a_tenant_may_hold_only_a_few_clients(world):
    for index in range(logic.MAX_CLIENTS_PER_TENANT):
        assert create(world, name=f"c{index}")["statusCode"] == 201
    assert create(world, name="one-too-many")["statusCode"] == 409


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize(
    "claims",
    [
        access_claims(GLOBEX_ADMIN),  # another tenant's admin
        access_claims(User("ed", "acme", (auth_contract.EDITOR,))),
        access_claims(User("vi", "acme", (auth_contract.VIEWER,))),
        access_claims(User("alice", "acme", (auth_contract.ADMIN,)), scopes=(auth_contract.ITEMS_READ,)),
        machine_claims(tenant="acme"),
        access_claims(User("nobody", None, (auth_contract.ADMIN,))),  # an admin of no tenant
    ],
    ids=["other-tenant-admin", "editor", "viewer", "admin-without-admin-scope", "machine", "tenant-less-admin"],
)
def test_only_the_tenants_admin_may_create_list_rotate_or_delete(world, claims):
    existing = response_json(create(world))["client_id"]
    for method, route, client_id, body in (
        ("POST", COLLECTION, None, {"name": "x"}),
        ("GET", COLLECTION, None, None),
        ("POST", ROTATE, existing, None),
        ("DELETE", ONE, existing, None),
    ):
        response = call(method, route, claims, "acme", client_id, body)
        assert response["statusCode"] == 403, (method, route)
        assert response_json(response) == {"message": "Forbidden"}
    listed = response_json(call("GET", COLLECTION, access_claims(ACME_ADMIN), "acme"))["machine_clients"]
    assert [c["client_id"] for c in listed] == [existing]


def test_the_tenant_is_the_decoded_path_parameter_not_the_raw_path(world):
    event = http_event(
        "GET",
        COLLECTION,
        "/tenants/acme/machine-clients",
        authorizer=jwt_authorizer(access_claims(ACME_ADMIN)),
        path_parameters={"tenantId": "globex"},
    )
    assert handler.lambda_handler(event, LambdaContext())["statusCode"] == 403


def test_a_platform_operator_may_manage_any_tenant_and_a_tenant_admin_only_their_own():
    def identity(roles, scopes, tenant=None):
        return Identity("s", "u", tenant, frozenset(roles), frozenset(scopes), "spa", "access")

    operator = identity({auth_contract.PLATFORM_OPERATOR}, {auth_contract.PLATFORM_SCOPE})
    for tenant in ("acme", "globex"):
        logic.require_manager(operator, tenant)
    logic.require_manager(identity({auth_contract.ADMIN}, {auth_contract.ADMIN_SCOPE}, "acme"), "acme")
    for refused in (
        identity({auth_contract.PLATFORM_OPERATOR}, set()),  # the role without its scope
        identity(set(), {auth_contract.PLATFORM_SCOPE}),  # the scope without the role
        identity({auth_contract.ADMIN}, {auth_contract.ADMIN_SCOPE}, "globex"),
    ):
        with pytest.raises(logic.Forbidden):
            logic.require_manager(refused, "acme")


# --------------------------------------------------------------------------- rotate and delete


def test_rotation_keeps_the_client_id_replaces_the_secret_and_revokes_earlier_tokens(world):
    created = response_json(create(world))
    client_id = created["client_id"]
    before = int(time.time())
    response = call("POST", ROTATE, access_claims(ACME_ADMIN), "acme", client_id)
    assert response["statusCode"] == 200 and response["headers"]["Cache-Control"] == "no-store"
    rotated = response_json(response)
    assert rotated["client_id"] == client_id and rotated["client_secret"] != created["client_secret"]
    assert world.cognito.active_secrets(world.pool_id, client_id) == [rotated["client_secret"]]
    revoked = world.revocations.get_item(Key={"pk": f"CLIENT#{client_id}"})["Item"]
    assert revoked["not_before"] >= before
    listed = response_json(call("GET", COLLECTION, access_claims(ACME_ADMIN), "acme"))["machine_clients"]
    assert listed[0]["rotated_at"] == rotated["rotated_at"]


def test_rotation_after_one_cut_short_still_leaves_only_the_new_secret(world):
    client_id = response_json(create(world))["client_id"]
    world.cognito.add_user_pool_client_secret(UserPoolId=world.pool_id, ClientId=client_id)  # two secrets now
    rotated = response_json(call("POST", ROTATE, access_claims(ACME_ADMIN), "acme", client_id))
    assert world.cognito.active_secrets(world.pool_id, client_id) == [rotated["client_secret"]]


def test_delete_removes_the_cognito_client_its_items_and_revokes_its_tokens(world):
    client_id = response_json(create(world))["client_id"]
    response = call("DELETE", ONE, access_claims(ACME_ADMIN), "acme", client_id)
    assert response["statusCode"] == 204
    with pytest.raises(ClientError):
        world.cognito.describe_user_pool_client(UserPoolId=world.pool_id, ClientId=client_id)
    assert machine_clients.MachineClientRecords(world.tenants).tenant_of(client_id) is None
    assert "Item" in world.revocations.get_item(Key={"pk": f"CLIENT#{client_id}"})
    assert call("DELETE", ONE, access_claims(ACME_ADMIN), "acme", client_id)["statusCode"] == 404


def test_another_tenants_client_id_under_your_own_tenant_is_not_found(world):
    theirs = response_json(create(world, GLOBEX_ADMIN, "globex"))["client_id"]
    for method, route in (("POST", ROTATE), ("DELETE", ONE)):
        response = call(method, route, access_claims(ACME_ADMIN), "acme", theirs)
        assert response["statusCode"] == 404
    assert machine_clients.MachineClientRecords(world.tenants).tenant_of(theirs) == "globex"
    assert world.cognito.describe_user_pool_client(UserPoolId=world.pool_id, ClientId=theirs)


@pytest.mark.parametrize("client_id", ["a/b", "x" * 129, "with space"])
def test_a_malformed_client_id_is_not_found(world, client_id):
    assert call("DELETE", ONE, access_claims(ACME_ADMIN), "acme", client_id)["statusCode"] == 404
