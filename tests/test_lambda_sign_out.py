"""The sign_out function: POST /me/sign-out and POST /me/sign-out-everywhere, on moto.

Specification: sign-out records the caller's session (origin_jti) and the same token is refused
from then on; sign-out-everywhere signs the user out in Cognito (AdminUserGlobalSignOut) and
records a user not-before, so every token of the user issued so far is refused, yet tokens issued
afterwards pass; only a user's access token with an API scope may call either; failures of the
store or of Cognito are a generic 503.
"""

from __future__ import annotations

import math
import time
from typing import Any

import boto3
import pytest
from me import handler as me_handler
from sign_out import handler

import auth_contract
from shared import revocation
from tests.api_events import (
    REGION,
    REVOCATION_TABLE_NAME,
    LambdaContext,
    User,
    access_claims,
    http_event,
    id_token_claims,
    jwt_authorizer,
    machine_claims,
    mocked_revocation_table,
    response_json,
)

VIEWER = User("victor", "acme", (auth_contract.VIEWER,))


@pytest.fixture
def pool(monkeypatch):
    for table in mocked_revocation_table(monkeypatch):
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="test")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=pool_id, Username=VIEWER.name)
        monkeypatch.setenv(handler.USER_POOL_ENV, pool_id)
        handler.cognito.cache_clear()
        yield {"table": table, "cognito": cognito, "pool_id": pool_id}
        handler.cognito.cache_clear()


def post(path: str, claims: dict[str, str]) -> dict[str, Any]:
    return handler.lambda_handler(http_event("POST", path, path, authorizer=jwt_authorizer(claims)), LambdaContext())


def me(claims: dict[str, str]) -> int:
    revocation.revocation_checker.cache_clear()  # a fresh instance: the cache's bound is tested apart
    return me_handler.lambda_handler(
        http_event("GET", "/me", "/me", authorizer=jwt_authorizer(claims)), LambdaContext()
    )["statusCode"]


def items(table: Any) -> dict[str, dict]:
    return {item[auth_contract.TABLE_PARTITION_KEY]: item for item in table.scan(ConsistentRead=True)["Items"]}


def test_sign_out_revokes_this_session_and_only_it(pool):
    claims = access_claims(VIEWER)
    other_session = access_claims(VIEWER)
    response = post("/me/sign-out", claims)
    assert response["statusCode"] == 204
    assert set(items(pool["table"])) == {f"JTI#{claims['origin_jti']}"}
    assert me(claims) == 401
    assert me(other_session) == 200


def test_sign_out_everywhere_refuses_every_token_issued_so_far_and_signs_out_in_cognito(pool):
    calls = []
    handler.cognito().meta.events.register(
        "provide-client-params.cognito-idp.AdminUserGlobalSignOut", lambda params, **_: calls.append(dict(params))
    )
    claims = access_claims(VIEWER, now=int(time.time()) + 60)  # issued just now (iat = now)
    other_session = access_claims(VIEWER, now=int(time.time()))
    before = time.time()
    assert post("/me/sign-out-everywhere", claims)["statusCode"] == 204
    assert calls == [{"UserPoolId": pool["pool_id"], "Username": VIEWER.name}]
    item = items(pool["table"])[f"USER#{VIEWER.sub}"]
    assert item[revocation.NOT_BEFORE] >= math.ceil(before)
    assert me(claims) == 401 and me(other_session) == 401
    later = access_claims(VIEWER, now=int(item[revocation.NOT_BEFORE]) + 60)  # iat after the not-before
    assert me(later) == 200


@pytest.mark.parametrize(
    "claims",
    [
        id_token_claims(VIEWER),
        machine_claims(),
        access_claims(VIEWER, scopes=()),
        {k: v for k, v in access_claims(VIEWER).items() if k != "username"},
    ],
    ids=["id token", "machine token", "no API scope", "no user name"],
)
@pytest.mark.parametrize("path", ["/me/sign-out", "/me/sign-out-everywhere"])
def test_only_a_users_access_token_may_sign_out(pool, claims, path):
    response = post(path, claims)
    assert (response["statusCode"], response_json(response)) == (403, {"message": "Forbidden"})
    assert items(pool["table"]) == {}


def test_a_failing_cognito_call_is_a_generic_503_after_the_not_before_is_written(pool, monkeypatch):
    monkeypatch.setenv(handler.USER_POOL_ENV, f"{REGION}_Missing00")
    response = post("/me/sign-out-everywhere", access_claims(VIEWER))
    assert (response["statusCode"], response_json(response)) == (503, {"message": "Service unavailable"})
    # The tokens are refused all the same; the client is told the sign-out is not complete.
    assert f"USER#{VIEWER.sub}" in items(pool["table"])


@pytest.mark.parametrize("path", ["/me/sign-out", "/me/sign-out-everywhere"])
def test_a_store_that_refuses_writes_is_a_generic_503(pool, monkeypatch, path):
    claims = access_claims(VIEWER)
    revocation.revocation_checker().check(revocation.TokenRef.of(me_identity(claims)))  # warm: reads pass
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=REVOCATION_TABLE_NAME)
    revocation.revocation_store.cache_clear()
    response = post(path, claims)
    assert (response["statusCode"], response_json(response)) == (503, {"message": "Service unavailable"})


def me_identity(claims: dict[str, str]) -> Any:
    from shared.claims import parse_identity

    return parse_identity({"requestContext": {"authorizer": jwt_authorizer(claims)}})
