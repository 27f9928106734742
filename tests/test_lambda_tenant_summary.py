"""GET /tenants/{tenantId}/summary behind the Lambda authorizer: the context it returns is the identity."""

from __future__ import annotations

import time

import pytest
from tenant_summary import handler

import auth_contract
from tests.api_events import (
    SPA_CLIENT_ID,
    LambdaContext,
    http_event,
    lambda_authorizer,
    mocked_items_table,
    qualified,
    response_json,
)

ROUTE = "/tenants/{tenantId}/summary"


@pytest.fixture
def table(monkeypatch):
    records = {
        "acme": ["itm_" + "1" * 32, "itm_" + "2" * 32, "evt_20260101T000000000000Z_0123456789ab"],
        "globex": ["itm_" + "3" * 32],
    }
    for table in mocked_items_table(monkeypatch):
        for tenant, ids in records.items():
            for record_id in ids:
                table.put_item(Item={"tenant": tenant, "id": record_id})
        yield table


def context(tenant: str = "acme", roles: str = "viewer", scopes: tuple[str, ...] = (auth_contract.ITEMS_READ,)) -> dict:
    """What tenant_authorizer returns as its simple response's context."""
    return {
        "tenant": tenant,
        "roles": roles,
        "scopes": " ".join(qualified(*scopes)),
        "sub": "3f0c2a9e-0000-4000-8000-000000000001",
        "client_id": SPA_CLIENT_ID,
        "username": "victor",
        "token_use": "access",
        "origin_jti": "5b7f7d0e-0000-4000-8000-000000000002",
        "iat": int(time.time()) - 60,
        "exp": int(time.time()) + 840,
    }


def get(tenant: str, authorizer_context: dict | None) -> dict:
    event = http_event(
        "GET",
        ROUTE,
        f"/tenants/{tenant}/summary",
        authorizer=lambda_authorizer(authorizer_context) if authorizer_context is not None else None,
        path_parameters={"tenantId": tenant},
    )
    return handler.lambda_handler(event, LambdaContext())


def test_member_gets_their_tenants_counts(table):
    response = get("acme", context())
    assert response["statusCode"] == 200
    assert response_json(response) == {"tenant": "acme", "items": 2, "events": 1}


def test_member_of_another_tenant_is_forbidden(table):
    assert get("acme", context(tenant="globex"))["statusCode"] == 403


def test_a_tenant_admin_may_not_read_another_tenants_summary(table):
    assert get("globex", context(tenant="acme", roles="admin"))["statusCode"] == 403


def test_a_platform_operator_reads_any_tenants_summary(table):
    operator = context(tenant="", roles=auth_contract.PLATFORM_OPERATOR, scopes=(auth_contract.PLATFORM_SCOPE,))
    response = get("globex", operator)
    assert response["statusCode"] == 200
    assert response_json(response) == {"tenant": "globex", "items": 1, "events": 0}


def test_the_operator_role_without_its_scope_reads_nothing(table):
    assert get("globex", context(tenant="", roles=auth_contract.PLATFORM_OPERATOR, scopes=()))["statusCode"] == 403


def test_without_items_read_scope_is_forbidden(table):
    assert get("acme", context(scopes=()))["statusCode"] == 403


def test_missing_authorizer_context_is_401(table):
    assert get("acme", None)["statusCode"] == 401


def get_raw(raw_path: str, decoded_tenant: str, authorizer_context: dict) -> dict:
    """A request whose raw path is percent-encoded: API Gateway decodes `pathParameters`."""
    event = http_event(
        "GET",
        ROUTE,
        raw_path,
        authorizer=lambda_authorizer(authorizer_context),
        path_parameters={"tenantId": decoded_tenant},
    )
    return handler.lambda_handler(event, LambdaContext())


def test_the_tenant_is_the_decoded_path_parameter_the_authorizer_approved(table):
    # The authorizer allowed `acme` (pathParameters); the raw path spells it percent-encoded.
    response = get_raw("/tenants/ac%6De/summary", "acme", context())
    assert response["statusCode"] == 200
    assert response_json(response) == {"tenant": "acme", "items": 2, "events": 1}
    operator = context(tenant="", roles=auth_contract.PLATFORM_OPERATOR, scopes=(auth_contract.PLATFORM_SCOPE,))
    across = get_raw("/tenants/glob%65x/summary", "globex", operator)
    assert response_json(across) == {"tenant": "globex", "items": 1, "events": 0}


@pytest.mark.parametrize("tenant", ["acme corp", "acm\u00e9", "ac.me", "ac%6De", "\uff41cme"], ids=repr)
def test_a_tenant_outside_the_contracts_grammar_is_not_found(table, tenant):
    assert get_raw("/tenants/x/summary", tenant, context(roles="admin"))["statusCode"] == 404
