"""The items functions (items_read, items_write) on real-shaped HTTP API events and a moto table.

Specification: a user only sees and changes their own tenant's items; another tenant's item is
404; reading needs a role and items.read, writing editor/admin and items.write, deleting admin
or ownership; bodies are checked field by field; nothing is written on any refused request.
"""

from __future__ import annotations

import json

import pytest
from items_read import handler as read_handler
from items_write import handler as write_handler

import auth_contract
from tests.api_events import (
    LambdaContext,
    User,
    access_claims,
    http_event,
    id_token_claims,
    jwt_authorizer,
    machine_claims,
    mocked_items_table,
    response_json,
    table_contents,
)

ACME, GLOBEX = "acme", "globex"
ADMIN = User("alice", ACME, (auth_contract.ADMIN,))
EDITOR = User("erin", ACME, (auth_contract.EDITOR,))  # owns the acme item
OTHER_EDITOR = User("ed", ACME, (auth_contract.EDITOR,))
VIEWER = User("victor", ACME, (auth_contract.VIEWER,))
NO_ROLE = User("nora", ACME, ())
GLOBEX_ADMIN = User("gina", GLOBEX, (auth_contract.ADMIN,))
GLOBEX_EDITOR = User("gus", GLOBEX, (auth_contract.EDITOR,))  # owns the globex item
USERS = {user.name: user for user in (ADMIN, EDITOR, OTHER_EDITOR, VIEWER, NO_ROLE, GLOBEX_ADMIN, GLOBEX_EDITOR)}

ACME_ITEM = "itm_" + "a" * 32
GLOBEX_ITEM = "itm_" + "b" * 32
MISSING_ITEM = "itm_" + "c" * 32
VALID_BODY = {"name": "Quarterly report", "description": "Numbers", "tags": ["finance", "q3"]}


@pytest.fixture
def table(monkeypatch):
    yield from mocked_items_table(monkeypatch)


@pytest.fixture
def seeded(table):
    for tenant, item_id, owner in ((ACME, ACME_ITEM, EDITOR), (GLOBEX, GLOBEX_ITEM, GLOBEX_EDITOR)):
        table.put_item(
            Item={
                "tenant": tenant,
                "id": item_id,
                "name": f"{tenant} item",
                "description": "",
                "tags": [],
                "owner": owner.sub,
                "created_at": "2026-01-01T00:00:00+00:00",
                "updated_at": "2026-01-01T00:00:00+00:00",
            }
        )
    return table


def call(method: str, route: str, path: str, claims: dict | None, *, item_id: str | None = None, **kwargs) -> dict:
    handler = read_handler if method == "GET" else write_handler
    event = http_event(
        method,
        route,
        path,
        authorizer=jwt_authorizer(claims) if claims is not None else None,
        path_parameters={"id": item_id} if item_id else None,
        **kwargs,
    )
    return handler.lambda_handler(event, LambdaContext())


def as_user(user: User, method: str, target: str, **kwargs) -> dict:
    """`target`: "collection" (/items), or an item id (/items/{id})."""
    claims = access_claims(user)
    if target == "collection":
        return call(method, "/items", "/items", claims, **kwargs)
    return call(method, "/items/{id}", f"/items/{target}", claims, item_id=target, **kwargs)


# --------------------------------------------------------------------------- the matrix

# (user, method, target, status). Targets: the collection, the acme item, the globex item.
MATRIX = [
    # GET /items: any role, own tenant only
    ("alice", "GET", "collection", 200),
    ("erin", "GET", "collection", 200),
    ("victor", "GET", "collection", 200),
    ("nora", "GET", "collection", 403),
    ("gina", "GET", "collection", 200),
    # GET /items/{id}
    ("alice", "GET", ACME_ITEM, 200),
    ("erin", "GET", ACME_ITEM, 200),
    ("victor", "GET", ACME_ITEM, 200),
    ("nora", "GET", ACME_ITEM, 403),
    ("gina", "GET", ACME_ITEM, 404),
    ("gus", "GET", ACME_ITEM, 404),
    ("alice", "GET", GLOBEX_ITEM, 404),
    ("victor", "GET", GLOBEX_ITEM, 404),
    ("alice", "GET", MISSING_ITEM, 404),
    # POST /items: editor or admin
    ("alice", "POST", "collection", 201),
    ("erin", "POST", "collection", 201),
    ("victor", "POST", "collection", 403),
    ("nora", "POST", "collection", 403),
    ("gina", "POST", "collection", 201),
    # PUT /items/{id}: editor or admin of the item's tenant
    ("alice", "PUT", ACME_ITEM, 200),
    ("erin", "PUT", ACME_ITEM, 200),
    ("ed", "PUT", ACME_ITEM, 200),
    ("victor", "PUT", ACME_ITEM, 403),
    ("nora", "PUT", ACME_ITEM, 403),
    ("gina", "PUT", ACME_ITEM, 404),
    ("gus", "PUT", ACME_ITEM, 404),
    ("alice", "PUT", MISSING_ITEM, 404),
    # DELETE /items/{id}: admin, or the owner
    ("alice", "DELETE", ACME_ITEM, 204),
    ("erin", "DELETE", ACME_ITEM, 204),
    ("ed", "DELETE", ACME_ITEM, 403),
    ("victor", "DELETE", ACME_ITEM, 403),
    ("nora", "DELETE", ACME_ITEM, 403),
    ("gina", "DELETE", ACME_ITEM, 404),
    ("gus", "DELETE", ACME_ITEM, 404),
    ("alice", "DELETE", MISSING_ITEM, 404),
]


@pytest.mark.parametrize(
    ("user", "method", "target", "status"),
    MATRIX,
    ids=[f"{user}-{method}-{target[:12]}-{status}" for user, method, target, status in MATRIX],
)
def test_route_role_tenant_matrix(seeded, user, method, target, status):
    before = table_contents(seeded)
    body = VALID_BODY if method in ("POST", "PUT") else None
    response = as_user(USERS[user], method, target, body=body)

    assert response["statusCode"] == status, response.get("body")
    after = table_contents(seeded)
    if status >= 400:
        assert after == before, "a refused request changed the table"
        assert set(response_json(response)) == {"message"}
        return
    caller = USERS[user]
    if method == "GET" and target == "collection":
        listed = response_json(response)["items"]
        assert listed and {item["tenant"] for item in listed} == {caller.tenant}
    elif method == "GET":
        assert response_json(response)["id"] == target
    elif method == "POST":
        created = response_json(response)
        assert created["tenant"] == caller.tenant and created["owner"] == caller.sub
        assert response["headers"]["Location"] == f"/items/{created['id']}"
        assert len(after) == len(before) + 1
    elif method == "PUT":
        replaced = response_json(response)
        assert replaced["name"] == VALID_BODY["name"] and replaced["owner"] == EDITOR.sub
        assert len(after) == len(before)
    elif method == "DELETE":
        assert response.get("body", "") == ""
        assert target not in {record["id"] for record in after}
        assert len(after) == len(before) - 1


def test_another_tenants_item_is_indistinguishable_from_a_missing_one(seeded):
    other = as_user(GLOBEX_ADMIN, "GET", ACME_ITEM)
    missing = as_user(GLOBEX_ADMIN, "GET", MISSING_ITEM)
    assert other["statusCode"] == missing["statusCode"] == 404
    assert other["body"] == missing["body"]


def test_list_shows_only_the_callers_tenant(seeded):
    as_user(GLOBEX_ADMIN, "POST", "collection", body={"name": "globex only"})
    listed = response_json(as_user(VIEWER, "GET", "collection"))["items"]
    assert [item["id"] for item in listed] == [ACME_ITEM]


def test_list_pages_with_limit_and_after(seeded):
    for index in range(3):
        assert as_user(EDITOR, "POST", "collection", body={"name": f"item {index}"})["statusCode"] == 201
    first = response_json(as_user(VIEWER, "GET", "collection", query={"limit": "2"}))
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["id"]
    second = response_json(as_user(VIEWER, "GET", "collection", query={"limit": "2", "after": first["next"]}))
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"after": "acme#x"}, "after"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(seeded, query, field):
    response = as_user(VIEWER, "GET", "collection", query=query)
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith(f"{field}:")


def test_malformed_item_id_is_404(seeded):
    assert as_user(ADMIN, "GET", "not-an-item")["statusCode"] == 404
    assert as_user(ADMIN, "DELETE", "acme#itm_x")["statusCode"] == 404


# --------------------------------------------------------------------------- defence in depth


def test_role_without_scope_cannot_write(seeded):
    """The gateway would refuse this token; the handler refuses it too."""
    before = table_contents(seeded)
    claims = access_claims(EDITOR, scopes=(auth_contract.ITEMS_READ,))
    response = call("POST", "/items", "/items", claims, body=VALID_BODY)
    assert response["statusCode"] == 403
    assert table_contents(seeded) == before


def test_scope_without_role_cannot_write(seeded):
    before = table_contents(seeded)
    claims = access_claims(VIEWER, scopes=(auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE))
    response = call("POST", "/items", "/items", claims, body=VALID_BODY)
    assert response["statusCode"] == 403
    assert table_contents(seeded) == before


def test_id_token_is_refused_even_with_roles(seeded):
    response = call("GET", "/items", "/items", id_token_claims(ADMIN))
    assert response["statusCode"] == 403


def test_machine_token_cannot_use_items_routes(seeded):
    claims = machine_claims(scopes=(auth_contract.ITEMS_READ, auth_contract.ITEMS_WRITE))
    assert call("GET", "/items", "/items", claims)["statusCode"] == 403
    assert call("POST", "/items", "/items", claims, body=VALID_BODY)["statusCode"] == 403


def test_user_without_tenant_is_refused(seeded):
    tenantless = User("tom", None, (auth_contract.ADMIN,))
    assert as_user(tenantless, "GET", "collection")["statusCode"] == 403


def test_scopes_null_falls_back_to_the_scope_claim(seeded):
    claims = access_claims(VIEWER)
    event = http_event("GET", "/items", "/items", authorizer=jwt_authorizer(claims, scopes=None))
    assert read_handler.lambda_handler(event, LambdaContext())["statusCode"] == 200


def test_request_without_authorizer_context_is_401_not_500(seeded):
    event = http_event("GET", "/items", "/items")  # no requestContext.authorizer at all
    response = read_handler.lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert response_json(response) == {"message": "Unauthorized"}


def test_malformed_claims_are_401_and_write_nothing(seeded):
    before = table_contents(seeded)
    claims = {**access_claims(EDITOR), "sub": ""}
    response = call("POST", "/items", "/items", claims, body=VALID_BODY)
    assert response["statusCode"] == 401
    assert table_contents(seeded) == before


def test_unknown_route_is_404(seeded):
    response = call("GET", "/nothing", "/nothing", access_claims(ADMIN))
    assert response["statusCode"] == 404


# --------------------------------------------------------------------------- bodies

BAD_BODIES = [
    ("not json", None, "{name: 1}", "body"),
    ("empty", None, "", "body"),
    ("array", None, "[1, 2]", "body"),
    ("unknown field", {"name": "x", "owner": "someone-else"}, None, "owner"),
    ("tenant field", {"name": "x", "tenant": "globex"}, None, "tenant"),
    ("missing name", {"description": "no name"}, None, "name"),
    ("name not a string", {"name": 42}, None, "name"),
    ("name a bool", {"name": True}, None, "name"),
    ("name empty", {"name": ""}, None, "name"),
    ("name too long", {"name": "x" * 201}, None, "name"),
    ("description wrong type", {"name": "x", "description": ["a"]}, None, "description"),
    ("tags not a list", {"name": "x", "tags": "a,b"}, None, "tags"),
    ("tag wrong type", {"name": "x", "tags": ["ok", 3]}, None, "tags[1]"),
    ("tag bad characters", {"name": "x", "tags": ["no spaces"]}, None, "tags[0]"),
    ("too many tags", {"name": "x", "tags": [f"t{i}" for i in range(21)]}, None, "tags"),
    ("duplicate key", None, '{"name": "a", "name": "b"}', "name"),
    ("NaN", None, '{"name": "x", "description": NaN}', "body"),
    ("control character", {"name": "x\u0000y"}, None, "name"),
    ("oversized", {"name": "x", "description": "y" * 17000}, None, "body"),
]


@pytest.mark.parametrize(("case", "body", "raw", "field"), BAD_BODIES, ids=[case for case, *_ in BAD_BODIES])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_bad_body_is_400_naming_the_field_and_writes_nothing(seeded, method, case, body, raw, field):
    before = table_contents(seeded)
    target = "collection" if method == "POST" else ACME_ITEM
    response = as_user(EDITOR, method, target, body=body, raw_body=raw)
    assert response["statusCode"] == 400, response.get("body")
    message = response_json(response)["message"]
    assert message.startswith(f"{field}:"), message
    assert table_contents(seeded) == before


def test_base64_encoded_body_is_accepted(seeded):
    response = as_user(EDITOR, "POST", "collection", body={"name": "encoded"}, base64_body=True)
    assert response["statusCode"] == 201
    assert response_json(response)["name"] == "encoded"


def test_invalid_base64_body_is_400(seeded):
    event = http_event("POST", "/items", "/items", authorizer=jwt_authorizer(access_claims(EDITOR)), raw_body="%%%")
    event["isBase64Encoded"] = True
    response = write_handler.lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 400
    assert response_json(response)["message"].startswith("body:")


def test_forbidden_caller_gets_403_before_the_body_is_read(seeded):
    response = as_user(VIEWER, "POST", "collection", raw_body="{not json")
    assert response["statusCode"] == 403


def test_put_keeps_owner_and_creation_time(seeded):
    response = as_user(ADMIN, "PUT", ACME_ITEM, body={"name": "renamed"})
    item = response_json(response)
    assert item["owner"] == EDITOR.sub
    assert item["created_at"] == "2026-01-01T00:00:00+00:00"
    assert item["updated_at"] != item["created_at"]
    assert item["description"] == "" and item["tags"] == []


def test_error_bodies_never_echo_claims_or_tokens(seeded):
    claims = access_claims(VIEWER)
    response = call("POST", "/items", "/items", claims, body=VALID_BODY)
    text = json.dumps(response)
    assert VIEWER.sub not in text and "Bearer" not in text
