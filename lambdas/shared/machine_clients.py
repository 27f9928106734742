"""Data access to a tenant's machine clients in the tenants table (key layout: stacks/tenancy_tables.py).

Two items per client, written and deleted together in one transaction:

- `TENANT#<tenant>` / `CLIENT#<client id>`: the tenant's list of its clients (name, who created it
  and when, when its secret was last rotated). Never the secret.
- `CLIENT#<client id>` / `TENANT`: which tenant the client belongs to. The pre-token trigger reads
  it for every client-credentials token; no item, no token.

The tenant's own `TENANT#<tenant>` / `PROFILE` item (written by the tenant lifecycle) says whether
the tenant is active; only its `status` is read here.

Nothing here touches the network at import: the boto3 table is made on first use, from `TENANTS_TABLE`.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

import auth_contract

TABLE_ENV = "TENANTS_TABLE"
PK = auth_contract.TABLE_PARTITION_KEY
SK = auth_contract.TABLE_SORT_KEY
TENANT_ID = "tenant_id"
CLIENT_ID = "client_id"
NAME = "name"
CREATED_AT = "created_at"
CREATED_BY = "created_by"
ROTATED_AT = "rotated_at"
STATUS = "status"  # of the tenant's PROFILE item
LISTED = (CLIENT_ID, NAME, CREATED_AT, CREATED_BY, ROTATED_AT)


class ClientExists(Exception):
    """A client with this id is already registered (Cognito never reuses ids: a bug if it happens)."""


def tenant_key(tenant: str) -> str:
    return f"{auth_contract.TENANT_KEY_PREFIX}{tenant}"


def client_key(client_id: str) -> str:
    return f"{auth_contract.CLIENT_KEY_PREFIX}{client_id}"


def _transaction_cancelled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "TransactionCanceledException"


class MachineClientRecords:
    """The CLIENT# items of the tenants table. Each method names the DynamoDB actions it uses."""

    def __init__(self, table: Any) -> None:
        # The resource's client converts Python values to DynamoDB's typed form, transactions included.
        self._table = table

    # ------------------------------------------------------------ reads (dynamodb:GetItem, Query)

    def tenant_of(self, client_id: str) -> str | None:
        """The tenant a machine client belongs to, or None for a client this table does not know."""
        item = self._table.get_item(
            Key={PK: client_key(client_id), SK: auth_contract.CLIENT_TENANT_SORT_KEY}, ConsistentRead=True
        ).get("Item")
        tenant = (item or {}).get(TENANT_ID)
        return tenant if isinstance(tenant, str) and tenant else None

    def tenant_status(self, tenant: str) -> str | None:
        """The tenant's status (`active`, `suspended`), or None when there is no such tenant."""
        item = self._table.get_item(
            Key={PK: tenant_key(tenant), SK: auth_contract.TENANT_PROFILE_SORT_KEY}, ConsistentRead=True
        ).get("Item")
        status = (item or {}).get(STATUS)
        return status if isinstance(status, str) else None

    def get(self, tenant: str, client_id: str) -> dict[str, Any] | None:
        """One of the tenant's clients (None when the client is not the tenant's)."""
        item = self._table.get_item(Key={PK: tenant_key(tenant), SK: client_key(client_id)}, ConsistentRead=True).get(
            "Item"
        )
        return {key: item[key] for key in LISTED if key in item} if item else None

    def list(self, tenant: str) -> list[dict[str, Any]]:
        """Every client of the tenant, in client id order."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(PK).eq(tenant_key(tenant))
            & Key(SK).begins_with(auth_contract.CLIENT_KEY_PREFIX),
            "ConsistentRead": True,
        }
        clients: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            clients += [{key: item[key] for key in LISTED if key in item} for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return clients
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ------------------------------------------------------------ writes (dynamodb:PutItem, DeleteItem, UpdateItem)

    def add(self, tenant: str, client_id: str, *, name: str, created_by: str, created_at: str) -> dict[str, Any]:
        """Registers a new client of the tenant: both items or neither (one transaction)."""
        listed = {CLIENT_ID: client_id, NAME: name, CREATED_AT: created_at, CREATED_BY: created_by}
        items = (
            {PK: tenant_key(tenant), SK: client_key(client_id), **listed},
            {
                PK: client_key(client_id),
                SK: auth_contract.CLIENT_TENANT_SORT_KEY,
                TENANT_ID: tenant,
                CLIENT_ID: client_id,
            },
        )
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    }
                    for item in items
                ]
            )
        except ClientError as error:
            if _transaction_cancelled(error):
                raise ClientExists(client_id) from None
            raise
        return listed

    def mark_rotated(self, tenant: str, client_id: str, rotated_at: str) -> None:
        self._table.update_item(
            Key={PK: tenant_key(tenant), SK: client_key(client_id)},
            UpdateExpression="SET #rotated = :at",
            ExpressionAttributeNames={"#rotated": ROTATED_AT},
            ExpressionAttributeValues={":at": rotated_at},
        )

    def remove(self, tenant: str, client_id: str) -> None:
        """Forgets the client: both items in one transaction (missing items are not an error)."""
        keys = (
            {PK: tenant_key(tenant), SK: client_key(client_id)},
            {PK: client_key(client_id), SK: auth_contract.CLIENT_TENANT_SORT_KEY},
        )
        self._table.meta.client.transact_write_items(
            TransactItems=[{"Delete": {"TableName": self._table.name, "Key": key}} for key in keys]
        )


@functools.cache
def machine_client_records() -> MachineClientRecords:
    """The records in the table named by `TENANTS_TABLE`, made on first use."""
    return MachineClientRecords(boto3.resource("dynamodb").Table(os.environ[TABLE_ENV]))
