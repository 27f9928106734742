"""`python -m client operators grant|revoke`: the platform operator role is given with AWS
credentials only, and never to a user without TOTP MFA or to a tenant's member."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

import auth_contract
from client.endpoints import Endpoints
from client.operators import OperatorError, grant, revoke

REGION = "eu-west-1"


@pytest.fixture
def pool(monkeypatch) -> Iterator[tuple[Any, Endpoints]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(
            PoolName="pool",
            UsernameAttributes=["email"],
            Schema=[{"Name": auth_contract.TENANT_ATTRIBUTE, "AttributeDataType": "String", "Mutable": False}],
        )["UserPool"]["Id"]
        cognito.create_group(UserPoolId=pool_id, GroupName=auth_contract.PLATFORM_OPERATOR)
        endpoints = Endpoints(
            issuer_url=f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
            user_pool_id=pool_id,
            spa_client_id="spa",
            api_url="https://api.example",
        )
        yield cognito, endpoints


def user(cognito: Any, endpoints: Endpoints, email: str, *, totp: bool, tenant: str | None = None) -> str:
    attributes = [{"Name": "email", "Value": email}]
    if tenant:
        attributes.append({"Name": auth_contract.TENANT_ATTRIBUTE_CLAIM, "Value": tenant})
    created = cognito.admin_create_user(
        UserPoolId=endpoints.user_pool_id, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
    )["User"]
    if totp:
        # The user verified an authenticator app (AssociateSoftwareToken + VerifySoftwareToken).
        from moto.cognitoidp.models import cognitoidp_backends

        stored = cognitoidp_backends[DEFAULT_ACCOUNT_ID][REGION].user_pools[endpoints.user_pool_id]
        stored.users[created["Username"]].token_verified = True
        cognito.admin_set_user_mfa_preference(
            UserPoolId=endpoints.user_pool_id,
            Username=email,
            SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
        )
    return created["Username"]


def groups(cognito: Any, endpoints: Endpoints, username: str) -> list[str]:
    answer = cognito.admin_list_groups_for_user(UserPoolId=endpoints.user_pool_id, Username=username)
    return [group["GroupName"] for group in answer["Groups"]]


def test_a_user_with_totp_mfa_becomes_an_operator_and_can_be_revoked(pool) -> None:
    cognito, endpoints = pool
    username = user(cognito, endpoints, "ops@example.com", totp=True)
    assert grant(endpoints, "ops@example.com", cognito) == username
    assert groups(cognito, endpoints, username) == [auth_contract.PLATFORM_OPERATOR]
    assert revoke(endpoints, "ops@example.com", cognito) == username
    assert groups(cognito, endpoints, username) == []


def test_a_user_without_totp_mfa_is_refused(pool) -> None:
    cognito, endpoints = pool
    username = user(cognito, endpoints, "nomfa@example.com", totp=False)
    with pytest.raises(OperatorError, match="no authenticator app"):
        grant(endpoints, "nomfa@example.com", cognito)
    assert groups(cognito, endpoints, username) == []


def test_a_tenant_member_is_refused(pool) -> None:
    cognito, endpoints = pool
    username = user(cognito, endpoints, "member@example.com", totp=True, tenant="acme")
    with pytest.raises(OperatorError, match="dedicated account"):
        grant(endpoints, "member@example.com", cognito)
    assert groups(cognito, endpoints, username) == []


def test_an_unknown_user_is_a_clear_error(pool) -> None:
    cognito, endpoints = pool
    with pytest.raises(OperatorError, match="no such user"):
        grant(endpoints, "ghost@example.com", cognito)
