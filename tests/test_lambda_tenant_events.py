"""POST /tenants/{tenantId}/events: only client-credentials tokens with events.write record events."""

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
    response = post(machine_claims(), body={"type": "invoice.paid", "detail": {"amount": 12.5, "currency": "EUR"}})
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
        ("machine token without the events scope", machine_claims(scopes=(auth_contract.ITEMS_READ,))),
        # Not machine tokens, so they carry a sign-in session (origin_jti), as every user token does:
        # without one the revocation check refuses them (401) before the route's own check runs.
        ("sub differs from client_id", {**machine_claims(), "sub": "a-user-sub", **A_SESSION}),
        ("token with a username", {**machine_claims(), "username": "someone", **A_SESSION}),
        ("not an access token", {**machine_claims(), "token_use": "id", **A_SESSION}),
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
    response = post(machine_claims(), body=body, raw_body=raw)
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith(f"{field}:")
    assert table_contents(table) == []


def test_malformed_tenant_in_path_is_400(table):
    response = post(machine_claims(), tenant="a" * 65, body={"type": "ok"})
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith("tenantId:")
    assert table_contents(table) == []
