"""The `me` function: GET /health for anyone, GET /me returns the caller as the backends see them."""

from __future__ import annotations

import pytest
from me import handler

import auth_contract
from tests.api_events import (
    SPA_CLIENT_ID,
    LambdaContext,
    User,
    access_claims,
    http_event,
    id_token_claims,
    jwt_authorizer,
    mocked_revocation_table,
    response_json,
)

VIEWER = User("victor", "acme", (auth_contract.VIEWER,))


@pytest.fixture(autouse=True)
def revocation_store(monkeypatch):
    """Every caller is checked against the revocation store: an empty one here."""
    yield from mocked_revocation_table(monkeypatch)


def call(event: dict) -> dict:
    return handler.lambda_handler(event, LambdaContext())


def test_health_needs_no_token():
    response = call(http_event("GET", "/health", "/health"))
    assert response["statusCode"] == 200
    assert response_json(response) == {"status": "ok"}


def test_me_returns_the_parsed_identity(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", "https://api.jwt-auth.test")
    response = call(http_event("GET", "/me", "/me", authorizer=jwt_authorizer(access_claims(VIEWER))))
    assert response["statusCode"] == 200
    assert response_json(response) == {
        "sub": VIEWER.sub,
        "username": "victor",
        "tenant": "acme",
        "roles": ["viewer"],
        "scopes": ["email", "items.read", "openid"],
        "client_id": SPA_CLIENT_ID,
        "token_use": "access",
    }


def test_me_refuses_an_id_token(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", "https://api.jwt-auth.test")
    response = call(http_event("GET", "/me", "/me", authorizer=jwt_authorizer(id_token_claims(VIEWER), scopes=None)))
    assert response["statusCode"] == 403


def test_me_refuses_a_token_without_an_api_scope(monkeypatch):
    monkeypatch.setenv("RESOURCE_SERVER_IDENTIFIER", "https://api.jwt-auth.test")
    claims = access_claims(User("nora", "acme", ()))
    response = call(http_event("GET", "/me", "/me", authorizer=jwt_authorizer(claims)))
    assert response["statusCode"] == 403


def test_me_without_authorizer_output_is_401():
    response = call(http_event("GET", "/me", "/me"))
    assert response["statusCode"] == 401
