"""End to end on loopback: the tenancy model holds on every route, and the tenant lifecycle works.

- a tenant admin cannot act on another tenant on any route of the route table; the platform
  operator can (where the route is for people at all);
- invite → first sign-in → role change shows in the next token;
- a suspended tenant gets no tokens (sign-in and refresh), and gets them again once reinstated;
- a social (Google) or self-signed-up user without an invitation gets tokens that reach no data,
  until a tenant admin links them.

The local stack runs the synthesized dev templates (issuer, gateway, the real handlers, moto);
these tests speak HTTP and Cognito's API to it only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

import auth_contract
from local import testing
from tests.synth import Synthesized
from tests.test_e2e_revocation import PROMISE_SECONDS, refused_within

ADMIN, EDITOR, VIEWER = auth_contract.ADMIN, auth_contract.EDITOR, auth_contract.VIEWER
NEW_PASSWORD = "Local-e2e-Passw0rd!"


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


def sign_in(stack: testing.RunningStack, user: dict[str, str]) -> dict[str, Any]:
    return stack.sign_in(user["email"], user["password"])


@pytest.fixture(scope="module")
def acme_admin(stack: testing.RunningStack) -> str:
    return sign_in(stack, stack.user("acme", ADMIN))["AccessToken"]


@pytest.fixture(scope="module")
def operator(stack: testing.RunningStack) -> str:
    return sign_in(stack, stack.operator)["AccessToken"]


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_tenant(stack: testing.RunningStack, operator: str) -> str:
    tenant = unique("e2e")
    response = stack.call("POST", "/tenants", token=operator, body={"tenant": tenant, "name": "End to end"})
    assert response.status == 201, response.raw
    return tenant


def invite(stack: testing.RunningStack, token: str, tenant: str, role: str = VIEWER) -> dict[str, Any]:
    email = f"{unique('invitee')}@example.com"
    response = stack.call("POST", f"/tenants/{tenant}/members", token=token, body={"email": email, "role": role})
    assert response.status == 201, response.raw
    return {**response.json(), "email": email}


# ---------------------------------------------------------------------- every route, another tenant

# Routes whose path names a tenant: (method, path template) → (body, status the operator gets).
# The events route is for machine clients only: people, operators included, are refused there.
TENANT_PATH_ROUTES: dict[tuple[str, str], tuple[dict | None, int]] = {
    ("POST", "/tenants/{tenantId}/events"): ({"type": "ping"}, 403),
    ("GET", "/tenants/{tenantId}/summary"): (None, 200),
    ("POST", "/tenants/{tenantId}/suspend"): (None, 200),
    ("POST", "/tenants/{tenantId}/reinstate"): (None, 200),
    ("GET", "/tenants/{tenantId}/members"): (None, 200),
    ("POST", "/tenants/{tenantId}/members"): ({"email": "@example.com", "role": VIEWER}, 201),
    ("PUT", "/tenants/{tenantId}/members/{userId}"): ({"role": EDITOR}, 200),
    ("DELETE", "/tenants/{tenantId}/members/{userId}"): (None, 204),
    ("GET", "/tenants/{tenantId}/machine-clients"): (None, 200),
    ("POST", "/tenants/{tenantId}/machine-clients"): ({"name": "e2e"}, 201),
    ("POST", "/tenants/{tenantId}/machine-clients/{clientId}/rotate"): (None, 200),
    ("DELETE", "/tenants/{tenantId}/machine-clients/{clientId}"): (None, 204),
}
# Routes for operators only, naming no tenant.
OPERATOR_ROUTES: dict[tuple[str, str], tuple[dict | None, int]] = {
    ("POST", "/tenants"): ({"tenant": ""}, 201),
    ("GET", "/tenants"): (None, 200),
}
# Routes that act on the caller's own tenant, taken from the token (items isolation: test_e2e_api.py).
OWN_TENANT_ROUTES = {
    ("GET", "/health"),
    ("GET", "/me"),
    ("GET", "/items"),
    ("POST", "/items"),
    ("GET", "/items/{id}"),
    ("PUT", "/items/{id}"),
    ("DELETE", "/items/{id}"),
    # The caller's own sign-in sessions (tests/test_e2e_revocation.py).
    ("POST", "/me/sign-out"),
    ("POST", "/me/sign-out-everywhere"),
}


def template_routes(dev_env: Synthesized) -> set[tuple[str, str]]:
    return {
        tuple(resource["Properties"]["RouteKey"].split(" ", 1))
        for template in dev_env.templates.values()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }


def test_every_route_of_the_route_table_is_covered_here(dev_env: Synthesized) -> None:
    """A new route fails this test until it says how tenancy applies to it."""
    covered = set(TENANT_PATH_ROUTES) | set(OPERATOR_ROUTES) | OWN_TENANT_ROUTES
    assert template_routes(dev_env) == covered
    assert all("{tenantId}" in path for _, path in TENANT_PATH_ROUTES)
    assert not any("{tenantId}" in path for _, path in (*OPERATOR_ROUTES, *OWN_TENANT_ROUTES))


def concrete(stack: testing.RunningStack, operator: str, path: str, tenant: str) -> str:
    path = path.replace("{tenantId}", tenant)
    if "{userId}" in path:
        path = path.replace("{userId}", invite(stack, operator, tenant)["sub"])
    if "{clientId}" in path:
        created = stack.call("POST", f"/tenants/{tenant}/machine-clients", token=operator, body={"name": "e2e"})
        assert created.status == 201, created.raw
        path = path.replace("{clientId}", created.json()["client_id"])
    return path


def request_body(body: dict | None) -> dict | None:
    if body and body.get("email") == "@example.com":
        return {**body, "email": f"{unique('member')}@example.com"}
    if body and body.get("tenant") == "":
        return {**body, "tenant": unique("created")}
    return body


@pytest.fixture(scope="module")
def victim(stack: testing.RunningStack, operator: str) -> str:
    """A tenant of its own, so suspending it leaves the demo tenants alone."""
    return create_tenant(stack, operator)


@pytest.mark.parametrize(("method", "path"), list(TENANT_PATH_ROUTES))
def test_a_tenant_admin_cannot_act_on_another_tenant(
    stack: testing.RunningStack, acme_admin: str, operator: str, victim: str, method: str, path: str
) -> None:
    body, _ = TENANT_PATH_ROUTES[(method, path)]
    target = concrete(stack, operator, path, victim)
    response = stack.call(method, target, token=acme_admin, body=request_body(body))
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize(("method", "path"), list(TENANT_PATH_ROUTES))
def test_the_platform_operator_acts_on_any_tenant(
    stack: testing.RunningStack, operator: str, victim: str, method: str, path: str
) -> None:
    body, expected = TENANT_PATH_ROUTES[(method, path)]
    response = stack.call(method, concrete(stack, operator, path, victim), token=operator, body=request_body(body))
    assert response.status == expected, response.raw
    if path.endswith("/suspend"):
        assert stack.call("POST", f"/tenants/{victim}/reinstate", token=operator).status == 200


@pytest.mark.parametrize(("method", "path"), list(OPERATOR_ROUTES))
def test_only_the_platform_operator_runs_tenants(
    stack: testing.RunningStack, acme_admin: str, operator: str, method: str, path: str
) -> None:
    body, expected = OPERATOR_ROUTES[(method, path)]
    refused = stack.call(method, path, token=acme_admin, body=request_body(body))
    assert (refused.status, refused.json()) == (403, {"message": "Forbidden"})
    assert stack.call(method, path, token=operator, body=request_body(body)).status == expected


@pytest.mark.parametrize(("method", "path"), [("GET", "/items"), ("POST", "/items"), ("GET", "/me")])
def test_the_platform_operator_has_no_tenant_data_of_its_own(
    stack: testing.RunningStack, operator: str, method: str, path: str
) -> None:
    response = stack.call(method, path, token=operator, body={"name": "x"} if method == "POST" else None)
    if path == "/me":
        me = response.json()
        assert (response.status, me["tenant"], me["roles"]) == (200, None, [auth_contract.PLATFORM_OPERATOR])
    else:
        assert response.status == 403


def test_the_operator_lists_the_demo_tenants(stack: testing.RunningStack, operator: str) -> None:
    listed: set[str] = set()
    after = None
    while True:
        response = stack.call("GET", "/tenants?limit=100" + (f"&after={after}" if after else ""), token=operator)
        assert response.status == 200
        listed |= {tenant["tenant"] for tenant in response.json()["tenants"]}
        after = response.json()["next"]
        if after is None:
            break
    assert {"acme", "globex"} <= listed


def test_a_tenant_admin_lists_their_own_members(stack: testing.RunningStack, acme_admin: str) -> None:
    response = stack.call("GET", "/tenants/acme/members", token=acme_admin)
    assert response.status == 200
    emails = {member["email"] for member in response.json()["members"]}
    assert {stack.user("acme", role)["email"] for role in auth_contract.TENANT_ROLES} <= emails
    assert stack.operator["email"] not in emails


def test_no_invitation_makes_a_platform_operator(stack: testing.RunningStack, acme_admin: str, operator: str) -> None:
    body = {"email": f"{unique('climber')}@example.com", "role": auth_contract.PLATFORM_OPERATOR}
    for token in (acme_admin, operator):
        assert stack.call("POST", "/tenants/acme/members", token=token, body=body).status == 400


# ---------------------------------------------------------------------- invite, sign in, role change


def test_an_invited_member_signs_in_and_a_role_change_shows_in_the_next_token(
    stack: testing.RunningStack, acme_admin: str
) -> None:
    member = invite(stack, acme_admin, "acme", VIEWER)
    (message,) = stack.outbox(member["email"])
    assert message["temporary_password"]

    tokens = stack.accept_invitation(member["email"], NEW_PASSWORD)
    me = stack.call("GET", "/me", token=tokens["AccessToken"]).json()
    assert (me["tenant"], me["roles"], me["sub"]) == ("acme", [VIEWER], member["sub"])
    assert stack.call("POST", "/items", token=tokens["AccessToken"], body={"name": "no"}).status == 403

    changed = stack.call("PUT", f"/tenants/acme/members/{member['sub']}", token=acme_admin, body={"role": EDITOR})
    assert (changed.status, changed.json()["role"]) == (200, EDITOR)

    refreshed = stack.refresh(tokens["RefreshToken"])
    assert claims(refreshed["AccessToken"])[auth_contract.ROLES_CLAIM] == [EDITOR]
    created = stack.call("POST", "/items", token=refreshed["AccessToken"], body={"name": "by the new editor"})
    assert (created.status, created.json()["tenant"]) == (201, "acme")
    signed_in_again = stack.sign_in(member["email"], NEW_PASSWORD)
    assert claims(signed_in_again["AccessToken"])[auth_contract.ROLES_CLAIM] == [EDITOR]


def test_a_disabled_member_cannot_sign_in_or_refresh_until_enabled(
    stack: testing.RunningStack, acme_admin: str
) -> None:
    member = invite(stack, acme_admin, "acme", VIEWER)
    tokens = stack.accept_invitation(member["email"], NEW_PASSWORD)
    path = f"/tenants/acme/members/{member['sub']}"
    assert stack.call("PUT", path, token=acme_admin, body={"enabled": False}).status == 200
    for attempt in (
        lambda: stack.sign_in(member["email"], NEW_PASSWORD),
        lambda: stack.refresh(tokens["RefreshToken"]),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert stack.call("PUT", path, token=acme_admin, body={"enabled": True}).status == 200
    assert claims(stack.sign_in(member["email"], NEW_PASSWORD)["AccessToken"])[auth_contract.TENANT_CLAIM] == "acme"


def test_a_removed_member_cannot_sign_in_again(stack: testing.RunningStack, acme_admin: str) -> None:
    member = invite(stack, acme_admin, "acme", VIEWER)
    stack.accept_invitation(member["email"], NEW_PASSWORD)
    assert stack.call("DELETE", f"/tenants/acme/members/{member['sub']}", token=acme_admin).status == 204
    with pytest.raises(ClientError):
        stack.sign_in(member["email"], NEW_PASSWORD)


# ---------------------------------------------------------------------- suspension


def test_a_suspended_tenant_is_locked_out_until_reinstated(stack: testing.RunningStack, operator: str) -> None:
    tenant = create_tenant(stack, operator)
    admin = invite(stack, operator, tenant, ADMIN)
    tokens = stack.accept_invitation(admin["email"], NEW_PASSWORD)
    assert stack.call("GET", "/items", token=tokens["AccessToken"]).status == 200

    assert stack.call("POST", f"/tenants/{tenant}/suspend", token=operator).json()["status"] == "suspended"
    for attempt in (lambda: stack.sign_in(admin["email"], NEW_PASSWORD), lambda: stack.refresh(tokens["RefreshToken"])):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "UserLambdaValidationException"
        assert "your tenant is suspended" in refused.value.response["Error"]["Message"]

    assert stack.call("POST", f"/tenants/{tenant}/reinstate", token=operator).json()["status"] == "active"
    again = stack.sign_in(admin["email"], NEW_PASSWORD)
    assert stack.call("GET", "/items", token=again["AccessToken"]).status == 200


# ---------------------------------------------------------------------- users without an invitation


NO_DATA_ROUTES = [
    ("GET", "/me"),
    ("GET", "/items"),
    ("POST", "/items"),
    ("GET", "/tenants/acme/summary"),
    ("GET", "/tenants/acme/members"),
    ("GET", "/tenants"),
]


def assert_reaches_no_data(stack: testing.RunningStack, token: str) -> None:
    access = claims(token)
    assert auth_contract.TENANT_CLAIM not in access
    assert access[auth_contract.ROLES_CLAIM] == []
    assert not [scope for scope in access["scope"].split() if "/" in scope]
    for method, path in NO_DATA_ROUTES:
        response = stack.call(method, path, token=token, body={"name": "x"} if method == "POST" else None)
        assert response.status == 403, (method, path)


def test_a_google_user_without_an_invitation_gets_no_data_until_linked(
    stack: testing.RunningStack, acme_admin: str
) -> None:
    subject = uuid.uuid4().hex
    tokens = stack.federated_sign_in("Google", subject, f"{subject[:8]}@gmail.example")
    username = claims(tokens["AccessToken"])["username"]
    assert username == f"google_{subject}"  # Cognito's lower-case federated user name
    assert_reaches_no_data(stack, tokens["AccessToken"])

    linked = stack.call("POST", "/tenants/acme/members", token=acme_admin, body={"username": username, "role": VIEWER})
    assert linked.status == 201, linked.raw
    refreshed = stack.refresh(tokens["RefreshToken"])
    assert claims(refreshed["AccessToken"])[auth_contract.TENANT_CLAIM] == "acme"
    assert stack.call("GET", "/items", token=refreshed["AccessToken"]).status == 200


def test_two_google_users_never_share_a_tenant(stack: testing.RunningStack) -> None:
    first, second = (stack.federated_sign_in("Google", uuid.uuid4().hex, "x@gmail.example") for _ in range(2))
    for tokens in (first, second):
        assert auth_contract.TENANT_CLAIM not in claims(tokens["IdToken"])


def test_a_self_signed_up_user_waits_for_an_invitation(stack: testing.RunningStack) -> None:
    email = f"{unique('self')}@example.com"
    cognito = stack.cognito()
    cognito.sign_up(
        ClientId=stack.outputs["SpaClientId"],
        Username=email,
        Password=NEW_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=stack.outputs["UserPoolId"], Username=email)
    assert_reaches_no_data(stack, stack.sign_in(email, NEW_PASSWORD)["AccessToken"])


# ---------------------------------------------------------------------- lifecycle revokes existing tokens


def _signed_in_member(stack: testing.RunningStack, admin: str, tenant: str, role: str = VIEWER) -> dict[str, Any]:
    member = invite(stack, admin, tenant, role)
    tokens = stack.accept_invitation(member["email"], NEW_PASSWORD)
    token = tokens["AccessToken"]
    # Both kinds of route answer, and the gateway now caches the tenant authorizer's allow (300 s).
    for route in (("GET", "/me"), ("GET", f"/tenants/{tenant}/summary")):
        assert stack.call(*route, token=token).status == 200, route
    return {**member, "token": token}


@pytest.mark.parametrize("change", ["removal", "disable"])
def test_removing_or_disabling_a_member_refuses_their_tokens_within_five_seconds(
    stack: testing.RunningStack, acme_admin: str, change: str
) -> None:
    member = _signed_in_member(stack, acme_admin, "acme")
    path = f"/tenants/acme/members/{member['sub']}"
    if change == "removal":
        assert stack.call("DELETE", path, token=acme_admin).status == 204
    else:
        assert stack.call("PUT", path, token=acme_admin, body={"enabled": False}).status == 200
    for route in (("GET", "/me"), ("GET", "/tenants/acme/summary")):
        assert refused_within(stack, route, member["token"]) <= PROMISE_SECONDS


def test_a_role_change_refuses_the_members_tokens_from_before_it(stack: testing.RunningStack, acme_admin: str) -> None:
    member = _signed_in_member(stack, acme_admin, "acme", EDITOR)
    # Revocation times are whole seconds (docs/security.md): change the role in a later second.
    while int(time.time()) <= claims(member["token"])["iat"]:
        time.sleep(0.05)
    path = f"/tenants/acme/members/{member['sub']}"
    assert stack.call("PUT", path, token=acme_admin, body={"role": VIEWER}).status == 200
    for route in (("GET", "/me"), ("GET", "/tenants/acme/summary")):
        assert refused_within(stack, route, member["token"]) <= PROMISE_SECONDS


def test_suspending_a_tenant_refuses_its_existing_tokens_within_five_seconds(
    stack: testing.RunningStack, operator: str
) -> None:
    tenant = create_tenant(stack, operator)
    member = _signed_in_member(stack, operator, tenant, ADMIN)
    assert stack.call("POST", f"/tenants/{tenant}/suspend", token=operator).status == 200
    for route in (("GET", "/me"), ("GET", f"/tenants/{tenant}/summary")):
        assert refused_within(stack, route, member["token"]) <= PROMISE_SECONDS
    assert stack.call("POST", f"/tenants/{tenant}/reinstate", token=operator).status == 200
