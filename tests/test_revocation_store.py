"""The revocation store's writes (lambdas/shared/revocation.py) against a moto table."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

import auth_contract
from shared import revocation

TABLE = "revocation"
TTL = 3600


@pytest.fixture
def table(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        revocation.TABLE_ENV: TABLE,
        revocation.TTL_ENV: str(TTL),
    }.items():
        monkeypatch.setenv(name, value)
    revocation.revocation_store.cache_clear()
    with mock_aws():
        created = boto3.resource("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": auth_contract.TABLE_PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": auth_contract.TABLE_PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield created
    revocation.revocation_store.cache_clear()


@pytest.mark.parametrize(
    ("method", "subject", "key"),
    [
        ("revoke_session", "jti-1", "JTI#jti-1"),
        ("revoke_user", "sub-1", "USER#sub-1"),
        ("revoke_tenant", "acme", "TENANT#acme"),
        ("revoke_client", "client-1", "CLIENT#client-1"),
    ],
)
def test_each_revocation_writes_not_before_and_expires_after_the_longest_token_life(table, method, subject, key):
    written = getattr(revocation.revocation_store(), method)(subject, "test", now=1_800_000_000.7)
    assert written == 1_800_000_000
    item = table.get_item(Key={auth_contract.TABLE_PARTITION_KEY: key})["Item"]
    assert item[revocation.NOT_BEFORE] == 1_800_000_000
    assert item[auth_contract.REVOCATION_TTL_ATTRIBUTE] == 1_800_000_000 + TTL
    assert item[revocation.REASON] == "test"


def test_a_later_revocation_moves_not_before_forward(table):
    store = revocation.revocation_store()
    store.revoke_user("sub-1", "role change", now=1_800_000_000)
    store.revoke_user("sub-1", "removed", now=1_800_000_100)
    item = table.get_item(Key={auth_contract.TABLE_PARTITION_KEY: "USER#sub-1"})["Item"]
    assert (item[revocation.NOT_BEFORE], item[revocation.REASON]) == (1_800_000_100, "removed")


def test_a_store_without_a_positive_ttl_is_a_configuration_error():
    with pytest.raises(ValueError, match=revocation.TTL_ENV):
        revocation.RevocationStore(table=None, ttl_seconds=0)
