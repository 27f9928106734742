"""The revocation store: what makes a token refused before it expires.

Four kinds of entry, one DynamoDB item each (keys in auth_contract; layout in
stacks/tenancy_tables.py):

- `JTI#<origin_jti>`: one sign-in session revoked (logout). Every token minted from that session,
  and from refreshes of it, carries the same `origin_jti`.
- `USER#<sub>`, `TENANT#<id>`, `CLIENT#<client id>`: "not before": every token of that user, tenant
  or machine client issued (`iat`) before `not_before` is refused (global sign-out, member removal,
  role change, disable, tenant suspension, machine-client rotation).

Each item expires (`expires_at`, DynamoDB TTL) once every token it can refuse has expired: the
longest token lifetime after it was written (`REVOCATION_TTL_SECONDS`). Writes are
unconditional: a later write only moves `not_before` forward in time.

Nothing here touches the network at import: the boto3 table is made on first use, from
`REVOCATION_TABLE`.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3

import auth_contract

TABLE_ENV = "REVOCATION_TABLE"
TTL_ENV = "REVOCATION_TTL_SECONDS"
NOT_BEFORE = "not_before"
REASON = "reason"
PK = auth_contract.TABLE_PARTITION_KEY


def session_key(origin_jti: str) -> str:
    return f"{auth_contract.JTI_KEY_PREFIX}{origin_jti}"


def user_key(sub: str) -> str:
    return f"{auth_contract.USER_KEY_PREFIX}{sub}"


def tenant_key(tenant_id: str) -> str:
    return f"{auth_contract.TENANT_KEY_PREFIX}{tenant_id}"


def client_key(client_id: str) -> str:
    return f"{auth_contract.CLIENT_KEY_PREFIX}{client_id}"


class RevocationStore:
    """Writes to the store; `now` is a parameter so tests can pin the clock."""

    def __init__(self, table: Any, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"{TTL_ENV} must be a positive number of seconds")
        self._table = table
        self._ttl_seconds = ttl_seconds

    def _put(self, key: str, reason: str, now: float | None) -> int:
        at = int(time.time() if now is None else now)
        self._table.put_item(
            Item={
                PK: key,
                NOT_BEFORE: at,
                REASON: reason,
                auth_contract.REVOCATION_TTL_ATTRIBUTE: at + self._ttl_seconds,
            }
        )
        return at

    def revoke_session(self, origin_jti: str, reason: str, now: float | None = None) -> int:
        """Refuse every token of one sign-in session (its `origin_jti`). Returns the time written."""
        return self._put(session_key(origin_jti), reason, now)

    def revoke_user(self, sub: str, reason: str, now: float | None = None) -> int:
        """Refuse every token of the user issued before now."""
        return self._put(user_key(sub), reason, now)

    def revoke_tenant(self, tenant_id: str, reason: str, now: float | None = None) -> int:
        """Refuse every token of the tenant (users and machine clients) issued before now."""
        return self._put(tenant_key(tenant_id), reason, now)

    def revoke_client(self, client_id: str, reason: str, now: float | None = None) -> int:
        """Refuse every token of a machine client issued before now."""
        return self._put(client_key(client_id), reason, now)


@functools.cache
def revocation_store() -> RevocationStore:
    """The store named by `REVOCATION_TABLE`, made on first use (no AWS call until a request needs one)."""
    return RevocationStore(boto3.resource("dynamodb").Table(os.environ[TABLE_ENV]), int(os.environ[TTL_ENV]))
