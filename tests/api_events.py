"""Real-shaped HTTP API (payload format 2.0) events and tokens' claims for the Lambda tests.

Claims are built the way the native JWT authorizer hands them to a Lambda: every value a
string, lists flattened Go-style (`"[admin editor]"`), numbers as text; `scopes` a list or
`null`. Users get exactly the scopes the pre-token trigger would give their roles.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

import auth_contract
from shared import machine_clients, revocation
from shared.items_table import PARTITION_KEY, SORT_KEY, items_table

REGION = "eu-west-1"
ACCOUNT = "111111111111"
API_ID = "a1b2c3d4e5"
USER_POOL_ID = f"{REGION}_TestPool1"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
RESOURCE_SERVER = "https://api.jwt-auth.test"
SPA_CLIENT_ID = "4spaclient0000000000000000"
ALB_CLIENT_ID = "5albclient0000000000000000"
MACHINE_CLIENT_ID = "6machineclient000000000000"
TABLE_NAME = "jwt-auth-test-items"
REVOCATION_TABLE_NAME = "jwt-auth-test-revocation"
REVOCATION_TTL_SECONDS = 3600


def qualified(*scopes: str) -> list[str]:
    return [auth_contract.qualified_scope(RESOURCE_SERVER, scope) for scope in scopes]


def go_list(values: list[str] | tuple[str, ...]) -> str:
    """A list claim as the JWT authorizer passes it on: `[a b]`."""
    return "[" + " ".join(values) + "]"


@dataclass(frozen=True)
class User:
    name: str
    tenant: str | None
    roles: tuple[str, ...] = ()
    sub: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def scopes(self) -> tuple[str, ...]:
        return auth_contract.scopes_for_roles(self.roles)


def access_claims(
    user: User, *, client_id: str = SPA_CLIENT_ID, scopes: tuple[str, ...] | None = None, now: int | None = None
) -> dict[str, str]:
    """A user's access token claims, stringified like the JWT authorizer does."""
    now = int(time.time()) if now is None else now
    granted = user.scopes if scopes is None else scopes
    claims = {
        "sub": user.sub,
        "iss": ISSUER,
        "version": "2",
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": " ".join(["openid", "email", *qualified(*granted)]),
        "auth_time": str(now - 60),
        "exp": str(now + 900),
        "iat": str(now - 60),
        "jti": str(uuid.uuid4()),
        "username": user.name,
        "cognito:groups": go_list(user.roles),
        auth_contract.ROLES_CLAIM: go_list(user.roles),
    }
    if user.tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = user.tenant
    return claims


def id_token_claims(user: User, *, client_id: str = SPA_CLIENT_ID) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": user.sub,
        "aud": client_id,
        "email_verified": "true",
        "iss": ISSUER,
        "cognito:username": user.name,
        "origin_jti": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": str(now - 60),
        "exp": str(now + 900),
        "iat": str(now - 60),
        "jti": str(uuid.uuid4()),
        "email": f"{user.name}@example.com",
        "cognito:groups": go_list(user.roles),
        auth_contract.ROLES_CLAIM: go_list(user.roles),
    }
    if user.tenant is not None:
        claims[auth_contract.TENANT_ATTRIBUTE_CLAIM] = user.tenant
        claims[auth_contract.TENANT_CLAIM] = user.tenant
    return claims


def machine_claims(
    *,
    client_id: str = MACHINE_CLIENT_ID,
    scopes: tuple[str, ...] = auth_contract.MACHINE_SCOPES,
    tenant: str | None = None,
) -> dict[str, str]:
    """A client-credentials access token: `sub` is the client id, no username; a tenant's client has
    `tenant_id` (the pre-token trigger's V3_0 path adds it), the platform's client none."""
    now = int(time.time())
    claims = {
        "sub": client_id,
        "iss": ISSUER,
        "version": "2",
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(qualified(*scopes)),
        "auth_time": str(now),
        "exp": str(now + 3600),
        "iat": str(now),
        "jti": str(uuid.uuid4()),
    }
    if tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = tenant
    return claims


def jwt_authorizer(claims: dict[str, str], *, scopes: Any = "from-claims") -> dict[str, Any]:
    """`requestContext.authorizer` as the native JWT authorizer fills it."""
    if scopes == "from-claims":
        scopes = claims["scope"].split() if claims.get("scope") else None
    return {"jwt": {"claims": claims, "scopes": scopes}}


def lambda_authorizer(context: dict[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` after a Lambda authorizer with simple responses."""
    return {"lambda": context}


def http_event(
    method: str,
    route: str,
    path: str,
    *,
    authorizer: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for `METHOD route` on the `$default` stage."""
    now = time.time()
    request_headers = {
        "accept": "application/json",
        "content-length": "0",
        "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6650f2a0-1234567890abcdef12345678",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "authorization": "Bearer eyJraWQiOiJ0ZXN0In0.e30.c2ln",
    }
    if authorizer is None:
        request_headers.pop("authorization")
    request_headers.update(headers or {})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{key}={value}" for key, value in (query or {}).items()),
        "headers": request_headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": f"{uuid.uuid4().hex[:14]}=",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    if raw_body is not None:
        request_headers["content-type"] = "application/json"
        request_headers["content-length"] = str(len(raw_body.encode()))
        if base64_body:
            raw_body = base64.b64encode(raw_body.encode()).decode()
            event["isBase64Encoded"] = True
        event["body"] = raw_body
    return event


def authorizer_request(path: str, tenant_id: str, authorization: str | None) -> dict[str, Any]:
    """The event a REQUEST Lambda authorizer (payload 2.0) gets for GET /tenants/{tenantId}/summary."""
    route = "/tenants/{tenantId}/summary"
    event = http_event("GET", route, path, path_parameters={"tenantId": tenant_id})
    event["type"] = "REQUEST"
    event["routeArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/GET{path}"
    event["identitySource"] = [value for value in (authorization, path) if value is not None]
    if authorization is None:
        event["headers"].pop("authorization", None)
    else:
        event["headers"]["authorization"] = authorization
    return event


class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name = "jwt-auth-test-api-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:jwt-auth-test-api-function"
    log_group_name = "/aws/lambda/jwt-auth-test-api-function"
    log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def create_items_table() -> Any:
    """The items table with the key schema the stack defines (checked by tests/test_api_stack.py)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=TABLE_NAME,
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def table_contents(table: Any) -> list[dict[str, Any]]:
    """Every record, in key order: compare before and after a refused request."""
    records = table.scan(ConsistentRead=True)["Items"]
    return sorted(records, key=lambda record: (record[PARTITION_KEY], record[SORT_KEY]))


def create_revocation_table() -> Any:
    """The revocation store with the key schema the stack defines (checked by tests/test_tenancy_tables.py)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=REVOCATION_TABLE_NAME,
        KeySchema=[{"AttributeName": auth_contract.TABLE_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": auth_contract.TABLE_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _api_environment(monkeypatch: Any) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "TABLE_NAME": TABLE_NAME,
        "RESOURCE_SERVER_IDENTIFIER": RESOURCE_SERVER,
        revocation.TABLE_ENV: REVOCATION_TABLE_NAME,
        revocation.TTL_ENV: str(REVOCATION_TTL_SECONDS),
    }.items():
        monkeypatch.setenv(name, value)


def _clear_caches() -> None:
    items_table.cache_clear()
    revocation.revocation_checker.cache_clear()
    revocation.revocation_store.cache_clear()


def mocked_items_table(monkeypatch: Any) -> Iterator[Any]:
    """Yields an empty moto items table, with the environment the API functions read and an empty
    revocation store (every API function checks it)."""
    _api_environment(monkeypatch)
    _clear_caches()
    with mock_aws():
        create_revocation_table()
        yield create_items_table()
    _clear_caches()


def mocked_revocation_table(monkeypatch: Any) -> Iterator[Any]:
    """Yields an empty moto revocation store, with the environment the API functions read."""
    _api_environment(monkeypatch)
    _clear_caches()
    with mock_aws():
        yield create_revocation_table()
    _clear_caches()


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


TENANTS_TABLE_NAME = "jwt-auth-test-tenants"


def create_tenants_table() -> Any:
    """The tenants table as stacks/tenancy_tables.py defines it (pk/sk strings), in moto."""
    key = auth_contract.TABLE_PARTITION_KEY, auth_contract.TABLE_SORT_KEY
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=TENANTS_TABLE_NAME,
        KeySchema=[{"AttributeName": key[0], "KeyType": "HASH"}, {"AttributeName": key[1], "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in key],
        BillingMode="PAY_PER_REQUEST",
    )


def put_tenant_profile(table: Any, tenant: str, status: str = auth_contract.TENANT_ACTIVE) -> None:
    """The PROFILE item the tenant lifecycle writes (only `status` matters to machine clients)."""
    table.put_item(
        Item={
            auth_contract.TABLE_PARTITION_KEY: f"{auth_contract.TENANT_KEY_PREFIX}{tenant}",
            auth_contract.TABLE_SORT_KEY: auth_contract.TENANT_PROFILE_SORT_KEY,
            machine_clients.STATUS: status,
        }
    )
