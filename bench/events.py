"""Real-shaped events for the handlers: HTTP API payload 2.0 with the authorizer output exactly as
API Gateway passes it (every JWT claim a string, lists in the `[a b]` form, `scopes` null), a
Cognito pre-token-generation V2 event, a Lambda context, an in-memory stand-in for the
DynamoDB Table object (no boto3 client, no moto, no network), and a revocation store whose
BatchGetItem runs through a real botocore client with only the HTTP exchange replaced."""

from __future__ import annotations

import copy
import json
from typing import Any

import auth_contract
from bench.lambda_env import REGION, RESOURCE_SERVER

USER_POOL_ID = "eu-west-1_AbCdEfGhI"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
USER_CLIENT_ID = "5m3kq1example7spa2client9"
MACHINE_CLIENT_ID = "7h2jexample4m2m8client3xy"
USER_SUB = "3f6b1c2e-0d6a-4a59-9a9f-2c4f1b7d9e10"
TENANT = "tenant-a"
ITEM_ID = "itm_" + "0123456789abcdef" * 2
ISSUED_AT = 1787992402
EXPIRES = ISSUED_AT + 3600


def qualified(*scopes: str) -> str:
    return " ".join(auth_contract.qualified_scope(RESOURCE_SERVER, scope) for scope in scopes)


def user_claims(role: str = auth_contract.EDITOR) -> dict[str, str]:
    """A user's access token claims as the HTTP API's JWT authorizer hands them over: all strings."""
    return {
        "sub": USER_SUB,
        "cognito:groups": f"[{role}]",
        "iss": ISSUER,
        "version": "2",
        "client_id": USER_CLIENT_ID,
        "origin_jti": "8a1c3e55-2f0e-4f8a-b7c1-6d2e9f0a1b2c",
        "event_id": "c4b0e7d2-9a51-4a3e-8f6d-1b2c3d4e5f60",
        "token_use": "access",
        "scope": qualified(*auth_contract.ROLE_SCOPES[role]),
        "auth_time": str(ISSUED_AT),
        "exp": str(EXPIRES),
        "iat": str(ISSUED_AT),
        "jti": "0d9f8e7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
        "username": "ada",
        auth_contract.TENANT_CLAIM: TENANT,
        auth_contract.ROLES_CLAIM: f"[{role}]",
    }


def machine_authorizer_context() -> dict[str, str]:
    """What the events route's machine-client Lambda authorizer returns for a tenant's client."""
    return {
        "tenant": TENANT,
        "roles": "",
        "scopes": qualified(auth_contract.EVENTS_WRITE),
        "sub": MACHINE_CLIENT_ID,
        "client_id": MACHINE_CLIENT_ID,
        "username": "",
        "token_use": "access",
    }


def lambda_authorizer_context(role: str = auth_contract.EDITOR) -> dict[str, str]:
    """What the tenant-path Lambda authorizer returns as its context."""
    return {
        "tenant": TENANT,
        "roles": role,
        "scopes": qualified(*auth_contract.ROLE_SCOPES[role]),
        "sub": USER_SUB,
        "client_id": USER_CLIENT_ID,
        "username": "ada",
        "token_use": "access",
        "origin_jti": "8a1c3e55-2f0e-4f8a-b7c1-6d2e9f0a1b2c",
        "iat": ISSUED_AT,
        "exp": EXPIRES,
    }


def http_event(
    method: str,
    route: str,
    path: str,
    *,
    claims: dict[str, str] | None = None,
    lambda_context: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for `method path`, matched to `route` (`GET /items/{id}`)."""
    authorizer: dict[str, Any] = {}
    if claims is not None:
        authorizer = {"jwt": {"claims": claims, "scopes": None}}
    elif lambda_context is not None:
        authorizer = {"lambda": lambda_context}
    raw_query = "&".join(f"{key}={value}" for key, value in (query or {}).items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {
            "accept": "application/json",
            "authorization": "Bearer eyJraWQiOiJiZW5jaCJ9.e30.c2ln",  # shape only: the authorizer already ran
            "content-length": str(len(body)) if isinstance(body, str) else "0",
            "content-type": "application/json",
            "host": "abc123defg.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "bench/1.0",
            "x-amzn-trace-id": "Root=1-6748a1b2-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "authorizer": authorizer,
            "domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123defg",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench/1.0",
            },
            "requestId": "Yl2Q0jbmDoEEJxw=",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "29/Nov/2026:03:30:00 +0000",
            "timeEpoch": ISSUED_AT * 1000,
        },
        "isBase64Encoded": False,
    }
    if raw_query:
        event["queryStringParameters"] = dict(query or {})
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


PRE_TOKEN_EVENT: dict[str, Any] = {
    "version": "2",
    "triggerSource": "TokenGeneration_Authentication",
    "region": REGION,
    "userPoolId": USER_POOL_ID,
    "userName": USER_SUB,
    "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": USER_CLIENT_ID},
    "request": {
        "userAttributes": {
            "sub": USER_SUB,
            "cognito:user_status": "CONFIRMED",
            "email_verified": "true",
            "email": "ada@tenant-a.example",
            auth_contract.TENANT_ATTRIBUTE_CLAIM: TENANT,
        },
        "groupConfiguration": {
            "groupsToOverride": [auth_contract.EDITOR],
            "iamRolesToOverride": [],
            "preferredRole": None,
        },
        "scopes": ["aws.cognito.signin.user.admin"],
    },
    "response": {"claimsAndScopeOverrideDetails": None},
}

ITEM_BODY = {"name": "Quarterly report", "description": "Figures for Q3", "tags": ["finance", "q3"]}


def scenarios() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per function: (label, event) of the requests it serves, each one a success path."""
    user = user_claims()
    item = {"id": ITEM_ID}
    return {
        "me": [("GET /me", http_event("GET", "/me", "/me", claims=user))],
        "items_read": [
            ("GET /items?limit=20", http_event("GET", "/items", "/items", claims=user, query={"limit": "20"})),
            (
                "GET /items/{id}",
                http_event("GET", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item),
            ),
        ],
        "items_write": [
            ("POST /items", http_event("POST", "/items", "/items", claims=user, body=ITEM_BODY)),
            (
                "PUT /items/{id}",
                http_event(
                    "PUT", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item, body=ITEM_BODY
                ),
            ),
            (
                "DELETE /items/{id}",
                http_event("DELETE", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item),
            ),
        ],
        "tenant_summary": [
            (
                "GET /tenants/{tenantId}/summary",
                http_event(
                    "GET",
                    "/tenants/{tenantId}/summary",
                    f"/tenants/{TENANT}/summary",
                    lambda_context=lambda_authorizer_context(),
                    path_parameters={"tenantId": TENANT},
                ),
            )
        ],
        "tenant_events": [
            (
                "POST /tenants/{tenantId}/events",
                http_event(
                    "POST",
                    "/tenants/{tenantId}/events",
                    f"/tenants/{TENANT}/events",
                    lambda_context=machine_authorizer_context(),
                    path_parameters={"tenantId": TENANT},
                    body={"type": "invoice.paid", "detail": {"invoice": "INV-0042", "amount": 1250}},
                ),
            )
        ],
        "pre_token_generation": [("TokenGeneration_Authentication", PRE_TOKEN_EVENT)],
    }


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """A handler may add to its event (the trigger writes `response`): each call gets its own copy."""
    return copy.deepcopy(event)


class LambdaContext:
    function_name = "bench-function"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:bench-function"
    memory_limit_in_mb = 256
    aws_request_id = "2d7a4c1e-5b6f-4a8e-9c0d-1e2f3a4b5c6d"
    log_group_name = "/aws/lambda/bench-function"
    log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def stored_item(index: int = 0) -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "id": ITEM_ID if index == 0 else f"itm_{index:032x}",
        "name": f"Item {index}",
        "description": "stored",
        "tags": ["finance"],
        "owner": USER_SUB,
        "created_at": "2026-11-01T10:00:00+00:00",
        "updated_at": "2026-11-01T10:00:00+00:00",
    }


class StubTable:
    """Answers the calls shared/items_table.py makes on a boto3 Table, from memory, in constant time.

    Writes are acknowledged and not kept, so every repetition of a request sees the same table.
    """

    def __init__(self, items: int = 20) -> None:
        self._items = [stored_item(index) for index in range(items)]

    def query(self, **request: Any) -> dict[str, Any]:
        if request.get("Select") == "COUNT":
            return {"Count": len(self._items), "ScannedCount": len(self._items)}
        limit = request.get("Limit", len(self._items))
        return {"Items": [dict(item) for item in self._items[:limit]], "Count": min(limit, len(self._items))}

    def get_item(self, **request: Any) -> dict[str, Any]:
        return {"Item": dict(self._items[0])} if request["Key"]["id"] == ITEM_ID else {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:
        names = request["ExpressionAttributeNames"]
        values = request["ExpressionAttributeValues"]
        updated = dict(self._items[0])
        for index, name in enumerate(names.values()):
            updated[name] = values[f":v{index}"]
        return {"Attributes": updated}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        return {}


def authorizer_event(token: str) -> dict[str, Any]:
    """The payload 2.0 request a Lambda authorizer gets for GET /tenants/{tenantId}/summary."""
    event = http_event(
        "GET", "/tenants/{tenantId}/summary", f"/tenants/{TENANT}/summary", path_parameters={"tenantId": TENANT}
    )
    event["headers"]["authorization"] = f"Bearer {token}"
    del event["requestContext"]["authorizer"]
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:123456789012:abc123defg/$default/GET/tenants/{TENANT}/summary",
        "identitySource": [event["headers"]["authorization"], event["rawPath"]],
        **event,
    }


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def revocation_client() -> Any:
    """A real botocore DynamoDB client (serialization, signing, parsing all run) whose BatchGetItem
    never leaves the process: a `before-send` hook answers "no revocation" as DynamoDB would. What
    it leaves out is the network round trip."""
    import boto3
    from botocore.awsrequest import AWSResponse

    from bench.lambda_env import HANDLER_ENVIRONMENT

    table = HANDLER_ENVIRONMENT["REVOCATION_TABLE"]
    body = json.dumps({"Responses": {table: []}, "UnprocessedKeys": {}}).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))

    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
    )
    client.meta.events.register("before-send.dynamodb.BatchGetItem", answer)
    return client


def install_revocation_store(item_cache_seconds: float | None = None) -> Any:
    """Makes the handlers' revocation check use `revocation_client()`: returns the checker."""
    from bench.lambda_env import HANDLER_ENVIRONMENT
    from shared import revocation

    options = {} if item_cache_seconds is None else {"item_cache_seconds": item_cache_seconds}
    checker = revocation.RevocationChecker(revocation_client(), HANDLER_ENVIRONMENT["REVOCATION_TABLE"], **options)
    revocation.revocation_checker = lambda: checker
    return checker
