"""Lambda authorizer of POST /tenants/{tenantId}/events: a registered machine client of that tenant, nothing else."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from moto import mock_aws
from tenant_authorizer import machine
from tenant_authorizer.verifier import ConfigurationError, VerifierSettings

import auth_contract
from shared import machine_clients, revocation
from shared.claims import parse_identity
from tests.api_events import (
    ISSUER,
    REGION,
    RESOURCE_SERVER,
    REVOCATION_TABLE_NAME,
    REVOCATION_TTL_SECONDS,
    SPA_CLIENT_ID,
    TENANTS_TABLE_NAME,
    LambdaContext,
    authorizer_request,
    create_revocation_table,
    create_tenants_table,
    qualified,
)
from tests.test_authorizer import JwksServer, Signer, access_token_claims

CLIENT_ID = "7acmeclient000000000000000"
DENY = {"isAuthorized": False}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("machine-key-1")


@pytest.fixture(scope="module")
def jwks_server():
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def registered(jwks_server, signer, monkeypatch):
    """The authorizer's environment, acme's client registered in a moto tenants table, and an
    empty revocation store (the authorizer checks every token it would allow against it)."""
    jwks_server.document = {"keys": [signer.jwk()]}
    for name, value in {
        "ISSUER": ISSUER,
        "JWKS_URL": jwks_server.url,
        "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
        machine_clients.TABLE_ENV: TENANTS_TABLE_NAME,
        revocation.TABLE_ENV: REVOCATION_TABLE_NAME,
        revocation.TTL_ENV: str(REVOCATION_TTL_SECONDS),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALLOWED_CLIENT_IDS", raising=False)
    machine.verifier.cache_clear()
    machine_clients.machine_client_records.cache_clear()
    revocation.revocation_checker.cache_clear()
    with mock_aws():
        create_revocation_table()
        table = create_tenants_table()
        machine_clients.MachineClientRecords(table).add(
            "acme", CLIENT_ID, name="billing", created_by="alice", created_at="2026-12-03T08:00:00+00:00"
        )
        yield table
    machine.verifier.cache_clear()
    machine_clients.machine_client_records.cache_clear()
    revocation.revocation_checker.cache_clear()


def machine_token_claims(
    *, client_id: str = CLIENT_ID, tenant: str | None = "acme", scopes=(auth_contract.EVENTS_WRITE,)
) -> dict[str, Any]:
    """A client-credentials token as Cognito issues it with the V3_0 trigger: real JSON types."""
    now = int(time.time())
    claims = {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(qualified(*scopes)),
        "auth_time": now,
        "iss": ISSUER,
        "exp": now + 900,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }
    if tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = tenant
    return claims


def authorize(token: str, tenant: str = "acme") -> dict[str, Any]:
    event = authorizer_request(f"/tenants/{tenant}/events", tenant, f"Bearer {token}")
    event["routeKey"] = "POST /tenants/{tenantId}/events"
    return machine.lambda_handler(event, LambdaContext())


def test_a_registered_client_of_the_path_tenant_is_allowed_with_a_machine_context(registered, signer):
    answer = authorize(signer.sign(machine_token_claims()))
    assert answer["isAuthorized"] is True
    context = answer["context"]
    assert context["tenant"] == "acme" and context["client_id"] == CLIENT_ID and context["username"] == ""
    # The backend reads it as a machine identity of the tenant.
    identity = parse_identity({"requestContext": {"authorizer": {"lambda": context}}}, RESOURCE_SERVER)
    assert identity.is_machine and identity.tenant == "acme" and identity.has_scope(auth_contract.EVENTS_WRITE)


@pytest.mark.parametrize("revoke", ["client", "tenant"])
def test_a_token_issued_before_its_clients_or_tenants_revocation_is_denied(registered, signer, revoke):
    claims = machine_token_claims()
    store = revocation.revocation_store()
    if revoke == "client":
        store.revoke_client(CLIENT_ID, "rotated", now=claims["iat"] + 1)
    else:
        store.revoke_tenant("acme", "suspended", now=claims["iat"] + 1)
    assert authorize(signer.sign(claims)) == DENY


def test_the_revocation_store_not_answering_is_a_denial(registered, signer, monkeypatch):
    monkeypatch.setenv(revocation.TABLE_ENV, "no-such-table")
    revocation.revocation_checker.cache_clear()
    assert authorize(signer.sign(machine_token_claims())) == DENY


@pytest.mark.parametrize(
    ("case", "claims", "tenant"),
    [
        ("another tenant's path", machine_token_claims(), "globex"),
        ("token without tenant (the platform's client)", machine_token_claims(tenant=None), "acme"),
        ("token claiming a tenant its client is not registered for", machine_token_claims(tenant="globex"), "globex"),
        ("unregistered (or deleted) client", machine_token_claims(client_id="8deletedclient00000000000"), "acme"),
        ("without events.write", machine_token_claims(scopes=(auth_contract.ITEMS_READ,)), "acme"),
        ("bare events.write", {**machine_token_claims(), "scope": auth_contract.EVENTS_WRITE}, "acme"),
        ("a user's token", access_token_claims(roles=(auth_contract.ADMIN,)), "acme"),
        ("a user's token of the SPA", {**machine_token_claims(client_id=SPA_CLIENT_ID), "username": "u"}, "acme"),
        ("sub is not the client", {**machine_token_claims(), "sub": "someone"}, "acme"),
        ("an ID token", {**machine_token_claims(), "token_use": "id"}, "acme"),
        ("another issuer", {**machine_token_claims(), "iss": ISSUER + "x"}, "acme"),
        ("expired", {**machine_token_claims(), "exp": int(time.time()) - 10}, "acme"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_everything_else_is_denied(registered, signer, case, claims, tenant):
    assert authorize(signer.sign(claims), tenant) == DENY


def test_a_client_removed_from_the_table_is_denied_at_once(registered, signer):
    token = signer.sign(machine_token_claims())
    assert authorize(token)["isAuthorized"] is True
    machine_clients.MachineClientRecords(registered).remove("acme", CLIENT_ID)
    assert authorize(token) == DENY


def test_a_token_signed_by_another_key_is_denied(registered):
    assert authorize(Signer("machine-key-1").sign(machine_token_claims())) == DENY


def test_garbage_never_raises(registered):
    for token in ("", "a.b.c", "x" * 9000, "é.é.é"):
        assert authorize(token) == DENY


def test_a_verifier_that_leaves_clients_to_its_caller_must_list_none():
    with pytest.raises(ConfigurationError):
        VerifierSettings(
            issuer=ISSUER, client_ids=frozenset({"x"}), jwks_url="https://x", clients_checked_by_caller=True
        )
    with pytest.raises(ConfigurationError):
        VerifierSettings(issuer=ISSUER, client_ids=frozenset(), jwks_url="https://x")


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("event", None),
        ("event", "text"),
        ("headers", None),
        ("headers", "text"),
        ("headers", "pairs"),
        ("headers", "absent"),
        ("pathParameters", None),
        ("pathParameters", "absent"),
        ("pathParameters", "acme"),
        ("pathParameters", ["acme"]),
    ],
)
def test_a_malformed_event_is_a_denial_never_an_exception(registered, signer, part, value):
    token = signer.sign(machine_token_claims())
    event: Any = authorizer_request("/tenants/acme/events", "acme", f"Bearer {token}")
    if part == "event":
        event = value
    elif value == "absent":
        del event[part]
    elif value == "pairs":  # a list of pairs Powertools' CaseInsensitiveDict would read as headers
        event[part] = [["authorization", f"Bearer {token}"]]
    else:
        event[part] = value
    assert machine.lambda_handler(event, LambdaContext()) == DENY


@pytest.mark.parametrize("request_context", ["absent", None, "text"])
def test_a_missing_or_malformed_request_context_changes_no_answer(registered, signer, request_context):
    event = authorizer_request("/tenants/acme/events", "acme", f"Bearer {signer.sign(machine_token_claims())}")
    if request_context == "absent":
        del event["requestContext"]
    else:
        event["requestContext"] = request_context
    assert machine.lambda_handler(event, LambdaContext())["isAuthorized"] is True
    event["pathParameters"] = {"tenantId": "globex"}
    assert machine.lambda_handler(event, LambdaContext()) == DENY
