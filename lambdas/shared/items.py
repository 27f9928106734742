"""What the items routes do, on an `Identity` and an `ItemsTable`: no HTTP, no raw claims.

Rules, in the order they are checked (so nothing is written on any refused request):
1. the caller is a user with an access token, a tenant, the route's scope and a role that
   allows the action (read: any role; create/replace: editor or admin) — else 403;
2. an item id that cannot exist, or an item of another tenant, is 404 (existence never leaks,
   because every key is the caller's tenant + the id);
3. the body is checked field by field — else 400 naming the field;
4. delete: an admin, or the item's owner — else 403.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import auth_contract
from shared.api import BadRequest, Forbidden, NotFound
from shared.claims import Identity
from shared.items_table import ITEM_PREFIX, ItemsTable
from shared.validation import Field, text, text_list, validate_fields

ITEM_ID = re.compile(rf"{ITEM_PREFIX}[0-9a-f]{{32}}")
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,39}")
ITEM_FIELDS = (
    Field("name", text(200), required=True),
    Field("description", text(2000, min_length=0)),
    Field("tags", text_list(20, text(40, pattern=TAG))),
)
WRITER_ROLES = (auth_contract.EDITOR, auth_contract.ADMIN)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_item_id() -> str:
    return f"{ITEM_PREFIX}{uuid.uuid4().hex}"


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "tenant": record["tenant"],
        "name": record["name"],
        "description": record.get("description", ""),
        "tags": list(record.get("tags", [])),
        "owner": record["owner"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }


# --------------------------------------------------------------------------- access rules


def _user_tenant(identity: Identity, scope: str, roles: tuple[str, ...]) -> str:
    """The caller's tenant, if they may use a route needing `scope` and one of `roles`."""
    if not identity.is_access_token or identity.is_machine or identity.tenant is None:
        raise Forbidden("Forbidden")
    if not identity.has_scope(scope) or not identity.has_role(*roles):
        raise Forbidden("Forbidden")
    return identity.tenant


def reader_tenant(identity: Identity) -> str:
    return _user_tenant(identity, auth_contract.ITEMS_READ, auth_contract.TENANT_ROLES)


def writer_tenant(identity: Identity) -> str:
    return _user_tenant(identity, auth_contract.ITEMS_WRITE, WRITER_ROLES)


def require_item_id(item_id: str) -> str:
    if not ITEM_ID.fullmatch(item_id):
        raise NotFound("Not found")
    return item_id


# --------------------------------------------------------------------------- operations


def list_items(identity: Identity, table: ItemsTable, *, limit: int, after: str | None) -> dict[str, Any]:
    tenant = reader_tenant(identity)
    if after is not None and not ITEM_ID.fullmatch(after):
        raise BadRequest("after: must be an item id")
    records, next_after = table.list_items(tenant, limit, after)
    return {"items": [public_view(record) for record in records], "next": next_after}


def get_item(identity: Identity, table: ItemsTable, item_id: str) -> dict[str, Any]:
    tenant = reader_tenant(identity)
    record = table.get_item(tenant, require_item_id(item_id))
    if record is None:
        raise NotFound("Not found")
    return public_view(record)


def create_item(identity: Identity, table: ItemsTable, body: dict[str, Any]) -> dict[str, Any]:
    tenant = writer_tenant(identity)
    fields = validate_fields(body, ITEM_FIELDS)
    now = _now()
    record = {
        "tenant": tenant,
        "id": new_item_id(),
        "name": fields["name"],
        "description": fields.get("description", ""),
        "tags": fields.get("tags", []),
        "owner": identity.sub,
        "created_at": now,
        "updated_at": now,
    }
    table.create(record)
    return public_view(record)


def replace_item(identity: Identity, table: ItemsTable, item_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Replaces the item's name, description and tags (owner and creation time stay)."""
    tenant = writer_tenant(identity)
    item_id = require_item_id(item_id)
    fields = validate_fields(body, ITEM_FIELDS)
    changes = {
        "name": fields["name"],
        "description": fields.get("description", ""),
        "tags": fields.get("tags", []),
        "updated_at": _now(),
    }
    record = table.replace_fields(tenant, item_id, changes)
    if record is None:
        raise NotFound("Not found")
    return public_view(record)


def delete_item(identity: Identity, table: ItemsTable, item_id: str) -> None:
    tenant = writer_tenant(identity)
    record = table.get_item(tenant, require_item_id(item_id))
    if record is None:
        raise NotFound("Not found")
    if not identity.is_admin and record.get("owner") != identity.sub:
        raise Forbidden("Forbidden")
    # The condition repeats the owner check, so a concurrent change cannot slip through.
    if not table.remove(tenant, item_id, owner=None if identity.is_admin else identity.sub):
        raise NotFound("Not found")
