"""Data access to the items table: partition key `tenant`, sort key `id`.

One table holds a tenant's items (`id` = `itm_<32 hex>`) and the events machine clients post for
it (`id` = `evt_<UTC time>_<12 hex>`), so a tenant's data is one partition and every read and
write names the tenant in its key. Each method is one DynamoDB call; the functions that use a
method get exactly the IAM action it needs (stacks/api_backends.py).

Nothing here touches the network at import: the boto3 resource is made on first use, from the
`TABLE_NAME` environment variable.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

TABLE_NAME_ENV = "TABLE_NAME"
PARTITION_KEY = "tenant"
SORT_KEY = "id"
ITEM_PREFIX = "itm_"
EVENT_PREFIX = "evt_"


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ItemsTable:
    """The table's operations, each scoped to one tenant's partition."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # ------------------------------------------------------------ reads (dynamodb:Query, GetItem)

    def list_items(self, tenant: str, limit: int, after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` items of the tenant in id order, and the id to continue after (or None)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(PARTITION_KEY).eq(tenant) & Key(SORT_KEY).begins_with(ITEM_PREFIX),
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {PARTITION_KEY: tenant, SORT_KEY: after}
        response = self._table.query(**request)
        last = response.get("LastEvaluatedKey")
        return response.get("Items", []), (last[SORT_KEY] if last else None)

    def get_item(self, tenant: str, item_id: str) -> dict[str, Any] | None:
        response = self._table.get_item(Key={PARTITION_KEY: tenant, SORT_KEY: item_id}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def count(self, tenant: str, prefix: str) -> int:
        """How many records of the tenant have an id starting with `prefix` (items or events)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(PARTITION_KEY).eq(tenant) & Key(SORT_KEY).begins_with(prefix),
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self._table.query(**request)
            count: int = response.get("Count", 0)
            total += count
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ------------------------------------------------------------ writes (PutItem, UpdateItem, DeleteItem)

    def create(self, record: dict[str, Any]) -> None:
        """Writes a new record; never overwrites one with the same key."""
        self._table.put_item(Item=record, ConditionExpression=Attr(SORT_KEY).not_exists())

    def replace_fields(self, tenant: str, item_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Sets `fields` on an existing item and returns it, or None when the tenant has no such item."""
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values = {f":v{index}": value for index, value in enumerate(fields.values())}
        try:
            response = self._table.update_item(
                Key={PARTITION_KEY: tenant, SORT_KEY: item_id},
                UpdateExpression="SET "
                + ", ".join(f"{name} = {value}" for name, value in zip(names, values, strict=True)),
                ConditionExpression=Attr(SORT_KEY).exists(),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        attributes: dict[str, Any] = response["Attributes"]
        return attributes

    def remove(self, tenant: str, item_id: str, *, owner: str | None = None) -> bool:
        """Deletes the tenant's item (only if `owner` owns it, when given); False when nothing matched."""
        condition: ConditionBase = Attr(SORT_KEY).exists()
        if owner is not None:
            condition = condition & Attr("owner").eq(owner)
        try:
            self._table.delete_item(Key={PARTITION_KEY: tenant, SORT_KEY: item_id}, ConditionExpression=condition)
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True


@functools.cache
def items_table() -> ItemsTable:
    """The table named by `TABLE_NAME`, made on first use (no AWS call until a request needs one)."""
    return ItemsTable(boto3.resource("dynamodb").Table(os.environ[TABLE_NAME_ENV]))
