"""The tenant lifecycle function: operators run tenants, a tenant admin runs their own tenant's
members, nobody reaches another tenant; every change lands in Cognito (moto), the tenants table
and, where it takes rights away, the revocation store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tenant_admin import handler

import auth_contract
from shared import revocation, tenants
from tests.api_events import (
    REGION,
    RESOURCE_SERVER,
    LambdaContext,
    User,
    access_claims,
    http_event,
    id_token_claims,
    jwt_authorizer,
    machine_claims,
    response_json,
)

ACME, GLOBEX = "acme", "globex"
OPERATOR = User("olga", None, (auth_contract.PLATFORM_OPERATOR,))
ACME_ADMIN = User("alice", ACME, (auth_contract.ADMIN,))
ACME_EDITOR = User("erin", ACME, (auth_contract.EDITOR,))
GLOBEX_ADMIN = User("gina", GLOBEX, (auth_contract.ADMIN,))


class Cloud:
    """moto's pool (groups, custom tenant attribute, email sign-in) and both tenancy tables."""

    def __init__(self) -> None:
        self.cognito = boto3.client("cognito-idp")
        self.pool_id = self.cognito.create_user_pool(
            PoolName="pool",
            UsernameAttributes=["email"],
            Schema=[
                {
                    "Name": auth_contract.TENANT_ATTRIBUTE,
                    "AttributeDataType": "String",
                    "Mutable": False,
                    "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
                }
            ],
        )["UserPool"]["Id"]
        for role in auth_contract.ROLES:
            self.cognito.create_group(UserPoolId=self.pool_id, GroupName=role)
        dynamodb = boto3.resource("dynamodb")
        self.tenants = dynamodb.create_table(
            TableName="tenants",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.revocations = dynamodb.create_table(
            TableName="revocations",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def user(self, username: str) -> dict[str, Any]:
        raw = self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)
        groups = self.cognito.admin_list_groups_for_user(UserPoolId=self.pool_id, Username=raw["Username"])
        return {
            "username": raw["Username"],
            "attributes": {a["Name"]: a["Value"] for a in raw["UserAttributes"]},
            "groups": sorted(g["GroupName"] for g in groups["Groups"]),
        }

    def exists(self, username: str) -> bool:
        try:
            self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)
        except self.cognito.exceptions.UserNotFoundException:
            return False
        return True

    def tenantless_user(self, email: str) -> dict[str, Any]:
        """A user as self sign-up (or a first federated sign-in) leaves them: no tenant, no group."""
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id, Username=email, UserAttributes=[{"Name": "email", "Value": email}]
        )
        return self.user(email)

    def revocation(self, key: str) -> dict[str, Any] | None:
        return self.revocations.get_item(Key={"pk": key}).get("Item")


@pytest.fixture
def cloud(monkeypatch) -> Iterator[Cloud]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
        "TENANTS_TABLE": "tenants",
        "REVOCATION_TABLE": "revocations",
        "REVOCATION_TTL_SECONDS": "900",
    }.items():
        monkeypatch.setenv(name, value)
    caches = (tenants.tenants_table, revocation.revocation_store, handler.user_pool)
    for cache in caches:
        cache.cache_clear()
    with mock_aws():
        created = Cloud()
        monkeypatch.setenv("USER_POOL_ID", created.pool_id)
        table = tenants.tenants_table()
        table.create_tenant(ACME, "Acme")
        table.create_tenant(GLOBEX, "Globex")
        yield created
    for cache in caches:
        cache.cache_clear()


def call(method: str, route: str, caller: User | dict, *, body: Any = None, **path: str) -> tuple[int, Any]:
    concrete = route.replace("{tenantId}", path.get("tenantId", "")).replace("{userId}", path.get("userId", ""))
    claims = caller if isinstance(caller, dict) else access_claims(caller)
    event = http_event(
        method,
        route,
        concrete,
        authorizer=jwt_authorizer(claims),
        path_parameters=path or None,
        body=body,
    )
    response = handler.lambda_handler(event, LambdaContext())
    return response["statusCode"], response_json(response)


def invite(caller: User, tenant: str, email: str, role: str = auth_contract.VIEWER) -> tuple[int, Any]:
    return call("POST", "/tenants/{tenantId}/members", caller, body={"email": email, "role": role}, tenantId=tenant)


# ---------------------------------------------------------------------- tenants: operators only


def test_an_operator_creates_a_tenant_that_starts_active(cloud):
    status, body = call("POST", "/tenants", OPERATOR, body={"tenant": "initech", "name": "Initech"})
    assert status == 201
    assert (body["tenant"], body["display_name"], body["status"]) == ("initech", "Initech", auth_contract.TENANT_ACTIVE)
    assert tenants.tenants_table().tenant("initech")["status"] == auth_contract.TENANT_ACTIVE


def test_creating_an_existing_tenant_is_a_conflict(cloud):
    assert call("POST", "/tenants", OPERATOR, body={"tenant": ACME})[0] == 409


@pytest.mark.parametrize("body", [{}, {"tenant": "a/b"}, {"tenant": "x" * 65}, {"tenant": "ok", "owner": "me"}])
def test_a_bad_tenant_body_is_400(cloud, body):
    assert call("POST", "/tenants", OPERATOR, body=body)[0] == 400


def test_an_operator_lists_every_tenant(cloud):
    status, body = call("GET", "/tenants", OPERATOR)
    assert status == 200
    assert sorted(t["tenant"] for t in body["tenants"]) == [ACME, GLOBEX]


@pytest.mark.parametrize("caller", [ACME_ADMIN, ACME_EDITOR], ids=["tenant-admin", "editor"])
@pytest.mark.parametrize(
    ("method", "route", "path"),
    [
        ("POST", "/tenants", {}),
        ("GET", "/tenants", {}),
        ("POST", "/tenants/{tenantId}/suspend", {"tenantId": ACME}),
        ("POST", "/tenants/{tenantId}/reinstate", {"tenantId": ACME}),
    ],
)
def test_no_tenant_role_runs_tenants_not_even_its_own(cloud, caller, method, route, path):
    assert call(method, route, caller, body={"tenant": "x"} if method == "POST" else None, **path)[0] == 403


def test_the_operator_role_without_its_scope_is_refused(cloud):
    claims = access_claims(OPERATOR, scopes=())
    assert call("GET", "/tenants", claims)[0] == 403


def test_suspension_marks_the_tenant_and_revokes_every_token_issued_before_it(cloud):
    status, body = call("POST", "/tenants/{tenantId}/suspend", OPERATOR, tenantId=GLOBEX)
    assert (status, body["status"]) == (200, auth_contract.TENANT_SUSPENDED)
    assert cloud.revocation(revocation.tenant_key(GLOBEX))["reason"] == "tenant suspended"
    status, body = call("POST", "/tenants/{tenantId}/reinstate", OPERATOR, tenantId=GLOBEX)
    assert (status, body["status"]) == (200, auth_contract.TENANT_ACTIVE)


def test_suspending_an_unknown_tenant_is_404(cloud):
    assert call("POST", "/tenants/{tenantId}/suspend", OPERATOR, tenantId="nobody")[0] == 404
    assert cloud.revocation(revocation.tenant_key("nobody")) is None


# ---------------------------------------------------------------------- invitations


def test_a_tenant_admin_invites_a_member_into_their_own_tenant(cloud):
    status, member = invite(ACME_ADMIN, ACME, "New.Person@Example.com", auth_contract.EDITOR)
    assert status == 201
    assert (member["email"], member["role"]) == ("new.person@example.com", auth_contract.EDITOR)
    user = cloud.user("new.person@example.com")
    assert user["attributes"][auth_contract.TENANT_ATTRIBUTE_CLAIM] == ACME
    assert user["attributes"]["sub"] == member["sub"]
    assert user["groups"] == [auth_contract.EDITOR]
    assert tenants.tenants_table().tenant_of_user(member["sub"]) == ACME
    assert [m["sub"] for m in call("GET", "/tenants/{tenantId}/members", ACME_ADMIN, tenantId=ACME)[1]["members"]] == [
        member["sub"]
    ]


def test_inviting_the_same_person_again_completes_rather_than_duplicates(cloud):
    first = invite(ACME_ADMIN, ACME, "twice@example.com")[1]
    status, again = invite(ACME_ADMIN, ACME, "twice@example.com")
    assert (status, again["sub"]) == (200, first["sub"])


def test_an_email_already_used_in_another_tenant_is_a_conflict(cloud):
    assert invite(GLOBEX_ADMIN, GLOBEX, "taken@example.com")[0] == 201
    assert invite(ACME_ADMIN, ACME, "taken@example.com")[0] == 409
    assert cloud.user("taken@example.com")["attributes"][auth_contract.TENANT_ATTRIBUTE_CLAIM] == GLOBEX


@pytest.mark.parametrize("role", [auth_contract.PLATFORM_OPERATOR, "superuser", ""])
def test_no_invitation_grants_the_operator_role_or_an_unknown_one(cloud, role):
    status, body = invite(ACME_ADMIN, ACME, "climber@example.com", role)
    assert status == 400
    assert body["message"].startswith("role: must be")
    assert not cloud.exists("climber@example.com")


@pytest.mark.parametrize(
    "body",
    [
        {"role": "viewer"},
        {"email": "a@example.com", "username": "b", "role": "viewer"},
        {"email": "not-an-email", "role": "viewer"},
        {"email": "a@example.com", "role": "viewer", "tenant": "globex"},
    ],
    ids=["neither", "both", "bad-email", "tenant-in-body"],
)
def test_a_bad_member_body_is_400(cloud, body):
    assert call("POST", "/tenants/{tenantId}/members", ACME_ADMIN, body=body, tenantId=ACME)[0] == 400


def test_an_operator_invites_into_any_tenant(cloud):
    status, member = invite(OPERATOR, GLOBEX, "by-operator@example.com", auth_contract.ADMIN)
    assert (status, member["role"]) == (201, auth_contract.ADMIN)


def test_members_of_an_unknown_tenant_are_404_even_for_an_operator(cloud):
    assert invite(OPERATOR, "nobody", "x@example.com")[0] == 404
    assert call("GET", "/tenants/{tenantId}/members", OPERATOR, tenantId="nobody")[0] == 404


# ---------------------------------------------------------------------- linking tenant-less users


def test_a_tenant_admin_links_a_user_who_signed_up_alone(cloud):
    pending = cloud.tenantless_user("self@example.com")
    status, member = call(
        "POST",
        "/tenants/{tenantId}/members",
        ACME_ADMIN,
        body={"username": pending["username"], "role": auth_contract.VIEWER},
        tenantId=ACME,
    )
    assert status == 201
    assert member["sub"] == pending["attributes"]["sub"]
    assert tenants.tenants_table().tenant_of_user(member["sub"]) == ACME
    assert cloud.user("self@example.com")["groups"] == [auth_contract.VIEWER]


def link(caller: User, tenant: str, username: str, role: str = auth_contract.VIEWER) -> tuple[int, Any]:
    return call(
        "POST", "/tenants/{tenantId}/members", caller, body={"username": username, "role": role}, tenantId=tenant
    )


def test_a_user_linked_to_one_tenant_cannot_be_linked_to_another(cloud):
    pending = cloud.tenantless_user("wanted@example.com")
    assert link(GLOBEX_ADMIN, GLOBEX, pending["username"])[0] == 201
    assert link(ACME_ADMIN, ACME, pending["username"])[0] == 409
    assert tenants.tenants_table().tenant_of_user(pending["attributes"]["sub"]) == GLOBEX


def test_an_invited_member_of_another_tenant_cannot_be_linked(cloud):
    other = invite(GLOBEX_ADMIN, GLOBEX, "g@example.com")[1]
    assert link(ACME_ADMIN, ACME, other["username"])[0] == 409


def test_a_platform_operator_cannot_be_linked_into_a_tenant(cloud):
    pending = cloud.tenantless_user("op@example.com")
    cloud.cognito.admin_add_user_to_group(
        UserPoolId=cloud.pool_id, Username=pending["username"], GroupName=auth_contract.PLATFORM_OPERATOR
    )
    assert link(ACME_ADMIN, ACME, pending["username"])[0] == 409


def test_linking_an_unknown_user_is_404(cloud):
    assert link(ACME_ADMIN, ACME, "google_0000")[0] == 404


# ---------------------------------------------------------------------- role changes and removal


def change(caller: User, tenant: str, sub: str, role: str) -> tuple[int, Any]:
    return call("PUT", "/tenants/{tenantId}/members/{userId}", caller, body={"role": role}, tenantId=tenant, userId=sub)


def remove(caller: User, tenant: str, sub: str) -> tuple[int, Any]:
    return call("DELETE", "/tenants/{tenantId}/members/{userId}", caller, tenantId=tenant, userId=sub)


def test_a_role_change_moves_the_group_and_revokes_the_members_older_tokens(cloud):
    member = invite(ACME_ADMIN, ACME, "promote@example.com", auth_contract.VIEWER)[1]
    status, changed = change(ACME_ADMIN, ACME, member["sub"], auth_contract.EDITOR)
    assert (status, changed["role"]) == (200, auth_contract.EDITOR)
    assert cloud.user("promote@example.com")["groups"] == [auth_contract.EDITOR]
    assert cloud.revocation(revocation.user_key(member["sub"]))["reason"] == "role changed"


def test_a_role_change_never_grants_the_operator_role(cloud):
    member = invite(ACME_ADMIN, ACME, "up@example.com")[1]
    assert change(OPERATOR, ACME, member["sub"], auth_contract.PLATFORM_OPERATOR)[0] == 400
    assert cloud.user("up@example.com")["groups"] == [auth_contract.VIEWER]


def put(caller: User, tenant: str, sub: str, body: Any) -> tuple[int, Any]:
    return call("PUT", "/tenants/{tenantId}/members/{userId}", caller, body=body, tenantId=tenant, userId=sub)


def test_disabling_a_member_disables_the_account_and_revokes_its_tokens(cloud):
    member = invite(ACME_ADMIN, ACME, "pause@example.com")[1]
    status, changed = put(ACME_ADMIN, ACME, member["sub"], {"enabled": False})
    assert (status, changed["enabled"], changed["role"]) == (200, False, auth_contract.VIEWER)
    raw = cloud.cognito.admin_get_user(UserPoolId=cloud.pool_id, Username="pause@example.com")
    assert raw["Enabled"] is False
    assert cloud.revocation(revocation.user_key(member["sub"]))["reason"] == "disabled"


def test_enabling_a_member_again_revokes_nothing(cloud):
    member = invite(ACME_ADMIN, ACME, "back@example.com")[1]
    assert put(ACME_ADMIN, ACME, member["sub"], {"enabled": True})[1]["enabled"] is True
    raw = cloud.cognito.admin_get_user(UserPoolId=cloud.pool_id, Username="back@example.com")
    assert raw["Enabled"] is True
    assert cloud.revocation(revocation.user_key(member["sub"])) is None


@pytest.mark.parametrize("body", [{}, {"enabled": "no"}, {"role": "viewer", "tenant": "globex"}])
def test_a_bad_member_change_is_400(cloud, body):
    member = invite(ACME_ADMIN, ACME, "bad-change@example.com")[1]
    assert put(ACME_ADMIN, ACME, member["sub"], body)[0] == 400


def test_a_tenant_admin_cannot_disable_another_tenants_member(cloud):
    other = invite(GLOBEX_ADMIN, GLOBEX, "g2@example.com")[1]
    assert put(ACME_ADMIN, GLOBEX, other["sub"], {"enabled": False})[0] == 403
    assert cloud.cognito.admin_get_user(UserPoolId=cloud.pool_id, Username="g2@example.com")["Enabled"] is True


def test_removing_an_invited_member_deletes_the_account_and_revokes_its_tokens(cloud):
    member = invite(ACME_ADMIN, ACME, "leaver@example.com")[1]
    assert remove(ACME_ADMIN, ACME, member["sub"]) == (204, None)
    assert not cloud.exists("leaver@example.com")
    assert tenants.tenants_table().member(ACME, member["sub"]) is None
    assert tenants.tenants_table().tenant_of_user(member["sub"]) is None
    assert cloud.revocation(revocation.user_key(member["sub"]))["reason"] == "removed from tenant"


def test_removing_a_linked_member_keeps_their_account_waiting_for_an_invitation(cloud):
    pending = cloud.tenantless_user("keeper@example.com")
    member = link(ACME_ADMIN, ACME, pending["username"], auth_contract.EDITOR)[1]
    assert remove(ACME_ADMIN, ACME, member["sub"])[0] == 204
    assert cloud.user("keeper@example.com")["groups"] == []
    assert tenants.tenants_table().tenant_of_user(member["sub"]) is None


def test_a_tenant_admin_cannot_demote_or_remove_themselves(cloud):
    admin = invite(OPERATOR, ACME, "self-admin@example.com", auth_contract.ADMIN)[1]
    me = User("self-admin", ACME, (auth_contract.ADMIN,), sub=admin["sub"])
    assert change(me, ACME, admin["sub"], auth_contract.VIEWER)[0] == 409
    assert remove(me, ACME, admin["sub"])[0] == 409
    assert cloud.user("self-admin@example.com")["groups"] == [auth_contract.ADMIN]


@pytest.mark.parametrize("sub", ["not-a-sub", "00000000-0000-4000-8000-000000000000"])
def test_an_unknown_member_is_404(cloud, sub):
    assert change(ACME_ADMIN, ACME, sub, auth_contract.VIEWER)[0] == 404
    assert remove(ACME_ADMIN, ACME, sub)[0] == 404


# ---------------------------------------------------------------------- never another tenant


@pytest.fixture
def globex_member(cloud) -> dict[str, Any]:
    return invite(GLOBEX_ADMIN, GLOBEX, "globex.member@example.com")[1]


def test_a_tenant_admin_cannot_touch_another_tenants_members(cloud, globex_member):
    sub = globex_member["sub"]
    assert call("GET", "/tenants/{tenantId}/members", ACME_ADMIN, tenantId=GLOBEX)[0] == 403
    assert invite(ACME_ADMIN, GLOBEX, "spy@example.com")[0] == 403
    assert change(ACME_ADMIN, GLOBEX, sub, auth_contract.ADMIN)[0] == 403
    assert remove(ACME_ADMIN, GLOBEX, sub)[0] == 403
    assert not cloud.exists("spy@example.com")
    assert cloud.user("globex.member@example.com")["groups"] == [auth_contract.VIEWER]
    assert cloud.revocation(revocation.user_key(sub)) is None


def test_a_tenant_admin_cannot_reach_another_tenants_member_through_their_own_tenant(cloud, globex_member):
    assert change(ACME_ADMIN, ACME, globex_member["sub"], auth_contract.ADMIN)[0] == 404
    assert remove(ACME_ADMIN, ACME, globex_member["sub"])[0] == 404


def test_an_operator_manages_any_tenants_members(cloud, globex_member):
    assert call("GET", "/tenants/{tenantId}/members", OPERATOR, tenantId=GLOBEX)[0] == 200
    assert change(OPERATOR, GLOBEX, globex_member["sub"], auth_contract.EDITOR)[0] == 200
    assert remove(OPERATOR, GLOBEX, globex_member["sub"])[0] == 204


@pytest.mark.parametrize(
    "claims",
    [
        access_claims(ACME_EDITOR),
        access_claims(User("vic", ACME, (auth_contract.VIEWER,))),
        access_claims(ACME_ADMIN, scopes=(auth_contract.ITEMS_READ,)),
        id_token_claims(ACME_ADMIN),
        machine_claims(),
    ],
    ids=["editor", "viewer", "admin-without-admin-scope", "id-token", "machine"],
)
def test_only_a_tenant_admins_access_token_manages_members(cloud, claims):
    assert call("GET", "/tenants/{tenantId}/members", claims, tenantId=ACME)[0] == 403
    assert (
        call(
            "POST",
            "/tenants/{tenantId}/members",
            claims,
            body={"email": "x@example.com", "role": "viewer"},
            tenantId=ACME,
        )[0]
        == 403
    )


def test_the_tenant_and_member_are_the_decoded_path_parameters_the_authorizer_judged(cloud, globex_member):
    # API Gateway decodes `pathParameters`; the raw path keeps the percent-encoding. The handler
    # acts on the decoded values, as the JWT authorizer's route match and the tenant rule do.
    sub = globex_member["sub"]
    encoded_sub = "".join(f"%{ord(ch):02X}" if ch == "-" else ch for ch in sub)

    def raw_call(method: str, route: str, raw_path: str, body: Any = None, **path: str) -> tuple[int, Any]:
        event = http_event(
            method,
            route,
            raw_path,
            authorizer=jwt_authorizer(access_claims(GLOBEX_ADMIN)),
            path_parameters=path,
            body=body,
        )
        response = handler.lambda_handler(event, LambdaContext())
        return response["statusCode"], response_json(response)

    status, listed = raw_call("GET", "/tenants/{tenantId}/members", "/tenants/glob%65x/members", tenantId=GLOBEX)
    assert status == 200 and sub in {member["sub"] for member in listed["members"]}
    status, changed = raw_call(
        "PUT",
        "/tenants/{tenantId}/members/{userId}",
        f"/tenants/glob%65x/members/{encoded_sub}",
        body={"role": auth_contract.EDITOR},
        tenantId=GLOBEX,
        userId=sub,
    )
    assert (status, changed["role"]) == (200, auth_contract.EDITOR)
