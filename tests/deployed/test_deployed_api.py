"""The end-to-end scenario against a real deployment: sign in, call every route, check the
allow/deny matrix and tenant isolation. Opt-in: see conftest.py."""

from __future__ import annotations

import pytest

import auth_contract
from tests.deployed.client import call

A, B = "tenant-a", "tenant-b"
VIEWER, EDITOR, ADMIN = auth_contract.VIEWER, auth_contract.EDITOR, auth_contract.ADMIN
PROTECTED = [
    ("GET", "/me"),
    ("GET", "/items"),
    ("GET", "/items/00000000000000000000000000"),
    ("POST", "/items"),
    ("PUT", "/items/00000000000000000000000000"),
    ("DELETE", "/items/00000000000000000000000000"),
    ("POST", "/tenants/tenant-a/events"),
    ("GET", "/tenants/tenant-a/summary"),
]


def access(tokens, tenant: str, role: str) -> str:
    return tokens[(tenant, role)]["access"]


def tenant_of(users, tenant: str) -> str:
    return users[(tenant, VIEWER)].tenant


@pytest.fixture(scope="module")
def item_of_a(deployment, tokens):
    """An item created by tenant A's editor, deleted again at the end."""
    reply = call("POST", deployment.api("/items"), token=access(tokens, A, EDITOR), body={"name": "deployed-test"})
    assert reply.status == 201, reply.body
    yield reply.body
    call("DELETE", deployment.api(f"/items/{reply.body['id']}"), token=access(tokens, A, ADMIN))


def test_health_answers_without_a_token(deployment):
    assert call("GET", deployment.api("/health")).status == 200


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_protected_route_refuses_a_request_without_a_token(deployment, method, path):
    assert call(method, deployment.api(path)).status == 401


@pytest.mark.parametrize(("method", "path"), [("GET", "/items"), ("GET", "/me")])
def test_a_forged_token_is_refused(deployment, tokens, method, path):
    header, payload, _ = access(tokens, A, ADMIN).split(".")
    assert call(method, deployment.api(path), token=f"{header}.{payload}.c2lnbmF0dXJl").status == 401


def test_an_id_token_is_refused_on_scoped_routes(deployment, tokens):
    assert call("GET", deployment.api("/items"), token=tokens[(A, ADMIN)]["id"]).status == 403


@pytest.mark.parametrize("role", auth_contract.ROLES)
def test_every_role_reads_its_identity_and_its_tenants_items(deployment, tokens, users, role):
    me = call("GET", deployment.api("/me"), token=access(tokens, A, role))
    assert me.status == 200
    assert tenant_of(users, A) in str(me.body)
    assert call("GET", deployment.api("/items"), token=access(tokens, A, role)).status == 200


def test_a_viewer_cannot_create_items(deployment, tokens):
    assert call("POST", deployment.api("/items"), token=access(tokens, A, VIEWER), body={"name": "x"}).status == 403


def test_an_editor_creates_and_a_viewer_of_the_same_tenant_reads_it(deployment, tokens, item_of_a):
    reply = call("GET", deployment.api(f"/items/{item_of_a['id']}"), token=access(tokens, A, VIEWER))
    assert reply.status == 200
    assert reply.body["id"] == item_of_a["id"]


@pytest.mark.parametrize("role", auth_contract.ROLES)
def test_another_tenant_never_sees_the_item(deployment, tokens, item_of_a, role):
    token = access(tokens, B, role)
    assert call("GET", deployment.api(f"/items/{item_of_a['id']}"), token=token).status == 404
    listed = call("GET", deployment.api("/items"), token=token)
    assert listed.status == 200
    assert item_of_a["id"] not in str(listed.body)


def test_another_tenants_editor_can_neither_replace_nor_delete_the_item(deployment, tokens, item_of_a):
    token = access(tokens, B, EDITOR)
    url = deployment.api(f"/items/{item_of_a['id']}")
    assert call("PUT", url, token=token, body={"name": "taken over"}).status == 404
    assert call("DELETE", url, token=token).status == 404


def test_a_viewer_cannot_delete_an_item_of_its_own_tenant(deployment, tokens, item_of_a):
    assert call("DELETE", deployment.api(f"/items/{item_of_a['id']}"), token=access(tokens, A, VIEWER)).status == 403


def test_a_user_reads_the_summary_of_its_own_tenant_only(deployment, tokens, users):
    own, other = tenant_of(users, A), tenant_of(users, B)
    token = access(tokens, A, VIEWER)
    assert call("GET", deployment.api(f"/tenants/{own}/summary"), token=token).status == 200
    assert call("GET", deployment.api(f"/tenants/{other}/summary"), token=token).status == 403


def test_a_machine_client_posts_events_but_reads_no_items(deployment, machine_token, users):
    tenant = tenant_of(users, A)
    posted = call(
        "POST", deployment.api(f"/tenants/{tenant}/events"), token=machine_token, body={"type": "deployed-test"}
    )
    assert posted.status == 202, posted.body
    assert call("GET", deployment.api("/items"), token=machine_token).status == 403


def test_a_user_token_cannot_post_machine_events(deployment, tokens, users):
    url = deployment.api(f"/tenants/{tenant_of(users, A)}/events")
    assert call("POST", url, token=access(tokens, A, ADMIN), body={"type": "x"}).status == 403
