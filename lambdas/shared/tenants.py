"""Data access to the tenants table: tenants (`TENANT#<id>` / `PROFILE`), their members
(`TENANT#<id>` / `MEMBER#<sub>`) and which tenant a user belongs to (`USER#<sub>` / `TENANT`).

The key layout is in stacks/tenancy_tables.py, the key names in auth_contract. A member is two
items written and deleted together in one transaction, so the member list of a tenant and the
tenant of a user always agree, and a user is a member of at most one tenant (the `USER#` item's
condition). Each method is one DynamoDB call; the functions that use them get exactly those IAM
actions (stacks/api_backends.py, stacks/identity_stack.py).

Only boto3 (in the Lambda runtime), no Powertools: the pre-token trigger, which has no layer,
reads tenants through this module too. Nothing touches the network at import.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Mapping
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

import auth_contract

TABLE_ENV = "TENANTS_TABLE"
PK = auth_contract.TABLE_PARTITION_KEY
SK = auth_contract.TABLE_SORT_KEY

# Attribute names of the items.
NAME = "display_name"
STATUS = "status"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
SUB = "sub"
USERNAME = "username"
EMAIL = "email"
ROLE = "role"
ENABLED = "enabled"
TENANT = "tenant_id"

MAX_NAME_LENGTH = 128

# The trigger runs inside Cognito's 5-second budget: fail fast rather than retry for long.
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})


class TenantExists(Exception):
    """A tenant with this id exists already."""


class TenantNotFound(Exception):
    """No tenant with this id."""


class AlreadyMember(Exception):
    """The user is a member of a tenant already (this one or another)."""


class MemberNotFound(Exception):
    """The user is not a member of this tenant."""


# The contract's tenant-id grammar, for body validation (shared.validation fullmatches it).
TENANT_ID = re.compile(auth_contract.TENANT_ID_PATTERN)


def is_valid_tenant_id(value: Any) -> bool:
    return auth_contract.is_tenant_id(value)


def tenant_key(tenant: str) -> str:
    return f"{auth_contract.TENANT_KEY_PREFIX}{tenant}"


def member_sort_key(sub: str) -> str:
    return f"{auth_contract.MEMBER_KEY_PREFIX}{sub}"


def user_key(sub: str) -> str:
    return f"{auth_contract.USER_KEY_PREFIX}{sub}"


def _condition_failed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    # A transaction reports a failed condition as a cancellation with that reason.
    reasons = error.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        (reason or {}).get("Code") == "ConditionalCheckFailed" for reason in reasons
    )


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item without its keys, numbers as ints (DynamoDB hands back Decimals)."""
    return {
        name: int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, bool) else value
        for name, value in item.items()
        if name not in (PK, SK)
    }


class TenantsTable:
    """The table's operations; `now` is a parameter so tests can pin the clock.

    Transactions go through the resource's own client, which converts Python values to DynamoDB's
    typed ones as the Table methods do."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # ------------------------------------------------------------ reads (dynamodb:GetItem, Query, Scan)

    def tenant(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's profile (id, display name, status), or None. Strongly consistent: a
        suspension shows at once (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html)."""
        item = self._table.get_item(
            Key={PK: tenant_key(tenant), SK: auth_contract.TENANT_PROFILE_SORT_KEY}, ConsistentRead=True
        ).get("Item")
        return {"tenant": tenant, **_public(item)} if item else None

    def tenant_of_user(self, sub: str) -> str | None:
        """The tenant a user was linked to, or None."""
        item = self._table.get_item(
            Key={PK: user_key(sub), SK: auth_contract.USER_TENANT_SORT_KEY}, ConsistentRead=True
        ).get("Item")
        return item.get(TENANT) if item else None

    def list_tenants(self, limit: int, after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` tenant profiles and the tenant to continue after. A Scan: it reads every
        item of the table (members too), so it is for the operator's occasional listing only."""
        request: dict[str, Any] = {
            "FilterExpression": Attr(SK).eq(auth_contract.TENANT_PROFILE_SORT_KEY),
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {PK: tenant_key(after), SK: auth_contract.TENANT_PROFILE_SORT_KEY}
        tenants: list[dict[str, Any]] = []
        # Limit bounds the items read, not those that pass the filter: read on until a page fills.
        # Scan order is the table's own, so resuming after the last tenant returned is exact.
        while True:
            response = self._table.scan(**request)
            for item in response.get("Items", []):
                tenants.append({"tenant": item[PK].removeprefix(auth_contract.TENANT_KEY_PREFIX), **_public(item)})
            if len(tenants) >= limit:
                return tenants[:limit], tenants[limit - 1]["tenant"]
            if not response.get("LastEvaluatedKey"):
                return tenants, None
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def members(self, tenant: str) -> list[dict[str, Any]]:
        """Every member of the tenant (a tenant's members fit in a few pages)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(PK).eq(tenant_key(tenant))
            & Key(SK).begins_with(auth_contract.MEMBER_KEY_PREFIX),
        }
        members: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            members += [_public(item) for item in response.get("Items", [])]
            if not response.get("LastEvaluatedKey"):
                return members
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def member(self, tenant: str, sub: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={PK: tenant_key(tenant), SK: member_sort_key(sub)}, ConsistentRead=True).get(
            "Item"
        )
        return _public(item) if item else None

    # ------------------------------------------------------------ writes (PutItem, UpdateItem, DeleteItem)

    def create_tenant(self, tenant: str, name: str, now: float | None = None) -> dict[str, Any]:
        at = int(time.time() if now is None else now)
        item = {
            PK: tenant_key(tenant),
            SK: auth_contract.TENANT_PROFILE_SORT_KEY,
            NAME: name,
            STATUS: auth_contract.TENANT_ACTIVE,
            CREATED_AT: at,
            UPDATED_AT: at,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression=Attr(PK).not_exists())
        except ClientError as error:
            if _condition_failed(error):
                raise TenantExists(tenant) from None
            raise
        return {"tenant": tenant, **_public(item)}

    def set_status(self, tenant: str, status: str, now: float | None = None) -> dict[str, Any]:
        try:
            response = self._table.update_item(
                Key={PK: tenant_key(tenant), SK: auth_contract.TENANT_PROFILE_SORT_KEY},
                UpdateExpression="SET #status = :status, #updated = :now",
                ConditionExpression=Attr(PK).exists(),
                ExpressionAttributeNames={"#status": STATUS, "#updated": UPDATED_AT},
                ExpressionAttributeValues={":status": status, ":now": int(time.time() if now is None else now)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                raise TenantNotFound(tenant) from None
            raise
        return {"tenant": tenant, **_public(response["Attributes"])}

    def add_member(
        self, tenant: str, *, sub: str, username: str, email: str | None, role: str, now: float | None = None
    ) -> dict[str, Any]:
        """The member and the user's tenant link, in one transaction (TransactWriteItems needs
        dynamodb:PutItem on the table: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html)."""
        at = int(time.time() if now is None else now)
        member = {
            PK: tenant_key(tenant),
            SK: member_sort_key(sub),
            SUB: sub,
            USERNAME: username,
            ROLE: role,
            ENABLED: True,
            CREATED_AT: at,
            UPDATED_AT: at,
        }
        if email:
            member[EMAIL] = email
        link = {PK: user_key(sub), SK: auth_contract.USER_TENANT_SORT_KEY, TENANT: tenant, CREATED_AT: at}
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {"Put": self._put(member)},
                    {"Put": self._put(link)},
                ]
            )
        except ClientError as error:
            if _condition_failed(error):
                raise AlreadyMember(sub) from None
            raise
        return _public(member)

    def update_member(
        self, tenant: str, sub: str, *, role: str | None = None, enabled: bool | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """The member's role and/or whether their account is enabled."""
        names = {"#updated": UPDATED_AT}
        values: dict[str, Any] = {":now": int(time.time() if now is None else now)}
        assignments = ["#updated = :now"]
        for placeholder, name, value in (("role", ROLE, role), ("enabled", ENABLED, enabled)):
            if value is not None:
                names[f"#{placeholder}"] = name
                values[f":{placeholder}"] = value
                assignments.append(f"#{placeholder} = :{placeholder}")
        try:
            response = self._table.update_item(
                Key={PK: tenant_key(tenant), SK: member_sort_key(sub)},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=Attr(PK).exists(),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                raise MemberNotFound(sub) from None
            raise
        return _public(response["Attributes"])

    def remove_member(self, tenant: str, sub: str) -> None:
        """Both items, in one transaction; the link only if it names this tenant."""
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table.name,
                            "Key": self._key(tenant_key(tenant), member_sort_key(sub)),
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table.name,
                            "Key": self._key(user_key(sub), auth_contract.USER_TENANT_SORT_KEY),
                            "ConditionExpression": "attribute_not_exists(#pk) OR #tenant = :tenant",
                            "ExpressionAttributeNames": {"#pk": PK, "#tenant": TENANT},
                            "ExpressionAttributeValues": {":tenant": tenant},
                        }
                    },
                ]
            )
        except ClientError as error:
            if _condition_failed(error):
                raise MemberNotFound(sub) from None
            raise

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {PK: pk, SK: sk}

    def _put(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table.name,
            "Item": dict(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK},
        }


@functools.cache
def tenants_table() -> TenantsTable:
    """The table named by `TENANTS_TABLE`, made on first use (no AWS call until a request needs one)."""
    resource = boto3.resource("dynamodb", config=CLIENT_CONFIG)
    return TenantsTable(resource.Table(os.environ[TABLE_ENV]))
