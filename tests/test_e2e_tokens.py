"""End to end: the token lifecycle through the local gateway (refresh, revocation, expiry) and the
claim sets the gateway hands to the functions."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
from botocore.exceptions import ClientError

import auth_contract
from local import testing
from tests.synth import Synthesized


@pytest.fixture(scope="session")
def stack(dev_env: Synthesized) -> Iterator[testing.RunningStack]:
    with testing.shared_stack(dev_env.assembly()) as running:
        yield running


def sign_in(stack: testing.RunningStack, tenant: str = "acme", role: str = auth_contract.EDITOR) -> dict:
    user = stack.user(tenant, role)
    return stack.sign_in(user["email"], user["password"])


def refresh(stack: testing.RunningStack, refresh_token: str) -> dict:
    return stack.cognito().initiate_auth(
        ClientId=stack.outputs["SpaClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )["AuthenticationResult"]


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_refreshed_access_token_is_accepted_and_continues_the_sign_in(stack: testing.RunningStack) -> None:
    first = sign_in(stack)
    renewed = refresh(stack, first["RefreshToken"])
    assert renewed["AccessToken"] != first["AccessToken"]
    assert claims(renewed["AccessToken"])["origin_jti"] == claims(first["AccessToken"])["origin_jti"]
    assert stack.call("GET", "/items", token=renewed["AccessToken"]).status == 200


def test_a_revoked_refresh_token_gets_no_new_tokens(stack: testing.RunningStack) -> None:
    session = sign_in(stack, "globex", auth_contract.VIEWER)
    stack.cognito().revoke_token(Token=session["RefreshToken"], ClientId=stack.outputs["SpaClientId"])
    with pytest.raises(ClientError) as error:
        refresh(stack, session["RefreshToken"])
    assert error.value.response["Error"]["Code"] == "NotAuthorizedException"
    # API Gateway validates JWTs statelessly: an access token already issued works until it expires.
    assert stack.call("GET", "/items", token=session["AccessToken"]).status == 200


def test_an_expired_access_token_is_401_and_a_refresh_recovers(stack: testing.RunningStack) -> None:
    session = sign_in(stack)
    lifetime = claims(session["AccessToken"])["exp"] - claims(session["AccessToken"])["iat"]
    with stack.clock_offset(lifetime + 1):
        response = stack.call("GET", "/items", token=session["AccessToken"])
        assert (response.status, response.json()) == (401, {"message": "Unauthorized"})
        assert "expired" in response.headers["www-authenticate"]
        renewed = refresh(stack, session["RefreshToken"])
        assert stack.call("GET", "/items", token=renewed["AccessToken"]).status == 200


def test_functions_receive_the_claims_as_api_gateway_passes_them(stack: testing.RunningStack) -> None:
    session = sign_in(stack, "globex", auth_contract.ADMIN)
    me = stack.call("GET", "/me", token=session["AccessToken"]).json()
    token = claims(session["AccessToken"])
    assert me["sub"] == token["sub"]
    assert me["tenant"] == token[auth_contract.TENANT_CLAIM] == "globex"
    assert me["roles"] == token[auth_contract.ROLES_CLAIM] == [auth_contract.ADMIN]
    assert me["client_id"] == token["client_id"]
    assert set(me["scopes"]) >= set(auth_contract.ROLE_SCOPES[auth_contract.ADMIN])


def test_the_local_tokens_have_cognitos_claim_sets(stack: testing.RunningStack) -> None:
    session = sign_in(stack, "acme", auth_contract.VIEWER)
    access, identity = claims(session["AccessToken"]), claims(session["IdToken"])
    assert "aud" not in access
    assert {"client_id", "token_use", "scope", "username", "origin_jti", "jti", "event_id", "auth_time"} <= set(access)
    assert access["token_use"] == "access"
    assert {"aud", "cognito:username", "email_verified", auth_contract.TENANT_ATTRIBUTE_CLAIM, "origin_jti"} <= set(
        identity
    )
    assert identity["token_use"] == "id"
    assert identity["email_verified"] is True
    assert access["iss"] == identity["iss"] == stack.outputs["IssuerUrl"]
    machine = claims(stack.machine_token())
    assert machine["sub"] == machine["client_id"] == stack.machine_client["client_id"]
    assert machine[auth_contract.TENANT_CLAIM] == stack.machine_client["tenant"]  # the V3_0 trigger's claim
    assert "username" not in machine and "aud" not in machine
