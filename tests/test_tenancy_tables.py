"""The tenancy tables: the tenants table and the revocation store (stacks/tenancy_tables.py)."""

from __future__ import annotations

import pytest

import auth_contract
from tests.synth import ENVIRONMENTS, synthesize

TABLES = {"TenantsTableFFF4D8FE": True, "RevocationTable878F264C": False}  # logical id -> has a sort key


def _tables(env: str) -> dict[str, dict]:
    resources = synthesize(env).templates["Identity"]["Resources"]
    return {logical_id: resources[logical_id] for logical_id in TABLES}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tenancy_tables_are_keyed_as_the_contract_says(env):
    for logical_id, table in _tables(env).items():
        keys = {k["KeyType"]: k["AttributeName"] for k in table["Properties"]["KeySchema"]}
        expected = {"HASH": auth_contract.TABLE_PARTITION_KEY}
        if TABLES[logical_id]:
            expected["RANGE"] = auth_contract.TABLE_SORT_KEY
        assert keys == expected, logical_id


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tenancy_tables_have_point_in_time_recovery_and_encryption(env):
    for logical_id, table in _tables(env).items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert props["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id


def test_revocation_entries_expire_by_ttl_and_tenants_never_do():
    tables = _tables("prod")
    assert tables["RevocationTable878F264C"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": auth_contract.REVOCATION_TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert "TimeToLiveSpecification" not in tables["TenantsTableFFF4D8FE"]["Properties"]


def test_prod_retains_and_protects_the_tenancy_tables():
    for logical_id, table in _tables("prod").items():
        assert table["DeletionPolicy"] == "Retain", logical_id
        assert table["UpdateReplacePolicy"] == "Retain", logical_id
        assert table["Properties"]["DeletionProtectionEnabled"] is True, logical_id


def test_dev_tenancy_tables_can_be_torn_down():
    for logical_id, table in _tables("dev").items():
        assert table["DeletionPolicy"] == "Delete", logical_id
        assert table["Properties"].get("DeletionProtectionEnabled", False) is False, logical_id
