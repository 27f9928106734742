"""End to end on loopback: users of two tenants and every role, and a machine client, call every route.

The local stack runs the synthesized dev templates in a child process (issuer, gateway, real
handlers, DynamoDB in moto); these tests only speak HTTP to it. What each role may do is the
API's contract (docs/api.md), with role and scope names from auth_contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import auth_contract
from local import testing
from tests.synth import Synthesized

TENANTS = ("acme", "globex")
ROLES = auth_contract.TENANT_ROLES
ADMIN, EDITOR, VIEWER = auth_contract.ADMIN, auth_contract.EDITOR, auth_contract.VIEWER


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(stack: testing.RunningStack) -> dict[tuple[str, str], dict[str, Any]]:
    """Every demo user signed in once: (tenant, role) → AccessToken, IdToken, RefreshToken."""
    return {
        (tenant, role): stack.sign_in(stack.user(tenant, role)["email"], stack.user(tenant, role)["password"])
        for tenant in TENANTS
        for role in ROLES
    }


def access(tokens: dict, tenant: str, role: str) -> str:
    return tokens[(tenant, role)]["AccessToken"]


@pytest.fixture(scope="module")
def machine(stack: testing.RunningStack) -> str:
    """A token of the first demo tenant's (acme's) machine client."""
    return stack.machine_token()


@pytest.fixture
def item(stack: testing.RunningStack, tokens: dict) -> Any:
    """A fresh item in each tenant, created by the tenant's editor: tenant → item id."""

    def create(tenant: str, by: str = EDITOR) -> str:
        response = stack.call("POST", "/items", token=access(tokens, tenant, by), body={"name": f"{tenant} thing"})
        assert response.status == 201, response.raw
        return response.json()["id"]

    return create


def other(tenant: str) -> str:
    return next(t for t in TENANTS if t != tenant)


# ---------------------------------------------------------------------- without a token


def test_health_needs_no_token(stack: testing.RunningStack) -> None:
    assert stack.call("GET", "/health").status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me"),
        ("GET", "/items"),
        ("POST", "/items"),
        ("GET", "/items/itm_x"),
        ("PUT", "/items/itm_x"),
        ("DELETE", "/items/itm_x"),
        ("POST", "/tenants/acme/events"),
        ("GET", "/tenants/acme/summary"),
    ],
)
def test_every_protected_route_is_401_without_a_token(stack: testing.RunningStack, method: str, path: str) -> None:
    response = stack.call(method, path)
    assert (response.status, response.json()) == (401, {"message": "Unauthorized"})


def test_a_forged_token_is_401_with_an_invalid_token_challenge(stack: testing.RunningStack, tokens: dict) -> None:
    header, payload, _ = access(tokens, "acme", ADMIN).split(".")
    response = stack.call("GET", "/items", token=f"{header}.{payload}.c2lnbmF0dXJl")
    assert response.status == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# ---------------------------------------------------------------------- the allow/deny matrix

READ_EVERYONE = {VIEWER: 200, EDITOR: 200, ADMIN: 200}
WRITERS = {VIEWER: 403, EDITOR: 201, ADMIN: 201}


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_me_describes_the_caller_from_the_token(
    stack: testing.RunningStack, tokens: dict, tenant: str, role: str
) -> None:
    response = stack.call("GET", "/me", token=access(tokens, tenant, role))
    assert response.status == 200
    me = response.json()
    assert (me["tenant"], me["roles"], me["token_use"]) == (tenant, [role], "access")
    assert set(auth_contract.ROLE_SCOPES[role]) <= set(me["scopes"])


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_its_own_tenants_items(
    stack: testing.RunningStack, tokens: dict, tenant: str, role: str
) -> None:
    response = stack.call("GET", "/items", token=access(tokens, tenant, role))
    assert response.status == READ_EVERYONE[role]
    assert {entry["tenant"] for entry in response.json()["items"]} <= {tenant}


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_only_editors_and_admins_create_items(
    stack: testing.RunningStack, tokens: dict, tenant: str, role: str
) -> None:
    response = stack.call("POST", "/items", token=access(tokens, tenant, role), body={"name": "new"})
    assert response.status == WRITERS[role]
    if response.status == 201:
        assert response.json()["tenant"] == tenant
        assert response.headers["location"] == f"/items/{response.json()['id']}"


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_an_item_of_its_tenant(
    stack: testing.RunningStack, tokens: dict, item: Any, tenant: str, role: str
) -> None:
    item_id = item(tenant)
    response = stack.call("GET", f"/items/{item_id}", token=access(tokens, tenant, role))
    assert (response.status, response.json()["id"]) == (200, item_id)


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize(("role", "expected"), [(VIEWER, 403), (EDITOR, 200), (ADMIN, 200)])
def test_only_editors_and_admins_replace_items(
    stack: testing.RunningStack, tokens: dict, item: Any, tenant: str, role: str, expected: int
) -> None:
    response = stack.call("PUT", f"/items/{item(tenant)}", token=access(tokens, tenant, role), body={"name": "renamed"})
    assert response.status == expected


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize(("role", "expected"), [(VIEWER, 403), (EDITOR, 403), (ADMIN, 204)])
def test_only_admins_delete_items_they_do_not_own(
    stack: testing.RunningStack, tokens: dict, item: Any, tenant: str, role: str, expected: int
) -> None:
    item_id = item(tenant, by=ADMIN)
    assert stack.call("DELETE", f"/items/{item_id}", token=access(tokens, tenant, role)).status == expected


def test_an_editor_deletes_its_own_item(stack: testing.RunningStack, tokens: dict, item: Any) -> None:
    item_id = item("acme", by=EDITOR)
    assert stack.call("DELETE", f"/items/{item_id}", token=access(tokens, "acme", EDITOR)).status == 204
    assert stack.call("GET", f"/items/{item_id}", token=access(tokens, "acme", EDITOR)).status == 404


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_users_may_not_post_machine_events(stack: testing.RunningStack, tokens: dict, tenant: str, role: str) -> None:
    response = stack.call(
        "POST", f"/tenants/{tenant}/events", token=access(tokens, tenant, role), body={"type": "ping"}
    )
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_its_own_tenants_summary(
    stack: testing.RunningStack, tokens: dict, tenant: str, role: str
) -> None:
    response = stack.call("GET", f"/tenants/{tenant}/summary", token=access(tokens, tenant, role))
    assert (response.status, response.json()["tenant"]) == (200, tenant)


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("role", ROLES)
def test_no_tenant_role_reads_another_tenants_summary(
    stack: testing.RunningStack, tokens: dict, tenant: str, role: str
) -> None:
    """A tenant admin administers its own tenant only (issue #13.1); operators: test_e2e_tenancy.py."""
    assert stack.call("GET", f"/tenants/{other(tenant)}/summary", token=access(tokens, tenant, role)).status == 403


# ---------------------------------------------------------------------- tenant isolation


@pytest.mark.parametrize("role", ROLES)
def test_another_tenants_item_is_not_found_for_every_role(
    stack: testing.RunningStack, tokens: dict, item: Any, role: str
) -> None:
    foreign = item("globex")
    token = access(tokens, "acme", role)
    assert stack.call("GET", f"/items/{foreign}", token=token).status == 404
    if role != VIEWER:
        assert stack.call("PUT", f"/items/{foreign}", token=token, body={"name": "hijack"}).status == 404
        assert stack.call("DELETE", f"/items/{foreign}", token=token).status == 404
    owner = access(tokens, "globex", EDITOR)
    assert stack.call("GET", f"/items/{foreign}", token=owner).json()["name"] == "globex thing"


def test_listing_never_shows_another_tenants_items(stack: testing.RunningStack, tokens: dict, item: Any) -> None:
    acme, globex = item("acme"), item("globex")
    acme_ids = {
        entry["id"]
        for entry in stack.call("GET", "/items?limit=100", token=access(tokens, "acme", ADMIN)).json()["items"]
    }
    assert acme in acme_ids
    assert globex not in acme_ids


# ---------------------------------------------------------------------- tokens of the wrong kind


@pytest.mark.parametrize(("method", "path"), [("GET", "/me"), ("GET", "/items"), ("POST", "/items")])
def test_an_id_token_is_refused_on_scoped_routes(
    stack: testing.RunningStack, tokens: dict, method: str, path: str
) -> None:
    id_token = tokens[("acme", ADMIN)]["IdToken"]
    response = stack.call(method, path, token=id_token, body={"name": "x"} if method == "POST" else None)
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


def test_an_id_token_is_refused_by_the_lambda_authorizer(stack: testing.RunningStack, tokens: dict) -> None:
    response = stack.call("GET", "/tenants/acme/summary", token=tokens[("acme", ADMIN)]["IdToken"])
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize("tenant", TENANTS)
def test_each_tenants_machine_client_posts_events_for_its_own_tenant(stack: testing.RunningStack, tenant: str) -> None:
    token = stack.machine_token(client=stack.machine_client_of(tenant))
    response = stack.call("POST", f"/tenants/{tenant}/events", token=token, body={"type": "heartbeat"})
    assert response.status == 202
    assert response.json()["tenant"] == tenant


def test_a_tenants_machine_token_is_refused_on_another_tenant(stack: testing.RunningStack, machine: str) -> None:
    assert stack.machine_client["tenant"] == "acme"
    response = stack.call("POST", "/tenants/globex/events", token=machine, body={"type": "heartbeat"})
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


# A tenant's machine client is made at run time, so it is not in the JWT authorizer's audience: the
# JWT routes answer 401 (as API Gateway does for an audience mismatch); the Lambda-authorized
# summary route answers 403.
UNAUTHORIZED, FORBIDDEN = (401, {"message": "Unauthorized"}), (403, {"message": "Forbidden"})


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/me", UNAUTHORIZED),
        ("GET", "/items", UNAUTHORIZED),
        ("POST", "/items", UNAUTHORIZED),
        ("GET", "/items/itm_x", UNAUTHORIZED),
        ("PUT", "/items/itm_x", UNAUTHORIZED),
        ("DELETE", "/items/itm_x", UNAUTHORIZED),
        ("GET", "/tenants/acme/summary", FORBIDDEN),
        ("GET", "/tenants/acme/machine-clients", UNAUTHORIZED),
        ("POST", "/tenants/acme/machine-clients", UNAUTHORIZED),
    ],
)
def test_the_machine_client_is_refused_everywhere_else(
    stack: testing.RunningStack, machine: str, method: str, path: str, expected: tuple
) -> None:
    response = stack.call(method, path, token=machine, body={"name": "x"} if method in ("POST", "PUT") else None)
    assert (response.status, response.json()) == expected


def test_the_platforms_own_client_gets_a_token_without_tenant_that_no_tenant_route_accepts(
    stack: testing.RunningStack,
) -> None:
    token = stack.machine_token(client=stack.platform_client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert auth_contract.TENANT_CLAIM not in claims
    for tenant in TENANTS:
        response = stack.call("POST", f"/tenants/{tenant}/events", token=token, body={"type": "heartbeat"})
        assert (response.status, response.json()) == (403, {"message": "Forbidden"})
    response = stack.call("GET", "/items", token=token)
    assert (response.status, response.json()) == UNAUTHORIZED


# ---------------------------------------------------------------------- CORS


def test_preflight_from_the_configured_origin_is_answered_before_any_authorizer(stack: testing.RunningStack) -> None:
    response = stack.call(
        "OPTIONS",
        "/items",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in response.headers["access-control-allow-methods"].split(",")
    assert {"authorization", "content-type"} <= set(response.headers["access-control-allow-headers"].split(","))


def test_preflight_from_another_origin_gets_no_cors_headers(stack: testing.RunningStack) -> None:
    response = stack.call(
        "OPTIONS", "/items", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_responses_to_the_configured_origin_carry_cors_headers(stack: testing.RunningStack, tokens: dict) -> None:
    response = stack.call(
        "GET", "/items", token=access(tokens, "acme", VIEWER), headers={"Origin": "http://localhost:5173"}
    )
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
