"""Real-shaped events for the handlers: HTTP API payload 2.0 with the authorizer output exactly as
API Gateway passes it (every JWT claim a string, lists in the `[a b]` form, `scopes` null), a
Cognito pre-token-generation V3_0 event, a Lambda context; in-memory stand-ins for what the
handlers reach AWS through (the items and tenants tables' boto3 Table objects, the Cognito calls,
the pre-token trigger's `Directory`: no boto3 client, no moto, no network), installed at the
handlers' own seams by `install_stand_ins`; and a revocation store whose BatchGetItem runs through
a real botocore client with only the HTTP exchange replaced."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

import auth_contract
from bench.lambda_env import HANDLER_ENVIRONMENT, REGION, RESOURCE_SERVER, USER_POOL_ID

ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
USER_CLIENT_ID = "5m3kq1example7spa2client9"
MACHINE_CLIENT_ID = "7h2jexample4m2m8client3xy"
USER_SUB = "3f6b1c2e-0d6a-4a59-9a9f-2c4f1b7d9e10"
TENANT = "tenant-a"
ITEM_ID = "itm_" + "0123456789abcdef" * 2
NEW_TENANT = "tenant-b"
ISSUED_AT = 1787992402
EXPIRES = ISSUED_AT + 3600


def qualified(*scopes: str) -> str:
    return " ".join(auth_contract.qualified_scope(RESOURCE_SERVER, scope) for scope in scopes)


def user_claims(role: str = auth_contract.EDITOR, tenant: str | None = TENANT) -> dict[str, str]:
    """A user's access token claims as the HTTP API's JWT authorizer hands them over: all strings.
    A platform operator's have no tenant (`tenant=None`): the pre-token trigger gives them none."""
    claims = {
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
        auth_contract.ROLES_CLAIM: f"[{role}]",
    }
    if tenant is not None:
        claims[auth_contract.TENANT_CLAIM] = tenant
    return claims


def machine_authorizer_context() -> dict[str, Any]:
    """What the events route's machine-client Lambda authorizer (lambdas/tenant_authorizer/machine.py)
    returns for a tenant's client: no session (`origin_jti` empty), and the token's `iat` and `exp`,
    which the handler's revocation check needs (without them the token is refused: 401)."""
    return {
        "tenant": TENANT,
        "roles": "",
        "scopes": qualified(auth_contract.EVENTS_WRITE),
        "sub": MACHINE_CLIENT_ID,
        "client_id": MACHINE_CLIENT_ID,
        "username": "",
        "token_use": "access",
        "origin_jti": "",
        "iat": ISSUED_AT,
        "exp": EXPIRES,
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


# The trigger runs as V3_0 (stacks/identity_stack.py): for a user's sign-in the event is the V2_0
# one with version "3" ("Aside from the circumstances of the resulting access tokens, version two
# and three events are identical": Cognito developer guide, "Pre token generation Lambda trigger",
# https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html).
PRE_TOKEN_EVENT: dict[str, Any] = {
    "version": "3",
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

# What a Cognito trigger's success is: it returned the event with the token customization in it.
CUSTOMIZED = "customized"


class Scenario(NamedTuple):
    label: str
    event: dict[str, Any]
    expected: int | str  # the HTTP status of the success path, or CUSTOMIZED for the trigger


def status_of(response: Any) -> int | str | None:
    """What an invocation answered: the HTTP status, CUSTOMIZED for a trigger that returned its
    event with `claimsAndScopeOverrideDetails` set, None for anything else."""
    if not isinstance(response, dict):
        return None
    if "statusCode" in response:
        status = response["statusCode"]
        return status if isinstance(status, int) else None
    details = (response.get("response") or {}).get("claimsAndScopeOverrideDetails")
    return CUSTOMIZED if details else None


def scenarios() -> dict[str, list[Scenario]]:
    """Per function: the requests it serves, each one a success path, with the status it must answer."""
    user = user_claims()
    admin = user_claims(auth_contract.ADMIN)
    operator = user_claims(auth_contract.PLATFORM_OPERATOR, tenant=None)
    item = {"id": ITEM_ID}
    tenant = {"tenantId": TENANT}
    return {
        "me": [Scenario("GET /me", http_event("GET", "/me", "/me", claims=user), 200)],
        "items_read": [
            Scenario(
                "GET /items?limit=20", http_event("GET", "/items", "/items", claims=user, query={"limit": "20"}), 200
            ),
            Scenario(
                "GET /items/{id}",
                http_event("GET", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item),
                200,
            ),
        ],
        "items_write": [
            Scenario("POST /items", http_event("POST", "/items", "/items", claims=user, body=ITEM_BODY), 201),
            Scenario(
                "PUT /items/{id}",
                http_event(
                    "PUT", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item, body=ITEM_BODY
                ),
                200,
            ),
            Scenario(
                "DELETE /items/{id}",
                http_event("DELETE", "/items/{id}", f"/items/{ITEM_ID}", claims=user, path_parameters=item),
                204,
            ),
        ],
        "tenant_summary": [
            Scenario(
                "GET /tenants/{tenantId}/summary",
                http_event(
                    "GET",
                    "/tenants/{tenantId}/summary",
                    f"/tenants/{TENANT}/summary",
                    lambda_context=lambda_authorizer_context(),
                    path_parameters=tenant,
                ),
                200,
            )
        ],
        "tenant_events": [
            Scenario(
                "POST /tenants/{tenantId}/events",
                http_event(
                    "POST",
                    "/tenants/{tenantId}/events",
                    f"/tenants/{TENANT}/events",
                    lambda_context=machine_authorizer_context(),
                    path_parameters=tenant,
                    body={"type": "invoice.paid", "detail": {"invoice": "INV-0042", "amount": 1250}},
                ),
                202,
            )
        ],
        # The tenant's admin (role and scope `admin`, behind the JWT authorizer) manages its clients.
        "machine_clients": [
            Scenario(
                "GET /tenants/{tenantId}/machine-clients",
                http_event(
                    "GET",
                    "/tenants/{tenantId}/machine-clients",
                    f"/tenants/{TENANT}/machine-clients",
                    claims=admin,
                    path_parameters=tenant,
                ),
                200,
            ),
            Scenario(
                "POST /tenants/{tenantId}/machine-clients",
                http_event(
                    "POST",
                    "/tenants/{tenantId}/machine-clients",
                    f"/tenants/{TENANT}/machine-clients",
                    claims=admin,
                    path_parameters=tenant,
                    body={"name": "billing-sync"},
                ),
                201,
            ),
        ],
        # The tenant's admin lists its members; a platform operator (no tenant, `platform.admin`) creates a tenant.
        "tenant_admin": [
            Scenario(
                "GET /tenants/{tenantId}/members",
                http_event(
                    "GET",
                    "/tenants/{tenantId}/members",
                    f"/tenants/{TENANT}/members",
                    claims=admin,
                    path_parameters=tenant,
                ),
                200,
            ),
            Scenario(
                "POST /tenants",
                http_event(
                    "POST", "/tenants", "/tenants", claims=operator, body={"tenant": NEW_TENANT, "name": "Tenant B"}
                ),
                201,
            ),
        ],
        "pre_token_generation": [Scenario("TokenGeneration_Authentication", PRE_TOKEN_EVENT, CUSTOMIZED)],
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


class _Transactions:
    """The resource's own client, as far as the tenants table's writers use it."""

    @staticmethod
    def transact_write_items(**request: Any) -> dict[str, Any]:
        return {}


MEMBERS = 10
MACHINE_CLIENTS = 3  # under logic.MAX_CLIENTS_PER_TENANT, so a create is accepted
CLIENT_CREATED = "2026-11-01T10:00:00+00:00"


def member_sub(index: int) -> str:
    return USER_SUB if index == 0 else f"{index:08x}-0d6a-4a59-9a9f-2c4f1b7d9e10"


def tenants_items() -> list[dict[str, Any]]:
    """The tenants table of one active tenant (stacks/tenancy_tables.py's layout): its profile, its
    members with their `USER#` links, its machine clients with their `CLIENT#` links. Numbers are
    Decimals, as the boto3 resource hands them back."""
    pk, sk = auth_contract.TABLE_PARTITION_KEY, auth_contract.TABLE_SORT_KEY
    tenant = f"{auth_contract.TENANT_KEY_PREFIX}{TENANT}"
    at = Decimal(ISSUED_AT - 86_400)
    items: list[dict[str, Any]] = [
        {
            pk: tenant,
            sk: auth_contract.TENANT_PROFILE_SORT_KEY,
            "display_name": "Tenant A",
            "status": auth_contract.TENANT_ACTIVE,
            "created_at": at,
            "updated_at": at,
        }
    ]
    for index in range(MEMBERS):
        # The first member is the admin the events' claims speak for (USER_SUB, "ada").
        sub = member_sub(index)
        role = auth_contract.ADMIN if index == 0 else auth_contract.TENANT_ROLES[index % 2]
        items += [
            {
                pk: tenant,
                sk: f"{auth_contract.MEMBER_KEY_PREFIX}{sub}",
                "sub": sub,
                "username": "ada" if index == 0 else sub,
                "email": "ada@tenant-a.example" if index == 0 else f"member{index}@tenant-a.example",
                "role": role,
                "enabled": True,
                "created_at": at,
                "updated_at": at,
            },
            {pk: f"{auth_contract.USER_KEY_PREFIX}{sub}", sk: auth_contract.USER_TENANT_SORT_KEY, "tenant_id": TENANT},
        ]
    for index in range(MACHINE_CLIENTS):
        client_id = f"{index}h2jexample4m2m8client3xy"
        items += [
            {
                pk: tenant,
                sk: f"{auth_contract.CLIENT_KEY_PREFIX}{client_id}",
                "client_id": client_id,
                "name": f"client-{index}",
                "created_at": CLIENT_CREATED,
                "created_by": "ada",
            },
            {
                pk: f"{auth_contract.CLIENT_KEY_PREFIX}{client_id}",
                sk: auth_contract.CLIENT_TENANT_SORT_KEY,
                "tenant_id": TENANT,
                "client_id": client_id,
            },
        ]
    return items


def _key_condition(condition: Any) -> tuple[str, str]:
    """(partition key, sort key prefix) of `Key(pk).eq(...) & Key(sk).begins_with(...)`, the one key
    condition the tenants table is queried with (boto3.dynamodb.conditions objects)."""
    equals, begins = condition.get_expression()["values"]
    return equals.get_expression()["values"][1], begins.get_expression()["values"][1]


class StubTenantsTable:
    """Answers the calls shared/tenants.py and shared/machine_clients.py make on the tenants table's
    boto3 Table, from memory (a dict lookup per GetItem, one partition's items per Query).

    Writes are acknowledged and not kept, as in StubTable.
    """

    name = "bench-tenants"

    def __init__(self) -> None:
        pk, sk = auth_contract.TABLE_PARTITION_KEY, auth_contract.TABLE_SORT_KEY
        self._items = {(item[pk], item[sk]): item for item in tenants_items()}
        self._partitions: dict[str, list[dict[str, Any]]] = {}
        for key in sorted(self._items):
            self._partitions.setdefault(key[0], []).append(self._items[key])
        self.meta = SimpleNamespace(client=_Transactions())

    def get_item(self, **request: Any) -> dict[str, Any]:
        key = request["Key"]
        item = self._items.get((key[auth_contract.TABLE_PARTITION_KEY], key[auth_contract.TABLE_SORT_KEY]))
        return {"Item": dict(item)} if item else {}

    def query(self, **request: Any) -> dict[str, Any]:
        partition, prefix = _key_condition(request["KeyConditionExpression"])
        sk = auth_contract.TABLE_SORT_KEY
        found = [dict(item) for item in self._partitions.get(partition, ()) if item[sk].startswith(prefix)]
        return {"Items": found, "Count": len(found), "ScannedCount": len(found)}

    def put_item(self, **request: Any) -> dict[str, Any]:
        return {}


class StubCognito:
    """The Cognito calls of creating a machine client (CreateUserPoolClient), answered from memory."""

    def create_user_pool_client(self, **request: Any) -> dict[str, Any]:
        return {
            "UserPoolClient": {
                "UserPoolId": request["UserPoolId"],
                "ClientName": request["ClientName"],
                "ClientId": "9n4kexample2m2m5client7zz",
                "ClientSecret": "s" * 52,
                "AllowedOAuthFlows": request["AllowedOAuthFlows"],
                "AllowedOAuthScopes": request["AllowedOAuthScopes"],
            }
        }


class StubDirectory:
    """The pre-token trigger's `Directory`: the tenant and the user's link read through shared/tenants.py
    from StubTenantsTable, the calling client's allowed scopes as the real directory answers them
    once warm (from its per-instance cache: one DescribeUserPoolClient per client per 300 s)."""

    def __init__(self) -> None:
        from shared.tenants import STATUS, TenantsTable

        self._tenants = TenantsTable(StubTenantsTable())
        self._status = STATUS
        # The user pool client's AllowedOAuthScopes, as stacks/identity_stack.py configures the SPA's.
        self._scopes = frozenset({"openid", "email", "profile", *qualified(*auth_contract.USER_SCOPES).split()})

    def tenant_status(self, tenant: str) -> str | None:
        profile = self._tenants.tenant(tenant)
        return profile.get(self._status) if profile else None

    def linked_tenant(self, sub: str) -> str | None:
        return self._tenants.tenant_of_user(sub)

    def client_scopes(self, pool_id: str, client_id: str) -> frozenset[str]:
        return self._scopes if (pool_id, client_id) == (USER_POOL_ID, USER_CLIENT_ID) else frozenset()


def stand_ins(function: str) -> dict[str, Callable[[], Any]]:
    """The module-level factories through which `function`'s handler reaches AWS on its measured
    paths, each with an in-memory replacement (made once, as the real ones are per instance)."""
    if function in ("items_read", "items_write", "tenant_events", "tenant_summary"):
        from shared.items_table import ItemsTable

        table = ItemsTable(StubTable())
        return {"items_table": lambda: table}
    if function == "tenant_admin":
        from shared.tenants import TenantsTable

        tenants = TenantsTable(StubTenantsTable())
        return {"tenants_table": lambda: tenants}
    if function == "machine_clients":
        from machine_clients.logic import MachineClients

        from shared.machine_clients import MachineClientRecords
        from shared.revocation import RevocationStore

        clients = MachineClients(
            cognito=StubCognito(),
            user_pool_id=USER_POOL_ID,
            records=MachineClientRecords(StubTenantsTable()),
            # Only rotate and delete write to the store (a PutItem the stub acknowledges).
            revocations=RevocationStore(StubTable(), int(HANDLER_ENVIRONMENT["REVOCATION_TTL_SECONDS"])),
            resource_server=RESOURCE_SERVER,
            access_token_minutes=int(HANDLER_ENVIRONMENT["MACHINE_ACCESS_TOKEN_MINUTES"]),
        )
        return {"machine_clients": lambda: clients}
    if function == "pre_token_generation":
        directory = StubDirectory()
        return {"aws_directory": lambda: directory}
    return {}


def install_stand_ins(function: str, handler: Any) -> None:
    """Replaces the handler module's AWS-facing factories by `stand_ins(function)`. A factory the
    handler no longer has is an error: the bench must not fall back on AWS without saying so."""
    for name, factory in stand_ins(function).items():
        if not callable(getattr(handler, name, None)):
            raise RuntimeError(f"{function}.handler has no {name}(): the bench cannot replace it by its stand-in")
        setattr(handler, name, factory)


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
