"""POST /tenants/{tenantId}/events: only client-credentials tokens with events.write, of the path's tenant, record events."""

from __future__ import annotations

import json

import pytest
from tenant_events import handler

import auth_contract
from tests.api_events import (
    MACHINE_CLIENT_ID,
    LambdaContext,
    User,
    access_claims,
    http_event,
    jwt_authorizer,
    machine_claims,
    mocked_items_table,
    response_json,
    table_contents,
)

ROUTE = "/tenants/{tenantId}/events"
ADMIN = User("alice", "acme", (auth_contract.ADMIN,))


@pytest.fixture
def table(monkeypatch):
    yield from mocked_items_table(monkeypatch)


def post(claims: dict, tenant: str = "acme", body=None, raw_body: str | None = None) -> dict:
    event = http_event(
        "POST",
        ROUTE,
        f"/tenants/{tenant}/events",
        authorizer=jwt_authorizer(claims),
        path_parameters={"tenantId": tenant},
        body=body,
        raw_body=raw_body,
    )
    return handler.lambda_handler(event, LambdaContext())


def test_machine_client_records_an_event_for_the_tenant(table):
    response = post(
        machine_claims(tenant="acme"), body={"type": "invoice.paid", "detail": {"amount": 12.5, "currency": "EUR"}}
    )
    assert response["statusCode"] == 202
    event = response_json(response)
    assert event["tenant"] == "acme" and event["client_id"] == MACHINE_CLIENT_ID
    (record,) = table_contents(table)
    assert record["id"] == event["id"] and record["id"].startswith("evt_")
    assert json.loads(record["detail"]) == {"amount": 12.5, "currency": "EUR"}


A_SESSION = {"origin_jti": "0d5c3a1e-0000-4000-8000-0000000000aa"}


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        (
            "user token, even an admin's with the events scope",
            access_claims(ADMIN, scopes=(*auth_contract.ROLE_SCOPES["admin"], auth_contract.EVENTS_WRITE)),
        ),
        (
            "machine token without the events scope",
            machine_claims(scopes=(auth_contract.ITEMS_READ,), tenant="acme"),
        ),
        # Not machine tokens, so they carry a sign-in session (origin_jti), as every user token does:
        # without one the revocation check refuses them (401) before the route's own check runs.
        ("sub differs from client_id", {**machine_claims(tenant="acme"), "sub": "a-user-sub", **A_SESSION}),
        ("token with a username", {**machine_claims(tenant="acme"), "username": "someone", **A_SESSION}),
        ("not an access token", {**machine_claims(tenant="acme"), "token_use": "id", **A_SESSION}),
        ("machine token of another tenant", machine_claims(tenant="globex")),
        ("machine token without a tenant (the platform's client)", machine_claims()),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_anything_but_a_client_credentials_token_is_forbidden_and_writes_nothing(table, case, claims):
    response = post(claims, body={"type": "invoice.paid"})
    assert response["statusCode"] == 403
    assert table_contents(table) == []


@pytest.mark.parametrize(
    ("body", "raw", "field"),
    [
        (None, "not json", "body"),
        ({}, None, "type"),
        ({"type": 3}, None, "type"),
        ({"type": "has space"}, None, "type"),
        ({"type": "ok", "detail": "text"}, None, "detail"),
        ({"type": "ok", "detail": {"blob": "x" * 9000}}, None, "detail"),
        ({"type": "ok", "tenant": "globex"}, None, "tenant"),
    ],
)
def test_bad_event_body_is_400_naming_the_field(table, body, raw, field):
    response = post(machine_claims(tenant="acme"), body=body, raw_body=raw)
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith(f"{field}:")
    assert table_contents(table) == []


def test_malformed_tenant_in_path_is_400(table):
    response = post(machine_claims(tenant="acme"), tenant="a" * 65, body={"type": "ok"})
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith("tenantId:")
    assert table_contents(table) == []


def test_another_tenants_machine_token_is_refused_before_the_body_is_read(table):
    response = post(machine_claims(tenant="globex"), raw_body="not json")
    assert response["statusCode"] == 403 and response_json(response) == {"message": "Forbidden"}


def test_the_tenant_is_the_decoded_path_parameter(table):
    event = http_event(
        "POST",
        ROUTE,
        "/tenants/acme/events",
        authorizer=jwt_authorizer(machine_claims(tenant="acme")),
        path_parameters={"tenantId": "globex"},
        body={"type": "ok"},
    )
    assert handler.lambda_handler(event, LambdaContext())["statusCode"] == 403


def post_raw(raw_path: str, decoded_tenant: str, body: dict) -> dict:
    """A request whose raw path is percent-encoded: API Gateway decodes `pathParameters`."""
    event = http_event(
        "POST",
        ROUTE,
        raw_path,
        authorizer=jwt_authorizer(machine_claims(tenant="acme")),
        path_parameters={"tenantId": decoded_tenant},
        body=body,
    )
    return handler.lambda_handler(event, LambdaContext())


def test_a_percent_encoded_tenant_is_stored_under_the_decoded_id(table):
    response = post_raw("/tenants/ac%6De/events", "acme", {"type": "invoice.paid"})
    assert response["statusCode"] == 202
    assert response_json(response)["tenant"] == "acme"
    assert [record["tenant"] for record in table_contents(table)] == ["acme"]


@pytest.mark.parametrize(
    "tenant", ["acme corp", "acm\u00e9", "ac.me", "ac%6De", "acme/evil", "", "a" * 65, "\uff41cme"], ids=repr
)
def test_a_tenant_outside_the_contracts_grammar_is_400_and_writes_nothing(table, tenant):
    response = post_raw("/tenants/x/events", tenant, {"type": "ok"})
    assert response["statusCode"] == 400
    assert response_json(response)["message"] == f"tenantId: must be {auth_contract.TENANT_ID_RULE}"
    assert table_contents(table) == []
