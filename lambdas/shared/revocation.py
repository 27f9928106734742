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

Reading (`RevocationChecker`, one per execution environment from `revocation_checker()`): for one
token, ONE strongly consistent `BatchGetItem` of the keys that can refuse it: `JTI#<origin_jti>`,
`USER#<sub>` (user tokens), `CLIENT#<client id>` (machine tokens), `TENANT#<tenant>` (when the token
has one). A token is refused when its session is revoked or its `iat` is before a `not_before`.

A bounded per-instance cache (LRU, `MAX_CACHED_KEYS` keys) keeps each key's answer for
`ITEM_CACHE_SECONDS` (2 s): with the strongly consistent read, a revocation reaches every instance
within that plus one request, well inside the 5 s promise. A token found revoked is remembered
(`MAX_CACHED_REVOKED` tokens) until it expires: replaying it costs no read. When the store cannot
answer (any error, timeout or unprocessed key) the check fails closed: `StoreUnavailable`, and the
caller refuses the request. docs/security.md ("Revocation") has the guarantees, limits and costs.

Nothing here touches the network at import: the boto3 table and client are made on first use,
from `REVOCATION_TABLE`.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Imported at module level on purpose, not on first use: every authorized request reads the store,
# so the first request of an execution environment needs boto3 anyway, and Lambda runs an
# on-demand function's Init phase on a full vCPU ("Effectively running Java on Serverless",
# https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting)
# but its Invoke phase with CPU in proportion to memory (one vCPU at 1,769 MB, "Configure Lambda
# function memory": about a seventh of one at 256 MB). A lazy import would shorten the measured
# cold import and lengthen the first request.
import boto3
from botocore.config import Config

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


def including_this_second() -> int:
    """A not-before that also refuses tokens issued earlier in the current second (`iat` is whole
    seconds). For revocations after which no legitimate token of the subject follows at once
    (global sign-out, member removal, disable, tenant suspension, client deletion); a role change
    or a secret rotation keeps the default (this second, rounded down), so that the token minted
    right after it is not refused."""
    return math.ceil(time.time())


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


# --------------------------------------------------------------------------- the check

# How long one answer of the store (an item, or that there is none) is trusted. The 5 s promise is
# this plus one request's read; a smaller value costs more reads under load.
ITEM_CACHE_SECONDS = 2.0
MAX_CACHED_KEYS = 4096
MAX_CACHED_REVOKED = 1024
# A revocation check must fail fast rather than hold a request (the authorizer has 5 s in all,
# JWKS fetch included): one retry, short timeouts, about 2.5 s at worst; a strongly consistent
# read of three small items takes milliseconds
# (https://docs.aws.amazon.com/boto3/latest/guide/retries.html).
CLIENT_CONFIG = Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 2, "mode": "standard"})
# What the logs and the alarm (stacks/monitoring_stack.py) look for: a top-level JSON field.
UNAVAILABLE_LOG_FIELD = "revocation"
UNAVAILABLE_LOG_VALUE = "store-unavailable"


class Revoked(Exception):
    """The token is revoked. The message is a reason for the logs (never a token or claim value)."""


class StoreUnavailable(Exception):
    """The store did not answer: the request must be refused (fail closed)."""


@dataclass(frozen=True)
class TokenRef:
    """What the check needs to know about a token (claims.Identity provides it)."""

    sub: str
    issued_at: int
    expires_at: int
    origin_jti: str | None = None
    tenant: str | None = None
    client_id: str | None = None
    machine: bool = False

    @classmethod
    def of(cls, identity: Any) -> TokenRef:
        """The reference of a caller (a `claims.Identity`); a token that cannot be checked is `Revoked`."""
        if identity.issued_at is None or identity.expires_at is None:
            raise Revoked("token without iat or exp")
        return cls(
            sub=identity.sub,
            issued_at=identity.issued_at,
            expires_at=identity.expires_at,
            origin_jti=identity.origin_jti,
            tenant=identity.tenant,
            client_id=identity.client_id,
            machine=identity.is_machine,
        )

    def keys(self) -> tuple[str, ...]:
        keys = []
        if self.origin_jti:
            keys.append(session_key(self.origin_jti))
        if self.machine:
            if self.client_id:
                keys.append(client_key(self.client_id))
        else:
            keys.append(user_key(self.sub))
        if self.tenant:
            keys.append(tenant_key(self.tenant))
        return tuple(keys)


class _Lru:
    """A bounded mapping that forgets its least recently used entries first; thread-safe."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def pop(self, key: Any) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class RevocationChecker:
    """Answers "is this token revoked?" from the store, through the per-instance cache.

    `client` is a low-level boto3 DynamoDB client; `monotonic` (cache ages) and `now` (token
    expiry, epoch seconds) are parameters so tests can move time.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        item_cache_seconds: float = ITEM_CACHE_SECONDS,
        max_cached_keys: int = MAX_CACHED_KEYS,
        max_cached_revoked: int = MAX_CACHED_REVOKED,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = item_cache_seconds
        self._items = _Lru(max_cached_keys)  # key -> (read at, not_before or None when absent)
        self._revoked = _Lru(max_cached_revoked)  # TokenRef -> its exp
        self._monotonic = monotonic
        self._now = now
        self.reads = 0  # BatchGetItem calls made, for tests and the benchmark

    def check(self, token: TokenRef) -> None:
        """Returns when the token may be used; raises `Revoked` or `StoreUnavailable`."""
        if not token.machine and not token.origin_jti:
            # Every user token of a client with token revocation on carries origin_jti; one without
            # could not be refused by sign-out, so it is refused now.
            raise Revoked("user token without origin_jti")
        expires = self._revoked.get(token)
        if expires is not None:
            if expires > self._now():
                raise Revoked("revoked (remembered)")
            self._revoked.pop(token)
        keys = token.keys()
        now = self._monotonic()
        known: dict[str, int | None] = {}
        missing = []
        for key in keys:
            cached = self._items.get(key)
            if cached is not None and now - cached[0] < self._ttl:
                known[key] = cached[1]
            else:
                missing.append(key)
        if missing:
            fetched = self._read(missing)
            read_at = self._monotonic()
            for key in missing:
                known[key] = fetched.get(key)
                self._items.put(key, (read_at, known[key]))
        reason = self._refusal(token, known)
        if reason is not None:
            self._revoked.put(token, token.expires_at)
            raise Revoked(reason)

    @staticmethod
    def _refusal(token: TokenRef, items: dict[str, int | None]) -> str | None:
        for key, not_before in items.items():
            if not_before is None:
                continue
            if key.startswith(auth_contract.JTI_KEY_PREFIX):
                return "session revoked"
            if token.issued_at < not_before:
                return f"issued before the {key.partition('#')[0].lower()} not-before"
        return None

    def _read(self, keys: list[str]) -> dict[str, int | None]:
        """`not_before` of each key's item (absent keys left out), in one strongly consistent BatchGetItem."""
        request = {
            self._table: {
                "Keys": [{PK: {"S": key}} for key in keys],
                # Strongly consistent: a revocation written before this read is always seen
                # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
                "ConsistentRead": True,
                "ProjectionExpression": "#pk, #nb",
                "ExpressionAttributeNames": {"#pk": PK, "#nb": NOT_BEFORE},
            }
        }
        self.reads += 1
        try:
            answer = self._client.batch_get_item(RequestItems=request)
        except Exception as error:  # whatever went wrong, the store did not answer
            raise StoreUnavailable(type(error).__name__) from error
        # Unprocessed keys (throttling, partial results) are not an answer: fail closed rather
        # than retry past the request's time budget
        # (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
        if (answer.get("UnprocessedKeys") or {}).get(self._table, {}).get("Keys"):
            raise StoreUnavailable("unprocessed keys")
        found: dict[str, int | None] = {}
        try:
            for item in (answer.get("Responses") or {}).get(self._table, []):
                found[item[PK]["S"]] = int(item[NOT_BEFORE]["N"])
        except (KeyError, TypeError, ValueError) as error:
            # An item without a usable not_before cannot say when tokens became invalid: refuse.
            raise StoreUnavailable("malformed item") from error
        return found


@functools.cache
def revocation_checker() -> RevocationChecker:
    """The checker of this execution environment, on the table named by `REVOCATION_TABLE` (made on first use)."""
    table = os.environ.get(TABLE_ENV)
    if not table:
        # Misconfigured: nothing can be checked, so nothing passes.
        raise StoreUnavailable(f"{TABLE_ENV} is not set")
    return RevocationChecker(boto3.client("dynamodb", config=CLIENT_CONFIG), table)


def check_identity(identity: Any) -> None:
    """Checks a caller (a `claims.Identity`) with this environment's checker: returns, or raises
    `Revoked` or `StoreUnavailable`."""
    revocation_checker().check(TokenRef.of(identity))
